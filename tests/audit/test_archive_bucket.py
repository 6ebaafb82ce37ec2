"""Archives in an S3-compatible bucket named by AUDIT_ARCHIVE_URL.

The bucket is served by moto's S3 server (`moto_server`), run as a separate process and reached
over real HTTP by the same boto3 client production uses: an emulator, because no object store of
a cloud provider can run here. Everything else (partitions, export, verification, the audit
event, the detachment, the proofs' 410) is the real thing on PostgreSQL.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.test import Client
from django.utils import timezone

from audit.archive_stores import BucketStore, DirectoryStore, archive_store
from audit.archives import leaf_partition_archive
from audit.models import AuditEvent, EventType
from audit.retention import retention_apply
from audit.sealer import log_seal
from audit.services import Actor
from tests.audit.conftest import leaf_partitions
from tests.processes import free_port, wait_for_http

REGION = "eu-west-3"


@pytest.fixture(scope="module")
def s3_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for_http(f"http://127.0.0.1:{port}/moto-api/data.json", timeout=60)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def s3_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    # What the S3 client reads from the environment in production too.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "gateway-test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "gateway-test-secret")


@pytest.fixture
def bucket(s3_endpoint: str, s3_credentials: None, archive_dir: Path, tmp_path: Path, settings: object) -> str:
    name = f"trail-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=s3_endpoint, region_name=REGION).create_bucket(
        Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION}
    )
    settings.AUDIT_ARCHIVE_URL = f"s3://{name}/gateway/trail?endpoint={s3_endpoint}&region={REGION}"  # type: ignore[attr-defined]
    settings.AUDIT_ARCHIVE_STAGING_DIR = str(tmp_path / "staging")  # type: ignore[attr-defined]
    return name


@pytest.fixture
def full_partition(record: Callable[..., AuditEvent]) -> int:
    size = settings.AUDIT_LEAF_PARTITION_SIZE
    for i in range(size + 2):
        record(citizen_ref=f"ref-{i}")
    log_seal()
    return size


def test_it_reads_the_archive_url() -> None:
    assert archive_store("s3://archives/gateway/trail?endpoint=https://s3.example.fr&region=fr-par") == BucketStore(
        bucket="archives", prefix="gateway/trail", endpoint="https://s3.example.fr", region="fr-par"
    )
    assert archive_store("s3://archives") == BucketStore(bucket="archives", prefix="", endpoint=None, region=None)
    assert archive_store("/var/lib/gateway/archives") == DirectoryStore(Path("/var/lib/gateway/archives"))
    assert archive_store("file:///var/lib/gateway/archives") == DirectoryStore(Path("/var/lib/gateway/archives"))
    with pytest.raises(ImproperlyConfigured):
        archive_store("ftp://archives.example.fr/trail")


@pytest.mark.django_db(transaction=True)
def test_it_archives_a_partition_to_the_bucket_and_proofs_name_it(
    full_partition: int, bucket: str, s3_endpoint: str, tmp_path: Path
) -> None:
    size = full_partition

    archive = leaf_partition_archive(number=0, actor=Actor.system())

    key = "gateway/trail/audit_logleaf_p000000.jsonl"
    assert archive.location == f"s3://{bucket}/{key}"
    stored = boto3.client("s3", endpoint_url=s3_endpoint, region_name=REGION).get_object(Bucket=bucket, Key=key)
    data = stored["Body"].read()
    # (The SHA-256 sent with the upload is checked by S3 and most compatible stores; the emulator
    # keeps no checksum, so the test reads the object back.)
    assert hashlib.sha256(data).hexdigest() == archive.sha256
    indexes = [json.loads(line)["index"] for line in data.splitlines() if json.loads(line)["kind"] == "event"]
    assert indexes == list(range(size))
    assert AuditEvent.objects.get(type=EventType.AUDIT_ARCHIVED).detail["location"] == archive.location
    assert "audit_logleaf_p000000" not in leaf_partitions()
    assert list((tmp_path / "staging").iterdir()) == []

    answer = Client().get("/api/v1/audit/proofs/inclusion", {"index": 3})

    assert answer.status_code == 410
    assert answer.json()["code"] == "leaf_archived"
    assert answer.json()["archive"]["location"] == f"s3://{bucket}/{key}"
    assert answer.json()["archive"]["sha256"] == archive.sha256


@pytest.mark.django_db(transaction=True)
def test_a_bucket_that_refuses_the_archive_leaves_the_partition_for_the_next_run(
    full_partition: int, bucket: str, s3_endpoint: str, tmp_path: Path, settings: object
) -> None:
    settings.AUDIT_RETENTION_DEFAULT_DAYS = 0  # type: ignore[attr-defined]
    settings.AUDIT_RETENTION_DAYS = {}  # type: ignore[attr-defined]
    missing = f"{bucket}-not-yet"
    settings.AUDIT_ARCHIVE_URL = f"s3://{missing}/trail?endpoint={s3_endpoint}&region={REGION}"  # type: ignore[attr-defined]

    with pytest.raises(ClientError):
        retention_apply(now=timezone.now())

    assert "audit_logleaf_p000000" in leaf_partitions()
    assert not AuditEvent.objects.filter(type=EventType.AUDIT_ARCHIVED).exists()
    assert list((tmp_path / "staging").iterdir()) == []

    boto3.client("s3", endpoint_url=s3_endpoint, region_name=REGION).create_bucket(
        Bucket=missing, CreateBucketConfiguration={"LocationConstraint": REGION}
    )
    archives = retention_apply(now=timezone.now())

    assert [a.location for a in archives] == [f"s3://{missing}/trail/audit_logleaf_p000000.jsonl"]
    assert "audit_logleaf_p000000" not in leaf_partitions()
