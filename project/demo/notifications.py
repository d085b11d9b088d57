"""The demo's notification rules, discovered at start-up like admin.py. See docs/rules.md."""

from __future__ import annotations

from typing import Any

from notifications import notify_on
from project.demo.models import Comment, Post


@notify_on(Comment, "created")
def comment_posted(comment: Comment) -> dict[str, Any]:
    """A comment notifies the post's author (not when they comment on their own post).

    The comments on one post collapse into one notification while it is unread: "bob, carol and 2
    others" over the newest comment.
    """
    post = comment.post
    return {
        "recipients": post.author,
        "verb": "commented",
        "actor": comment.author,
        "target": post,
        "action_object": comment,
        "title": f"{comment.author} commented on “{post}”",
        "body": comment.body[:200],
        "url": post.get_absolute_url(),
        "category": "comments",
        "group_key": f"post:{post.pk}:comments",
    }


@notify_on(Post, "updated", fields=["status"])
def status_changed(post: Post, changes: dict[str, Any]) -> dict[str, Any]:
    """A status change notifies the post's followers."""
    old, new = changes["status"]
    labels = dict(Post.Status.choices)
    return {
        "recipients": post.followers.all(),
        "verb": "changed the status of",
        "actor": post.author,
        "target": post,
        "title": f"“{post}” is now {labels.get(new, new)}",
        "body": f"It was {labels.get(old, old)}.",
        "url": post.get_absolute_url(),
        "level": "success" if new == Post.Status.PUBLISHED else "info",
        "category": "posts",
        "data": {"old": old, "new": new},
    }


@notify_on(Post, "m2m_added", fields=["followers"])
def followed(post: Post, added: Any) -> dict[str, Any]:
    """Following a post tells its author who followed (the author following themselves: no one)."""
    users = list(added)
    names = ", ".join(str(u) for u in users)
    return {
        "recipients": post.author,
        "verb": "followed",
        "actor": users[0] if len(users) == 1 else None,
        "target": post,
        "title": f"{names} now follow{'s' if len(users) == 1 else ''} “{post}”",
        "url": post.get_absolute_url(),
        "category": "posts",
    }
