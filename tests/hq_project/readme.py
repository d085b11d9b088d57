"""django-notifications-hq's README examples, unchanged, run against whichever package is installed.
Prints "README examples: ok" when every one behaved as hq documents it."""

import datetime

import django

django.setup()

from django.contrib.auth.models import Group, User  # noqa: E402
from django.test import Client  # noqa: E402
from django.utils import timezone  # noqa: E402
from shop.models import Article  # noqa: E402

from notifications.models import Notification  # noqa: E402
from notifications.signals import notify  # noqa: E402

user = User.objects.create_user("reader", password="pw")
friend = User.objects.create_user("friend", password="pw")
group = Group.objects.create(name="readers")
group.user_set.add(user, friend)
article = Article.objects.create(title="Level design")

# "Generating Notifications"
notify.send(user, recipient=user, verb="you reached level 10")
notify.send(
    friend,
    recipient=group,
    verb="commented on",
    action_object=article,
    target=article,
    level="success",
    description="Great level",
    public=False,
    timestamp=timezone.now() - datetime.timedelta(minutes=5),
    score=42,
)

# "QuerySet methods"
assert Notification.objects.unread().count() == 3
assert user.notifications.unread().count() == 2
assert user.notifications.read().count() == 0
assert user.notifications.unsent().count() == 2
user.notifications.mark_as_sent()
assert user.notifications.sent().count() == 2
user.notifications.mark_as_unsent(user)
assert user.notifications.sent().count() == 0
first = user.notifications.get(verb="you reached level 10")
notice = user.notifications.get(verb="commented on")
assert notice.data == {"score": 42} or notice.data["score"] == 42
assert notice.public is False and notice.description == "Great level"
assert notice.level == "success"
assert notice.timesince().startswith("5")

# "Model methods"
first.mark_as_read()
assert first.unread is False
assert user.notifications.unread().count() == 1
user.notifications.mark_all_as_read()
assert user.notifications.unread().count() == 0
Notification.objects.mark_all_as_unread(user)
assert user.notifications.unread().count() == 2
Notification.objects.mark_all_as_read(recipient=user)
assert user.notifications.unread().count() == 0
assert Notification.objects.unread().count() == 1  # friend's
friend.notifications.mark_all_as_deleted()
assert friend.notifications.active().count() == 0

# "Template tags" and "Live-updater API", through the project's own page and URLs.
notify.send(friend, recipient=user, verb="followed you")
client = Client()
client.force_login(user)
page = client.get("/inbox/").content.decode()
assert "You have <strong>1</strong> unread notifications." in page, page
assert "/static/notifications/notify.js" in page
assert "register_notifier(fill_notification_badge);" in page
assert '<ul class="dropdown-menu"></ul>' in page or "<ul class='dropdown-menu'></ul>" in page
api = client.get("/inbox/notifications/api/unread_list/?max=5").json()
assert api["unread_count"] == 1 and api["unread_list"][0]["verb"] == "followed you"
assert client.get("/inbox/notifications/api/unread_count/").json() == {"unread_count": 1}
print("README examples: ok")
