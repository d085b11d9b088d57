"""System checks: each fires when it should, and not otherwise."""

from __future__ import annotations

import os
from types import SimpleNamespace
from typing import Any

import pytest
from django.core import mail
from django.core.checks import Error, Tags, Warning, run_checks

from notifications import checks
from notifications.conf import app_settings
from notifications.exceptions import NotificationsImproperlyConfigured
from notifications.layers import redis_channel_layer
from tests import processes

# Our checks' tags: without the model checks, which may need the database (Django 6).
OUR_TAGS = [Tags.compatibility, Tags.security]

MEMORY = {"BACKEND": "channels.layers.InMemoryChannelLayer"}
REDIS = "channels_redis.core.RedisChannelLayer"


def ids(messages: list[Any]) -> list[str]:
    return [m.id for m in messages]


@pytest.fixture
def good(settings: Any) -> Any:
    """A production-like configuration that raises nothing."""
    settings.DEBUG = False
    settings.ALLOWED_HOSTS = ["example.com"]
    settings.CHANNEL_LAYERS = {"default": redis_channel_layer("redis://127.0.0.1:6379/0")}
    settings.NOTIFICATIONS = {}
    return settings


def all_notification_checks() -> list[Any]:
    return [*checks.check_settings(), *checks.check_channel_layer(), *checks.check_security()]


def test_a_good_configuration_passes(good: Any) -> None:
    assert all_notification_checks() == []


def test_every_message_has_a_hint_and_an_app_id(settings: Any) -> None:
    settings.CHANNEL_LAYERS = {}
    settings.NOTIFICATIONS = {"CATCH_UP_LIMIT": 0}
    settings.ALLOWED_HOSTS = ["*"]
    messages = all_notification_checks()
    assert messages
    for message in messages:
        assert message.id.startswith("notifications.")
        assert message.hint


# E001: no channel layer


@pytest.mark.parametrize("layers", [{}, None, {"other": MEMORY}])
def test_e001_without_the_layer(good: Any, layers: Any) -> None:
    good.CHANNEL_LAYERS = layers
    [message] = checks.check_channel_layer()
    assert message.id == "notifications.E001" and isinstance(message, Error)


def test_e001_without_the_setting(good: Any) -> None:
    del good.CHANNEL_LAYERS
    assert ids(checks.check_channel_layer()) == ["notifications.E001"]


def test_e001_follows_the_configured_alias(good: Any) -> None:
    good.NOTIFICATIONS = {"CHANNEL_LAYER": "notifications"}
    assert ids(checks.check_channel_layer()) == ["notifications.E001"]
    good.CHANNEL_LAYERS = {"notifications": redis_channel_layer("redis://127.0.0.1:6379/0")}
    assert checks.check_channel_layer() == []


# E002 to E004: bad NOTIFICATIONS, one id per kind of failure


@pytest.mark.parametrize("value", [["CATCH_UP_LIMIT"], "PAGE_SIZE=3", 5], ids=repr)
def test_e002_notifications_is_not_a_dict(good: Any, value: Any) -> None:
    good.NOTIFICATIONS = value
    [message] = checks.check_settings()
    assert message.id == "notifications.E002" and isinstance(message, Error)
    assert "must be a dict" in message.msg


def test_e003_names_each_unknown_key(good: Any) -> None:
    good.NOTIFICATIONS = {"CATCHUP_LIMIT": 5, "PAGESIZE": 3, "PAGE_SIZE": 3}
    messages = checks.check_settings()
    assert ids(messages) == ["notifications.E003", "notifications.E003"]
    assert "'CATCHUP_LIMIT'" in messages[0].msg and "'PAGESIZE'" in messages[1].msg
    assert "CATCH_UP_LIMIT" in messages[0].hint  # the known keys


