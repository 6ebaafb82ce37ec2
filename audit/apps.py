from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.signals import connection_created
from django.utils.translation import gettext_lazy as _


def allow_test_truncate(sender: Any, connection: BaseDatabaseWrapper, **kwargs: Any) -> None:
    """Opens the one sanctioned way around the audit tables' TRUNCATE trigger, for tests only.

    Django's test flush (transactional tests) truncates every table; the trigger lets a TRUNCATE
    through only when this session setting is on. Production never sets AUDIT_ALLOW_TEST_TRUNCATE
    (it needs an env var only pyproject's pytest section sets, and pytest running). UPDATE and
    DELETE stay refused whatever the setting.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config('gateway.audit_maintenance', 'on', false)")


class AuditConfig(AppConfig):
    name = "audit"
    verbose_name = _("Audit trail")

    def ready(self) -> None:
        if settings.AUDIT_ALLOW_TEST_TRUNCATE:
            connection_created.connect(allow_test_truncate, dispatch_uid="audit_allow_test_truncate")
