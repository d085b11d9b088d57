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


class Project(models.Model):
    """For the rules of tests/test_rules.py: a status, an owner, members, a JSON field."""

    name = models.CharField(max_length=200)
    owner = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="owned_projects"
    )
    status = models.CharField(max_length=20, default="open")
    settings = models.JSONField(default=dict, blank=True)
    members = models.ManyToManyField(User, blank=True, related_name="projects")

    def __str__(self) -> str:
        return self.name
