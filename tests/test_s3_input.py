"""S3 input and staging against a real S3-protocol server (moto, on 127.0.0.1, started by the tests).

Listing (with more than 1,000 keys), streamed reads with checksums, staging writes, and the
errors a user meets: a missing bucket, a missing key, a denied request, no credentials.
"""

from __future__ import annotations

import datetime as dt
import filecmp
import hashlib
import io
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import boto3
import pandas as pd
import pytest
from botocore.stub import Stubber
from streamkpi import ingest, inputs, storage
from streamkpi.errors import InputValidationError, StorageError
from urllib3.exceptions import ProtocolError

from tools.sample_data import generate

DAY = "2024-06-25"
STREAMS_HEADER = b"user_id,track_id,listen_time\n"

pytestmark = pytest.mark.usefixtures("aws_env")


def upload_tree(client, local_root: Path, bucket: str, prefix: str) -> None:
    files = [p for p in sorted(local_root.rglob("*")) if p.is_file()]
    with ThreadPoolExecutor(8) as pool:
        list(
            pool.map(
                lambda p: client.upload_file(str(p), bucket, f"{prefix}/{p.relative_to(local_root).as_posix()}"), files
            )
        )


def header_files(root: Path, names: list[str]) -> Path:
    """A folder holding each of ``names``, every file a bare stream header."""
    for name in names:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(STREAMS_HEADER)
    return root


@pytest.fixture(scope="module")
def sample(tmp_path_factory, s3_server):
    """A small generated input root, locally and under s3://streamkpi-in/landing."""
    local = tmp_path_factory.mktemp("s3in") / "input"
    generate(local, start_date=DAY, days=1, streams_per_day=600, n_users=120, n_tracks=300, seed=11)
    client = s3_server.client()
    client.create_bucket(Bucket="streamkpi-in")
    upload_tree(client, local, "streamkpi-in", "landing")
    return local


def test_client_uses_the_standard_retry_mode(s3_server):
    client = storage.s3_client(s3_server.endpoint_url)
    assert client.meta.config.retries["mode"] == "standard"
    assert client.meta.config.retries["total_max_attempts"] == storage.MAX_ATTEMPTS


def test_s3_root_lists_the_same_files_in_the_same_order_as_a_folder(tmp_path, s3_server):
    names = [
        "songs.csv",
        "users.csv",
        "streams/b.csv",
        "streams/a/x.csv",
        "streams/a-b/x.csv",
        "streams/a/2.csv",
        "streams/notes.txt",
        "streams/Z.csv",
        "other/ignored.csv",
    ]
    local = header_files(tmp_path / "root", names)
    client = s3_server.client()
    client.create_bucket(Bucket="streamkpi-order")
    upload_tree(client, local, "streamkpi-order", "deep/root")
    client.put_object(Bucket="streamkpi-order", Key="deep/root/streams/folder/", Body=b"")  # a "folder" marker
    client.put_object(Bucket="streamkpi-order", Key="deep/rootless/streams/x.csv", Body=STREAMS_HEADER)

    on_s3 = inputs.locate_inputs("s3://streamkpi-order/deep/root", s3_server.endpoint_url)
    on_disk = inputs.locate_inputs(local)

    assert (
        [f.relative for f in on_s3.streams]
        == [f.relative for f in on_disk.streams]
        == ["streams/Z.csv", "streams/a/2.csv", "streams/a/x.csv", "streams/a-b/x.csv", "streams/b.csv"]
    )
    assert on_s3.root == "s3://streamkpi-order/deep/root"
    assert on_s3.songs.location == "s3://streamkpi-order/deep/root/songs.csv"
    assert [f.size for f in on_s3.all()] == [f.size for f in on_disk.all()]


