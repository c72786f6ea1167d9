"""Where files live: local folders and Amazon S3 (``s3://bucket/prefix``), behind one small API.

S3 access goes through boto3 with the **standard AWS credential chain** only (environment
variables, the shared config/credentials files and ``AWS_PROFILE``, web identity, container or
instance role): nothing here accepts a key, so no secret can reach a params file or a notebook.
An optional endpoint URL points the client at an S3-compatible store. Requests use botocore's
``standard`` retry mode; a read that breaks mid-object resumes with a ranged GET of the same
object version (``If-Match`` on its ETag) instead of starting over.

A run's staging folder may have an S3 *mirror* (params ``staging_uri``): ``attach_mirror`` writes
``mirror.json`` into the staging folder, and the steps that follow upload what they stage to
``<staging_uri>/<run_date>/<run_id>/<same relative path>`` (Redshift ``COPY`` reads from there).
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from .errors import StorageError

S3_SCHEME = "s3://"
MIRROR_FILE = "mirror.json"
# botocore's standard retry mode: exponential backoff with jitter on throttling, 5xx and
# connection errors, at most this many attempts per request.
MAX_ATTEMPTS = 5
# Times a broken object read is resumed (each resume is itself retried by botocore).
MAX_RESUMES = 5


def is_s3(uri: str | Path | None) -> bool:
    return isinstance(uri, str) and uri.lower().startswith(S3_SCHEME)


@dataclass(frozen=True)
class S3Uri:
    """``s3://bucket/key``; ``key`` may be a prefix or empty (the bucket's root)."""

    bucket: str
    key: str = ""

    @classmethod
    def parse(cls, uri: str) -> S3Uri:
        if not is_s3(uri):
            raise ValueError(f"{uri!r} is not an s3://bucket/key URI")
        bucket, _, key = uri[len(S3_SCHEME) :].partition("/")
        if not bucket:
            raise ValueError(f"{uri!r} names no bucket")
        return cls(bucket, key)

    def __str__(self) -> str:
        return f"{S3_SCHEME}{self.bucket}/{self.key}"

    @property
    def prefix(self) -> str:
        """The key as a folder prefix: ``''`` or ending with ``/``."""
        return self.key if not self.key or self.key.endswith("/") else self.key + "/"

    def join(self, *parts: str) -> S3Uri:
        return S3Uri(self.bucket, self.prefix + "/".join(p.strip("/") for p in parts if p.strip("/")))


# --------------------------------------------------------------------------- the client


_client_lock = threading.Lock()


@functools.lru_cache(maxsize=8)
def _cached_client(endpoint_url: str | None):
    import boto3
    from botocore.config import Config

    config = Config(
        retries={"mode": "standard", "total_max_attempts": MAX_ATTEMPTS}, connect_timeout=10, read_timeout=120
    )
    return boto3.session.Session().client("s3", endpoint_url=endpoint_url, config=config)


def s3_client(endpoint_url: str | None = None):
    """An S3 client from the default credential chain (shared per endpoint; clients are thread-safe)."""
    with _client_lock:
        return _cached_client(endpoint_url or None)


