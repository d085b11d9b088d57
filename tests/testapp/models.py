"""A custom user model with a UUID primary key: the app must not assume auth.User or integer pks."""

from __future__ import annotations

import uuid

from django.contrib.auth.models import AbstractUser
from django.db import models


class User(AbstractUser):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)


class Article(models.Model):
    title = models.CharField(max_length=200)

    def __str__(self) -> str:
        return self.title