def test_s3_root_selects_the_same_dated_folders_as_a_folder_and_lists_only_those(tmp_path, s3_server):
    names = [
        "songs.csv",
        "users.csv",
        "streams/late.csv",
        "streams/notes.txt",
        "streams/backfill/x.csv",
        "streams/2024-02-30/x.csv",
        "streams/2024-06-20/part-0.csv",
        "streams/2024-06-24/part-0.csv",
        "streams/2024-06-25/part-0.csv",
        "streams/2024-06-25/sub/part-1.csv",
        "streams/date=2024-06-26/part-0.csv",
        "streams/date=2024-06-27/part-0.csv",
        "archived/streams/2024-06-25/part-0.csv",
    ]
    local = header_files(tmp_path / "root", names)
    client = s3_server.client()
    client.create_bucket(Bucket="streamkpi-dated")
    upload_tree(client, local, "streamkpi-dated", "root")
    for marker in ("root/streams/", "root/streams/2024-06-25/"):  # "folder" markers are no files
        client.put_object(Bucket="streamkpi-dated", Key=marker, Body=b"")
    listings = []  # (Prefix, Delimiter) of every ListObjectsV2 request sent to the server

    def record(params, **_):
        listings.append((params["Prefix"], params.get("Delimiter")))

    events = storage.s3_client(s3_server.endpoint_url).meta.events
    events.register("provide-client-params.s3.ListObjectsV2", record)
    try:
        found = {
            k: inputs.locate_inputs(
                "s3://streamkpi-dated/root", s3_server.endpoint_url, run_date=dt.date(2024, 6, 25), lookaround_days=k
            )
            for k in (0, 1)
        }
    finally:
        events.unregister("provide-client-params.s3.ListObjectsV2", record)

    expected = {
        0: [
            "streams/2024-02-30/x.csv",
            "streams/2024-06-25/part-0.csv",
            "streams/2024-06-25/sub/part-1.csv",
            "streams/backfill/x.csv",
            "streams/late.csv",
        ],
        1: [
            "streams/2024-02-30/x.csv",
            "streams/2024-06-24/part-0.csv",
            "streams/2024-06-25/part-0.csv",
            "streams/2024-06-25/sub/part-1.csv",
            "streams/backfill/x.csv",
            "streams/date=2024-06-26/part-0.csv",
            "streams/late.csv",
        ],
    }
    for k, on_s3 in found.items():
        on_disk = inputs.locate_inputs(local, run_date=dt.date(2024, 6, 25), lookaround_days=k)
        assert [f.relative for f in on_s3.streams] == [f.relative for f in on_disk.streams] == expected[k]
        assert on_s3.selection == on_disk.selection
        assert on_s3.selection.undated_files == 3  # late.csv, backfill/x.csv, 2024-02-30/x.csv (no such date)
        assert [f.size for f in on_s3.all()] == [f.size for f in on_disk.all()]
    assert found[1].selection.dated_folders_skipped == ("2024-06-20", "date=2024-06-27")
    # one level at a time: the root and streams/ with a delimiter, then only the folders read
    recursive = {prefix for prefix, delimiter in listings if delimiter is None}
    assert {(prefix, delimiter) for prefix, delimiter in listings if delimiter} == {
        ("root/", "/"),
        ("root/streams/", "/"),
    }
    assert recursive == {
        "root/streams/2024-02-30/",
        "root/streams/backfill/",
        "root/streams/2024-06-24/",
        "root/streams/2024-06-25/",
        "root/streams/date=2024-06-26/",
    }


def test_listing_pages_past_1000_stream_files(tmp_path, s3_server):
    client = s3_server.client()
    client.create_bucket(Bucket="streamkpi-many")
    keys = [f"root/streams/2024-06-25/part-{i:04d}.csv" for i in range(1001)] + ["root/songs.csv", "root/users.csv"]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda k: client.put_object(Bucket="streamkpi-many", Key=k, Body=STREAMS_HEADER), keys))

    found = inputs.locate_inputs("s3://streamkpi-many/root", s3_server.endpoint_url)

    assert len(found.streams) == 1001
    assert [f.relative for f in found.streams] == sorted(k.removeprefix("root/") for k in keys[:1001])
    assert found.streams[-1].relative == "streams/2024-06-25/part-1000.csv"


