"""The params file and the run date: validation, resolution, and failing before any work."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from pipeline import cli
from pipeline.errors import ParamsError, RunDateError
from pipeline.params import KEYS, Params, load_params, parse_params, repo_root, validate_run_date

REPO = Path(__file__).resolve().parents[1]


def valid(**overrides) -> dict:
    raw = {
        "input_uri": "data/sample",
        "warehouse_url": "duckdb:///warehouse/streamkpi.duckdb",
        "reports_dir": "reports",
    }
    raw.update(overrides)
    return {k: v for k, v in raw.items() if v is not ...}


def write(tmp_path: Path, raw, name: str = "p.yaml") -> Path:
    path = tmp_path / name
    path.write_text(raw if isinstance(raw, str) else yaml.safe_dump(raw))
    return path


def error_of(raw, root: Path | None = None, source: str = "conf/p.yaml") -> str:
    with pytest.raises(ParamsError) as info:
        parse_params(raw, source=source, root=root or Path("/repo"))
    return str(info.value)


# --------------------------------------------------------------------------- the shipped files


def test_repo_root_is_the_folder_with_pyproject():
    assert repo_root() == REPO and (REPO / "pyproject.toml").is_file()


def test_local_yaml_is_valid_and_resolved_from_the_repo():
    raw = yaml.safe_load((REPO / "params" / "local.yaml").read_text())
    params = load_params(REPO / "params" / "local.yaml")
    assert params["reports_dir"] == str(REPO / raw["reports_dir"])
    assert params["input_uri"] == str(REPO / raw["input_uri"])
    assert params["warehouse_url"] == "duckdb:///" + str(REPO / raw["warehouse_url"].removeprefix("duckdb:///"))


def test_example_documents_every_key():
    text = (REPO / "params" / "example-custom.yaml").read_text()
    assert {k.name for k in KEYS} <= set(yaml.safe_load(text))
    load_params(REPO / "params" / "example-custom.yaml")


# --------------------------------------------------------------------------- values


def test_defaults_and_resolution_from_the_repo_root():
    params = parse_params(valid(), root=Path("/repo"))
    assert params.values == {
        "input_uri": "/repo/data/sample",
        "warehouse_url": "duckdb:////repo/warehouse/streamkpi.duckdb",
        "reports_dir": "/repo/reports",
        "session_gap_minutes": 30,
        "notebook_timeout_seconds": 3600,
        "warehouse_lock_timeout_seconds": 600,
        "partition_lookaround_days": 1,
        "archive_processed_inputs": False,
        "engine": "duckdb",
        "staging_uri": None,
        "s3_endpoint_url": None,
        "redshift_iam_role": None,
        "checks": None,
        "alert_webhook_url": None,
    }


def test_relative_paths_do_not_depend_on_the_current_directory(tmp_path, monkeypatch):
    path = write(tmp_path, valid())
    monkeypatch.chdir(tmp_path)
    params = load_params("p.yaml")  # the file itself is found from the current directory
    assert params["input_uri"] == str(REPO / "data" / "sample")
    assert params["reports_dir"] == str(REPO / "reports")
    assert params["warehouse_url"] == f"duckdb:///{REPO}/warehouse/streamkpi.duckdb"
    assert params.source == Path("p.yaml") and path.is_file()


def test_absolute_paths_and_home_are_kept():
    params = parse_params(
        valid(input_uri="/data/in", reports_dir="~/r", warehouse_url="duckdb:////w/x.duckdb"), root=Path("/repo")
    )
    assert params["input_uri"] == "/data/in"
    assert params["reports_dir"] == str(Path("~/r").expanduser())
    assert params["warehouse_url"] == "duckdb:////w/x.duckdb"


@pytest.mark.parametrize("uri", ["s3://bucket/prefix", "s3://bucket", "s3://my-bucket/a/b/"])
def test_s3_input_passes_through_unchanged(uri):
    assert parse_params(valid(input_uri=uri), root=Path("/repo"))["input_uri"] == uri


@pytest.mark.parametrize(
    "url",
    [
        "duckdb:///:memory:",
        "postgresql+psycopg2://loader@db.example.com:5432/analytics",
        "redshift+psycopg2://loader@cluster.example.com:5439/analytics?sslmode=require",
    ],
)
def test_other_urls_pass_through_unchanged(url):
    assert parse_params(valid(warehouse_url=url), root=Path("/repo"))["warehouse_url"] == url


def test_optional_keys_take_given_values():
    params = parse_params(valid(session_gap_minutes=45, notebook_timeout_seconds=60), root=Path("/repo"))
    assert (params["session_gap_minutes"], params["notebook_timeout_seconds"]) == (45, 60)


@pytest.mark.parametrize("days", [0, 1, 7])
def test_partition_lookaround_days_takes_any_whole_number_of_days(days):
    assert parse_params(valid(partition_lookaround_days=days), root=Path("/repo"))["partition_lookaround_days"] == days


@pytest.mark.parametrize(
    "value, shown",
    [(-1, "-1 (int)"), (1.5, "1.5 (float)"), ("1", "'1' (str)"), (True, "True (bool)"), (None, "nothing (null)")],
)
def test_invalid_partition_lookaround_days_is_named_with_what_was_given(value, shown):
    message = error_of(valid(partition_lookaround_days=value))
    assert f"'partition_lookaround_days' must be an integer >= 0, got {shown}" in message


def test_notebooks_get_no_runner_only_keys():
    params = parse_params(valid(), root=Path("/repo"))
    assert set(params.notebook_parameters()) == {
        "input_uri",
        "warehouse_url",
        "session_gap_minutes",
        "warehouse_lock_timeout_seconds",
        "partition_lookaround_days",
        "archive_processed_inputs",
        "engine",
        "staging_uri",
        "s3_endpoint_url",
        "redshift_iam_role",
        "checks",
    }


# --------------------------------------------------------------------------- rejected files


def test_unknown_key_is_named_with_the_file():
    message = error_of(valid(reprts_dir="x", s3_endpoint="y"))
    assert "conf/p.yaml" in message
    assert "unknown key 'reprts_dir'" in message and "did you mean 'reports_dir'" in message
    assert "unknown key 's3_endpoint'" in message


@pytest.mark.parametrize("key", ["input_uri", "warehouse_url", "reports_dir"])
def test_missing_required_key_is_named(key):
    message = error_of(valid(**{key: ...}))
    assert "conf/p.yaml" in message and f"missing required key '{key}'" in message


@pytest.mark.parametrize(
    "key, value",
    [
        ("session_gap_minutes", True),
        ("session_gap_minutes", "30"),
        ("session_gap_minutes", 0),
        ("session_gap_minutes", -5),
        ("session_gap_minutes", 1.5),
        ("session_gap_minutes", None),
        ("notebook_timeout_seconds", False),
        ("notebook_timeout_seconds", 0),
        ("input_uri", ""),
        ("input_uri", 42),
        ("input_uri", ["a"]),
        ("input_uri", "gs://bucket/x"),
        ("input_uri", "s3://"),
        ("warehouse_url", 5),
        ("warehouse_url", "not a url"),
        ("reports_dir", None),
        ("reports_dir", "s3://bucket/reports"),
    ],
)
def test_malformed_value_is_named(key, value):
    message = error_of(valid(**{key: value}))
    assert "conf/p.yaml" in message and f"'{key}'" in message


def test_every_problem_is_reported_at_once():
    message = error_of({"input_uri": 1, "session_gap_minutes": True, "extra": 1})
    for fragment in ("'input_uri'", "'session_gap_minutes'", "'warehouse_url'", "'reports_dir'", "'extra'"):
        assert fragment in message


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://loader:s3cr3t@db.example.com/analytics",
        "redshift+psycopg2://loader:s3cr3t@cluster:5439/db",
        "postgresql://loader@db.example.com/analytics?password=s3cr3t",
    ],
)
def test_password_in_warehouse_url_is_refused(url):
    message = error_of(valid(warehouse_url=url))
    assert "'warehouse_url'" in message and "password" in message
    assert "environment" in message and "PGPASSWORD" in message
    assert "s3cr3t" not in message


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("- just\n- a list\n", "mapping"),
        ("", "mapping"),
        ("input_uri: [unclosed\n", "not valid YAML"),
        ("input_uri: a\ninput_uri: b\nwarehouse_url: duckdb://\nreports_dir: r\n", "duplicate key"),
    ],
)
def test_malformed_files(tmp_path, text, fragment):
    path = write(tmp_path, text)
    with pytest.raises(ParamsError) as info:
        load_params(path)
    assert fragment in str(info.value) and str(path) in str(info.value)


def test_missing_file(tmp_path):
    with pytest.raises(ParamsError, match="does not exist"):
        load_params(tmp_path / "nope.yaml")


def test_sanitise_masks_url_passwords():
    assert Params({"u": "postgresql://a:b@h/db", "n": 3}).sanitised() == {"u": "postgresql://a:***@h/db", "n": 3}


# --------------------------------------------------------------------------- run date


@pytest.mark.parametrize("text", ["2024-06-25", "2024-02-29", "1999-12-31"])
def test_valid_dates(text):
    assert validate_run_date(text) == text


@pytest.mark.parametrize(
    "text",
    [
        "2024-13-01",
        "2024-6-5",
        "yesterday",
        "2023-02-29",
        "20240605",
        " 2024-06-05",
        "2024-06-05T00:00",
        "2024/06/05",
        "",
    ],
)
def test_malformed_dates(text):
    with pytest.raises(RunDateError, match="YYYY-MM-DD"):
        validate_run_date(text)


@pytest.mark.parametrize("text", ["2024-13-01", "2024-6-5", "yesterday"])
def test_cli_rejects_a_malformed_date_with_exit_2(tmp_path, capsys, text):
    params = write(tmp_path, valid(reports_dir=str(tmp_path / "reports")))
    with pytest.raises(SystemExit) as info:
        cli.main(["run", "--date", text, "--params", str(params)])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "--date" in err and repr(text) in err and "YYYY-MM-DD" in err
    assert not (tmp_path / "reports").exists()


def test_malformed_date_fails_before_any_work_as_a_process(tmp_path):
    params = write(tmp_path, valid(reports_dir=str(tmp_path / "reports")))
    done = subprocess.run(
        [sys.executable, "-m", "pipeline", "run", "--date", "2024-13-01", "--params", str(params)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert "2024-13-01" in done.stderr and "YYYY-MM-DD" in done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.yaml"]


def test_cli_rejects_bad_params_with_exit_2(tmp_path, capsys):
    params = write(tmp_path, valid(reports_dir=str(tmp_path / "reports"), session_gap_minutes="30"))
    assert cli.main(["run", "--date", "2024-06-25", "--params", str(params)]) == 2
    err = capsys.readouterr().err
    assert "session_gap_minutes" in err and str(params) in err
    assert not (tmp_path / "reports").exists()


# --------------------------------------------------------------------------- the AWS keys


def test_aws_keys_take_given_values():
    params = parse_params(
        valid(
            input_uri="s3://in-bucket/landing",
            warehouse_url="redshift+psycopg2://loader@cluster:5439/analytics",
            engine="redshift",
            staging_uri="s3://stage-bucket/streamkpi",
            s3_endpoint_url="http://127.0.0.1:9000",
            redshift_iam_role="arn:aws:iam::123456789012:role/streamkpi-copy",
        ),
        root=Path("/repo"),
    )
    assert (params["engine"], params["staging_uri"], params["s3_endpoint_url"], params["redshift_iam_role"]) == (
        "redshift",
        "s3://stage-bucket/streamkpi",
        "http://127.0.0.1:9000",
        "arn:aws:iam::123456789012:role/streamkpi-copy",
    )


def test_null_optional_aws_keys_mean_not_set():
    params = parse_params(valid(staging_uri=None, s3_endpoint_url=None, redshift_iam_role=None), root=Path("/repo"))
    assert (params["staging_uri"], params["s3_endpoint_url"], params["redshift_iam_role"]) == (None, None, None)


@pytest.mark.parametrize(
    "key, value",
    [
        ("engine", "spark"),
        ("engine", None),
        ("engine", "Redshift"),
        ("staging_uri", "/local/folder"),
        ("staging_uri", "gs://bucket/x"),
        ("staging_uri", "s3://"),
        ("staging_uri", "s3://user:secret@bucket/x"),
        ("s3_endpoint_url", "127.0.0.1:9000"),
        ("s3_endpoint_url", "ftp://host"),
        ("s3_endpoint_url", "http://"),
        ("s3_endpoint_url", "http://host:notaport"),
        ("redshift_iam_role", "streamkpi-copy"),
        ("redshift_iam_role", "arn:aws:iam::123:role/x"),
    ],
)
def test_malformed_aws_value_is_named(key, value):
    message = error_of(valid(**{key: value}))
    assert "conf/p.yaml" in message and f"'{key}'" in message


@pytest.mark.parametrize("url", ["http://AKIAXXXX:s3cr3t@minio:9000", "https://minio:9000/?X-Amz-Signature=s3cr3t"])
def test_credentials_in_the_endpoint_url_are_refused(url):
    message = error_of(valid(s3_endpoint_url=url))
    assert "'s3_endpoint_url'" in message and "credentials" in message and "s3cr3t" not in message


def test_aws_yaml_is_a_valid_redshift_pushdown_example():
    params = load_params(REPO / "params" / "aws.yaml")
    assert params["engine"] == "redshift" and params["warehouse_url"].startswith("redshift+psycopg2://")
    assert params["input_uri"].startswith("s3://") and params["staging_uri"].startswith("s3://")
    assert params["redshift_iam_role"].startswith("arn:aws:iam::")
