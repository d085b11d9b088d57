from __future__ import annotations

from django.contrib import admin

from notifications.models import Notification


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["title", "verb", "recipient", "level", "category", "read_at", "created_at"]
    list_filter = ["level", "category", "created_at"]
    search_fields = ["title", "verb", "body"]
    raw_id_fields = ["recipient"]
    readonly_fields = ["seq", "created_at"]
