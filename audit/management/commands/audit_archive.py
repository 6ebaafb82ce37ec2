from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from audit.archives import leaf_partition_archive
from audit.services import Actor
from core.errors import ValidationError


class Command(BaseCommand):
    help = (
        "Archive a full leaf partition of the trail: export it, verify the export against the signed "
        "log, store it where AUDIT_ARCHIVE_URL (or AUDIT_ARCHIVE_DIR) says, record its SHA-256 as an "
        "audit event, detach the partition."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("partition", type=int, help="partition number (leaves number×size to (number+1)×size−1)")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            archive = leaf_partition_archive(number=options["partition"], actor=Actor.system())
        except ValidationError as error:
            raise CommandError(error.detail) from None
        self.stdout.write(
            f"archived leaves {archive.first_index}..{archive.end_index - 1} to {archive.location} "
            f"(sha256 {archive.sha256}); the partition is detached"
        )
