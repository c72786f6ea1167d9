"""The checks' gate at the load, on a DuckDB file and on PostgreSQL: a failed check loads the check results and
keeps the day's KPI rows as they were; ``kpi_checks`` is created from the one table source on both."""

from __future__ import annotations

import uuid

import pandas as pd
import pytest
from streamkpi import datachecks, ingest, kpis, warehouse
from streamkpi.datachecks import CheckResult, ChecksFailedError

from tools.sample_data import generate

DAY = "2024-06-25"

pytestmark = pytest.mark.usefixtures("aws_env")


@pytest.fixture(scope="module")
def staging(tmp_path_factory):
    """A staged day and its KPI files."""
    base = tmp_path_factory.mktemp("gate")
    generate(base / "input", start_date=DAY, days=1, streams_per_day=1500, n_users=200, n_tracks=600, seed=5)
    staging = base / "staging"
    ingest.stage_day(base / "input", DAY, staging)
    for name in kpis.KPI_TABLES:
        kpis.save_kpis(kpis.compute_kpis(staging, name, DAY), staging, name)
    return staging


@pytest.fixture(params=["duckdb", "postgresql"])
def url(request, tmp_path):
    if request.param == "duckdb":
        return f"duckdb:///{tmp_path / 'w.duckdb'}"
    return request.getfixturevalue("postgres").create_database(f"t_{uuid.uuid4().hex[:12]}")


def verdicts(*statuses: str) -> list[CheckResult]:
    return [
        CheckResult(f"check_{i}", status, float(i), 0.0, 10.0, f"the {status} of check {i}")
        for i, status in enumerate(statuses)
    ]


def test_a_failed_check_records_the_results_and_keeps_the_days_kpi_rows(staging, url):
    datachecks.save_results(verdicts("pass", "warn"), staging, DAY)
    loaded = datachecks.load_day(url, DAY, staging)
    assert loaded.rows["kpi_checks"] == 2 and loaded.rows["hourly_kpis"] > 0
    before = {table: warehouse.read_table(url, table, DAY) for table in kpis.KPI_TABLES}
    assert list(datachecks.flagged_dates(url)["status"]) == ["warn"]

    datachecks.save_results(verdicts("pass", "fail", "fail"), staging, DAY)
    with pytest.raises(ChecksFailedError) as raised:
        datachecks.load_day(url, DAY, staging)
    assert "2 check(s) of severity fail flagged 2024-06-25" in str(raised.value)
    assert "check_1: the fail of check 1; check_2: the fail of check 2" in str(raised.value)
    for table, frame in before.items():  # the KPI rows of the day as they were
        pd.testing.assert_frame_equal(warehouse.read_table(url, table, DAY), frame)
    recorded = warehouse.read_table(url, "kpi_checks", DAY)
    assert list(recorded["status"]) == ["pass", "fail", "fail"]  # the new results replaced the old
    assert list(recorded["observed"]) == [0.0, 1.0, 2.0] and recorded["expected_low"].tolist() == [0.0] * 3
    flagged = datachecks.flagged_dates(url)
    assert flagged.to_dict("records") == [
        {"listen_date": pd.Timestamp(DAY), "status": "fail", "checks": "check_1, check_2"}
    ]


def test_the_history_reads_the_recorded_figures_of_loaded_dates(staging, url):
    results = verdicts("pass")
    datachecks.save_results(results, staging, DAY)
    datachecks.load_day(url, DAY, staging)
    history = datachecks.read_history(url, "2024-06-26")
    assert list(history.dates) == [pd.Timestamp(DAY)]
    assert history.hourly.sum(axis=1).iloc[0] == warehouse.read_table(url, "hourly_kpis")["listen_counts"].sum()
    assert history.recorded["check_0"].to_dict() == {pd.Timestamp(DAY): 0.0}
    assert datachecks.read_history(url, DAY).dates.empty  # only the dates before the run date
