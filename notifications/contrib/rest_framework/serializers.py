"""The notification object of the protocol (docs/protocol.md), and the bodies of the changes."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from notifications import api, protocol
from notifications.conf import app_settings
from notifications.exceptions import InvalidNotification
from notifications.models import Notification


class NotificationSerializer(serializers.BaseSerializer):
    """Read-only: the same object the socket and the JSON API send."""

    def to_representation(self, instance: Notification) -> dict[str, Any]:
        return protocol.notification_payload(instance)


class IdsSerializer(serializers.Serializer):
    """``{"ids": [...]}``: 1 to MAX_IDS notification ids."""

    ids = serializers.ListField(child=serializers.IntegerField(min_value=1), allow_empty=False)

    def validate_ids(self, value: list[int]) -> list[int]:
        if len(value) > app_settings.MAX_IDS:
            raise serializers.ValidationError(f"At most {app_settings.MAX_IDS} ids.")
        return list(dict.fromkeys(value))


class SnoozeSerializer(IdsSerializer):
    """``{"ids", "preset": "1h" | "tomorrow" | "next_week", "tz"}`` or ``{"ids", "until"}``."""

    preset = serializers.ChoiceField(choices=protocol.SNOOZE_PRESETS, required=False)
    until = serializers.DateTimeField(required=False)
    tz = serializers.CharField(required=False, allow_blank=True, max_length=64)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("preset" in attrs) == ("until" in attrs):
            raise serializers.ValidationError("Give `preset` or `until`, not both.")
        if "preset" in attrs:
            try:
                attrs["until"] = api.snooze_until(attrs["preset"], attrs.get("tz", ""))
            except InvalidNotification as exc:
                raise serializers.ValidationError({"tz": str(exc)}) from None
        return attrs
