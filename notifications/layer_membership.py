"""The consumer's use of the channel layer, when the layer carries delivery (not the Redis fan-out).

The socket joins its user's group (``group_add``, refreshed well inside the layer's group_expiry) and
receives from its own channel; the layer's events go into the socket's queue like fan-out messages.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from typing import Any

from notifications import logs
from notifications.conf import app_settings
from notifications.delivery import layer_limit

logger = logging.getLogger("notifications.consumers")

DEFAULT_GROUP_EXPIRY = 86400
# Seconds between attempts of a socket to receive from a channel layer that failed.
LAYER_RETRY_DELAY = 2.0


def group_refresh_interval(layer: Any) -> float:
    """Seconds between re-joins of the user's group: well inside the layer's group_expiry.

    At most five minutes by default, so sockets also get back into their group soon after a Redis
    restart wiped the memberships (each re-join also catches up from the database).
    """
    configured = app_settings.GROUP_REFRESH_INTERVAL
    if configured is not None:
        return float(configured)
    expiry = getattr(layer, "group_expiry", DEFAULT_GROUP_EXPIRY) or DEFAULT_GROUP_EXPIRY
    return float(min(expiry / 2, 300))


class LayerMembership:
    """The socket in its group of the channel layer (a mixin of NotificationConsumer)."""

    channel_layer: Any
    channel_name: str
    group: str
    offer: Callable[[dict[str, Any]], None]
    resync: Callable[[], None]

    async def _on_layer(self, command: str) -> None:
        """The layer's group_add or group_discard of this socket, waiting at most PUBLISH_TIMEOUT.

        The wait includes the one for a place under layer_limit(): with Redis stalled, the commands
        in flight must not hold every place (and so every connect and close) for ever.
        """

        async def limited() -> None:
            async with layer_limit():
                await getattr(self.channel_layer, command)(self.group, self.channel_name)

        await asyncio.wait_for(limited(), app_settings.PUBLISH_TIMEOUT)

    async def _receive_from_layer(self) -> dict[str, Any]:
        # A layer that fails (Redis down) must not end the socket with a traceback: the socket stays
        # open, the process's sync pass heals what it misses, and the refresher re-joins the group.
        layer: Any = self.channel_layer
        while True:
            try:
                message: dict[str, Any] = await layer.receive(self.channel_name)
                return message
            except Exception as exc:
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    # A layer that turned our cancellation into its own error: the socket is over.
                    raise asyncio.CancelledError from exc
                logs.warn_once(
                    logger,
                    "layer_receive",
                    "The channel layer failed under open sockets (%s: %s); they sync from the "
                    "database until it is back.",
                    type(exc).__name__,
                    exc,
                )
                await asyncio.sleep(LAYER_RETRY_DELAY)

    async def _refresh_membership(self) -> None:
        # group_expiry counts from the last group_add: re-join so a long-lived socket keeps receiving,
        # then catch up whatever the layer lost meanwhile (a Redis restart loses every membership).
        layer = self.channel_layer
        if layer is None:
            return
        interval = group_refresh_interval(layer)
        # Spread the re-joins of sockets that connected together (after a deploy, say).
        await asyncio.sleep(interval * random.uniform(0.5, 1.0))
        while True:
            try:
                await self._on_layer("group_add")
                self.resync()
            except Exception as exc:
                logs.warn_once(
                    logger,
                    "group_add",
                    "Could not refresh the group membership of a socket (%s: %s); the next "
                    "refresh retries.",
                    type(exc).__name__,
                    exc,
                )
            await asyncio.sleep(interval)

    # Channel-layer events (when the layer carries delivery): into the socket's queue.

    async def notifications_push(self, event: dict[str, Any]) -> None:
        self.offer(event)

    async def notifications_frame(self, event: dict[str, Any]) -> None:
        self.offer(event)

    async def notifications_logout(self, event: dict[str, Any]) -> None:
        self.offer(event)

    async def notifications_revalidate(self, event: dict[str, Any]) -> None:
        self.offer(event)
