"""The Redshift path, run for real on a PostgreSQL server the tests start (tests/servers.py).

PostgreSQL stands in for Redshift: the load transaction and the pushdown KPI SQL run on it, with
``COPY … FROM STDIN`` where Redshift would ``COPY … FROM 's3://…'``. The Redshift-only statements
are compiled with the redshift dialect and asserted as SQL; the statements around them run on
PostgreSQL with the ``redshift`` flavor, the COPY played by a stand-in that fetches the object
from the S3 test server.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import threading
import time
import traceback
import uuid
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa
from fixtures_small import make_root, song, t, user
from servers import TEST_ACCESS_KEY_ID, TEST_SECRET_ACCESS_KEY, TEST_SESSION_TOKEN
from streamkpi import ingest, kpis, redshift, storage, tables, warehouse
from streamkpi.errors import WarehouseError

from tools.sample_data import generate

DAY, OTHER_DAY = "2024-06-25", "2024-06-24"
ROLE = "arn:aws:iam::123456789012:role/streamkpi-copy"
REPO = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.usefixtures("aws_env")


@pytest.fixture(scope="module")
def staged(tmp_path_factory):
    """A staged day of generated data, its KPI frames by DuckDB, and their Parquet files."""
    base = tmp_path_factory.mktemp("pg")
    generate(base / "input", start_date=OTHER_DAY, days=2, streams_per_day=1500, n_users=200, n_tracks=600, seed=5)
    staging = base / "staging"
    ingest.stage_day(base / "input", DAY, staging)
    frames = {name: kpis.compute_kpis(staging, name, DAY) for name in kpis.KPI_TABLES}
    files = {name: kpis.save_kpis(frame, staging, name) for name, frame in frames.items()}
    return {"base": base, "staging": staging, "frames": frames, "files": files}


@pytest.fixture
def database(postgres) -> str:
    """The URL of a new, empty database on the test server."""
    return postgres.create_database(f"t_{uuid.uuid4().hex[:12]}")


def kpi_file(tmp_path: Path, frame: pd.DataFrame, table: str, name: str) -> Path:
    """``frame`` saved as a KPI file in its own staging folder."""
    return kpis.save_kpis(frame, tmp_path / name, table)


def rows(url: str, table: str) -> list[tuple]:
    with sa.create_engine(url).connect() as conn:
        return [tuple(r) for r in conn.exec_driver_sql(f"SELECT * FROM reporting_schema.{table} ORDER BY 1, 2")]


# --------------------------------------------------------------------------- pushdown = DuckDB


def test_pushdown_kpis_on_postgres_equal_duckdb_cell_for_cell(staged, database):
    for name, expected in staged["frames"].items():
        pushed = kpis.compute_kpis(staged["staging"], name, DAY, engine="redshift", warehouse_url=database)
        pd.testing.assert_frame_equal(pushed, expected, check_exact=True)
        assert len(pushed) > 10


def test_pushdown_breaks_ties_by_code_point_like_duckdb(tmp_path, database):
    songs = [
        song("a1", "rock", 100000, "Zoé"),
        song("B2", "rock", 200000, "é"),
        song("é3", "pop", 123456.789, "Z"),
        song("Z4", "pop", 1.5e5, "a;Ω"),
    ]
    users = [user(1, 30), user(2, 17), user(3, 70)]
    streams = [
        (1, "a1", t("10:00:00")),
        (2, "B2", t("10:05:00")),
        (3, "é3", t("10:40:00")),
        (3, "Z4", t("10:41:00")),
        (1, "Z4", t("11:59:59")),
    ]
    root = make_root(tmp_path, songs, users, streams)
    staging = tmp_path / "staging"
    ingest.stage_day(root, DAY, staging)
    for name in kpis.KPI_TABLES:
        expected = kpis.compute_kpis(staging, name, DAY)
        pushed = kpis.compute_kpis(staging, name, DAY, engine="redshift", warehouse_url=database)
        pd.testing.assert_frame_equal(pushed, expected, check_exact=True)
    genre = kpis.compute_kpis(staging, "genre_level_kpis", DAY, engine="redshift", warehouse_url=database)
    assert dict(zip(genre["track_genre"], genre["most_popular_track_id"])) == {"pop": "Z4", "rock": "B2"}
    hourly = kpis.compute_kpis(staging, "hourly_kpis", DAY, engine="redshift", warehouse_url=database)
    assert hourly.loc[hourly["listen_hour"] == 10, "top_artist"].item() == "Z"


SESSION_STREAMS = [  # (user, time); the gaps between a user's streams, in hour 10 unless said
    *[(1, t(hms)) for hms in ("10:00:00", "10:10:00", "10:50:00", "11:05:00")],  # 10:00, 40:00, then 15:00 into 11
    *[(2, t(hms)) for hms in ("10:20:00", "10:59:59")],  # 39:59
    *[(3, t(hms)) for hms in ("10:00:00", "10:30:01")],  # 30:01, across minute 30
    *[(4, t(hms)) for hms in ("10:29:59", "10:59:59")],  # exactly 30:00: one session under a gap of 30
]


# Sessions touching hour 10, worked by hand per user (1, 2, 3, 4), over its 4 listeners; hour 11 has
# user 1 alone in one session. Gaps under 30 minutes take the window, 30 and more the aggregate.
@pytest.mark.parametrize(
    ("gap", "hour_10_sessions"),
    [(7, 3 + 2 + 2 + 2), (29, 2 + 2 + 2 + 2), (30, 2 + 2 + 2 + 1), (31, 2 + 2 + 1 + 1), (45, 1 + 1 + 1 + 1)],
)
def test_sessions_for_gaps_either_side_of_half_an_hour_on_both_engines(tmp_path, database, gap, hour_10_sessions):
    streams = [(u, "a1", at) for u, at in SESSION_STREAMS]
    root = make_root(tmp_path, [song("a1", "rock")], [user(u, 30) for u in (1, 2, 3, 4)], streams)
    ingest.stage_day(root, DAY, tmp_path / "staging")
    for engine in ("duckdb", "redshift"):
        hourly = kpis.compute_kpis(tmp_path / "staging", "hourly_kpis", DAY, gap, engine=engine, warehouse_url=database)
        assert dict(zip(hourly["listen_hour"], hourly["avg_sessions_per_user"])) == {10: hour_10_sessions / 4, 11: 1.0}


def test_pushdown_needs_a_sql_warehouse(staged):
    with pytest.raises(ValueError, match="redshift\\+psycopg2"):
        kpis.compute_kpis(staged["staging"], "hourly_kpis", DAY, engine="redshift", warehouse_url="duckdb:///x.duckdb")


# --------------------------------------------------------------------------- loading a day


def test_a_second_load_of_the_day_leaves_one_copy_and_other_days_alone(staged, database, tmp_path):
    other = {
        name: kpi_file(tmp_path, frame.assign(listen_date=pd.Timestamp(OTHER_DAY)), name, "other")
        for name, frame in staged["frames"].items()
    }
    assert warehouse.load_day(database, OTHER_DAY, other).rows == {n: len(f) for n, f in staged["frames"].items()}
    before_other = {name: rows(database, name) for name in kpis.KPI_TABLES}

    first = warehouse.load_day(database, DAY, staged["files"])
    second = warehouse.load_day(database, DAY, staged["files"])

    assert first.rows == second.rows == {n: len(f) for n, f in staged["frames"].items()}
    for name, frame in staged["frames"].items():  # the first load added the day, the rerun changed nothing
        assert first.diff[name] == {"added": len(frame), "removed": 0, "changed": 0, "unchanged": 0, "examples": []}
        assert second.diff[name] == {"added": 0, "removed": 0, "changed": 0, "unchanged": len(frame), "examples": []}
    for name, frame in staged["frames"].items():
        pd.testing.assert_frame_equal(warehouse.read_table(database, name, DAY), frame, check_exact=True)
        all_rows = rows(database, name)
        assert len(all_rows) == 2 * len(frame)  # the day once, the other day once
        assert [r for r in all_rows if str(r[0]) == OTHER_DAY] == [
            r for r in before_other[name] if str(r[0]) == OTHER_DAY
        ]


def test_a_genre_gone_on_rerun_is_gone_from_the_table(staged, database, tmp_path):
    warehouse.load_day(database, DAY, staged["files"])
    fewer = staged["frames"]["genre_level_kpis"].iloc[:3]
    loaded = warehouse.load_day(
        database, DAY, {"genre_level_kpis": kpi_file(tmp_path, fewer, "genre_level_kpis", "fewer")}
    )
    pd.testing.assert_frame_equal(warehouse.read_table(database, "genre_level_kpis", DAY), fewer, check_exact=True)
    all_genres = len(staged["frames"]["genre_level_kpis"])
    assert loaded.diff["genre_level_kpis"] == {
        "added": 0,
        "removed": all_genres - 3,
        "changed": 0,
        "unchanged": 3,
        "examples": [],
    }


def test_a_rerun_with_one_value_changed_names_that_cell(staged, database, tmp_path):
    warehouse.load_day(database, DAY, staged["files"])
    frame = staged["frames"]["hourly_kpis"].copy()
    hour, before = int(frame["listen_hour"].iloc[0]), int(frame["listen_counts"].iloc[0])
    frame.loc[frame.index[0], "listen_counts"] = before + 1
    loaded = warehouse.load_day(database, DAY, {"hourly_kpis": kpi_file(tmp_path, frame, "hourly_kpis", "changed")})
    assert loaded.diff["hourly_kpis"] == {
        "added": 0,
        "removed": 0,
        "changed": 1,
        "unchanged": len(frame) - 1,
        "examples": [
            {
                "key": {"listen_date": DAY, "listen_hour": hour},
                "column": "listen_counts",
                "old": before,
                "new": before + 1,
            }
        ],
    }


def test_a_failure_between_delete_and_insert_keeps_the_previous_rows(staged, database, tmp_path, monkeypatch):
    warehouse.load_day(database, DAY, staged["files"])
    before = {name: rows(database, name) for name in kpis.KPI_TABLES}
    changed = {name: kpi_file(tmp_path, frame.iloc[:2], name, "changed") for name, frame in staged["frames"].items()}
    inserted, real_insert = [], redshift._insert_from_staging

    def insert_then_fail_on_the_second_table(conn, table, staged_name):
        if inserted:  # the first table's DELETE and INSERT and the second table's DELETE have run
            raise RuntimeError("injected failure between delete and insert")
        real_insert(conn, table, staged_name)
        inserted.append(table.name)

    monkeypatch.setattr(redshift, "_insert_from_staging", insert_then_fail_on_the_second_table)
    with pytest.raises(RuntimeError, match="injected failure"):
        warehouse.load_day(database, DAY, changed)

    assert inserted == ["genre_level_kpis"]
    assert {name: rows(database, name) for name in kpis.KPI_TABLES} == before


def test_rows_of_another_date_are_refused_and_nothing_changes(staged, database, tmp_path):
    warehouse.load_day(database, DAY, staged["files"])
    before = rows(database, "hourly_kpis")
    mixed = staged["frames"]["hourly_kpis"].copy()
    mixed.loc[0, "listen_date"] = pd.Timestamp(OTHER_DAY)
    with pytest.raises(WarehouseError, match=r"1 row\(s\) not dated 2024-06-25; nothing is loaded"):
        warehouse.load_day(database, DAY, {"hourly_kpis": kpi_file(tmp_path, mixed, "hourly_kpis", "mixed")})
    assert rows(database, "hourly_kpis") == before


def test_read_table_before_any_load_is_empty_with_the_columns(database):
    frame = warehouse.read_table(database, "hourly_kpis")
    assert frame.empty and list(frame.columns) == tables.TABLES["hourly_kpis"].column_names


# --------------------------------------------------------------------------- one DDL source


def test_every_engine_ddl_comes_from_the_one_definition(database):
    for engine in tables.TYPE_MAP:
        statements = tables.ddl(engine)
        assert statements[0] == "CREATE SCHEMA IF NOT EXISTS reporting_schema"
        for table, statement in zip(tables.TABLES.values(), statements[1:]):
            assert statement.startswith(f"CREATE TABLE IF NOT EXISTS reporting_schema.{table.name} (")
            assert f"PRIMARY KEY ({', '.join(table.primary_key)})" in statement
            for column in table.columns:
                assert f"    {column.name} {tables.TYPE_MAP[engine][column.type]}" in statement
    assert "track_genre VARCHAR(65535)" in tables.ddl("redshift")[1]
    assert 'track_genre VARCHAR COLLATE "C"' in tables.ddl("postgresql")[1]
    printed = subprocess.run(
        [sys.executable, "-m", "streamkpi.warehouse", "ddl", "redshift"], capture_output=True, text=True, check=True
    ).stdout
    assert printed == ";\n\n".join(tables.ddl("redshift")) + ";\n"

    redshift.create_tables(database)
    with sa.create_engine(database).connect() as conn:
        types = dict(
            conn.exec_driver_sql(
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_schema = 'reporting_schema' AND table_name = 'hourly_kpis'"
            ).fetchall()
        )
    assert types == {
        "listen_date": "date",
        "listen_hour": "integer",
        "unique_listeners": "integer",
        "listen_counts": "integer",
        "top_artist": "character varying",
        "avg_sessions_per_user": "double precision",
        "diversity_index": "double precision",
        "most_engaged_age_group": "character varying",
    }


def test_staged_files_have_exactly_the_staged_tables_columns_and_types(staged):
    for relation, file_name in kpis.STAGED_RELATIONS.items():
        spec = tables.STAGED_TABLES[relation]
        described = duckdb.sql(f"DESCRIBE SELECT * FROM read_parquet('{staged['staging'] / file_name}')").fetchall()
        expected = [(c.name, tables.TYPE_MAP["duckdb"][c.type].replace(", ", ",")) for c in spec.columns]
        assert [(name, kind) for name, kind, *_ in described] == expected, relation
        compression = pq.ParquetFile(staged["staging"] / file_name).metadata.row_group(0).column(0).compression
        assert compression == "SNAPPY", relation  # a compression Redshift's COPY reads
    for table, path in staged["files"].items():
        described = duckdb.sql(f"DESCRIBE SELECT * FROM read_parquet('{path}')").fetchall()
        assert [(n, k) for n, k, *_ in described] == [
            (c.name, tables.TYPE_MAP["duckdb"][c.type]) for c in tables.TABLES[table].columns
        ]


# --------------------------------------------------------------------------- Redshift statements


def compile_redshift(statement) -> str:
    """The SQL text of a statement as the Redshift dialect writes it, values inlined."""
    from sqlalchemy_redshift.dialect import RedshiftDialect_psycopg2

    return str(statement.compile(dialect=RedshiftDialect_psycopg2(), compile_kwargs={"literal_binds": True}))


def test_copy_compiles_with_the_redshift_dialect():
    command = redshift.copy_command(
        "stage_hourly_kpis",
        "s3://stage-bucket/runs/2024-06-25/r1/kpis/hourly_kpis.parquet",
        redshift.copy_credentials(ROLE),
    )
    assert " ".join(compile_redshift(command).split()) == (
        "COPY stage_hourly_kpis FROM 's3://stage-bucket/runs/2024-06-25/r1/kpis/hourly_kpis.parquet' "
        f"WITH CREDENTIALS AS 'aws_iam_role={ROLE}' FORMAT AS PARQUET"
    )


def test_without_a_role_copy_uses_the_aws_chain_credentials():
    credentials = redshift.copy_credentials(None)
    sql = compile_redshift(redshift.copy_command("t", "s3://b/k.parquet", credentials))
    assert (
        f"'aws_access_key_id={TEST_ACCESS_KEY_ID};aws_secret_access_key={TEST_SECRET_ACCESS_KEY};"
        f"token={TEST_SESSION_TOKEN}'"
    ) in sql


class RecordedRedshift:
    """Runs the ``redshift`` flavor on PostgreSQL: records every statement and transaction
    boundary, and plays Redshift's COPY FROM S3 by fetching the object from the S3 server."""

    def __init__(self, monkeypatch, tmp_path: Path, endpoint_url: str):
        self.log: list[str] = []
        self.copies: list[str] = []
        self._tmp, self._endpoint = tmp_path, endpoint_url
        for event, record in (
            ("before_cursor_execute", self._sql),
            ("begin", self._begin),
            ("commit", self._commit),
            ("rollback", self._rollback),
        ):
            sa.event.listen(sa.engine.Engine, event, record)
            monkeypatch.setattr(self, f"_undo_{event}", (event, record), raising=False)
        monkeypatch.setattr(redshift, "_execute_copy", self._copy)

    def close(self):
        for event, record in (
            ("before_cursor_execute", self._sql),
            ("begin", self._begin),
            ("commit", self._commit),
            ("rollback", self._rollback),
        ):
            sa.event.remove(sa.engine.Engine, event, record)

    def _sql(self, conn, cursor, statement, parameters, context, executemany):
        self.log.append(" ".join(statement.split()))

    def _begin(self, conn):
        self.log.append("BEGIN")

    def _commit(self, conn):
        self.log.append("COMMIT")

    def _rollback(self, conn):
        self.log.append("ROLLBACK")

    def _copy(self, conn, command):
        sql = " ".join(compile_redshift(command).split())
        self.copies.append(sql)
        self.log.append(sql)
        name = command.table.name
        spec = tables.TABLES[name.removeprefix("stage_")] if name.startswith("stage_") else tables.STAGED_TABLES[name]
        local = self._tmp / f"copied-{len(self.copies)}.parquet"
        uri = storage.S3Uri.parse(command.data_location)
        storage.s3_client(self._endpoint).download_file(uri.bucket, uri.key, str(local))
        redshift._copy_from_stdin(conn, name, spec, local)


