from typing import Any

from channels.generic.websocket import AsyncJsonWebsocketConsumer

from bench.tutorial.signals import group_name


class NotificationConsumer(AsyncJsonWebsocketConsumer):  # type: ignore[misc]
    async def connect(self) -> None:
        user = self.scope["user"]
        if not user.is_authenticated:
            await self.close()
            return
        self.group = group_name(user.pk)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        if hasattr(self, "group"):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def notification_message(self, event: dict[str, Any]) -> None:
        await self.send_json(
            {
                "type": "notification",
                "id": event["id"],
                "title": event["title"],
                "created_at": event["created_at"],
            }
        )
