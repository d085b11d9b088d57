from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from notifications import notify
from project.demo.models import Comment, Post

DEMO_USERS = [("alice", "alice", False), ("bob", "bob", False), ("admin", "admin", True)]


class Command(BaseCommand):
    help = "Create the demo users alice, bob and admin (demo only: the passwords are printed)."

    def handle(self, *args: Any, **options: Any) -> None:
        users = get_user_model()._default_manager
        for username, password, is_admin in DEMO_USERS:
            user, created = users.get_or_create(
                username=username,
                defaults={
                    "is_staff": is_admin,
                    "is_superuser": is_admin,
                    # Digest emails print on the console (project/settings.py).
                    "email": f"{username}@example.com",
                },
            )
            if created:
                user.set_password(password)
                user.save()
                notify(user, "joined", title=f"Welcome to the demo, {username}!", level="success")
        self._sample_post()
        self.stdout.write("")
        self.stdout.write(self.style.WARNING("Demo users (demo only, never use these passwords):"))
        for username, password, is_admin in DEMO_USERS:
            role = " (superuser, /admin/)" if is_admin else ""
            self.stdout.write(f"  {username:<6} password: {password}{role}")
        self.stdout.write("")
        self.stdout.write("Posts (comments and status changes notify through rules): /demo/posts/")

    def _sample_post(self) -> None:
        """One post by alice that bob follows, so the demo's rules have something to act on."""
        if Post.objects.exists():
            return
        users = get_user_model()._default_manager
        alice, bob = users.get(username="alice"), users.get(username="bob")
        post = Post.objects.create(
            author=alice, title="Release notes", body="What ships on Friday."
        )
        post.followers.add(bob)
        Comment.objects.create(post=post, author=bob, body="Looks good to me!")
