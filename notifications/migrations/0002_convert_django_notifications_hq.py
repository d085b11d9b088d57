"""Converts django-notifications-hq's table into ours, in place; does nothing on any other database.

A project switching from django-notifications-hq has hq's migrations recorded under the same app label,
so 0001_initial looks applied while the table still has hq's columns: this migration finds that out
by introspection (notifications.compat.convert). Not atomic: the copy commits batch by batch (NOTIFICATIONS["BATCH_SIZE"] rows each), and
running `migrate` again after an interruption resumes it.
"""

import sys

from django.db import migrations

from notifications.compat import convert
from notifications.conf import app_settings


def forwards(apps, schema_editor):
    convert.convert(
        schema_editor.connection.alias,
        apps.get_model("notifications", "Notification"),
        apps.get_model("notifications", "InboxState"),
        batch_size=app_settings.BATCH_SIZE,
        out=lambda line: print(line, file=sys.stdout, flush=True),
    )


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("notifications", "0001_initial"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop, elidable=False)]
