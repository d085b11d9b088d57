"""With django-notifications-hq: rows its API allows but that need care (run after make_data.py 0):
an unknown level, data that is not JSON or not an object, an actor whose row is gone, an id that is
not one of its model's."""

import django

django.setup()

from django.contrib.auth.models import User  # noqa: E402
from django.contrib.contenttypes.models import ContentType  # noqa: E402
from shop.models import Article, Order  # noqa: E402

from notifications.models import Notification  # noqa: E402
from notifications.signals import notify  # noqa: E402

alice = User.objects.get(username="alice")
gone = Article.objects.create(title="Gone")
for verb in ("level", "text", "list", "gone", "bad id"):
    notify.send(alice, recipient=alice, verb=verb, target=gone if verb == "gone" else None)
Notification.objects.filter(verb="level").update(level="debug")
Notification.objects.filter(verb="text").update(data="not json {")
Notification.objects.filter(verb="list").update(data=[1, 2])
gone.delete()
Notification.objects.filter(verb="bad id").update(
    target_content_type=Notification.objects.get(verb="gone").target_content_type,
    target_object_id="not-a-number",
    action_object_content_type=ContentType.objects.get_for_model(Order),
    action_object_object_id=str(Order.objects.get().pk),
)
