"""Partitions the trail on PostgreSQL: events by month, leaves and nodes by leaf index range.

Each table is rebuilt as a partitioned table with the same columns, its rows copied over, and
its indexes and append-only triggers made again (see audit/partitions.py for the layout). What
partitioning changes in the constraints, since a unique key of a partitioned table must contain
its partition key:

- events: the primary key is (id, occurred_at); ids stay unique through their identity sequence;
- leaves: `event_id` keeps an index but no longer a unique constraint nor a foreign key (the
  sealer, under its lock, gives each event one leaf; the exported log shows any duplicate);
- nodes: the partition key is the first leaf a node covers, `index << level`; an expression, so
  the table has no primary key, and (level, index) is unique in each partition, hence everywhere
  (a node's partition follows from its level and index). The `id` column stays, unused.

SQLite (the embedded default) keeps plain tables.
"""

import datetime as dt

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

EVENTS, LEAVES, NODES = "audit_auditevent", "audit_logleaf", "audit_lognode"

# As in 0003, naming the partitioned table rather than the partition the row is in.
REFUSE_FUNCTION = """
CREATE OR REPLACE FUNCTION audit_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' AND coalesce(current_setting('gateway.audit_maintenance', true), '') = 'on' THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'audit trail is append-only: % on % refused', TG_OP,
        coalesce(pg_partition_root(TG_RELID)::text, TG_TABLE_NAME)
        USING ERRCODE = 'restrict_violation';
END;
$$;
"""

PARTITION_FUNCTION = """
CREATE OR REPLACE FUNCTION audit_partition_create(parent regclass, child text, bounds text)
RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    IF to_regclass(child) IS NOT NULL THEN
        RETURN false;
    END IF;
    EXECUTE format('CREATE TABLE %I PARTITION OF %s %s', child, parent, bounds);
    IF parent = 'audit_lognode'::regclass THEN
        -- A node's partition follows from its (level, index): unique in its partition is unique.
        EXECUTE format('CREATE UNIQUE INDEX %I ON %I (level, "index")', child || '_key', child);
    END IF;
    -- Row triggers are cloned from the parent; TRUNCATE of the partition itself is refused here.
    EXECUTE format(
        'CREATE TRIGGER %I BEFORE TRUNCATE ON %I FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change()',
        child || '_no_truncate', child
    );
    RETURN true;
END;
$$;
"""


def _triggers(execute, table):
    execute(
        f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
        "FOR EACH ROW EXECUTE FUNCTION audit_refuse_change()"
    )
    execute(
        f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
        "FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change()"
    )


def _rebuild(execute, table, partition_by):
    execute(f"ALTER TABLE {table} RENAME TO {table}_unpartitioned")
    execute(
        f"CREATE TABLE {table} (LIKE {table}_unpartitioned INCLUDING DEFAULTS INCLUDING IDENTITY "
        f"INCLUDING CONSTRAINTS INCLUDING STORAGE) PARTITION BY RANGE ({partition_by})"
    )


def _copy(execute, cursor, table, columns, *, identity):
    execute(f"INSERT INTO {table} ({columns}) SELECT {columns} FROM {table}_unpartitioned")
    execute(f"DROP TABLE {table}_unpartitioned")
    if identity:
        # The new table's identity has a sequence of its own: it continues after the copied ids.
        cursor.execute(f"SELECT pg_get_serial_sequence('{table}', 'id')")
        sequence = cursor.fetchone()[0]
        execute(f"SELECT setval('{sequence}', coalesce((SELECT max(id) FROM {table}), 0) + 1, false)")


def partition(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return

    def execute(sql):
        schema_editor.execute(sql, params=None)

    size = settings.AUDIT_LEAF_PARTITION_SIZE
    execute(REFUSE_FUNCTION)
    execute(PARTITION_FUNCTION)
    with connection.cursor() as cursor:
        # The leaves' foreign key to the events: a partitioned table cannot be its target by id alone.
        cursor.execute(
            "SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass AND contype IN ('f', 'u')",
            [LEAVES],
        )
        for (name,) in cursor.fetchall():
            execute(f'ALTER TABLE {LEAVES} DROP CONSTRAINT "{name}"')

        cursor.execute(f"SELECT min(occurred_at) FROM {EVENTS}")
        oldest = cursor.fetchone()[0]
        cursor.execute(f"SELECT coalesce(max(index), -1) + 1 FROM {LEAVES}")
        tree_size = cursor.fetchone()[0]

        # Events, by month.
        _rebuild(execute, EVENTS, "occurred_at")
        today = dt.datetime.now(dt.UTC).date()
        month = (oldest.astimezone(dt.UTC).date() if oldest else today).replace(day=1)
        until = today.replace(day=1)
        for _ in range(3):
            until = (until.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
        while month <= until:
            following = (month.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
            cursor.execute(
                "SELECT audit_partition_create(%s::regclass, %s, %s)",
                [
                    EVENTS,
                    f"{EVENTS}_p{month.year:04d}_{month.month:02d}",
                    f"FOR VALUES FROM ('{month.isoformat()} 00:00+00') TO ('{following.isoformat()} 00:00+00')",
                ],
            )
            month = following
        cursor.execute("SELECT audit_partition_create(%s::regclass, %s, %s)", [EVENTS, f"{EVENTS}_default", "DEFAULT"])
        columns = (
            "id, type, occurred_at, actor_kind, actor, citizen_ref, consumer, provider, attestation_type, "
            "fields, purpose, consent_id, exchange_id, correlation_id, detail"
        )
        _copy(execute, cursor, EVENTS, columns, identity=True)
        execute(f"ALTER TABLE {EVENTS} ADD CONSTRAINT {EVENTS}_pkey PRIMARY KEY (id, occurred_at)")
        execute(f"CREATE INDEX audit_event_citizen ON {EVENTS} (citizen_ref, id DESC)")
        execute(f"CREATE INDEX audit_event_consent ON {EVENTS} (consent_id)")
        execute(f"CREATE INDEX audit_event_time ON {EVENTS} (occurred_at)")
        execute(f"CREATE INDEX audit_event_type_time ON {EVENTS} (type, occurred_at)")
        _triggers(execute, EVENTS)

        # Leaves and nodes, by leaf index range.
        _rebuild(execute, LEAVES, "index")
        _rebuild(execute, NODES, '("index" << "level")')
        for number in range(tree_size // size + 2):
            bounds = f"FOR VALUES FROM ({number * size}) TO ({(number + 1) * size})"
            for table in (LEAVES, NODES):
                cursor.execute(
                    "SELECT audit_partition_create(%s::regclass, %s, %s)", [table, f"{table}_p{number:06d}", bounds]
                )
        _copy(execute, cursor, LEAVES, '"index", event_id, hash', identity=False)
        _copy(execute, cursor, NODES, 'id, level, "index", hash', identity=True)
        execute(f'ALTER TABLE {LEAVES} ADD CONSTRAINT {LEAVES}_pkey PRIMARY KEY ("index")')
        execute(f"CREATE INDEX audit_logleaf_event ON {LEAVES} (event_id)")
        _triggers(execute, LEAVES)
        _triggers(execute, NODES)


class Migration(migrations.Migration):
    # Each table is rebuilt in the migration's transaction: nothing sees it half done.
    atomic = True

    dependencies = [("audit", "0007_remove_auditor_group")]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(partition, migrations.RunPython.noop)],
            state_operations=[
                migrations.AlterField(
                    model_name="logleaf",
                    name="event",
                    field=models.OneToOneField(
                        db_constraint=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="leaf",
                        to="audit.auditevent",
                    ),
                ),
            ],
        ),
    ]
