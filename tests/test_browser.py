"""A real run's reports in headless Chromium: the top-level index, the run's index and the genre
report render offline, their charts are drawn (images of non-zero size) and no request leaves the
machine. Screenshots of each page are saved (their paths are printed).

Needs Debian's ``chromium`` (``.ci/run`` installs it). Without it this test is skipped with a
warning; with ``STREAMKPI_REQUIRE_CHROMIUM=1`` (set by ``.ci/run``) it fails instead.
"""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import yaml
from browser import Chromium, find_chromium

from tools.sample_data import generate

DAY = "2024-06-25"
CHROMIUM = find_chromium()
NO_CHROMIUM = (
    "NO CHROMIUM INSTALLED: the browser test of the reports did not run. Install Debian's "
    "'chromium' (apt-get install chromium) or run .ci/run, which installs it."
)


@pytest.fixture(scope="module")
def chromium():
    if CHROMIUM is None:
        if os.environ.get("STREAMKPI_REQUIRE_CHROMIUM") == "1":
            pytest.fail(NO_CHROMIUM)
        warnings.warn(NO_CHROMIUM, stacklevel=2)
        pytest.skip(NO_CHROMIUM)
    with Chromium(CHROMIUM) as browser:
        yield browser


@pytest.fixture(scope="module")
def reports(tmp_path_factory) -> Path:
    """The reports folder of one real run of the pipeline on a small generated input."""
    base = tmp_path_factory.mktemp("browser")
    generate(base / "input", start_date=DAY, days=1, streams_per_day=2000, n_users=300, n_tracks=800, seed=11)
    params = base / "params.yaml"
    params.write_text(
        yaml.safe_dump(
            {
                "input_uri": str(base / "input"),
                "reports_dir": str(base / "reports"),
                "warehouse_url": f"duckdb:///{base / 'warehouse.duckdb'}",
            }
        )
    )
    done = subprocess.run(
        [sys.executable, "-m", "pipeline", "run", "--date", DAY, "--params", str(params)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return base / "reports"


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("screenshots")
    print(f"\nbrowser test screenshots: {folder}")
    return folder


def assert_offline_and_clean(page):
    assert page.requests, f"{page.url}: the page was not loaded"
    assert not page.requests_off_the_machine, f"{page.url} asked the network for {page.requests_off_the_machine}"
    assert not page.errors, f"{page.url}: JavaScript errors {page.errors}"


def test_top_index_lists_the_run_and_shows_the_trend_charts(chromium, reports, screenshots):
    page = chromium.inspect(reports / "index.html", screenshots / "reports-index.png")
    assert_offline_and_clean(page)
    assert "Pipeline runs" in page.text and DAY in page.text and "succeeded" in page.text
    assert len(page.rendered_images) >= 1, page.images  # the trends published by the run
    assert len(page.rendered_images) == len(page.images)
    assert (screenshots / "reports-index.png").stat().st_size > 10_000


def run_folder(reports: Path) -> Path:
    (folder,) = (reports / DAY).iterdir()
    return folder


def test_run_index_shows_status_summaries_and_links(chromium, reports, screenshots):
    page = chromium.inspect(run_folder(reports) / "index.html", screenshots / "run-index.png")
    assert_offline_and_clean(page)
    assert "succeeded" in page.text and "valid streams" in page.text
    assert len(page.rendered_images) == len(page.images)


def test_genre_report_reads_without_code_and_draws_its_charts(chromium, reports, screenshots):
    page = chromium.inspect(run_folder(reports) / "02_genre_kpis.html", screenshots / "genre-report.png")
    assert_offline_and_clean(page)
    assert "Run date: Tuesday 25 June 2024" in page.text
    assert "from streamkpi import" not in page.text and "genre_level_kpis(" not in page.text  # code hidden
    assert "show the code" in page.text.lower()
    assert len(page.rendered_images) >= 3, page.images  # share, durations, genre x hour
    assert len(page.rendered_images) == len(page.images)
    assert all(image["src"].startswith("data:image/png") for image in page.images)  # inline, not files


def test_code_version_of_the_report_is_one_click_away(chromium, reports, screenshots):
    page = chromium.inspect(run_folder(reports) / "02_genre_kpis.code.html", screenshots / "genre-report-code.png")
    assert_offline_and_clean(page)
    assert "from streamkpi import" in page.text and "hide the code" in page.text.lower()
    assert len(page.rendered_images) >= 3


def test_the_check_detects_a_request_off_the_machine(chromium, tmp_path):
    """The assertion above is only worth something if a page that calls a CDN is caught."""
    bad = tmp_path / "bad.html"
    bad.write_text(
        '<html><body><img src="https://cdn.example.com/chart.png">'
        '<script src="http://cdn.example.com/lib.js"></script></body></html>'
    )
    page = chromium.inspect(bad)
    assert sorted(page.requests_off_the_machine) == [
        "http://cdn.example.com/lib.js",
        "https://cdn.example.com/chart.png",
    ]
    assert page.rendered_images == []
