"""Alerts: on a failed notebook or a flagged data check (a ``checks`` scrap record) the runner POSTs one JSON message
to a webhook, whose URL (often with a token) reaches no notebook and is logged masked; a dead webhook fails no run."""

import json
import logging
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib import error, request
from urllib.parse import urlsplit

from .results import FAILED, NotebookResult

WEBHOOK_ENV = "STREAMKPI_ALERT_WEBHOOK_URL"  # wins over the params key alert_webhook_url
FLAGGED = ("warn", "fail")  # a check's statuses that call for an alert
ATTEMPTS, TIMEOUT_SECONDS, PAUSE_SECONDS = 3, 2.0, 0.5


def masked(url: str) -> str:
    """``https://hooks.example.com/services/T0/B0/secret`` -> ``https://hooks.example.com/***``."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or ''}{f':{parts.port}' if parts.port else ''}/***"


def alert_message(manifest: Mapping[str, Any], notebooks: list[NotebookResult], run_index: Path) -> dict | None:
    """The message for what ``notebooks`` (this call's) did, or ``None`` when nothing calls for one."""
    failed = [nb for nb in notebooks if nb.status == FAILED]
    checks = [c for nb in notebooks for c in (nb.scraps or {}).get("checks") or [] if isinstance(c, Mapping)]
    flagged = [{k: c.get(k) for k in ("check_name", "status", "message")} for c in checks if c.get("status") in FLAGGED]
    if not failed and not flagged:
        return None
    head = f"streamkpi {manifest['run_date']} (run {manifest['run_id']}): {manifest['status']}"
    where = (failed[0].error.describe() if failed[0].error else failed[0].name) if failed else None
    lines = [f"{head}, failed in {where}" if failed else head]
    lines += [f"{c['check_name']} ({c['status']}): {c['message']}" for c in flagged] + [f"Report: {run_index}"]
    fields = {key: manifest[key] for key in ("run_date", "run_id", "status")} | {"run_index": str(run_index)}
    fields |= {"failed_notebooks": [nb.name for nb in failed], "flagged_checks": flagged}
    return {"text": "\n".join(lines), **fields}


def send(url: str, message: Mapping[str, Any], log: logging.Logger) -> bool:
    """POST ``message`` to ``url``, tried :data:`ATTEMPTS` times; whether it was taken. Logged, never raised."""
    body, problem = json.dumps(message, ensure_ascii=False).encode(), ""
    for attempt in range(1, ATTEMPTS + 1):
        post = request.Request(url, body, {"Content-Type": "application/json"}, method="POST")
        try:
            with request.urlopen(post, timeout=TIMEOUT_SECONDS) as response:
                log.info(f"pipeline: alert sent to {masked(url)} (HTTP {response.status})")
                return True
        except error.HTTPError as exc:
            problem = f"HTTP {exc.code} {exc.reason}"
        except (OSError, ValueError) as exc:  # a URLError's reason, else the type: an error's text may quote the URL
            problem = str(getattr(exc, "reason", "")) or type(exc).__name__
        if attempt < ATTEMPTS:
            time.sleep(PAUSE_SECONDS * attempt)
    log.warning(f"pipeline: could not send the alert to {masked(url)} ({ATTEMPTS} attempts): {problem}")
    return False
