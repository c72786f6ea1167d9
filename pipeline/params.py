"""The run's inputs: the ``--date`` and the params file, every key declared once in :data:`KEYS`. A key's parser
takes the raw YAML value and repo root, returns the resolved value, or raises a ValueError completing "<key> ..."."""

import contextlib
import difflib
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from .alerts import masked
from .errors import ParamsError, RunDateError

DATE_PATTERN, URI_SCHEME = re.compile(r"\d{4}-\d{2}-\d{2}"), re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
ENGINES = ("duckdb", "redshift")  # where the KPI SQL runs: this machine, or inside the warehouse
S3_URI = re.compile(r"[sS]3://[^/@:]+(/.*)?", re.DOTALL)  # a bucket name, then any prefix
IAM_ROLE_ARN = re.compile(r"arn:aws(-cn|-us-gov)?:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]{1,512}")
URL_PASSWORD = re.compile(r"(://[^/@:\s]*:)[^/@\s]*@")
SECRET_QUERY_KEYS = {"password", "passwd", "pwd", "secret", "token", "aws_secret_access_key"}
CREDENTIALS_HINT = (
    "credentials come from the environment (PGPASSWORD, ~/.pgpass, the AWS profile or "
    "instance role), never from params: papermill writes every parameter into the executed notebook"
)


def repo_root() -> Path:
    """The repo root (with ``pyproject.toml``, beside the package), else the cwd: params paths are relative to it."""
    candidate = Path(__file__).resolve().parent.parent
    return candidate if (candidate / "pyproject.toml").is_file() else Path.cwd().resolve()


def resolve_local_path(path: str | Path, root: Path | None = None) -> Path:
    """``path`` made absolute: ``~`` expanded, relative to ``root`` (the repo root), ``..`` collapsed lexically."""
    p = Path(path).expanduser()
    return Path(os.path.normpath(p if p.is_absolute() else (root or repo_root()) / p))


def validate_run_date(value: str) -> str:
    """``value`` if it is a real calendar date written ``YYYY-MM-DD``, else :class:`RunDateError`."""
    text = str(value)
    with contextlib.suppress(ValueError):  # not a calendar date
        if DATE_PATTERN.fullmatch(text) and date.fromisoformat(text):
            return text
    raise RunDateError(f"invalid run date {text!r}: expected a calendar date written YYYY-MM-DD, e.g. 2024-06-25")


def _non_empty_str(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"must be a non-empty string, got {_show(value)}")
    return value.strip()


def parse_local_dir(value: Any, root: Path, problem: str = "must be a local folder path") -> str:
    """A local folder; relative paths are resolved from the repository root."""
    if URI_SCHEME.match(text := _non_empty_str(value)):
        raise ValueError(f"{problem}, got the URI {text!r}")
    return str(resolve_local_path(text, root))


def parse_input_uri(value: Any, root: Path) -> str:
    """A local folder (resolved from the repository root) or ``s3://bucket/prefix`` (unchanged)."""
    if isinstance(value, str) and value.strip().lower().startswith("s3://"):
        return matching(S3_URI, "must be s3://bucket/prefix with a bucket name")(value, root)
    return parse_local_dir(value, root, "must be a local folder or s3://bucket/prefix")


def parse_warehouse_url(value: Any, root: Path) -> str:
    """A SQLAlchemy URL without a password; a relative DuckDB/SQLite file becomes absolute."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    text = _non_empty_str(value)
    try:
        url = make_url(text)
    except (ArgumentError, ValueError):
        examples = "duckdb:///warehouse/streamkpi.duckdb or postgresql+psycopg2://user@host:5439/db"
        raise ValueError(f"must be a SQLAlchemy URL such as {examples}") from None
    if url.password is not None:
        raise ValueError(f"must not contain a password: {CREDENTIALS_HINT}")
    if secret_keys := sorted(k for k in url.query if k.lower() in SECRET_QUERY_KEYS):
        raise ValueError(f"must not carry {', '.join(secret_keys)} in its query: {CREDENTIALS_HINT}")
    database = url.database or ":memory:"  # no file named: nothing to resolve
    if url.get_backend_name() not in ("duckdb", "sqlite") or database == ":memory:" or database.startswith("file:"):
        return text
    absolute = str(resolve_local_path(database, root))
    return text if absolute == database else url.set(database=absolute).render_as_string(hide_password=False)


def at_least(minimum: int) -> Callable[[Any, Path], int]:
    """A parser of integers >= ``minimum`` (``true``/``false`` and floats are rejected)."""

    def parse(value: Any, root: Path) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise ValueError(f"must be an integer {'> 0' if minimum == 1 else f'>= {minimum}'}, got {_show(value)}")
        return value

    return parse


def one_of(*choices: Any, said: str | None = None) -> Callable[[Any, Path], Any]:
    """A parser of exactly one of ``choices`` (``said``: how the message names them)."""

    def parse(value: Any, root: Path) -> Any:
        if not any(value is choice or (type(value) is type(choice) and value == choice) for choice in choices):
            raise ValueError(f"must be {said or 'one of ' + ', '.join(map(str, choices))}, got {_show(value)}")
        return value

    return parse


def matching(pattern: re.Pattern[str], problem: str) -> Callable[[Any, Path], str]:
    """A parser of strings ``pattern`` matches in full, returned unchanged (``problem``: what else they must be)."""

    def parse(value: Any, root: Path) -> str:
        if not pattern.fullmatch(text := _non_empty_str(value)):
            raise ValueError(f"{problem}, got {text!r}")
        return text

    return parse


def parse_endpoint_url(value: Any, root: Path, *, path: bool = False) -> str:
    """An ``http(s)://host[:port]`` URL without credentials (with ``path``: any path and query, a webhook's token)."""
    text = _non_empty_str(value)
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 (raises on a malformed port)
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"must be an http:// or https:// URL such as http://127.0.0.1:9000, got {text!r}")
    if parts.username or parts.password or (parts.query and not path):
        raise ValueError(f"must not carry credentials or a query: {CREDENTIALS_HINT}")
    return text