@pytest.fixture
def recorded(monkeypatch, tmp_path, s3_server):
    s3_server.client().create_bucket(Bucket=f"stage-{uuid.uuid4().hex[:8]}")
    recorder = RecordedRedshift(monkeypatch, tmp_path, s3_server.endpoint_url)
    yield recorder
    recorder.close()


def mirrored_staging(staged, tmp_path, s3_server) -> Path:
    """A copy of the staged folder with an S3 mirror on the test server."""
    bucket = [b["Name"] for b in s3_server.client().list_buckets()["Buckets"] if b["Name"].startswith("stage-")][-1]
    staging = tmp_path / "mirrored"
    subprocess.run(["cp", "-r", str(staged["staging"]), str(staging)], check=True)
    storage.attach_mirror(staging, f"s3://{bucket}/runs", DAY, "r1", s3_server.endpoint_url)
    return staging


def test_redshift_load_copies_from_s3_then_replaces_the_day_in_one_transaction(
    staged, database, tmp_path, s3_server, recorded
):
    staging = mirrored_staging(staged, tmp_path, s3_server)
    files = {name: kpis.kpi_path(staging, name) for name in kpis.KPI_TABLES}
    mirror = storage.mirror_of(staging)

    loaded = redshift.load_day(database, dt.date(2024, 6, 25), files, iam_role=ROLE, flavor="redshift")

    assert loaded.rows == {n: len(f) for n, f in staged["frames"].items()}
    for name, frame in staged["frames"].items():
        pd.testing.assert_frame_equal(warehouse.read_table(database, name, DAY), frame, check_exact=True)
    assert recorded.copies == [
        f"COPY stage_{name} FROM '{mirror.uri_for(files[name])}' WITH CREDENTIALS AS 'aws_iam_role={ROLE}' "
        "FORMAT AS PARQUET"
        for name in kpis.KPI_TABLES
    ]
    log = recorded.log
    assert not any("TRUNCATE" in s.upper() for s in log)
    assert not any("VALUES" in s.upper() for s in log if s.upper().startswith("INSERT"))
    changes = [
        i for i, s in enumerate(log) if s.startswith(("DELETE FROM reporting_schema", "INSERT INTO reporting_schema"))
    ]
    assert [log[i].split(" (")[0] for i in changes] == [
        "DELETE FROM reporting_schema.genre_level_kpis WHERE listen_date = DATE '2024-06-25'",
        "INSERT INTO reporting_schema.genre_level_kpis",
        "DELETE FROM reporting_schema.hourly_kpis WHERE listen_date = DATE '2024-06-25'",
        "INSERT INTO reporting_schema.hourly_kpis",
    ]
    begin = max(i for i, s in enumerate(log[: changes[0]]) if s == "BEGIN")
    commit = changes[-1] + log[changes[-1] :].index("COMMIT")
    # one transaction that first locks both tables, then replaces the day in each: nothing else inside
    # but the reads of the day's rows before and after (what the load changed)
    lock = "LOCK reporting_schema.genre_level_kpis, reporting_schema.hourly_kpis"
    inside = log[begin + 1 : commit]
    assert [s for s in inside if not s.startswith("SELECT ")] == [lock, *[log[i] for i in changes]]
    reads = [s.split(" FROM ")[1].split(" WHERE ")[0] for s in inside if s.startswith("SELECT ")]
    assert reads == ["reporting_schema.genre_level_kpis"] * 2 + ["reporting_schema.hourly_kpis"] * 2
    assert max(i for i, s in enumerate(log) if s.startswith("COPY")) < begin  # staged before it began


