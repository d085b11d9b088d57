"""Setting Web Push up: the WEB_PUSH setting, its check, the key command, the template tags, the admin,
the tasks framework backend, and the first end-to-end promise (a closed tab gets a push)."""

from __future__ import annotations

from collections.abc import Iterator
from io import StringIO
from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.checks import Tags, run_checks
from django.core.management import call_command
from django.template import Context, Template
from django.test import Client, RequestFactory

from notifications import checks, notify, presence
from notifications.conf import app_settings, load, problems
from notifications.exceptions import NotificationsImproperlyConfigured
from notifications.models import PushSubscription
from tests import servers
from tests.conftest import THREAD_TASKS, make_user
from tests.push_service import LocalPushService, local_push_service
from tests.test_presence import wait_until
from tests.test_webpush import VAPID, vapid_pair

GOOD = {**VAPID, "SUBJECT": "mailto:ops@example.com"}


# The setting.


def test_web_push_is_off_by_default_and_with_missing_keys(settings: Any) -> None:
    settings.NOTIFICATIONS = {}
    assert app_settings.WEB_PUSH is None
    settings.NOTIFICATIONS = {"WEB_PUSH": {"VAPID_PUBLIC_KEY": VAPID["VAPID_PUBLIC_KEY"]}}
    assert app_settings.WEB_PUSH is None


def test_a_complete_web_push_setting_is_typed_with_defaults(settings: Any) -> None:
    settings.NOTIFICATIONS = {"WEB_PUSH": {**GOOD, "TIMEOUT": 2}}
    config = app_settings.WEB_PUSH
    assert config is not None
    assert (config.SUBJECT, config.TIMEOUT, config.TTL, config.MAX_ATTEMPTS) == (
        "mailto:ops@example.com",
        2.0,
        86400,
        3,
    )


@pytest.mark.parametrize(
    ("web_push", "fragment"),
    [
        ("keys", "None or a dict"),
        ({**GOOD, "TIMEOUT": 0}, "'TIMEOUT' must be a positive number"),
        ({**GOOD, "MAX_ATTEMPTS": 1.5}, "'MAX_ATTEMPTS' must be a positive integer"),
        ({**GOOD, "VAPID": "x"}, "unknown keys ['VAPID']"),
        ({**GOOD, "SUBJECT": "ops@example.com"}, "SUBJECT must start with"),
        ({**GOOD, "VAPID_PRIVATE_KEY": "not-a-key"}, "VAPID_PRIVATE_KEY is not"),
        ({**GOOD, "VAPID_PUBLIC_KEY": vapid_pair()["VAPID_PUBLIC_KEY"]}, "is not the public key"),
        ({**GOOD, "ICON": 3}, "'ICON' must be a string"),
    ],
)
def test_a_broken_web_push_setting_is_an_error_that_never_shows_the_key(
    settings: Any, web_push: Any, fragment: str
) -> None:
    settings.NOTIFICATIONS = {"WEB_PUSH": web_push}
    [problem] = problems()
    assert problem.id == "notifications.E004" and fragment in problem.msg
    assert VAPID["VAPID_PRIVATE_KEY"] not in problem.msg + problem.hint
    with pytest.raises(NotificationsImproperlyConfigured):
        load()


def test_backends_must_be_dotted_paths(settings: Any) -> None:
    settings.NOTIFICATIONS = {"BACKENDS": "notifications.backends.push.PushBackend"}
    [problem] = problems()
    assert "BACKENDS" in problem.msg and "dotted paths" in problem.msg


# The check.


def test_w010_when_web_push_is_asked_for_without_its_keys(settings: Any) -> None:
    settings.NOTIFICATIONS = {"WEB_PUSH": {"SUBJECT": "mailto:ops@example.com"}}
    [warning] = checks.check_web_push()
    assert warning.id == "notifications.W010"
    assert "VAPID_PUBLIC_KEY, VAPID_PRIVATE_KEY" in warning.msg
    assert "notifications_vapid_keys" in warning.hint
    settings.NOTIFICATIONS = {"BACKENDS": ["notifications.backends.push.PushBackend"]}
    assert [m.id for m in checks.check_web_push()] == ["notifications.W010"]


