"""Where the trail's archives are kept: a directory, or an S3-compatible bucket, named by one URL.

`AUDIT_ARCHIVE_URL` is either a path (`/var/lib/gateway/audit-archives`, or `file:///…`) or
`s3://bucket/prefix?endpoint=https://s3.example.fr&region=fr-par`; without it, the directory
`AUDIT_ARCHIVE_DIR`. An archive is first written to a staging file (in the directory itself, or
in `AUDIT_ARCHIVE_STAGING_DIR` for a bucket) while it is verified, and stored only once verified:
a directory's file is renamed into place (atomic, fsynced), a bucket's is uploaded with its
SHA-256 for the server to check (`ChecksumSHA256`; S3 and most compatible stores do). A location
names the archive for people and for the 410 answers of archived leaves (a path, or
`s3://bucket/key`): it holds no credentials.
The bucket's credentials come from the environment as the S3 client reads them
(`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, or an instance role).
"""

from __future__ import annotations

import base64
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol
from urllib.parse import parse_qs, urlsplit

import boto3
from botocore.config import Config
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


class ArchiveStore(Protocol):
    def staging_dir(self) -> Path:
        """Where an archive is written while it is verified."""

    def put(self, name: str, staged: Path, sha256: str) -> str:
        """Stores the staged file as `name` (consuming it, stored or not); returns its location."""

    def remove(self, location: str) -> None:
        """Removes a stored archive (when what followed its storing failed); missing is fine."""


@dataclass(frozen=True)
class DirectoryStore:
    directory: Path

    def staging_dir(self) -> Path:
        self.directory.mkdir(parents=True, exist_ok=True)
        return self.directory

    def put(self, name: str, staged: Path, sha256: str) -> str:
        target = self.directory / name
        try:
            os.replace(staged, target)
        except OSError:
            staged.unlink(missing_ok=True)
            raise
        # The rename itself on disk before the rows leave the live table.
        descriptor = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
        return str(target)

    def remove(self, location: str) -> None:
        Path(location).unlink(missing_ok=True)


@dataclass(frozen=True)
class BucketStore:
    bucket: str
    prefix: str
    endpoint: str | None
    region: str | None

    def _client(self) -> S3Client:
        # Plain retries and timeouts: a store that fails leaves the partition attached for the
        # next run, it does not hang the task.
        config = Config(connect_timeout=10, read_timeout=120, retries={"max_attempts": 3, "mode": "standard"})
        return boto3.client("s3", endpoint_url=self.endpoint, region_name=self.region, config=config)

    def staging_dir(self) -> Path:
        directory = Path(settings.AUDIT_ARCHIVE_STAGING_DIR or tempfile.gettempdir())
        directory.mkdir(parents=True, exist_ok=True)
        return directory

    def _key(self, name: str) -> str:
        return f"{self.prefix}/{name}" if self.prefix else name

    def put(self, name: str, staged: Path, sha256: str) -> str:
        key = self._key(name)
        try:
            with staged.open("rb") as file:
                # The server checks the body against the digest the export was verified with.
                self._client().put_object(
                    Bucket=self.bucket,
                    Key=key,
                    Body=file,
                    ChecksumSHA256=base64.b64encode(bytes.fromhex(sha256)).decode(),
                    ContentType="application/jsonl",
                )
        finally:
            staged.unlink(missing_ok=True)
        return f"s3://{self.bucket}/{key}"

    def remove(self, location: str) -> None:
        key = location.removeprefix(f"s3://{self.bucket}/")
        self._client().delete_object(Bucket=self.bucket, Key=key)


def archive_store(url: str) -> ArchiveStore:
    """The store an AUDIT_ARCHIVE_URL (or a plain directory path) names."""
    parts = urlsplit(url)
    if parts.scheme == "s3":
        if not parts.netloc:
            raise ImproperlyConfigured("AUDIT_ARCHIVE_URL: an s3:// URL names its bucket (s3://bucket/prefix).")
        query = parse_qs(parts.query)
        return BucketStore(
            bucket=parts.netloc,
            prefix=parts.path.strip("/"),
            endpoint=query.get("endpoint", [None])[0],
            region=query.get("region", [None])[0],
        )
    if parts.scheme == "file":
        return DirectoryStore(Path(parts.path))
    if parts.scheme == "" and url:
        return DirectoryStore(Path(url))
    raise ImproperlyConfigured("AUDIT_ARCHIVE_URL is a directory path, a file:// URL or an s3:// URL.")


def configured_store() -> ArchiveStore:
    return archive_store(settings.AUDIT_ARCHIVE_URL or settings.AUDIT_ARCHIVE_DIR)
