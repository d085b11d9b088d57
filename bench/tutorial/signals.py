"""One ``group_send`` per saved notification, from whatever thread saved it (the tutorial's way)."""

from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db.models.signals import post_save
from django.dispatch import receiver

from bench.tutorial.models import Notification


def group_name(user_pk: Any) -> str:
    return f"notifications_{user_pk}"


@receiver(post_save, sender=Notification)
def push_notification(sender: Any, instance: Notification, created: bool, **kwargs: Any) -> None:
    if not created:
        return
    async_to_sync(get_channel_layer().group_send)(
        group_name(instance.recipient_id),
        {
            "type": "notification.message",
            "id": instance.pk,
            "title": instance.title,
            "created_at": instance.created_at.isoformat(),
        },
    )
