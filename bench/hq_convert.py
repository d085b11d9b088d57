#!/usr/bin/env python
"""Conversion benchmark: N django-notifications-hq rows converted by migration 0002's code.

Prints figures; it is not a test.

    PYTHONPATH=. .venv/bin/python bench/hq_convert.py --rows 100000
    PYTHONPATH=. .venv/bin/python bench/hq_convert.py --rows 100000 --tracemalloc

It migrates a throwaway SQLite database (or DATABASE_URL's, which must exist: its notifications tables
are replaced) with tests.settings, replaces this app's tables by one shaped like hq's, fills it with N
rows over --users users (generic relations to users, a quarter read, some JSON data), then runs
notifications.compat.convert.convert() and prints its rate and memory: the peak of Python allocations
(tracemalloc, with --tracemalloc; slower) and the process's resident memory before and after.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
import tempfile
from pathlib import Path


def rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--batch-size", type=int, default=2000)
    parser.add_argument("--tracemalloc", action="store_true")
    args = parser.parse_args()

    if not os.environ.get("DATABASE_URL"):
        os.environ["NOTIFICATIONS_TEST_DB_NAME"] = str(
            Path(tempfile.mkdtemp(prefix="hq-bench-")) / "db.sqlite3"
        )
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.contrib.contenttypes.models import ContentType
    from django.core.management import call_command
    from django.db import connection
    from django.db.migrations.loader import MigrationLoader
    from django.utils import timezone

    from notifications.compat import convert

    call_command("migrate", verbosity=0)
    users = get_user_model().objects.bulk_create(
        [get_user_model()(username=f"hq{os.getpid()}-{i}") for i in range(args.users)]
    )
    user_type = ContentType.objects.get_for_model(get_user_model()).pk
    qn = connection.ops.quote_name
    user_column = "char(32)" if connection.vendor == "sqlite" else "uuid"
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE {qn(convert.TABLE)}")
        cursor.execute("DROP TABLE notifications_inboxstate")
        cursor.execute(
            f"CREATE TABLE {qn(convert.TABLE)} (id integer PRIMARY KEY, recipient_id {user_column}, "
            "verb varchar(255), description text, level varchar(20), unread boolean, "
            "timestamp timestamp with time zone, public boolean, deleted boolean, emailed boolean, "
            "data text, actor_content_type_id integer, actor_object_id varchar(255), "
            "target_content_type_id integer, target_object_id varchar(255), "
            "action_object_content_type_id integer, action_object_object_id varchar(255))"
        )
        cursor.execute(f"CREATE INDEX hq_bench_recipient ON {qn(convert.TABLE)} (recipient_id)")
        start = timezone.now() - datetime.timedelta(days=365)
        chunk = []
        for i in range(args.rows):
            user = users[(i * 7919) % len(users)]
            chunk.append(
                [
                    i + 1,
                    user.pk.hex if connection.vendor == "sqlite" else user.pk,
                    f"did thing {i}",
                    "description " * 3,
                    "info",
                    i % 4 != 0,
                    start + datetime.timedelta(seconds=(i * 104729) % 31_000_000),
                    True,
                    False,
                    False,
                    json.dumps({"i": i}) if i % 2 else None,
                    user_type,
                    str(users[i % len(users)].pk),
                    None,
                    None,
                    None,
                    None,
                ]
            )
            if len(chunk) == 5000 or i == args.rows - 1:
                cursor.executemany(
                    f"INSERT INTO {qn(convert.TABLE)} VALUES ({', '.join(['%s'] * 17)})",  # noqa: S608
                    chunk,
                )
                chunk = []
    state_apps = MigrationLoader(connection).project_state(("notifications", "0001_initial")).apps
    before = rss_kib()
    report = convert.convert(
        connection.alias,
        state_apps.get_model("notifications", "Notification"),
        state_apps.get_model("notifications", "InboxState"),
        batch_size=args.batch_size,
        out=lambda line: None,
        measure=args.tracemalloc,
    )
    after = rss_kib()
    result = {
        "database": connection.vendor,
        "rows": report.rows,
        "users": report.users,
        "batch_size": args.batch_size,
        "seconds": round(report.seconds, 1),
        "rows_per_second": round(report.rows / report.seconds),
        "rss_before_mib": round(before / 1024, 1),
        "rss_after_mib": round(after / 1024, 1),
    }
    if args.tracemalloc:
        result["python_peak_mib"] = round(report.peak_bytes / 2**20, 1)
    json.dump(result, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