def test_redshift_pushdown_copies_the_staged_relations_from_s3(staged, database, tmp_path, s3_server, recorded):
    staging = mirrored_staging(staged, tmp_path, s3_server)
    mirror = storage.mirror_of(staging)
    sql = kpis.kpi_sql("genre_level_kpis", DAY)
    relations = {
        name: (tables.STAGED_TABLES[name], kpis.staged_path(staging, name))
        for name in redshift.relations_read_by(sql, kpis.STAGED_RELATIONS)
    }

    frame = redshift.run_query_on_staged(database, sql, relations, flavor="redshift")

    pd.testing.assert_frame_equal(
        tables.conform(frame, tables.TABLES["genre_level_kpis"]),
        staged["frames"]["genre_level_kpis"],
        check_exact=True,
    )
    assert [c.split(" WITH ")[0] for c in recorded.copies] == [
        f"COPY valid_streams FROM '{mirror.uri_for(staging / 'streams.parquet')}'",
        f"COPY tracks FROM '{mirror.uri_for(staging / 'tracks.parquet')}'",
    ]
    assert all(
        c.endswith(
            f"'aws_access_key_id={TEST_ACCESS_KEY_ID};aws_secret_access_key={TEST_SECRET_ACCESS_KEY};"
            f"token={TEST_SESSION_TOKEN}' FORMAT AS PARQUET"
        )
        for c in recorded.copies
    )