def _mapping(value: Any) -> dict:
    if not isinstance(value, Mapping) or not all(isinstance(v, Mapping) for v in value.values()):
        example = "{completeness: {severity: warn}}"
        raise ValueError(f"must map check names to their settings, e.g. {example}; got {_show(value)}")
    return {str(k): dict(v) for k, v in value.items()}


def _show(value: Any) -> str:
    return "nothing (null)" if value is None else f"{value!r} ({type(value).__name__})"


@dataclass(frozen=True)
class Key:
    """One key of the params file."""

    name: str
    parse: Callable[[Any, Path], Any]
    required: bool = True
    default: Any = None
    notebook: bool = True  # passed to notebooks (when their parameters cell declares it)
    help: str = ""  # a required key's, in the error saying it is missing (params/example-custom.yaml: every key's)


# fmt: off
KEYS: tuple[Key, ...] = (
    Key("input_uri", parse_input_uri,
        help="Input root: a local folder (relative to the repo root) or s3://bucket/prefix."),
    Key("warehouse_url", parse_warehouse_url, help="SQLAlchemy URL of the warehouse, without password."),
    Key("reports_dir", parse_local_dir, notebook=False,
        help="Where run folders <reports_dir>/<date>/<run id>/ are created."),
    Key("session_gap_minutes", at_least(1), required=False, default=30),
    Key("notebook_timeout_seconds", at_least(1), required=False, default=3600, notebook=False),
    Key("warehouse_lock_timeout_seconds", at_least(0), required=False, default=600),
    Key("partition_lookaround_days", at_least(0), required=False, default=1),
    Key("archive_processed_inputs", one_of(True, False, said="true or false"), required=False, default=False),
    Key("engine", one_of(*ENGINES), required=False, default="duckdb"),
    Key("staging_uri", matching(S3_URI, "must be s3://bucket/prefix"), required=False),
    Key("s3_endpoint_url", parse_endpoint_url, required=False),
    Key("checks", lambda value, root: _mapping(value), required=False),
    Key("alert_webhook_url", lambda value, root: parse_endpoint_url(value, root, path=True), required=False,
        notebook=False),
    Key("redshift_iam_role", required=False,
        parse=matching(IAM_ROLE_ARN, "must be an IAM role ARN such as arn:aws:iam::123456789012:role/redshift-copy")),
)
# fmt: on
KEYS_BY_NAME: dict[str, Key] = {k.name: k for k in KEYS}


@dataclass(frozen=True)
class Params:
    """Validated, resolved params of one run."""

    values: Mapping[str, Any]
    source: Path | None = None

    def __getitem__(self, name: str) -> Any:
        return self.values[name]

    def notebook_parameters(self) -> dict[str, Any]:
        """The values notebooks may receive (runner-only keys left out)."""
        return {k.name: self.values[k.name] for k in KEYS if k.notebook and k.name in self.values}

    def sanitised(self) -> dict[str, Any]:
        """All values, ``user:password@`` in URLs masked ``user:***@``, the webhook's path ``/***`` (for reports)."""
        shown = {k: URL_PASSWORD.sub(r"\1***@", v) if isinstance(v, str) else v for k, v in self.values.items()}
        return shown | {k: masked(v) for k, v in shown.items() if k == "alert_webhook_url" and v}


def parse_params(raw: Any, source: str | Path | None = None, root: Path | None = None) -> Params:
    """Validate and resolve a params mapping; every problem is reported, each naming its key."""
    root, where = Path(root) if root is not None else repo_root(), str(source) if source is not None else "params"
    if not isinstance(raw, Mapping):
        raise ParamsError(f"{where}: expected a YAML mapping of key: value, got {_show(raw)}")
    problems, values = [], {}
    for name in [name for name in raw if name not in KEYS_BY_NAME]:
        close = difflib.get_close_matches(str(name), KEYS_BY_NAME, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        problems.append(f"unknown key {name!r}{hint}; known keys: {', '.join(KEYS_BY_NAME)}")
    for key in KEYS:
        if key.name not in raw and key.required:
            problems.append(f"missing required key {key.name!r} ({key.help})")
        elif key.name not in raw or (raw[key.name] is None and not key.required and key.default is None):
            values[key.name] = key.default  # an optional key whose default is null may be null
        else:
            try:
                values[key.name] = key.parse(raw[key.name], root)
            except ValueError as exc:
                problems.append(f"{key.name!r} {exc}")
    if problems:
        raise ParamsError(f"{where}: invalid params:\n" + "\n".join(f"  - {p}" for p in problems))
    return Params(values=values, source=Path(source) if source is not None else None)


def load_params(path: str | Path, root: Path | None = None) -> Params:
    """Read, validate and resolve the params file at ``path`` (relative to the current directory)."""
    path = Path(path)
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_UniqueKeyLoader)
    except FileNotFoundError:
        raise ParamsError(f"params file {path} does not exist") from None
    except OSError as exc:
        raise ParamsError(f"params file {path} cannot be read: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise ParamsError(f"{path}: not valid YAML: {exc}") from None
    return parse_params(raw, source=path, root=root)


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that rejects a key written twice instead of keeping the last value."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            if (key := self.construct_object(key_node, deep=deep)) in seen:
                raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)
