"""Run with django-notifications-hq installed: creates notifications through its own API, then dumps
every row (dump.py) for the test to compare with what the conversion made of them."""

import datetime
import sys

import django

django.setup()

from django.contrib.auth.models import Group, User  # noqa: E402
from django.contrib.contenttypes.models import ContentType  # noqa: E402
from django.utils import timezone  # noqa: E402
from shop.models import Article, Order  # noqa: E402

from notifications.models import Notification  # noqa: E402
from notifications.signals import notify  # noqa: E402

big = int(sys.argv[1])
hour = datetime.timedelta(hours=1)
alice, bob, carol, dave = (
    User.objects.create_user(name, password="pw") for name in ("alice", "bob", "carol", "dave")
)
team = Group.objects.create(name="team")
team.user_set.add(bob, carol)
post = Article.objects.create(title="Release notes")
order = Order.objects.create(number="A-17")
t0 = timezone.now() - datetime.timedelta(days=30)

notify.send(
    bob,
    recipient=alice,
    verb="commented on",
    action_object=order,
    target=post,
    description="Looks good",
    level="warning",
    timestamp=t0,
    order_id=42,
    tags=["a"],
)
notify.send(alice, recipient=team, verb="shipped", target=order, public=False, timestamp=t0 + hour)
notify.send(
    post, recipient=[alice, carol], verb="was published", level="success", timestamp=t0 + 2 * hour
)
notify.send(alice, recipient=bob, verb="failed", level="error", timestamp=t0 - hour)
for i in range(3):  # equal timestamps: hq's order is then the id
    notify.send(carol, recipient=bob, verb=f"tie {i}", timestamp=t0 + 3 * hour)
Notification.objects.filter(recipient=bob, verb="tie 0").mark_all_as_read()
bob.notifications.filter(verb="tie 1").mark_all_as_deleted()
alice.notifications.filter(verb="was published").mark_as_sent()
alice.notifications.filter(verb="commented on").first().mark_as_read()

user_type = ContentType.objects.get_for_model(User)
Notification.objects.bulk_create(
    [
        Notification(
            recipient=dave,
            actor_content_type=user_type,
            actor_object_id=str(alice.pk),
            verb=f"bulk {i}",
            # Out of id order, with ties: seq must follow (timestamp, id).
            timestamp=t0 + datetime.timedelta(seconds=(i * 7919) % max(big // 2, 1)),
            unread=i % 3 != 0,
            deleted=i % 97 == 0,
            data={"i": i} if i % 2 else None,
        )
        for i in range(big)
    ],
    batch_size=1000,
)