def test_redshift_without_a_staging_mirror_is_a_clear_error(staged, database):
    with pytest.raises(WarehouseError, match="set staging_uri"):
        redshift.load_day(database, dt.date(2024, 6, 25), staged["files"], flavor="redshift")


def test_a_failing_copy_never_shows_the_credentials(staged, database, tmp_path, s3_server):
    s3_server.client().create_bucket(Bucket="stage-failing")
    staging = tmp_path / "staging"
    subprocess.run(["cp", "-r", str(staged["staging"]), str(staging)], check=True)
    storage.attach_mirror(staging, "s3://stage-failing/runs", DAY, "r1", s3_server.endpoint_url)
    # Redshift's COPY … WITH CREDENTIALS is not PostgreSQL: the server rejects it, as Redshift may
    with pytest.raises(WarehouseError) as info:
        redshift.load_day(
            database, dt.date(2024, 6, 25), {"hourly_kpis": kpis.kpi_path(staging, "hourly_kpis")}, flavor="redshift"
        )
    shown = "".join(traceback.format_exception(info.value)) + str(info.value)
    assert "staging the KPI rows of 2024-06-25" in shown
    for secret in (TEST_SECRET_ACCESS_KEY, TEST_SESSION_TOKEN, TEST_ACCESS_KEY_ID):
        assert secret not in shown