def test_no_w010_when_push_is_configured_or_never_mentioned(settings: Any) -> None:
    settings.NOTIFICATIONS = {"WEB_PUSH": GOOD}
    assert checks.check_web_push() == []
    settings.NOTIFICATIONS = {}
    assert checks.check_web_push() == []
    settings.NOTIFICATIONS = {"WEB_PUSH": "broken"}
    assert checks.check_web_push() == []  # E004 reports it


@pytest.mark.parametrize("tasks", ["default", "explicit"])
def test_w011_when_push_is_on_and_the_tasks_backend_cannot_retry(settings: Any, tasks: str) -> None:
    settings.NOTIFICATIONS = {"WEB_PUSH": GOOD}
    if tasks == "explicit":
        settings.TASKS = {"default": {"BACKEND": immediate_backend()}}
    [warning] = checks.check_push_tasks()
    assert warning.id == "notifications.W011"
    assert "ImmediateBackend cannot run a task later" in warning.msg
    assert "ThreadBackend" in warning.hint
    assert warning in run_checks(tags=[Tags.compatibility])


def test_no_w011_with_a_backend_that_defers_or_without_push(settings: Any) -> None:
    settings.NOTIFICATIONS = {"WEB_PUSH": GOOD}
    settings.TASKS = THREAD_TASKS
    assert checks.check_push_tasks() == []
    del settings.TASKS
    settings.NOTIFICATIONS = {}
    assert checks.check_push_tasks() == []
    backends = ["notifications.backends.live.LiveBackend"]
    settings.NOTIFICATIONS = {"WEB_PUSH": GOOD, "BACKENDS": backends}
    assert checks.check_push_tasks() == []


def immediate_backend() -> str:
    from notifications.compat_tasks import ImmediateBackend

    return f"{ImmediateBackend.__module__}.{ImmediateBackend.__qualname__}"


# The template tags.


def render(source: str, user: Any = None) -> str:
    request = RequestFactory().get("/")
    request.user = user or AnonymousUser()
    return Template("{% load notifications %}" + source).render(Context({"request": request}))


@pytest.mark.django_db
def test_with_keys_the_page_loads_push_js_and_the_bell_carries_the_public_key(
    settings: Any, alice: Any
) -> None:
    settings.NOTIFICATIONS = {"WEB_PUSH": GOOD}
    html = render("{% notifications_script %}")
    assert '<script type="module" src="/static/notifications/js/push.js"></script>' in html
    nonced = render('{% notifications_script nonce="n1" %}')
    assert (
        '<script type="module" src="/static/notifications/js/push.js" nonce="n1"></script>'
        in nonced
    )
    bell = render("{% notifications_bell %}", alice)
    assert f'data-vapid-public-key="{VAPID["VAPID_PUBLIC_KEY"]}"' in bell
    assert 'data-push-subscriptions-url="/notifications/api/push-subscriptions/"' in bell
    assert 'data-service-worker-url="/notifications/sw.js"' in bell
    assert "data-notifications-enable-push" in bell
    assert VAPID["VAPID_PRIVATE_KEY"] not in html + bell


@pytest.mark.django_db
def test_without_keys_nothing_of_push_reaches_the_page(settings: Any, alice: Any) -> None:
    settings.NOTIFICATIONS = {}
    assert "push.js" not in render("{% notifications_script %}")
    assert "data-vapid-public-key" not in render("{% notifications_bell %}", alice)


# The admin.


@pytest.fixture
def admin_client(client: Client, db: None) -> Client:
    from django.contrib.auth import get_user_model

    client.force_login(get_user_model().objects.create_superuser("root", "r@example.com", "root"))
    return client


@pytest.fixture
def service() -> Iterator[LocalPushService]:
    with local_push_service() as service:
        yield service


CHANGELIST = "/admin/notifications/pushsubscription/"