@pytest.mark.parametrize(
    "value",
    [
        {"CATCH_UP_LIMIT": 0},
        {"CATCH_UP_LIMIT": -5},
        {"CATCH_UP_LIMIT": "200"},
        {"CATCH_UP_LIMIT": 1.5},
        {"MAX_IDS": None},
        {"PAGE_SIZE": True},
        {"PUBLISH_TIMEOUT": 0.0},
        {"PUBLISH_TIMEOUT": float("nan")},
        {"GROUP_REFRESH_INTERVAL": 0},
        {"GROUP_REFRESH_INTERVAL": "60"},
        {"GROUP_REFRESH_INTERVAL": False},
        {"CHANNEL_LAYER": ""},
        {"CHANNEL_LAYER": 1},
        {"PROJECT_KEY": ""},
        {"PROJECT_KEY": 7},
        {"MAX_CONNECTIONS_PER_USER": 0},
        {"MAX_CONNECTIONS_PER_USER": -1},
        {"MAX_CONNECTIONS_PER_USER": "20"},
        {"MAX_CONNECTIONS_PER_USER": 2.5},
    ],
    ids=repr,
)
def test_e004_bad_value(good: Any, value: Any) -> None:
    good.NOTIFICATIONS = value
    [message] = checks.check_settings()
    assert message.id == "notifications.E004" and isinstance(message, Error)
    [name] = value
    assert repr(name) in message.msg and "default" in message.hint


def test_each_failure_is_reported_once_under_its_id(good: Any) -> None:
    good.NOTIFICATIONS = {"NOPE": 1, "MAX_IDS": 0, "PAGE_SIZE": "x"}
    assert ids(checks.check_settings()) == [
        "notifications.E003",
        "notifications.E004",
        "notifications.E004",
    ]


@pytest.mark.parametrize(
    "value",
    [
        {},
        None,
        {"CATCH_UP_LIMIT": 1},
        {"CATCH_UP_LIMIT": 200.0},
        {"PUBLISH_TIMEOUT": 0.5},
        {"RATE_LIMIT_PER_SECOND": 3},
        {"GROUP_REFRESH_INTERVAL": None},
        {"GROUP_REFRESH_INTERVAL": 30},
        {"PROJECT_KEY": "shop-eu"},
        {"CHANNEL_LAYER": "default"},
    ],
    ids=repr,
)
def test_settings_checks_quiet_for_good_values(good: Any, value: Any) -> None:
    good.NOTIFICATIONS = value
    assert checks.check_settings() == []


def test_the_checks_and_the_settings_object_agree(good: Any) -> None:
    # One set of rules: whatever the checks accept, app_settings accepts, and the reverse.
    good.NOTIFICATIONS = {"PAGE_SIZE": 0}
    assert checks.check_settings()
    with pytest.raises(NotificationsImproperlyConfigured, match="PAGE_SIZE"):
        app_settings.PAGE_SIZE  # noqa: B018
    good.NOTIFICATIONS = {"PAGE_SIZE": 5}
    assert checks.check_settings() == []
    assert app_settings.PAGE_SIZE == 5


@pytest.mark.parametrize(
    ("value", "expected"),
    [({"NO_SUCH_KEY": 1}, "notifications.E003"), ({"MAX_IDS": 0}, "notifications.E004")],
)
def test_bad_notifications_setting_is_reported_not_raised_by_run_checks(
    good: Any, value: Any, expected: str
) -> None:
    # Every check reads NOTIFICATIONS: a broken one must give its error, not a traceback.
    good.NOTIFICATIONS = value
    messages = run_checks(tags=OUR_TAGS)
    assert expected in ids(messages)


# W001: in-memory layer with DEBUG = False


@pytest.fixture
def outside_tests(monkeypatch: pytest.MonkeyPatch) -> None:
    """As in `manage.py check` or a server: no test environment (mail.outbox) set up."""
    monkeypatch.delattr(mail, "outbox")


def test_w001_in_memory_layer_without_debug(good: Any, outside_tests: None) -> None:
    good.CHANNEL_LAYERS = {"default": MEMORY}
    [message] = checks.check_channel_layer()
    assert message.id == "notifications.W001" and isinstance(message, Warning)
    assert "only when the server polls the database (every 1.5 s)" in message.msg
    assert "read or deleted changes made there do not reach them" in message.msg


def test_w001_quiet_under_the_test_runner(good: Any) -> None:
    # Tests run with DEBUG = False in one process: the in-memory layer is right there.
    good.CHANNEL_LAYERS = {"default": MEMORY}
    assert checks.check_channel_layer() == []


def test_w001_quiet_with_debug(good: Any, outside_tests: None) -> None:
    good.CHANNEL_LAYERS = {"default": MEMORY}
    good.DEBUG = True
    assert checks.check_channel_layer() == []


def test_w001_quiet_with_redis(good: Any, outside_tests: None) -> None:
    assert "notifications.W001" not in ids(checks.check_channel_layer())


# W002: sockets re-join less often than group_expiry