def storage_error(exc: Exception, uri: str | S3Uri, action: str) -> StorageError:
    """A :class:`StorageError` naming ``uri`` for a boto3/botocore failure (no credentials in it)."""
    from botocore import exceptions as bx

    uri = str(uri)
    if isinstance(exc, bx.NoCredentialsError):
        return StorageError(
            f"cannot {action} {uri}: no AWS credentials found. They come from the standard chain "
            "(AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE and ~/.aws, or an instance/"
            "container role), never from params"
        )
    if isinstance(exc, (bx.EndpointConnectionError, bx.ConnectionClosedError)):
        return StorageError(f"cannot {action} {uri}: the S3 endpoint cannot be reached ({exc})")
    response = getattr(exc, "response", None) or {}
    error = response.get("Error", {})
    code = str(error.get("Code", ""))
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    message = error.get("Message") or str(exc)
    if code == "NoSuchBucket" or (code in ("404", "NotFound") and action.startswith("list")):
        return StorageError(f"cannot {action} {uri}: bucket {S3Uri.parse(uri).bucket!r} does not exist")
    if code in ("NoSuchKey", "404", "NotFound") or status == 404:
        return StorageError(f"cannot {action} {uri}: no such object")
    if (
        code
        in (
            "AccessDenied",
            "403",
            "Forbidden",
            "AllAccessDisabled",
            "InvalidAccessKeyId",
            "SignatureDoesNotMatch",
            "ExpiredToken",
            "InvalidToken",
        )
        or status == 403
    ):
        return StorageError(
            f"cannot {action} {uri}: access denied ({code or status}). The credentials of the AWS "
            "chain need s3:ListBucket on the bucket and s3:GetObject (input) or s3:PutObject "
            "(staging) on the keys"
        )
    if code in ("PreconditionFailed", "412") or status == 412:
        return StorageError(f"cannot {action} {uri}: the object changed while it was being read")
    return StorageError(f"cannot {action} {uri}: {code or type(exc).__name__}: {message}")


def _boto_errors() -> tuple[type[Exception], ...]:
    from boto3.exceptions import Boto3Error
    from botocore.exceptions import BotoCoreError, ClientError

    return (ClientError, BotoCoreError, Boto3Error)


# --------------------------------------------------------------------------- listing and reading


@dataclass(frozen=True)
class S3Object:
    key: str
    size: int
    etag: str | None


@dataclass(frozen=True)
class S3Folder:
    """A "folder" of a delimited listing (a CommonPrefix): ``prefix`` is its key prefix, ending with ``/``."""

    prefix: str


def list_objects(
    uri: S3Uri, endpoint_url: str | None = None, *, delimiter: str | None = None
) -> Iterator[S3Object | S3Folder]:
    """Every object under ``uri``'s prefix (all pages: S3 returns at most 1,000 keys per page).

    With a ``delimiter`` (``"/"``), one level only: the objects directly under the prefix, and an
    :class:`S3Folder` for each sub-folder instead of the objects inside it.
    """
    client = s3_client(endpoint_url)
    request = {"Bucket": uri.bucket, "Prefix": uri.prefix}
    if delimiter:
        request["Delimiter"] = delimiter
    try:
        for page in client.get_paginator("list_objects_v2").paginate(**request):
            for item in page.get("Contents", []):
                yield S3Object(item["Key"], int(item["Size"]), item.get("ETag"))
            for folder in page.get("CommonPrefixes", []):
                yield S3Folder(folder["Prefix"])
    except _boto_errors() as exc:
        raise storage_error(exc, uri, "list") from None


