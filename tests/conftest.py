"""Shared fixtures: the real servers of the AWS-path tests (see tests/servers.py); the run index's scraps macro.

Each is started the first time a test of a worker asks for it and stopped when the session ends.
"""

from __future__ import annotations

import os

import pytest
from servers import PostgresServer, S3Server, aws_test_environment


@pytest.fixture(scope="session")
def aws_env():
    """The test credentials in this process's environment (the standard chain's variables)."""
    from streamkpi import storage

    env = aws_test_environment()
    saved = {k: os.environ.get(k) for k in [*env, "AWS_PROFILE"]}
    os.environ.pop("AWS_PROFILE", None)
    os.environ.update(env)
    storage._cached_client.cache_clear()
    yield env
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    storage._cached_client.cache_clear()


@pytest.fixture(scope="session")
def s3_server(aws_env):
    server = S3Server().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def postgres():
    server = PostgresServer().start()
    yield server
    server.stop()


@pytest.fixture
def render_scraps():
    """HTML for a notebook's scraps as the run index lays them out: the ``scraps_html`` macro of its templates."""
    from pipeline import pages

    macro = pages._environment().get_template("macros.html.j2").module.scraps_html
    return lambda scraps: str(macro(scraps)).strip()
