"""After the switch: drive the project's hq-style views, template tags and JSON endpoints as alice
and dave; print what they answered as JSON."""

import json
import sys

import django

django.setup()

from django.contrib.auth.models import User  # noqa: E402
from django.template import engines  # noqa: E402
from django.test import Client, RequestFactory  # noqa: E402
from django.urls import reverse  # noqa: E402

from notifications.models import InboxState  # noqa: E402

out = {}
dave = User.objects.get(username="dave")
client = Client(enforce_csrf_checks=True)
client.force_login(dave)
out["unread_count"] = client.get(reverse("notifications:live_unread_notification_count")).json()
out["all_count"] = client.get(reverse("notifications:live_all_notification_count")).json()
listing = client.get(reverse("notifications:live_unread_notification_list") + "?max=3").json()
out["unread_list_count"] = listing["unread_count"]
out["unread_list_verbs"] = [item["verb"] for item in listing["unread_list"]]
out["unread_list_keys"] = sorted(listing["unread_list"][0])
first = listing["unread_list"][0]
out["all_list_len"] = len(
    client.get(reverse("notifications:live_all_notification_list")).json()["all_list"]
)
link = reverse("notifications:mark_as_read", args=[first["slug"]])
out["get_link_status"] = client.get(link).status_code
out["unread_after_get"] = InboxState.objects.get(user=dave).unread_count
page = client.get(link).content.decode()
token = page.split('name="csrfmiddlewaretoken" value="')[1].split('"')[0]
posted = client.post(link, {"csrfmiddlewaretoken": token, "next": "/somewhere/"})
out["post_redirect"] = posted["Location"]
out["unread_after_post"] = InboxState.objects.get(user=dave).unread_count
out["no_token_status"] = client.post(reverse("notifications:mark_all_as_read")).status_code

request = RequestFactory().get("/")
request.user = dave
html = (
    engines["django"]
    .from_string(
        "{% load notifications_tags %}{% notifications_unread as n %}[{{ n }}]"
        "{% live_notify_badge %}{% live_notify_list %}"
        "{% register_notify_callbacks callbacks='fill_notification_list,fill_notification_badge' %}"
    )
    .render({"request": request, "user": dave})
)
out["template"] = html
dave.notifications.mark_all_as_read()
out["unread_after_all"] = [
    InboxState.objects.get(user=dave).unread_count,
    dave.notifications.unread().count(),
]
json.dump(out, sys.stdout)