# --------------------------------------------------------------------------- loads side by side

LOAD = """
import json, sys
from streamkpi import warehouse
print(json.dumps(warehouse.load_day(sys.argv[1], sys.argv[2], json.loads(sys.argv[3])).rows))
"""


def test_two_loads_of_one_day_at_once_under_serializable_both_commit_one_copy(staged, database):
    with sa.create_engine(database, isolation_level="AUTOCOMMIT").connect() as conn:
        name = sa.engine.make_url(database).database
        conn.exec_driver_sql(f"ALTER DATABASE {name} SET default_transaction_isolation = 'serializable'")
    files = json.dumps({table: str(path) for table, path in staged["files"].items()})
    loads = [
        subprocess.Popen([sys.executable, "-c", LOAD, database, DAY, files], stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outputs = [load.communicate(timeout=120)[0] for load in loads]
    assert [load.returncode for load in loads] == [0, 0]
    expected = {n: len(f) for n, f in staged["frames"].items()}
    assert [json.loads(out) for out in outputs] == [expected, expected]
    for table, frame in staged["frames"].items():
        pd.testing.assert_frame_equal(warehouse.read_table(database, table, DAY), frame, check_exact=True)


def test_a_serialization_failure_is_retried_and_the_retry_said_in_the_log(staged, database, capfd):
    warehouse.create_tables(database)
    # A real 40001 from the server, once: the first insert's trigger raises it (a sequence is not rolled back).
    with sa.create_engine(database).begin() as conn:
        conn.exec_driver_sql("CREATE SEQUENCE flaky")
        conn.exec_driver_sql(
            "CREATE FUNCTION fail_once() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "IF nextval('flaky') = 1 THEN RAISE EXCEPTION 'could not serialize access' USING ERRCODE = '40001'; "
            "END IF; RETURN NEW; END $$"
        )
        conn.exec_driver_sql(
            "CREATE TRIGGER fail_once BEFORE INSERT ON reporting_schema.genre_level_kpis "
            "FOR EACH STATEMENT EXECUTE FUNCTION fail_once()"
        )
    assert warehouse.load_day(database, DAY, staged["files"]).rows == {n: len(f) for n, f in staged["frames"].items()}
    told = capfd.readouterr().err
    assert "could not serialize access" in told and "retrying in 1 s" in told
    for table, frame in staged["frames"].items():
        pd.testing.assert_frame_equal(warehouse.read_table(database, table, DAY), frame, check_exact=True)


def test_a_load_waits_for_a_table_lock_at_most_its_lock_timeout(staged, database):
    warehouse.load_day(database, DAY, staged["files"])
    engine = sa.create_engine(database)
    with engine.connect() as holder, holder.begin():
        holder.exec_driver_sql("LOCK reporting_schema.hourly_kpis")  # as a long report query or another load would
        with pytest.raises(WarehouseError, match="lock timeout"):
            warehouse.load_day(database, DAY, staged["files"], lock_timeout=1)
    for table, frame in staged["frames"].items():  # the day as it was
        pd.testing.assert_frame_equal(warehouse.read_table(database, table, DAY), frame, check_exact=True)


def test_tables_created_by_another_load_meanwhile_are_found_not_failed(database):
    # PostgreSQL's CREATE ... IF NOT EXISTS waits for a concurrent CREATE of the same name, then fails with a
    # unique violation once that one commits: the first two loads of a new warehouse, started together.
    other = sa.create_engine(database).connect()
    other.begin()
    other.exec_driver_sql("CREATE SCHEMA reporting_schema")  # not committed yet: create_tables waits for it
    outcome = {}
    creating = threading.Thread(target=lambda: outcome.update(error=_error_of(warehouse.create_tables, database)))
    creating.start()
    with sa.create_engine(database).connect() as watcher:  # until create_tables waits on the other transaction
        deadline = time.monotonic() + 60
        while not watcher.exec_driver_sql("SELECT count(*) FROM pg_locks WHERE NOT granted").scalar():
            assert creating.is_alive() and time.monotonic() < deadline, outcome
            time.sleep(0.05)
    other.commit()
    other.close()
    creating.join(timeout=60)
    assert outcome == {"error": None}
    query = "SELECT tablename FROM pg_tables WHERE schemaname = 'reporting_schema'"
    with sa.create_engine(database).connect() as conn:
        created = {row[0] for row in conn.exec_driver_sql(query)}
    assert {"genre_level_kpis", "hourly_kpis", "kpi_checks"} <= created


def _error_of(function, *args) -> BaseException | None:
    try:
        function(*args)
    except BaseException as exc:  # the thread's outcome, asserted by the test
        return exc
    return None
