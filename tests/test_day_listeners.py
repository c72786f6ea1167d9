"""The valid streams' distinct users, counted by ingest for the checks (``unique_listeners`` in
counts.json, so 04_checks makes no pass over the day's streams), against the reference
implementation's valid streams: random dirty days with duplicates of known and unknown users,
on the one-bucket path and on the large-day path (parsed rows in Parquet files, per bucket)."""

import json

import pytest
from reference_kpis import reference_run
from spec_data import write_random_input
from streamkpi import ingest
from streamkpi.errors import StagedFilesError

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


def test_ingest_stages_every_count_and_an_older_counts_file_says_to_rerun_ingest(tmp_path):
    (tmp_path / "input").mkdir()
    write_random_input(tmp_path / "input", 3, RUN_DATE)
    ingest.stage_day(tmp_path / "input", RUN_DATE, tmp_path / "staging")
    path = tmp_path / "staging" / "counts.json"
    counts = json.loads(path.read_text(encoding="utf-8"))
    assert sorted(counts) == sorted(ingest.COUNT_NAMES)
    del counts["unique_listeners"]  # as ingest staged it before it counted the day's listeners
    path.write_text(json.dumps(counts), encoding="utf-8")
    with pytest.raises(StagedFilesError, match=r"counts\.json has no unique_listeners: an older version of ingest"):
        ingest.read_counts(tmp_path / "staging")