@pytest.mark.parametrize(("refresh", "expiry"), [(100, 100), (200, 100), (90000, None)])
def test_w002_refresh_not_below_group_expiry(good: Any, refresh: int, expiry: int | None) -> None:
    config = redis_channel_layer("redis://127.0.0.1:6379/0")
    if expiry is None:
        del config["CONFIG"]["group_expiry"]  # the layer's default, 86400
    else:
        config["CONFIG"]["group_expiry"] = expiry
    good.CHANNEL_LAYERS = {"default": config}
    good.NOTIFICATIONS = {"GROUP_REFRESH_INTERVAL": refresh}
    assert ids(checks.check_channel_layer()) == ["notifications.W002"]


@pytest.mark.parametrize(("refresh", "expiry"), [(99, 100), (None, 100), (None, 10)])
def test_w002_quiet_when_refresh_is_below_group_expiry(
    good: Any, refresh: int | None, expiry: int
) -> None:
    config = redis_channel_layer("redis://127.0.0.1:6379/0", group_expiry=expiry)
    good.CHANNEL_LAYERS = {"default": config}
    good.NOTIFICATIONS = {"GROUP_REFRESH_INTERVAL": refresh}
    assert checks.check_channel_layer() == []


# W008: a long group_expiry when the layer carries delivery


def test_w007_long_group_expiry_when_the_layer_carries_delivery(good: Any) -> None:
    config = redis_channel_layer("redis://127.0.0.1:6379/0")
    del config["CONFIG"]["group_expiry"]  # the layer's default, 86400
    good.CHANNEL_LAYERS = {"default": config}
    good.NOTIFICATIONS = {"TRANSPORT": "layer"}
    [message] = checks.check_channel_layer()
    assert message.id == "notifications.W008" and "86400 s" in message.msg


@pytest.mark.parametrize(
    ("transport", "expiry"), [("layer", None), ("layer", 900), ("auto", 86400)]
)
def test_w007_quiet_with_a_short_expiry_or_the_fanout(
    good: Any, transport: str, expiry: int | None
) -> None:
    config = redis_channel_layer("redis://127.0.0.1:6379/0")  # five minutes by default
    if expiry is not None:
        config["CONFIG"]["group_expiry"] = expiry
    good.CHANNEL_LAYERS = {"default": config}
    good.NOTIFICATIONS = {"TRANSPORT": transport}
    assert checks.check_channel_layer() == []


# W003: Redis hosts without a socket_timeout above the blocking read


@pytest.mark.parametrize(
    "hosts",
    [
        ["redis://127.0.0.1:6379/0"],
        [("127.0.0.1", 6379)],
        [{"address": "redis://127.0.0.1:6379/0"}],
        [{"address": "redis://127.0.0.1:6379/0", "socket_timeout": 5}],
        [{"address": "redis://a", "socket_timeout": 30}, {"address": "redis://b"}],
        None,
    ],
    ids=repr,
)
def test_w003_redis_host_without_socket_timeout(good: Any, hosts: Any) -> None:
    config: dict[str, Any] = {"capacity": 10_000}
    if hosts is not None:
        config["hosts"] = hosts
    good.CHANNEL_LAYERS = {"default": {"BACKEND": REDIS, "CONFIG": config}}
    assert ids(checks.check_channel_layer()) == ["notifications.W003"]


def test_w003_quiet_with_socket_timeouts(good: Any) -> None:
    hosts = [
        {"address": "redis://a", "socket_timeout": 30},
        {"address": "redis://b", "socket_timeout": 6},
    ]
    good.CHANNEL_LAYERS = {
        "default": {"BACKEND": REDIS, "CONFIG": {"hosts": hosts, "capacity": 10_000}}
    }
    assert checks.check_channel_layer() == []


def test_w003_and_w004_only_for_channels_redis(good: Any) -> None:
    good.CHANNEL_LAYERS = {"default": {"BACKEND": "myproject.layers.Custom", "CONFIG": {}}}
    assert checks.check_channel_layer() == []


# W004: low capacity


@pytest.mark.parametrize("capacity", [100, 999, None])
def test_w004_low_capacity(good: Any, capacity: int | None) -> None:
    config = redis_channel_layer("redis://127.0.0.1:6379/0")
    if capacity is None:
        del config["CONFIG"]["capacity"]  # channels-redis' default, 100
    else:
        config["CONFIG"]["capacity"] = capacity
    good.CHANNEL_LAYERS = {"default": config}
    assert ids(checks.check_channel_layer()) == ["notifications.W004"]


