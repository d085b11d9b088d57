"""A custom user admin, as projects with a custom user model have: the app adds its action to it."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from tests.testapp.models import User


@admin.register(User)
class CustomUserAdmin(UserAdmin):  # type: ignore[type-arg]
    list_display = ["username", "email", "is_active", "is_staff"]
