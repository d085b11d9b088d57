"""Declarative model-event rules (notifications/rules.py) and the demo app's rules."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractUser, Group
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from notifications import notify_on, protocol, rules
from notifications.models import InboxState, Notification
from notifications.rules import registry
from notifications.testing import assert_not_notified, assert_notified
from project.demo.models import Comment, Post
from tests.conftest import make_user
from tests.testapp.models import Article, Project

User = get_user_model()

Rule = Callable[..., Callable[[Callable[..., Any]], Callable[..., Any]]]
Watch = Callable[..., list[dict[str, Any]]]


@pytest.fixture
def rule() -> Iterator[Rule]:
    """notify_on() for one test: the rules are removed afterwards."""
    made: list[Callable[..., Any]] = []

    def register(model: Any, event: Any, **kwargs: Any) -> Callable[..., Any]:
        def decorator(handler: Callable[..., Any]) -> Callable[..., Any]:
            notify_on(model, event, **kwargs)(handler)
            made.append(handler)
            return handler

        return decorator

    yield register
    for handler in made:
        registry.unregister(handler)


@pytest.fixture
def watch_updates(rule: Rule) -> Watch:
    """watch_updates(**notify_on options) -> the list an `updated` rule on Project appends each
    save's changes to. Register it before the instance is created or loaded, as a rule would be."""

    def watch(**options: Any) -> list[dict[str, Any]]:
        seen: list[dict[str, Any]] = []
        rule(Project, "updated", **options)(lambda p, changes: seen.append(changes))
        return seen

    return watch


def titles(user: Any) -> list[str]:
    return list(Notification.objects.for_user(user).order_by("seq").values_list("title", flat=True))


def to_owner(project: Project, *args: Any) -> dict[str, Any]:
    return {"recipients": project.owner, "verb": "changed", "title": project.name}


# created


def test_created_rule_runs_after_commit(
    rule: Rule, alice: Any, django_capture_on_commit_callbacks: Any
) -> None:
    rule(Project, "created")(to_owner)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        Project.objects.create(name="Apollo", owner=alice)
        assert titles(alice) == []  # not before the commit
    assert callbacks
    assert titles(alice) == ["Apollo"]


