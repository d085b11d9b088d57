"""After the switch: the edge rows of edge_rows.py as JSON."""

import json
import sys

import django

django.setup()

from notifications.models import Notification  # noqa: E402

verbs = ("level", "text", "list", "gone", "bad id")
json.dump(
    {
        n.verb: {"level": n.level, "data": n.data, "title": n.title, "target": n.target_display}
        for n in Notification.objects.filter(verb__in=verbs)
    },
    sys.stdout,
)