@pytest.mark.parametrize("capacity", [1000, 10_000])
def test_w004_quiet_with_enough_capacity(good: Any, capacity: int) -> None:
    good.CHANNEL_LAYERS = {"default": redis_channel_layer("redis://x", capacity=capacity)}
    assert checks.check_channel_layer() == []


# W005: ALLOWED_HOSTS = ["*"]


def test_w005_wildcard_allowed_hosts(good: Any) -> None:
    good.ALLOWED_HOSTS = ["example.com", "*"]
    assert ids(checks.check_security()) == ["notifications.W005"]


def test_w005_quiet_in_debug(good: Any) -> None:
    good.ALLOWED_HOSTS = ["*"]
    good.DEBUG = True
    assert checks.check_security() == []


@pytest.mark.parametrize("hosts", [["example.com"], [".example.com"], []])
def test_w005_quiet_with_named_hosts(good: Any, hosts: list[str]) -> None:
    good.ALLOWED_HOSTS = hosts
    assert checks.check_security() == []


# W006: persistent database connections under ASGI


def fake_settings(**databases: dict[str, Any]) -> SimpleNamespace:
    return SimpleNamespace(
        DEBUG=False,
        ALLOWED_HOSTS=["example.com"],
        ASGI_APPLICATION="project.asgi.application",
        DATABASES=databases,
    )


@pytest.mark.parametrize("max_age", [60, None])  # None: connections never close
def test_w006_conn_max_age_under_asgi(monkeypatch: pytest.MonkeyPatch, max_age: int | None) -> None:
    monkeypatch.setattr(
        checks,
        "settings",
        fake_settings(default={"CONN_MAX_AGE": 0}, replica={"CONN_MAX_AGE": max_age}),
    )
    [message] = checks.check_security()
    assert message.id == "notifications.W006" and "replica" in message.msg


@pytest.mark.parametrize(
    "db",
    [{}, {"CONN_MAX_AGE": 0}, {"CONN_MAX_AGE": 60, "OPTIONS": {"pool": True}}],
    ids=repr,
)
def test_w006_quiet_without_persistent_connections(
    monkeypatch: pytest.MonkeyPatch, db: dict[str, Any]
) -> None:
    monkeypatch.setattr(checks, "settings", fake_settings(default=db))
    assert checks.check_security() == []


def test_w006_quiet_without_asgi(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = fake_settings(default={"CONN_MAX_AGE": 60})
    fake.ASGI_APPLICATION = None
    monkeypatch.setattr(checks, "settings", fake)
    assert checks.check_security() == []


# Registration


def test_checks_are_registered(good: Any) -> None:
    good.CHANNEL_LAYERS = {}
    good.ALLOWED_HOSTS = ["*"]
    found = ids(run_checks(tags=OUR_TAGS))
    assert "notifications.E001" in found
    assert "notifications.W005" in found


# Nothing imports redis unless the configured layer is a Redis one


@pytest.mark.parametrize("settings_module", ["tests.settings", "project.settings"])
def test_an_in_memory_layer_never_imports_redis(settings_module: str) -> None:
    # Start-up and checks, the ASGI application (consumer, transport), the URLconf (views), and a
    # notification created, delivered and listed over HTTP.
    script = (
        "import sys, django\n"
        "from django.conf import settings\n"
        "from django.core.management import call_command\n"
        "from django.utils.module_loading import import_string\n"
        "django.setup()\n"
        "call_command('check')\n"
        "import_string(settings.ASGI_APPLICATION)\n"
        "call_command('migrate', verbosity=0)\n"
        "from django.contrib.auth import get_user_model\n"
        "from django.test import Client\n"
        "from notifications import notify\n"
        "user = get_user_model().objects.create(username='alice')\n"
        "notify(user, 'said hello')\n"
        "client = Client(HTTP_HOST='localhost')\n"
        "client.force_login(user)\n"
        "assert client.get('/notifications/api/').json()['results'], 'not listed'\n"
        "print('redis' in sys.modules, 'channels_redis' in sys.modules)\n"
    )
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("NOTIFICATIONS_TEST_", "REDIS_", "DJANGO_"))
    }
    env |= {
        "DJANGO_SETTINGS_MODULE": settings_module,
        "DJANGO_DEBUG": "0",
        "DATABASE_URL": "sqlite://:memory:",
    }
    done = processes.run_script(script, env, timeout=60)
    assert done.stdout.splitlines()[-1] == "False False"
    # Outside the test runner, W001 is reported for this very configuration.
    assert "notifications.W001" in done.stderr
