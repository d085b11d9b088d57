"""The copy of hq's archived rows into our tables, batch by batch (convert.py runs it)."""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import DatabaseError, models, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import F
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from notifications.compat import HQ_LEVELS, hq_title, with_flags
from notifications.compat.survey import ARCHIVE
from notifications.constants import DISPLAY_MAX_LENGTH, Level

#: hq's columns, as every release from 1.6 on has them.
HQ_COLUMNS = (
    "id",
    "recipient_id",
    "verb",
    "description",
    "level",
    "unread",
    "timestamp",
    "public",
    "deleted",
    "emailed",
    "data",
    "actor_content_type_id",
    "actor_object_id",
    "target_content_type_id",
    "target_object_id",
    "action_object_content_type_id",
    "action_object_object_id",
)
RELATIONS = ("actor", "target", "action_object")


class Copier:
    """Copies the archive into our tables, one transaction per batch."""

    def __init__(
        self,
        connection: BaseDatabaseWrapper,
        notification_model: type[models.Model],
        inbox_model: type[models.Model],
    ) -> None:
        self.connection = connection
        self.using = connection.alias
        self.model = notification_model
        self.inbox = inbox_model
        qn = connection.ops.quote_name
        self.select = f"SELECT {', '.join(qn(c) for c in HQ_COLUMNS)} FROM {qn(ARCHIVE)}"  # noqa: S608
        self.order = f" ORDER BY {qn('recipient_id')}, {qn('timestamp')}, {qn('id')}"
        r, t, i = qn("recipient_id"), qn("timestamp"), qn("id")
        # A row-value comparison: both SQLite and PostgreSQL walk ORDER_INDEX from the key.
        self.after = f" WHERE ({r}, {t}, {i}) > (%s, %s, %s)"
        fields = [f for f in notification_model._meta.concrete_fields if f.attname in self.COLUMNS]
        self.prepared = [
            (f.attname, f.get_db_prep_save if f.attname in self.CONVERTED else self._as_is)
            for f in fields
        ]
        self.insert = (
            f"INSERT INTO {qn(notification_model._meta.db_table)} "  # noqa: S608
            f"({', '.join(qn(str(f.column)) for f in fields)}) VALUES ({', '.join(['%s'] * len(fields))})"
        )

    #: The columns the copy writes: every one of our 0001_initial's Notification, and seen_at when the
    #: model has it (0007_states): converted notifications count as seen, as that migration's do.
    COLUMNS = frozenset(
        ["id", "recipient_id", "seq", "verb", "title", "body", "level", "data", "created_at"]
        + ["read_at", "url", "category", "seen_at"]
        + [f"{n}_{s}" for n in RELATIONS for s in ("content_type_id", "object_id", "display")]
    )
    #: The ones whose Python value the database driver cannot take as it is.
    CONVERTED = frozenset(["data", "created_at", "read_at", "seen_at"])

    @staticmethod
    def _as_is(value: Any, connection: BaseDatabaseWrapper) -> Any:
        return value

    def batches(self, size: int) -> Iterable[int]:
        """Copy batch after batch; yield how many rows each one copied."""
        key: list[Any] | None = None
        while True:
            with self.connection.cursor() as cursor:
                if key is None:
                    cursor.execute(self.select + self.order + f" LIMIT {int(size)}")
                else:
                    cursor.execute(
                        self.select + self.after + self.order + f" LIMIT {int(size)}", key
                    )
                rows = [dict(zip(HQ_COLUMNS, row, strict=True)) for row in cursor.fetchall()]
            if not rows:
                return
            last = rows[-1]
            key = [last["recipient_id"], last["timestamp"], last["id"]]
            yield self._copy(rows)
            del rows

    def _copy(self, rows: list[dict[str, Any]]) -> int:
        with transaction.atomic(using=self.using):
            notifications = self.model._default_manager.using(self.using)
            copied = set(
                notifications.filter(pk__in=[r["id"] for r in rows]).values_list("pk", flat=True)
            )
            rows = [r for r in rows if r["id"] not in copied]
            if not rows:
                return 0
            user_ids = list(dict.fromkeys(r["recipient_id"] for r in rows))
            inboxes = self.inbox._default_manager.using(self.using)
            known = set(inboxes.filter(user_id__in=user_ids).values_list("user_id", flat=True))
            inboxes.bulk_create([self.inbox(user_id=u) for u in user_ids if u not in known])
            last_seq = dict(
                inboxes.select_for_update()
                .filter(user_id__in=user_ids)
                .order_by("pk")
                .values_list("user_id", "last_seq")
            )
            last_seq = {self._user_key(k): v for k, v in last_seq.items()}
            displays = self._displays(rows)
            added: dict[Any, list[int]] = {}
            values = []
            for r in rows:
                user = self._user_key(r["recipient_id"])
                seq = last_seq[user] = last_seq[user] + 1
                counts = added.setdefault(r["recipient_id"], [0, 0])
                counts[0] += 1
                counts[1] += bool(r["unread"])
                values.append(self._notification(r, seq, displays))
            with self.connection.cursor() as cursor:
                cursor.executemany(self.insert, values)
            by_delta: dict[tuple[int, int], list[Any]] = {}
            for user_id, (n, unread) in added.items():
                by_delta.setdefault((n, unread), []).append(user_id)
            for (n, unread), users in by_delta.items():
                inboxes.filter(user_id__in=users).update(
                    last_seq=F("last_seq") + n, unread_count=F("unread_count") + unread
                )
        return len(values)

    def _user_key(self, value: Any) -> Any:
        # The user's pk as Python sees it (a UUID read back from SQLite is text in the archive).
        return self.inbox._meta.pk.to_python(value)

    def _notification(self, r: dict[str, Any], seq: int, displays: dict[Any, str]) -> list[Any]:
        created_at = _aware(r["timestamp"])
        data = _json(r["data"])
        flags = {
            "public": bool(r["public"]),
            "deleted": bool(r["deleted"]),
            "emailed": bool(r["emailed"]),
        }
        level = HQ_LEVELS.get(r["level"].lower() if isinstance(r["level"], str) else r["level"])
        if level is None:
            flags["level"] = r["level"]
            level = Level.INFO
        data = with_flags(data, flags)
        shown = {
            name: displays.get((r[f"{name}_content_type_id"], r[f"{name}_object_id"]), "")
            for name in RELATIONS
        }
        verb = r["verb"] or ""
        columns: dict[str, Any] = {
            "id": r["id"],
            "recipient_id": r["recipient_id"],
            "seq": seq,
            "verb": verb,
            "title": hq_title(shown["actor"], shown["action_object"], shown["target"], verb=verb),
            "body": r["description"] or "",
            "level": level,
            "data": data,
            "created_at": created_at,
            "read_at": None if r["unread"] else created_at,
            "seen_at": created_at,
            "url": "",
            "category": "",
        }
        for name in RELATIONS:
            columns[f"{name}_content_type_id"] = r[f"{name}_content_type_id"]
            columns[f"{name}_object_id"] = r[f"{name}_object_id"] or ""
            columns[f"{name}_display"] = shown[name]
        # One prepared INSERT for all rows (bulk_create compiles each row's SQL: 3x slower).
        return [prep(columns[name], self.connection) for name, prep in self.prepared]

    def _displays(self, rows: list[dict[str, Any]]) -> dict[Any, str]:
        """str() of every actor, target and action object of the batch: one query per model."""
        wanted: dict[int, set[str]] = {}
        for r in rows:
            for name in RELATIONS:
                ct, pk = r[f"{name}_content_type_id"], r[f"{name}_object_id"]
                if ct is not None and pk not in (None, ""):
                    wanted.setdefault(ct, set()).add(str(pk))
        shown: dict[Any, str] = {}
        for ct_id, pks in wanted.items():
            try:
                model = ContentType.objects.db_manager(self.using).get_for_id(ct_id).model_class()
                if model is None:
                    continue
                keys = {}
                for pk in pks:
                    try:
                        keys[model._meta.pk.to_python(pk)] = pk
                    except Exception:  # noqa: S112  # a malformed id names nothing
                        continue
                with transaction.atomic(using=self.using):  # a savepoint: a failure stays local
                    found = model._base_manager.using(self.using).in_bulk(list(keys))
            except (ContentType.DoesNotExist, DatabaseError):
                continue  # a model whose table is gone, or ahead of the database: no display text
            for key, obj in found.items():
                shown[(ct_id, keys[key])] = str(obj)[:DISPLAY_MAX_LENGTH]
        return shown


def _aware(value: Any) -> Any:
    if isinstance(value, str):
        value = parse_datetime(value)
    if value is not None and settings.USE_TZ and timezone.is_naive(value):
        value = timezone.make_aware(value, datetime.UTC)
    return value


def _json(value: Any) -> Any:
    if isinstance(value, str | bytes):
        try:
            return json.loads(value)
        except ValueError:
            return {"data": value if isinstance(value, str) else value.decode(errors="replace")}
    return value
