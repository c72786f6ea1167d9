"""The valid streams' distinct users, counted by ingest for the checks (``unique_listeners`` in
counts.json, so 04_checks makes no pass over the day's streams), against the reference
implementation's valid streams: random dirty days with duplicates of known and unknown users,
on the one-bucket path and on the large-day path (parsed rows in Parquet files, per bucket)."""

import pytest
from reference_kpis import reference_run
from spec_data import write_random_input
from streamkpi import ingest

RUN_DATE = "2024-06-25"


@pytest.mark.parametrize("bucket_bytes", [ingest.BUCKET_BYTES, 4096], ids=["one-bucket", "large-day"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ingest_counts_the_distinct_users_of_the_valid_streams(tmp_path, monkeypatch, seed, bucket_bytes):
    monkeypatch.setattr(ingest, "BUCKET_BYTES", bucket_bytes)
    (tmp_path / "input").mkdir()
    write_random_input(tmp_path / "input", seed, RUN_DATE)
    counts = ingest.stage_day(tmp_path / "input", RUN_DATE, tmp_path / "staging").counts
    reference = reference_run(tmp_path / "input", RUN_DATE)
    assert reference.counts["duplicate_stream"] > 0  # copies are in play
    assert counts["unique_listeners"] == len({user for user, _, _ in reference.valid_streams})
    assert ingest.read_counts(tmp_path / "staging")["unique_listeners"] == counts["unique_listeners"]