class S3ObjectReader(io.RawIOBase):
    """Reads one S3 object front to back as a stream, never holding the whole object.

    When the connection breaks mid-object (reset, timeout, short body) the read resumes where it
    stopped with a ranged GET conditioned on the object's ETag, so the bytes are those of one
    version of the object; after :data:`MAX_RESUMES` breaks the error is raised. With ``limit``
    only the first ``limit`` bytes are requested.
    """

    def __init__(
        self,
        uri: S3Uri,
        endpoint_url: str | None = None,
        *,
        etag: str | None = None,
        size: int | None = None,
        limit: int | None = None,
        client=None,
    ):
        super().__init__()
        self.uri = uri
        self._client = client or s3_client(endpoint_url)
        self._etag = etag
        self._end = limit
        self._size = size if limit is None or size is None else min(size, limit)
        self._position = 0
        self._body = None
        self._resumes = 0

    def readable(self) -> bool:
        return True

    def _open(self) -> None:
        request = {"Bucket": self.uri.bucket, "Key": self.uri.key}
        if self._etag:
            request["IfMatch"] = self._etag
        if self._position or self._end is not None:
            request["Range"] = f"bytes={self._position}-{'' if self._end is None else self._end - 1}"
        try:
            response = self._client.get_object(**request)
        except _boto_errors() as exc:
            raise storage_error(exc, self.uri, "read") from None
        self._etag = self._etag or response.get("ETag")
        if self._size is None and not self._position:
            self._size = response.get("ContentLength")
        self._body = response["Body"]

    def readinto(self, buffer) -> int:
        view = memoryview(buffer).cast("B")
        if not len(view) or (self._size is not None and self._position >= self._size):
            return 0
        while True:
            if self._body is None:
                self._open()
            try:
                data = self._body.read(len(view))
            except _resumable_errors() as exc:
                self._resume(exc)
                continue
            if not data and self._size is not None and self._position < self._size:
                self._resume(None)
                continue
            view[: len(data)] = data
            self._position += len(data)
            return len(data)

    def _resume(self, exc: Exception | None) -> None:
        self._close_body()
        self._resumes += 1
        if self._resumes > MAX_RESUMES:
            reason = f"{type(exc).__name__}: {exc}" if exc else "the stream ended early"
            raise StorageError(
                f"cannot read {self.uri}: the connection broke {self._resumes} times "
                f"({reason}) at byte {self._position}"
            )

    def _close_body(self) -> None:
        if self._body is not None:
            try:
                self._body.close()
            except Exception:
                pass
            self._body = None

    def close(self) -> None:
        self._close_body()
        super().close()


def _resumable_errors() -> tuple[type[Exception], ...]:
    from botocore import exceptions as bx
    from urllib3 import exceptions as ux

    return (
        bx.ReadTimeoutError,
        bx.ResponseStreamingError,
        bx.IncompleteReadError,
        bx.ConnectionClosedError,
        ux.ProtocolError,
        ux.ReadTimeoutError,
        ConnectionError,
    )


class DigestingReader(io.RawIOBase):
    """Passes reads through and keeps the SHA-256 and size of every byte read, in order."""

    def __init__(self, raw: BinaryIO):
        super().__init__()
        self._raw = raw
        self._sha256 = hashlib.sha256()
        self.size = 0
        self.at_end = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        view = memoryview(buffer).cast("B")
        n = self._raw.readinto(view)
        if n:
            self._sha256.update(view[:n])
            self.size += n
        elif len(view):
            self.at_end = True
        return n or 0

    @property
    def sha256(self) -> str:
        return self._sha256.hexdigest()

    def close(self) -> None:
        self._raw.close()
        super().close()


def open_object(
    uri: str | S3Uri,
    endpoint_url: str | None = None,
    *,
    etag: str | None = None,
    size: int | None = None,
    limit: int | None = None,
) -> S3ObjectReader:
    """A streaming reader of one object, or of its first ``limit`` bytes (see :class:`S3ObjectReader`)."""
    return S3ObjectReader(
        S3Uri.parse(uri) if isinstance(uri, str) else uri, endpoint_url, etag=etag, size=size, limit=limit
    )


# --------------------------------------------------------------------------- writing


def upload_file(local: str | Path, uri: str | S3Uri, endpoint_url: str | None = None) -> str:
    """Upload ``local`` to ``uri`` (multipart when large); returns the URI."""
    uri = S3Uri.parse(uri) if isinstance(uri, str) else uri
    try:
        s3_client(endpoint_url).upload_file(str(local), uri.bucket, uri.key)
    except _boto_errors() as exc:
        cause = getattr(exc, "last_exception", None) or exc.__context__ or exc
        raise storage_error(cause if hasattr(cause, "response") else exc, uri, "write") from None
    return str(uri)


