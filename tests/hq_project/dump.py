"""Dump every notification, in hq's terms, as JSON (run on either side of the switch)."""

import json
import sys

import django

django.setup()

from django.conf import settings  # noqa: E402

from notifications.models import Notification  # noqa: E402

switched = "channels" in settings.INSTALLED_APPS
relations = ("actor", "target", "action_object")
fields = ["id", "recipient__username", "verb", "level", "data"]
for name in relations:
    fields += [f"{name}_content_type__model", f"{name}_object_id"]
if switched:
    fields += ["body", "read_at", "created_at", "seq", "title", "actor_display", "target_display"]
else:
    fields += ["description", "unread", "timestamp", "public", "deleted", "emailed"]

rows = {}
for row in Notification.objects.order_by("id").values(*fields).iterator(chunk_size=2000):
    out = {
        "recipient": row["recipient__username"],
        "verb": row["verb"],
        "level": row["level"],
    }
    for name in relations:
        out[name] = [row[f"{name}_content_type__model"], row[f"{name}_object_id"] or None]
    data = row["data"]
    if switched:
        data = dict(data)
        flags = data.pop("hq", {})
        out.update(
            description=row["body"],
            unread=row["read_at"] is None,
            timestamp=row["created_at"].isoformat(),
            public=flags.get("public", True),
            deleted=flags.get("deleted", False),
            emailed=flags.get("emailed", False),
            seq=row["seq"],
            title=row["title"],
            actor_display=row["actor_display"],
            target_display=row["target_display"],
        )
    else:
        out.update(
            description=row["description"] or "",
            unread=row["unread"],
            timestamp=row["timestamp"].isoformat(),
            public=row["public"],
            deleted=row["deleted"],
            emailed=row["emailed"],
        )
    out["data"] = data or {}
    rows[row["id"]] = out

inboxes = {}
if switched:
    from notifications.models import InboxState

    inboxes = {
        i.user.username: [i.unread_count, i.last_seq]
        for i in InboxState.objects.select_related("user")
    }
with open(sys.argv[1], "w") as out_file:
    json.dump({"rows": rows, "inboxes": inboxes}, out_file)