@pytest.mark.django_db(transaction=True)
def test_admin_lists_subscriptions_per_user_and_sends_a_test_push(
    settings: Any, admin_client: Client, service: LocalPushService
) -> None:
    settings.NOTIFICATIONS = {"WEB_PUSH": GOOD}
    alice = make_user("alice")
    browser = service.browser("alice")
    subscription = PushSubscription.objects.create(
        user=alice,
        user_agent="Mozilla/5.0 (X11) AppleWebKit/537.36 Chrome/130.0 Safari/537.36 Edg/130.0",
        **browser.fields(),
    )
    page = admin_client.get(CHANGELIST).content.decode()
    assert "alice" in page and "Edge" in page
    assert admin_client.get(CHANGELIST + "?q=alice").status_code == 200
    response = admin_client.post(
        CHANGELIST, {"action": "send_test_push", "_selected_action": [subscription.pk]}, follow=True
    )
    assert "Test push queued for 1 subscription" in response.content.decode()
    message = service.next_message()
    assert message.payload["title"] == "Test notification"
    assert message.payload["tag"] == "notifications-test"
    subscription.refresh_from_db()
    assert subscription.success_count == 1 and subscription.last_success_at is not None


@pytest.mark.django_db
def test_admin_test_push_says_when_push_is_off(settings: Any, admin_client: Client) -> None:
    settings.NOTIFICATIONS = {}
    alice = make_user("alice")
    subscription = PushSubscription.objects.create(
        user=alice, endpoint="https://push.example.com/x", p256dh="x", auth="y"
    )
    response = admin_client.post(
        CHANGELIST, {"action": "send_test_push", "_selected_action": [subscription.pk]}, follow=True
    )
    assert "Web Push is off" in response.content.decode()
    assert admin_client.get(CHANGELIST + "add/").status_code == 403  # browsers register themselves


# The command.


def test_vapid_keys_command_prints_a_setting_to_paste(settings: Any) -> None:
    out = StringIO()
    call_command("notifications_vapid_keys", stdout=out)
    namespace: dict[str, Any] = {}
    exec(out.getvalue(), namespace)
    settings.NOTIFICATIONS = namespace["NOTIFICATIONS"]
    assert app_settings.WEB_PUSH is not None


# Done when: a user who enabled desktop notifications, then closed every tab, gets a push.


@pytest.mark.redis
def test_a_user_with_a_tab_open_gets_the_frame_and_after_closing_it_a_push(
    daphne: Any, settings: Any, service: LocalPushService
) -> None:
    settings.NOTIFICATIONS = {"WEB_PUSH": GOOD}
    alice = make_user("alice")
    PushSubscription.objects.create(user=alice, **service.browser("alice").fields())
    session = daphne.login("alice", "alice")
    with servers.ws_connect(daphne, session) as ws:
        servers.recv_json(ws)
        wait_until(lambda: presence.online([alice.pk]) == {alice.pk})
        notify(alice, "commented", title="while open")
        assert servers.recv_json(ws)["notification"]["title"] == "while open"
    assert service.requests == []
    wait_until(lambda: presence.online([alice.pk]) == set())
    notify(alice, "commented", title="while closed", url="/posts/1/")
    message = service.next_message()
    assert (message.payload["title"], message.payload["url"]) == ("while closed", "/posts/1/")


def test_keys_without_the_push_extra_say_how_to_install_it(
    settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "py_vapid", None)  # as if pywebpush were not installed
    settings.NOTIFICATIONS = {"WEB_PUSH": GOOD}
    [problem] = problems()
    assert "pip install 'django-realtime-notifications[push]'" in problem.msg


@pytest.mark.django_db
def test_the_preferences_page_offers_the_desktop_column_only_with_keys(
    settings: Any, alice: Any
) -> None:
    client = Client()
    client.force_login(alice)
    categories = {"comments": {"label": "Comments", "push": True}}
    settings.NOTIFICATIONS = {"CATEGORIES": categories}
    assert 'name="push:comments"' not in client.get("/notifications/preferences/").content.decode()
    settings.NOTIFICATIONS = {"CATEGORIES": categories, "WEB_PUSH": GOOD}
    assert 'name="push:comments"' in client.get("/notifications/preferences/").content.decode()