def object_size(uri: str | S3Uri, endpoint_url: str | None = None) -> int | None:
    """The size of an object, or ``None`` when there is none at ``uri``."""
    from botocore.exceptions import ClientError

    uri = S3Uri.parse(uri) if isinstance(uri, str) else uri
    try:
        return int(s3_client(endpoint_url).head_object(Bucket=uri.bucket, Key=uri.key)["ContentLength"])
    except ClientError as exc:
        if str(exc.response.get("Error", {}).get("Code")) in ("404", "NoSuchKey", "NotFound"):
            return None
        raise storage_error(exc, uri, "inspect") from None
    except _boto_errors() as exc:
        raise storage_error(exc, uri, "inspect") from None


# --------------------------------------------------------------------------- the staging mirror


@dataclass(frozen=True)
class Mirror:
    """The S3 copy of a staging folder: ``<staging_dir>/<path>`` is mirrored at ``<uri>/<path>``."""

    staging_dir: Path
    uri: S3Uri
    endpoint_url: str | None = None

    def uri_for(self, local: str | Path) -> str:
        relative = Path(local).resolve().relative_to(self.staging_dir.resolve()).as_posix()
        return str(self.uri.join(relative))

    def upload(self, local: str | Path) -> str:
        """Copy ``local`` (a file of the staging folder) to its mirror URI; returns the URI."""
        return upload_file(local, self.uri_for(local), self.endpoint_url)

    def ensure(self, local: str | Path) -> str:
        """The mirror URI of ``local``, uploading it first unless an object of its size is there."""
        target = self.uri_for(local)
        try:
            present = object_size(target, self.endpoint_url)
        except StorageError:  # e.g. 403 for a missing key without s3:ListBucket: just upload
            present = None
        if present != Path(local).stat().st_size:
            self.upload(local)
        return target


def run_prefix(staging_uri: str, run_date: str, run_id: str) -> S3Uri:
    """``<staging_uri>/<run_date>/<run_id>``: where one run's staged files go in S3."""
    return S3Uri.parse(staging_uri).join(str(run_date), str(run_id))


def attach_mirror(
    staging_dir: str | Path, staging_uri: str | None, run_date: str, run_id: str, s3_endpoint_url: str | None = None
) -> Mirror | None:
    """Make ``staging_uri`` the S3 mirror of ``staging_dir`` for this run (``None``: no mirror).

    Writes ``mirror.json`` (URI and endpoint, no credentials) so later steps find the mirror from
    the staging folder alone; without ``staging_uri`` any earlier ``mirror.json`` is removed.
    """
    staging_dir = Path(staging_dir)
    staging_dir.mkdir(parents=True, exist_ok=True)
    marker = staging_dir / MIRROR_FILE
    if not staging_uri:
        marker.unlink(missing_ok=True)
        return None
    uri = run_prefix(staging_uri, run_date, run_id)
    marker.write_text(json.dumps({"uri": str(uri), "endpoint_url": s3_endpoint_url}, indent=2) + "\n")
    return Mirror(staging_dir, uri, s3_endpoint_url)


def mirror_of(staging_dir: str | Path) -> Mirror | None:
    """The mirror attached to ``staging_dir``, or ``None``."""
    staging_dir = Path(staging_dir)
    marker = staging_dir / MIRROR_FILE
    if not marker.is_file():
        return None
    data = json.loads(marker.read_text())
    return Mirror(staging_dir, S3Uri.parse(data["uri"]), data.get("endpoint_url"))


def find_mirror(path: str | Path) -> Mirror | None:
    """The mirror of the staging folder holding ``path`` (at most 3 folders up), or ``None``."""
    for folder in list(Path(path).resolve().parents)[:3]:
        if (folder / MIRROR_FILE).is_file():
            return mirror_of(folder)
    return None


def publish(staging_dir: str | Path, paths) -> list[str]:
    """Upload ``paths`` (files of ``staging_dir``) to its mirror; nothing when there is none."""
    mirror = mirror_of(staging_dir)
    return [mirror.upload(p) for p in paths] if mirror else []