def test_rollback_notifies_no_one(
    rule: Rule, alice: Any, django_capture_on_commit_callbacks: Any
) -> None:
    calls: list[Project] = []
    rule(Project, "created")(lambda p: calls.append(p) or to_owner(p))
    with (
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        Project.objects.create(name="Apollo", owner=alice)
        raise RuntimeError("rolled back")
    assert calls == []  # the rule never ran
    assert titles(alice) == []
    assert InboxState.objects.filter(user=alice, last_seq__gt=0).count() == 0


@pytest.mark.django_db(transaction=True)
def test_rollback_notifies_no_one_on_a_real_transaction(rule: Rule) -> None:
    alice = make_user("alice")
    rule(Project, "created")(to_owner)
    with pytest.raises(RuntimeError), transaction.atomic():
        Project.objects.create(name="Rolled back", owner=alice)
        raise RuntimeError
    Project.objects.create(name="Committed", owner=alice)  # autocommit: runs at once
    assert titles(alice) == ["Committed"]


def test_created_rule_delivers_live(
    rule: Rule, alice: Any, sent: list[Any], django_capture_on_commit_callbacks: Any
) -> None:
    rule(Project, "created")(to_owner)
    with django_capture_on_commit_callbacks(execute=True):
        Project.objects.create(name="Apollo", owner=alice)
    [[(group, message)]] = sent
    assert group == protocol.user_group(alice.pk)
    assert json.loads(message["frame"])["notification"]["title"] == "Apollo"


# updated and change tracking


def test_updated_rule_gets_the_changes(
    rule: Rule, alice: Any, django_capture_on_commit_callbacks: Any
) -> None:
    seen: list[dict[str, Any]] = []

    @rule(Project, "updated")
    def changed(project: Project, changes: dict[str, Any]) -> None:
        seen.append(changes)

    project = Project.objects.create(name="Apollo", owner=alice)
    loaded = Project.objects.get(pk=project.pk)
    loaded.status = "closed"
    loaded.name = "Apollo 11"
    with django_capture_on_commit_callbacks(execute=True):
        loaded.save()
    assert seen == [{"status": ("open", "closed"), "name": ("Apollo", "Apollo 11")}]


def test_a_save_without_changes_runs_no_updated_rule(
    rule: Rule, alice: Any, django_capture_on_commit_callbacks: Any
) -> None:
    rule(Project, "updated")(to_owner)
    project = Project.objects.create(name="Apollo", owner=alice)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        Project.objects.get(pk=project.pk).save()
    assert callbacks == []
    assert titles(alice) == []


def test_fields_limits_updated_rules(
    watch_updates: Watch, alice: Any, django_capture_on_commit_callbacks: Any
) -> None:
    seen = watch_updates(fields=["status"])
    project = Project.objects.create(name="Apollo", owner=alice)
    with django_capture_on_commit_callbacks(execute=True):
        project.name = "Renamed"
        project.save()
        assert seen == []
        project.status = "closed"
        project.name = "Renamed again"
        project.save()
    assert seen == [{"status": ("open", "closed")}]  # only the fields the rule asked for


def test_foreign_keys_are_tracked_by_id_and_named_either_way(
    watch_updates: Watch, alice: Any, bob: Any, django_capture_on_commit_callbacks: Any
) -> None:
    seen = watch_updates(fields=["owner_id"])
    project = Project.objects.create(name="Apollo", owner=alice)
    project.owner = bob
    with django_capture_on_commit_callbacks(execute=True):
        project.save()
    assert seen == [{"owner": (alice.pk, bob.pk)}]


def test_the_loaded_values_move_on_after_each_save(
    watch_updates: Watch, alice: Any, django_capture_on_commit_callbacks: Any
) -> None:
    seen = watch_updates(fields=["status"])
    project = Project.objects.create(name="Apollo", owner=alice)
    with django_capture_on_commit_callbacks(execute=True):
        for status in ["review", "review", "closed"]:
            project.status = status
            project.save()
    assert seen == [{"status": ("open", "review")}, {"status": ("review", "closed")}]


def test_in_place_changes_of_json_values_are_detected(
    watch_updates: Watch, alice: Any, django_capture_on_commit_callbacks: Any
) -> None:
    seen = watch_updates(fields=["settings"])
    project = Project.objects.create(name="Apollo", owner=alice, settings={"a": 1})
    project = Project.objects.get(pk=project.pk)
    project.settings["a"] = 2
    with django_capture_on_commit_callbacks(execute=True):
        project.save()
    assert seen == [{"settings": ({"a": 1}, {"a": 2})}]


def test_update_fields_limits_the_changes_to_what_was_saved(
    watch_updates: Watch, alice: Any, django_capture_on_commit_callbacks: Any
) -> None:
    seen = watch_updates()
    project = Project.objects.create(name="Apollo", owner=alice)
    project.name = "Not saved"
    project.status = "closed"
    with django_capture_on_commit_callbacks(execute=True):
        project.save(update_fields=["status"])
    assert seen == [{"status": ("open", "closed")}]


def test_deferred_fields_are_not_tracked_and_cost_no_query(
    watch_updates: Watch, alice: Any, django_capture_on_commit_callbacks: Any
) -> None:
    seen = watch_updates()
    Project.objects.create(name="Apollo", owner=alice)
    project = Project.objects.only("pk", "status").get()
    project.status = "closed"
    with (
        django_capture_on_commit_callbacks(execute=True),
        CaptureQueriesContext(connection) as queries,
    ):
        project.save(update_fields=["status"])
    assert seen == [{"status": ("open", "closed")}]
    assert len(queries) == 1  # the UPDATE: a deferred field is never loaded to compare it


def test_detecting_changes_costs_no_extra_query(
    rule: Rule, alice: Any, django_capture_on_commit_callbacks: Any
) -> None:
    rule(Project, "updated", fields=["status"])(to_owner)
    project = Project.objects.create(name="Apollo", owner=alice)
    project = Project.objects.get(pk=project.pk)
    project.status = "closed"
    with (
        django_capture_on_commit_callbacks(execute=False) as callbacks,
        CaptureQueriesContext(connection) as queries,
    ):
        project.save()
    assert [q["sql"].split()[0] for q in queries] == ["UPDATE"]
    assert len(callbacks) == 1


# deleted


def test_deleted_rule_sees_the_instance_as_it_was(
    rule: Rule, alice: Any, django_capture_on_commit_callbacks: Any
) -> None:
    seen: list[tuple[Any, str, Any]] = []

    @rule(Project, "deleted")
    def gone(project: Project) -> dict[str, Any]:
        seen.append((project.pk, project.name, project.owner_id))
        return {"recipients": project.owner, "verb": "deleted", "title": f"{project} deleted"}

    project = Project.objects.create(name="Apollo", owner=alice)
    pk = project.pk
    with django_capture_on_commit_callbacks(execute=True):
        project.delete()
    assert project.pk is None  # Django cleared it; the rule saw the instance before that
    assert seen == [(pk, "Apollo", alice.pk)]
    assert titles(alice) == ["Apollo deleted"]


def test_queryset_delete_runs_deleted_rules(
    rule: Rule, alice: Any, django_capture_on_commit_callbacks: Any
) -> None:
    rule(Project, "deleted")(to_owner)
    Project.objects.create(name="A", owner=alice)
    Project.objects.create(name="B", owner=alice)
    with django_capture_on_commit_callbacks(execute=True):
        Project.objects.all().delete()
    assert sorted(titles(alice)) == ["A", "B"]


# m2m_added


def test_m2m_added_gets_only_the_added_objects(
    rule: Rule, alice: Any, bob: Any, django_capture_on_commit_callbacks: Any
) -> None:
    @rule(Project, "m2m_added", fields=["members"])
    def joined(project: Project, added: Any) -> dict[str, Any]:
        return {"recipients": added, "verb": "added you to", "title": f"You joined {project}"}

    carol = make_user("carol")
    project = Project.objects.create(name="Apollo", owner=alice)
    with django_capture_on_commit_callbacks(execute=True):
        project.members.add(bob)
        project.members.add(bob, carol)  # bob is already a member: only carol is added
    assert titles(bob) == ["You joined Apollo"]
    assert titles(carol) == ["You joined Apollo"]
    assert titles(alice) == []


def test_m2m_added_from_the_other_side(
    rule: Rule, alice: Any, bob: Any, django_capture_on_commit_callbacks: Any
) -> None:
    @rule(Project, "m2m_added", fields=["members"])
    def joined(project: Project, added: Any) -> dict[str, Any]:
        return {"recipients": added, "verb": "added you to", "title": f"You joined {project}"}

    a = Project.objects.create(name="A", owner=alice)
    b = Project.objects.create(name="B", owner=alice)
    with django_capture_on_commit_callbacks(execute=True):
        bob.projects.add(a, b)
    assert sorted(titles(bob)) == ["You joined A", "You joined B"]


def test_m2m_removals_and_clears_run_no_m2m_added_rule(
    rule: Rule, alice: Any, bob: Any, django_capture_on_commit_callbacks: Any
) -> None:
    calls: list[Any] = []
    rule(Project, "m2m_added", fields=["members"])(lambda p, added: calls.append(p))
    project = Project.objects.create(name="A", owner=alice)
    project.members.add(bob)
    with django_capture_on_commit_callbacks(execute=True):
        project.members.remove(bob)
        project.members.clear()
    assert calls == []


# the actor


def test_the_actor_is_not_notified_of_their_own_action(
    rule: Rule, alice: Any, bob: Any, django_capture_on_commit_callbacks: Any
) -> None:
    team = Group.objects.create(name="team")
    alice.groups.add(team)
    bob.groups.add(team)
    shapes = {
        "user": lambda p: p.owner,
        "list": lambda p: [alice, bob],
        "queryset": lambda p: User.objects.filter(pk__in=[alice.pk, bob.pk]),
        "group": lambda p: team,
    }
    for shape, recipients in shapes.items():

        def handler(project: Project, recipients: Any = recipients, shape: str = shape) -> Any:
            return {"recipients": recipients(project), "verb": "x", "actor": alice, "title": shape}

        rule(Project, "created")(handler)
    with django_capture_on_commit_callbacks(execute=True):
        Project.objects.create(name="Apollo", owner=alice)
    assert titles(alice) == []
    assert sorted(titles(bob)) == ["group", "list", "queryset"]


def test_a_rule_may_notify_the_actor(
    rule: Rule, alice: Any, django_capture_on_commit_callbacks: Any
) -> None:
    rule(Project, "created", notify_actor=True)(
        lambda p: {"recipients": p.owner, "verb": "created", "actor": p.owner, "title": "mine"}
    )
    with django_capture_on_commit_callbacks(execute=True):
        Project.objects.create(name="Apollo", owner=alice)
    assert titles(alice) == ["mine"]


# conditions and results


def test_when_is_a_condition(
    rule: Rule, alice: Any, django_capture_on_commit_callbacks: Any
) -> None:
    rule(Project, "created", when=lambda p: p.status == "open")(to_owner)
    with django_capture_on_commit_callbacks(execute=True):
        Project.objects.create(name="Open", owner=alice)
        Project.objects.create(name="Closed", owner=alice, status="closed")
    assert titles(alice) == ["Open"]


def test_when_gets_the_changes_of_updated_rules(
    rule: Rule, alice: Any, django_capture_on_commit_callbacks: Any
) -> None:
    rule(Project, "updated", when=lambda p, changes: changes["status"][1] == "closed")(to_owner)
    project = Project.objects.create(name="Apollo", owner=alice)
    with django_capture_on_commit_callbacks(execute=True):
        project.status = "review"
        project.save()
        project.status = "closed"
        project.save()
    assert titles(alice) == ["Apollo"]


def test_a_rule_may_return_a_list(
    rule: Rule, alice: Any, bob: Any, django_capture_on_commit_callbacks: Any
) -> None:
    rule(Project, "created")(
        lambda p: [
            {"recipients": alice, "verb": "x", "title": "for alice", "level": "success"},
            {"recipients": [bob], "verb": "y", "title": "for bob", "url": "/p/"},
        ]
    )
    with django_capture_on_commit_callbacks(execute=True):
        Project.objects.create(name="Apollo")
    assert assert_notified(alice, title="for alice").level == "success"
    assert assert_notified(bob, title="for bob").url == "/p/"


def test_none_notifies_no_one(
    rule: Rule, alice: Any, django_capture_on_commit_callbacks: Any
) -> None:
    rule(Project, "created")(lambda p: None)
    with django_capture_on_commit_callbacks(execute=True):
        Project.objects.create(name="Apollo", owner=alice)
    assert Notification.objects.count() == 0


# failures never break the save


def test_a_rule_that_raises_does_not_break_the_save(
    rule: Rule,
    alice: Any,
    caplog: pytest.LogCaptureFixture,
    django_capture_on_commit_callbacks: Any,
) -> None:
    @rule(Project, "created")
    def broken(project: Project) -> None:
        raise RuntimeError("bug in the rule")

    rule(Project, "created")(to_owner)  # a later rule still runs
    with (
        caplog.at_level(logging.ERROR, logger="notifications.rules"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        project = Project.objects.create(name="Apollo", owner=alice)
    assert Project.objects.filter(pk=project.pk).exists()
    assert titles(alice) == ["Apollo"]
    [record] = caplog.records
    assert "tests.test_rules.test_a_rule_that_raises_does_not_break_the_save.<locals>.broken" in (
        record.getMessage()
    )
    assert "bug in the rule" in caplog.text


def test_a_failure_in_change_detection_does_not_break_the_save(
    rule: Rule,
    alice: Any,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    rule(Project, "updated")(to_owner)
    project = Project.objects.create(name="Apollo", owner=alice)

    def broken(*args: Any) -> None:
        raise ValueError("cannot compare")

    monkeypatch.setattr(rules, "_changes", broken)
    project.name = "Saved anyway"
    project.save()
    assert Project.objects.get().name == "Saved anyway"
    assert "_on_post_save failed" in caplog.text


@pytest.mark.parametrize(
    "result",
    [
        "a string",
        {"verb": "no recipients"},
        {"recipients": None, "verb": "bad recipients"},
        {"recipients": [], "verb": "x", "colour": "red"},
        {"recipients": [], "verb": "x", "url": "javascript:alert(1)"},
    ],
)
def test_bad_results_are_logged_not_raised(
    rule: Rule,
    alice: Any,
    result: Any,
    caplog: pytest.LogCaptureFixture,
    django_capture_on_commit_callbacks: Any,
) -> None:
    rule(Project, "created")(lambda p: result)
    with django_capture_on_commit_callbacks(execute=True):
        Project.objects.create(name="Apollo", owner=alice)
    assert "failed" in caplog.text
    assert Project.objects.count() == 1


def test_a_rule_is_all_or_nothing(
    rule: Rule, alice: Any, bob: Any, django_capture_on_commit_callbacks: Any
) -> None:
    rule(Project, "created")(
        lambda p: [
            {"recipients": alice, "verb": "x", "title": "first"},
            {"recipients": bob, "verb": "x", "level": "fatal"},
        ]
    )
    with django_capture_on_commit_callbacks(execute=True):
        Project.objects.create(name="Apollo")
    assert titles(alice) == []


def test_a_raising_when_is_logged(
    rule: Rule,
    alice: Any,
    caplog: pytest.LogCaptureFixture,
    django_capture_on_commit_callbacks: Any,
) -> None:
    rule(Project, "created", when=lambda p: 1 / 0)(to_owner)
    with django_capture_on_commit_callbacks(execute=True):
        Project.objects.create(name="Apollo", owner=alice)
    assert "ZeroDivisionError" in caplog.text


# cost


def _rule_queries(n_members: int, django_capture_on_commit_callbacks: Any) -> int:
    owner = make_user(f"owner{n_members}")
    members = User.objects.bulk_create(
        [User(username=f"m{n_members}-{i}", password="!") for i in range(n_members)]
    )
    project = Project.objects.create(name=f"P{n_members}", owner=owner)
    project.members.add(*members)
    project = Project.objects.get(pk=project.pk)
    project.status = "closed"
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        project.save()
    with CaptureQueriesContext(connection) as queries:
        for callback in callbacks:
            callback()
    assert Notification.objects.filter(recipient__in=members).count() == n_members
    return len(queries)


def test_query_count_of_a_rule_is_constant_in_the_number_of_recipients(
    rule: Rule, db: None, django_capture_on_commit_callbacks: Any
) -> None:
    rule(Project, "updated", fields=["status"])(
        lambda p, changes: {
            "recipients": p.members.all(),
            "verb": "closed",
            "actor": p.owner,
            "target": p,
            "title": f"{p} closed",
        }
    )
    _rule_queries(1, django_capture_on_commit_callbacks)  # warms the ContentType cache
    ten = _rule_queries(10, django_capture_on_commit_callbacks)
    hundred = _rule_queries(100, django_capture_on_commit_callbacks)
    assert ten == hundred
    # 10, plus the in_app and the email preference reads and the email digest queue's insert.
    assert ten <= 13


# registration


def test_notify_on_refuses_bad_arguments(db: None) -> None:
    def handler(*args: Any) -> None:
        return None

    with pytest.raises(ValueError, match="event"):
        notify_on(Project, "saved")(handler)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="model class"):
        notify_on("testapp.Project", "created")(handler)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="abstract"):
        notify_on(AbstractUser, "created")(handler)
    with pytest.raises(ValueError, match="no field"):
        notify_on(Project, "updated", fields=["nope"])(handler)
    with pytest.raises(TypeError, match="list"):
        notify_on(Project, "updated", fields="status")(handler)
    with pytest.raises(ValueError, match="fields only applies"):
        notify_on(Project, "created", fields=["status"])(handler)
    with pytest.raises(ValueError, match="many-to-many"):
        notify_on(Project, "m2m_added")(handler)
    with pytest.raises(ValueError, match="not a many-to-many"):
        notify_on(Project, "m2m_added", fields=["status"])(handler)
    with pytest.raises(ValueError, match="not a concrete field"):
        notify_on(Project, "updated", fields=["members"])(handler)
    assert registry.rules(Project) == []


def test_the_decorator_returns_the_handler_and_names_the_rule(rule: Rule) -> None:
    def handler(article: Article) -> None:
        return None

    assert rule(Article, "created")(handler) is handler
    [registered] = registry.rules(Article)
    assert (
        registered.name
        == "tests.test_rules.test_the_decorator_returns_the_handler_and_names_the_rule.<locals>.handler"
    )


def test_rules_are_discovered_in_the_apps_notifications_modules() -> None:
    # project/demo/notifications.py was imported at start-up by AppConfig.ready().
    names = {r.name for r in registry.rules(Comment)} | {r.name for r in registry.rules(Post)}
    assert "project.demo.notifications.comment_posted" in names
    assert "project.demo.notifications.status_changed" in names


def test_autodiscover_imports_each_apps_notifications_module(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    imported: list[str] = []
    monkeypatch.setattr(
        "django.utils.module_loading.autodiscover_modules", lambda *names: imported.extend(names)
    )
    rules.autodiscover()
    assert imported == ["notifications"]


# the demo app's rules


@pytest.fixture
def post(alice: Any) -> Post:
    return Post.objects.create(author=alice, title="Release notes")


def test_demo_comment_notifies_the_posts_author(
    post: Post, alice: Any, bob: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        comment = Comment.objects.create(post=post, author=bob, body="Looks good")
    n = assert_notified(alice, verb="commented")
    assert n.title == "bob commented on “Release notes”"
    assert (n.actor, n.target, n.action_object) == (bob, post, comment)
    assert n.url == f"/demo/posts/{post.pk}/"
    assert_not_notified(bob)


def test_demo_commenting_on_your_own_post_notifies_no_one(
    post: Post, alice: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        Comment.objects.create(post=post, author=alice, body="Me again")
    assert Notification.objects.count() == 0


def test_demo_status_change_notifies_the_followers(
    post: Post, alice: Any, bob: Any, django_capture_on_commit_callbacks: Any
) -> None:
    carol = make_user("carol")
    post.followers.add(bob, carol)
    with django_capture_on_commit_callbacks(execute=True):
        post.status = Post.Status.PUBLISHED
        post.save()
    for follower in (bob, carol):
        n = assert_notified(follower, verb="changed the status of")
        assert n.title == "“Release notes” is now Published"
        assert n.level == "success"
        assert n.data == {"old": "draft", "new": "published"}
    assert_not_notified(alice, verb="changed the status of")


def test_demo_follow_notifies_the_author(
    post: Post, alice: Any, bob: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        post.followers.add(bob)
    assert assert_notified(alice, verb="followed").title == "bob now follows “Release notes”"


def test_demo_views_trigger_the_rules_live(
    client: Any, post: Post, alice: Any, bob: Any, sent: list[Any]
) -> None:
    # Views run in autocommit here only if the test's transaction lets them: use the callbacks.
    client.force_login(bob)
    from django.test import TestCase

    with TestCase.captureOnCommitCallbacks(execute=True):
        assert client.post(f"/demo/posts/{post.pk}/follow/").status_code == 302
        assert client.post(f"/demo/posts/{post.pk}/comment/", {"body": "Nice"}).status_code == 302
    assert [n.verb for n in Notification.objects.for_user(alice).order_by("seq")] == [
        "followed",
        "commented",
    ]
    client.force_login(alice)
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = client.post(f"/demo/posts/{post.pk}/status/", {"status": "published"})
    assert response.status_code == 302
    assert_notified(bob, verb="changed the status of")
    groups = [group for batch in sent for group, _ in batch]
    assert groups.count(protocol.user_group(alice.pk)) == 2
    assert groups.count(protocol.user_group(bob.pk)) == 1


def test_demo_pages_render(client: Any, post: Post, alice: Any, bob: Any) -> None:
    client.force_login(bob)
    Comment.objects.create(post=post, author=alice, body="First")
    assert b"Release notes" in client.get("/demo/posts/").content
    page = client.get(f"/demo/posts/{post.pk}/")
    assert b"First" in page.content and b"Follow" in page.content
    response = client.post("/demo/posts/", {"title": "Mine", "body": ""})
    assert response.status_code == 302
    assert Post.objects.filter(author=bob, title="Mine").exists()


def test_demo_bad_input_is_refused_without_error(client: Any, post: Post, bob: Any) -> None:
    client.force_login(bob)
    assert client.post(f"/demo/posts/{post.pk}/comment/", {"body": ""}).status_code == 302
    assert client.post(f"/demo/posts/{post.pk}/status/", {"status": "published"}).status_code == 302
    post.refresh_from_db()
    assert post.status == Post.Status.DRAFT  # only the author changes it
    assert client.post("/demo/posts/999999/comment/", {"body": "x"}).status_code == 404
    assert client.get(f"/demo/posts/{post.pk}/status/").status_code == 405
    assert Comment.objects.count() == 0


@pytest.mark.django_db(transaction=True)
async def test_demo_comment_reaches_the_authors_open_socket(settings: Any) -> None:
    """End to end: a comment posted through the demo view arrives live on the author's socket."""
    from asgiref.sync import sync_to_async
    from django.test import Client

    from notifications.testing import connect, receive_frame
    from project.asgi import application

    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    alice = await sync_to_async(make_user)("alice")
    bob = await sync_to_async(make_user)("bob")
    post = await Post.objects.acreate(author=alice, title="Release notes")
    socket, welcome = await connect(application, alice, origin="http://testserver")
    try:
        assert welcome["unread_count"] == 0
        client = Client()
        await sync_to_async(client.force_login)(bob)
        response = await sync_to_async(client.post)(
            f"/demo/posts/{post.pk}/comment/", {"body": "Looks good"}
        )
        assert response.status_code == 302
        frame = await receive_frame(socket)
        assert frame["type"] == "notification"
        assert frame["notification"]["title"] == "bob commented on “Release notes”"
        assert frame["notification"]["actor"]["display"] == "bob"
    finally:
        await socket.disconnect()


def test_the_old_module_name_works_with_a_deprecation_warning() -> None:
    import importlib
    import sys

    sys.modules.pop("notifications.hooks", None)
    with pytest.warns(DeprecationWarning, match=r"notifications\.rules"):
        hooks = importlib.import_module("notifications.hooks")
    assert hooks.notify_on is notify_on
    assert hooks.registry is registry
    assert hooks.Registry is rules.Registry  # every name, through the module's __getattr__