def test_staging_from_s3_equals_staging_from_the_folder(sample, tmp_path, s3_server):
    from_s3 = ingest.stage_day(
        "s3://streamkpi-in/landing", DAY, tmp_path / "s3", s3_endpoint_url=s3_server.endpoint_url
    )
    from_disk = ingest.stage_day(sample, DAY, tmp_path / "disk")

    assert from_s3.counts == from_disk.counts and from_s3.counts["valid_streams"] > 0
    for name in ("streams.parquet", "tracks.parquet", "track_artists.parquet", "users.parquet"):
        s3_rows, disk_rows = (pd.read_parquet(tmp_path / where / name) for where in ("s3", "disk"))
        columns = list(disk_rows.columns)
        assert s3_rows.sort_values(columns, ignore_index=True).equals(
            disk_rows.sort_values(columns, ignore_index=True)
        ), name
    for name in ("rejects/streams.csv", "rejects/songs.csv"):
        assert filecmp.cmp(tmp_path / "s3" / name, tmp_path / "disk" / name, shallow=False), name
    # checksums computed while streaming: the same as the files' own, no second read needed
    assert from_s3.input_files == from_disk.input_files
    for entry in from_s3.input_files:
        data = (sample / entry["path"]).read_bytes()
        assert entry == {"path": entry["path"], "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def test_staged_files_and_kpis_are_written_to_the_staging_mirror(sample, tmp_path, s3_server):
    from streamkpi import kpis

    client = s3_server.client()
    client.create_bucket(Bucket="streamkpi-stage")
    staging = tmp_path / "staging"
    mirror = storage.attach_mirror(staging, "s3://streamkpi-stage/runs", DAY, "run-1", s3_server.endpoint_url)
    assert mirror.uri == storage.S3Uri("streamkpi-stage", "runs/2024-06-25/run-1")

    ingest.stage_day(sample, DAY, staging)
    kpis.save_kpis(kpis.genre_level_kpis(staging, DAY), staging, "genre_level_kpis")

    listed = {
        o.key: o.size for o in storage.list_objects(storage.S3Uri("streamkpi-stage", "runs"), s3_server.endpoint_url)
    }
    expected = [*ingest.STAGED_FILES, "kpis/genre_level_kpis.parquet"]
    assert set(listed) == {f"runs/2024-06-25/run-1/{name}" for name in expected}
    for name in expected:
        body = client.get_object(Bucket="streamkpi-stage", Key=f"runs/2024-06-25/run-1/{name}")["Body"].read()
        assert body == (staging / name).read_bytes(), name
    # later steps find the mirror from the staging folder alone
    assert storage.mirror_of(staging) == mirror
    assert storage.find_mirror(staging / "kpis" / "genre_level_kpis.parquet") == mirror
    assert "AKIA" not in (staging / storage.MIRROR_FILE).read_text()
    # without staging_uri the mirror is detached
    assert storage.attach_mirror(staging, None, DAY, "run-2") is None and storage.mirror_of(staging) is None


def test_headers_of_large_objects_come_from_their_first_bytes_only(s3_server, monkeypatch):
    client = s3_server.client()
    client.create_bucket(Bucket="streamkpi-headers")
    rows = b"".join(b"%d,t%d,2024-06-25 10:00:00\n" % (i, i) for i in range(50))
    long_header = b"user_id," + b",".join(b"extra_column_%02d" % i for i in range(20)) + b",track_id,listen_time\n"
    objects = {
        "songs.csv": b"track_id\n",
        "users.csv": b"user_id\n",
        "streams/a.csv": STREAMS_HEADER + rows,
        "streams/b.csv": long_header,
    }
    for name, body in objects.items():
        client.put_object(Bucket="streamkpi-headers", Key=f"root/{name}", Body=body)
    monkeypatch.setattr(inputs, "HEADER_PROBE", 64)
    limits, real_open = [], storage.open_object
    monkeypatch.setattr(storage, "open_object", lambda *a, **k: limits.append(k.get("limit")) or real_open(*a, **k))

    found = inputs.locate_inputs("s3://streamkpi-headers/root", s3_server.endpoint_url)
    headers = inputs.read_headers(found)

    assert headers["streams/a.csv"] == ["user_id", "track_id", "listen_time"]
    assert headers["streams/b.csv"][-2:] == ["track_id", "listen_time"] and len(headers["streams/b.csv"]) == 23
    assert sorted(limits, key=str) == [64, 64, None, None, None]  # b.csv's header outgrew the probe
    with storage.open_object("s3://streamkpi-headers/root/streams/a.csv", s3_server.endpoint_url, limit=10) as head:
        assert head.read() == STREAMS_HEADER[:10]


def test_a_missing_bucket_is_an_error_naming_the_uri(s3_server, tmp_path):
    with pytest.raises(
        StorageError, match=r"s3://streamkpi-no-such-bucket/in.*bucket 'streamkpi-no-such-bucket' does not exist"
    ):
        ingest.stage_day("s3://streamkpi-no-such-bucket/in", DAY, tmp_path, s3_endpoint_url=s3_server.endpoint_url)


def test_a_missing_staging_bucket_is_an_error_naming_the_uri(sample, s3_server, tmp_path):
    storage.attach_mirror(tmp_path, "s3://streamkpi-no-staging-bucket/runs", DAY, "r1", s3_server.endpoint_url)
    with pytest.raises(
        StorageError,
        match=r"cannot write s3://streamkpi-no-staging-bucket/runs/2024-06-25/r1/"
        r"streams.parquet: bucket 'streamkpi-no-staging-bucket' does not exist",
    ):
        ingest.stage_day(sample, DAY, tmp_path)


def test_a_prefix_without_songs_is_an_error_naming_the_root(sample, s3_server, tmp_path):
    client = s3_server.client()
    client.create_bucket(Bucket="streamkpi-partial")
    client.put_object(Bucket="streamkpi-partial", Key="root/users.csv", Body=b"user_id,user_age\n")
    with pytest.raises(InputValidationError, match=r"input root s3://streamkpi-partial/root has no songs.csv"):
        inputs.locate_inputs("s3://streamkpi-partial/root", s3_server.endpoint_url)
    with pytest.raises(InputValidationError, match=r"s3://streamkpi-partial/nothing-here holds no object"):
        inputs.locate_inputs("s3://streamkpi-partial/nothing-here", s3_server.endpoint_url)


def test_a_key_gone_after_listing_is_an_error_naming_it(s3_server):
    client = s3_server.client()
    client.create_bucket(Bucket="streamkpi-vanish")
    for name in ("songs.csv", "users.csv", "streams/a.csv"):
        client.put_object(Bucket="streamkpi-vanish", Key=f"root/{name}", Body=STREAMS_HEADER)
    found = inputs.locate_inputs("s3://streamkpi-vanish/root", s3_server.endpoint_url)
    client.delete_object(Bucket="streamkpi-vanish", Key="root/streams/a.csv")
    with pytest.raises(StorageError, match=r"s3://streamkpi-vanish/root/streams/a.csv: no such object"):
        inputs.check_required_columns(found)


def test_a_denied_request_is_an_error_naming_the_uri_and_the_permission(monkeypatch):
    client = boto3.session.Session().client("s3", region_name="us-east-1")
    stubber = Stubber(client)
    stubber.add_client_error(
        "list_objects_v2", service_error_code="AccessDenied", service_message="Access Denied", http_status_code=403
    )
    stubber.activate()
    monkeypatch.setattr(storage, "s3_client", lambda endpoint_url=None: client)
    with pytest.raises(StorageError) as info:
        inputs.locate_inputs("s3://streamkpi-locked/in")
    message = str(info.value)
    assert "s3://streamkpi-locked/in" in message and "access denied" in message and "s3:ListBucket" in message


def test_no_credentials_is_an_error_pointing_at_the_aws_chain(monkeypatch, s3_server):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name)
    storage._cached_client.cache_clear()
    try:
        with pytest.raises(StorageError, match=r"s3://streamkpi-in/landing.*no AWS credentials.*never from params"):
            inputs.locate_inputs("s3://streamkpi-in/landing", s3_server.endpoint_url)
    finally:
        storage._cached_client.cache_clear()


