"""Alerts: the runner POSTs one JSON message to a real HTTP server on loopback when a notebook fails or a data
check flags the day; the webhook's URL (its token) reaches no notebook, manifest, log or report."""

from __future__ import annotations

import contextlib
import http.server
import json
import socket
import threading
import time
from pathlib import Path

import pytest
from params_files import write_params

from pipeline import run_pipeline
from pipeline.alerts import WEBHOOK_ENV, masked

NOTEBOOKS = Path(__file__).resolve().parent / "runner_notebooks"
DATE = "2024-06-25"
TOKEN = "T0KEN-s3cret-xyz"


@contextlib.contextmanager
def webhook(status: int = 200, delay: float = 0.0):
    """A loopback HTTP server recording each POST's JSON body; yields (url with a token, received bodies)."""
    received: list[dict] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server's name)
            body = self.rfile.read(int(self.headers["Content-Length"]))
            time.sleep(delay)
            received.append(json.loads(body))
            self.send_response(status)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/services/{TOKEN}", received
    finally:
        server.shutdown()
        server.server_close()


def run(tmp_path: Path, notebooks: str, **params):
    return run_pipeline(DATE, write_params(tmp_path, **params), notebooks_dir=NOTEBOOKS / notebooks, console="quiet")


def token_anywhere(run_dir: Path) -> list[str]:
    """The files of the run folder (and the top-level index) that hold the token."""
    files = [*run_dir.rglob("*"), run_dir.parent.parent / "index.html"]
    return [str(f) for f in files if f.is_file() and TOKEN in f.read_text(encoding="utf-8", errors="replace")]


def test_a_failed_run_posts_one_message_and_the_url_is_nowhere(tmp_path):
    with webhook() as (url, received):
        result = run(tmp_path, "failing", alert_webhook_url=url)
    assert result.exit_code == 1
    (message,) = received
    assert message["run_date"] == DATE and message["run_id"] == result.run_id and message["status"] == "failed"
    assert message["failed_notebooks"] == ["02_boom.ipynb"] and message["flagged_checks"] == []
    assert message["run_index"] == str(result.run_dir / "index.html")
    assert message["text"].startswith(f"streamkpi {DATE} (run {result.run_id}): failed, failed in 02_boom.ipynb, cell")
    assert token_anywhere(result.run_dir) == []
    assert (
        result.manifest["params"]["alert_webhook_url"]
        == masked(url)
        == f"http://127.0.0.1:{url.split(':')[2].split('/')[0]}/***"
    )
    assert f"alert sent to {masked(url)} (HTTP 200)" in (result.run_dir / "run.log").read_text()


def test_a_flagged_check_posts_its_name_and_message(tmp_path):
    with webhook() as (url, received):
        result = run(tmp_path, "flagged", alert_webhook_url=url)
    assert result.exit_code == 0
    (message,) = received
    assert message["status"] == "succeeded" and message["failed_notebooks"] == []
    assert message["flagged_checks"] == [
        {"check_name": "volume_weekday", "status": "warn", "message": "Valid streams lower than usual"}
    ]
    assert "volume_weekday (warn): Valid streams lower than usual" in message["text"]
    assert result.manifest["checks"][0]["check_name"] == "volume_weekday"  # lifted to the manifest's top level
    index = (result.run_dir / "index.html").read_text()
    assert "1 warning" in index and "Valid streams lower than usual" in index
    assert "1 warning</span> volume_weekday" in (tmp_path / "reports" / "index.html").read_text()


def test_nothing_is_sent_when_nothing_went_wrong(tmp_path):
    with webhook() as (url, received):
        assert run(tmp_path, "tiny", alert_webhook_url=url).exit_code == 0
    assert received == []


def test_the_environment_variable_wins_over_the_params_key(tmp_path, monkeypatch):
    with webhook() as (env_url, from_env), webhook() as (params_url, from_params):
        monkeypatch.setenv(WEBHOOK_ENV, env_url)
        run(tmp_path, "failing", alert_webhook_url=params_url)
    assert len(from_env) == 1 and from_params == []


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("kind", ["down", "slow", "error"])
def test_a_webhook_down_slow_or_failing_is_retried_briefly_and_never_fails_the_run(tmp_path, kind):
    with contextlib.ExitStack() as stack:
        if kind == "down":
            url, received = f"http://127.0.0.1:{free_port()}/hook/{TOKEN}", []
        else:
            url, received = stack.enter_context(
                webhook(status=503 if kind == "error" else 200, delay=3 if kind == "slow" else 0)
            )
        started = time.monotonic()
        result = run(tmp_path, "flagged", alert_webhook_url=url)
        took = time.monotonic() - started
    assert result.exit_code == 0  # the run's outcome is the notebooks'
    log = (result.run_dir / "run.log").read_text()
    assert f"could not send the alert to {masked(url)} (3 attempts)" in log and TOKEN not in log
    assert took < 30  # a slow webhook costs three 2 s timeouts and two pauses, not a stalled run
    if kind == "error":
        assert len(received) == 3 and "HTTP 503" in log
