"""Undo the conversion (``convert_hq_notifications --rollback``): put hq's table back from the archive.

Also ``--drop-archive``, once the conversion is kept for good.
"""

from __future__ import annotations

from django.db import connections, models

from notifications.compat.survey import ARCHIVE, ORDER_INDEX, TABLE

#: django-notifications-hq's migrations (1.6 to 1.8.3): the rollback keeps their records.
HQ_MIGRATIONS = (
    "0001_initial",
    "0002_auto_20150224_1134",
    "0003_notification_data",
    "0004_auto_20150826_1508",
    "0005_auto_20160504_1520",
    "0006_indexes",
    "0007_add_timestamp_index",
    "0008_index_together_recipient_unread",
    "0009_alter_notification_options_and_more",
)
#: The indexes hq's migrations create, put back by the rollback.
HQ_INDEXES = (
    ("recipient_id",),
    ("actor_content_type_id",),
    ("target_content_type_id",),
    ("action_object_content_type_id",),
    ("unread",),
    ("timestamp",),
    ("public",),
    ("deleted",),
    ("emailed",),
    ("recipient_id", "unread"),
)


def newer_than_archive(using: str) -> int:
    """How many notifications were created here after the conversion (the rollback loses them)."""
    qn = connections[using].ops.quote_name
    with connections[using].cursor() as cursor:
        cursor.execute(
            f"SELECT COUNT(*) FROM {qn(TABLE)} n WHERE NOT EXISTS "  # noqa: S608
            f"(SELECT 1 FROM {qn(ARCHIVE)} a WHERE a.{qn('id')} = n.{qn('id')})"
        )
        return int(cursor.fetchone()[0])


def rollback(
    using: str, notification_model: type[models.Model], inbox_model: type[models.Model]
) -> None:
    """Put hq's table back as it was before the conversion; drop ours; forget our migrations.

    Every other table of this app (preferences, pending emails ...) came with our later migrations,
    some with foreign keys to notifications: they go first, and their migration records with them.
    """
    from django.apps import apps
    from django.db.migrations.recorder import MigrationRecorder

    connection = connections[using]
    qn = connection.ops.quote_name
    existing = set(connection.introspection.table_names())
    later = [
        model
        for model in apps.get_app_config(notification_model._meta.app_label).get_models()
        if model not in (notification_model, inbox_model) and model._meta.db_table in existing
    ]
    with connection.schema_editor(atomic=True) as editor:
        for model in later:
            editor.delete_model(model)
        editor.delete_model(notification_model)
        editor.delete_model(inbox_model)
        editor.execute(editor.sql_delete_index % {"name": qn(ORDER_INDEX), "table": qn(ARCHIVE)})
        editor.execute(editor.sql_rename_table % {"old_table": qn(ARCHIVE), "new_table": qn(TABLE)})
        if connection.vendor == "postgresql":
            editor.execute(f"ALTER INDEX {qn(ARCHIVE + '_pkey')} RENAME TO {qn(TABLE + '_pkey')}")
        for columns in HQ_INDEXES:
            name = f"{TABLE}_hq_{'_'.join(c.removesuffix('_id') for c in columns)}"
            editor.execute(
                f"CREATE INDEX {qn(name)} ON {qn(TABLE)} ({', '.join(qn(c) for c in columns)})"
            )
        MigrationRecorder(connection).migration_qs.filter(app="notifications").exclude(
            name__in=HQ_MIGRATIONS
        ).delete()


def drop_archive(using: str) -> None:
    connection = connections[using]
    with connection.schema_editor(atomic=True) as editor:
        editor.execute(f"DROP TABLE {connection.ops.quote_name(ARCHIVE)}")
