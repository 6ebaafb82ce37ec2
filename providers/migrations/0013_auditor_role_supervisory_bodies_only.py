"""The auditor role reads every organisation's exchanges: from now on it is held only in a
supervisory body (providers.rules.role_allowed). Grants made before in other organisations are
withdrawn, each with its `role.revoked` event, as the role service records them."""

from typing import Any

from django.db import migrations, transaction


def auditor_grants_withdraw(apps: Any, schema_editor: Any) -> None:
    # The trail's own writer (the events are hash-chained: no historical model writes them).
    from audit.models import ActorKind, EventType
    from audit.services import Actor, event_record

    agent_role = apps.get_model("providers", "AgentRole")
    grants = agent_role.objects.filter(role="auditor").exclude(organisation__kind="supervisory_body")
    actor = Actor(ActorKind.SYSTEM, "migration-providers-0013")
    with transaction.atomic(using=schema_editor.connection.alias):
        for grant in grants.select_related("agent", "organisation").order_by("pk"):
            grant.delete()
            event_record(
                type=EventType.ROLE_REVOKED,
                actor=actor,
                detail={
                    "organisation": grant.organisation.siret,
                    "agent": f"agent-{grant.agent.pk}",
                    "role": "auditor",
                    "reason": "auditor_outside_supervisory_body",
                },
            )


class Migration(migrations.Migration):
    dependencies = [
        ("providers", "0012_organisation_kind_supervisory_body"),
        ("audit", "0017_event_types_bound_and_notifications"),
    ]

    operations = [migrations.RunPython(auditor_grants_withdraw, migrations.RunPython.noop)]
