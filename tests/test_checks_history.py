"""The data checks on a generated history of five weeks, the last three dates each with an incident of its own
(an export cut off at 18:00, an out-of-date catalog, the volume halved): each incident is flagged, no clean date
is, and a pipeline run of a flagged date alerts a webhook on loopback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from params_files import write_params
from streamkpi import warehouse
from test_alerts import webhook

from tools.check_rates import judge_history

REPO = Path(__file__).resolve().parents[1]
DAYS = 35  # START: Monday 27 May .. Sunday 30 June
INCIDENTS = {"2024-06-28": "cutoff", "2024-06-29": "stale_catalog", "2024-06-30": "volume_drop"}


@pytest.fixture(scope="module")
def history(tmp_path_factory):
    """Each date staged, computed, checked and loaded in order, as a backfill does; the checks of every date."""
    base = tmp_path_factory.mktemp("history")
    url = f"duckdb:///{base / 'warehouse' / 'test.duckdb'}"
    by_date = judge_history(base, url, seed=12, days=DAYS, streams_per_day=3000, users=1500, incidents=INCIDENTS)
    results = {date: {r.check_name: r for r in checked} for date, checked in by_date.items()}
    return {"base": base, "url": url, "results": results}


def flagged(results, date) -> dict[str, str]:
    return {name: r.status for name, r in results[date].items() if r.flagged}


def test_no_clean_date_is_flagged(history):
    clean = [d for d in history["results"] if d not in INCIDENTS]
    assert {d: flagged(history["results"], d) for d in clean} == {d: {} for d in clean}
    # from 24 June on a date has four earlier same weekdays: every check judged it
    for date in ("2024-06-24", "2024-06-25", "2024-06-26", "2024-06-27"):
        assert {r.status for r in history["results"][date].values()} == {"pass"}, date


def test_an_export_cut_off_at_18_fails_the_day_and_keeps_it_out_of_the_warehouse(history):
    found = flagged(history["results"], "2024-06-28")
    assert found["completeness"] == "fail" and found["freshness"] == "warn"
    assert history["results"]["2024-06-28"]["completeness"].observed == 6  # 18:00 .. 23:00
    assert "2024-06-28" not in set(warehouse.read_table(history["url"], "hourly_kpis")["listen_date"].astype(str))
    recorded = warehouse.read_table(history["url"], "kpi_checks", "2024-06-28")
    assert recorded.set_index("check_name").at["completeness", "status"] == "fail"


def test_an_out_of_date_catalog_shows_as_unknown_tracks(history):
    found = flagged(history["results"], "2024-06-29")
    assert found.get("rejects_unknown_track") == "warn"
    assert history["results"]["2024-06-29"]["rejects_unknown_track"].observed > 0.1


def test_a_halved_volume_is_flagged_against_the_same_weekday_and_the_recent_days(history):
    found = flagged(history["results"], "2024-06-30")
    assert found["volume_weekday"] == "warn" and found["volume_recent"] == "warn"


def test_a_run_of_a_flagged_date_alerts_the_webhook_and_shows_the_badge(history):
    base = history["base"]
    params = write_params(base, warehouse_url=history["url"])
    command = [sys.executable, "-m", "pipeline", "run", "--date", "2024-06-30", "--params", str(params), "--quiet"]
    environment = {k: v for k, v in os.environ.items() if k != "STREAMKPI_ALERT_WEBHOOK_URL"}
    with webhook() as (url, received):
        run = subprocess.run(
            command, cwd=REPO, env={**environment, "STREAMKPI_ALERT_WEBHOOK_URL": url}, capture_output=True, text=True
        )
    assert run.returncode == 0, run.stderr  # warnings load the day
    (message,) = received
    assert {c["check_name"] for c in message["flagged_checks"]} >= {"volume_weekday", "volume_recent"}
    (manifest,) = [json.loads(p.read_text()) for p in (base / "reports" / "2024-06-30").glob("*/manifest.json")]
    assert [c["status"] for c in manifest["checks"] if c["check_name"] == "volume_weekday"] == ["warn"]
    overview = (base / "reports" / "index.html").read_text(encoding="utf-8")
    assert "warnings</span> volume_weekday, volume_recent" in overview
    report = next((base / "reports" / "2024-06-30").glob("*/04_checks.html")).read_text(encoding="utf-8")
    assert "volume_weekday" in report and "<img" in report  # the flagged check's chart