# --------------------------------------------------------------------------- broken connections


class _FlakyBody:
    """A response body that breaks (or ends early) after ``break_after`` bytes."""

    def __init__(self, data: bytes, break_after: int | None, short: bool):
        self._data, self._break, self._short, self._pos = data, break_after, short, 0

    def read(self, n: int) -> bytes:
        if self._break is not None and self._pos >= self._break:
            if self._short:
                return b""
            raise ProtocolError("Connection broken: reset by peer")
        end = min(len(self._data), self._pos + n, self._break if self._break is not None else len(self._data))
        chunk = self._data[self._pos : end]
        self._pos = end
        return chunk

    def close(self):
        pass


class _FlakyClient:
    def __init__(self, data: bytes, breaks: list[int], short: bool = False):
        self.data, self.breaks, self.short, self.requests = data, list(breaks), short, []

    def get_object(self, **request):
        self.requests.append(request)
        start = int(request["Range"].removeprefix("bytes=").rstrip("-")) if "Range" in request else 0
        break_after = self.breaks.pop(0) if self.breaks else None
        return {
            "Body": _FlakyBody(self.data[start:], break_after, self.short),
            "ETag": '"v1"',
            "ContentLength": len(self.data) - start,
        }


@pytest.mark.parametrize("short", [False, True], ids=["reset", "short-body"])
def test_a_broken_read_resumes_where_it_stopped_on_the_same_version(short):
    data = bytes(range(256)) * 4000
    client = _FlakyClient(data, breaks=[100_000, 250_000], short=short)
    reader = storage.S3ObjectReader(storage.S3Uri("b", "k.csv"), client=client, etag='"v1"', size=len(data))
    with storage.DigestingReader(reader) as digesting:
        out = io.BytesIO()
        while chunk := digesting.read(64 << 10):
            out.write(chunk)
    assert out.getvalue() == data and digesting.sha256 == hashlib.sha256(data).hexdigest()
    assert [r.get("Range") for r in client.requests] == [None, "bytes=100000-", "bytes=350000-"]
    assert all(r["IfMatch"] == '"v1"' for r in client.requests)


def test_a_read_that_keeps_breaking_fails_naming_the_object():
    client = _FlakyClient(b"x" * 1000, breaks=[10] * (storage.MAX_RESUMES + 1))
    reader = storage.S3ObjectReader(storage.S3Uri("bucket", "streams/a.csv"), client=client, size=1000)
    with pytest.raises(StorageError, match=r"cannot read s3://bucket/streams/a.csv: the connection broke"):
        reader.read()
