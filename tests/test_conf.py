"""Settings: one NOTIFICATIONS dict merged over documented defaults, typed, validated, cached, cleared
on change."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from notifications.conf import DEFAULTS, NotificationsSettings, app_settings, load
from notifications.exceptions import NotificationsError, NotificationsImproperlyConfigured


def test_defaults(settings: Any) -> None:
    settings.NOTIFICATIONS = {}
    for name, value in DEFAULTS.items():
        assert getattr(app_settings, name) == value
    assert app_settings.CHANNEL_LAYER == "default"
    assert app_settings.CATCH_UP_LIMIT == 200
    assert app_settings.MAX_IDS == 500
    assert app_settings.GROUP_REFRESH_INTERVAL is None


def test_missing_or_empty_setting_gives_the_defaults(settings: Any) -> None:
    del settings.NOTIFICATIONS
    assert DEFAULTS["CATCH_UP_LIMIT"] == app_settings.CATCH_UP_LIMIT
    settings.NOTIFICATIONS = None
    assert DEFAULTS["PAGE_SIZE"] == app_settings.PAGE_SIZE


def test_override_one_key_keeps_the_other_defaults(settings: Any) -> None:
    settings.NOTIFICATIONS = {"CATCH_UP_LIMIT": 5}
    assert app_settings.CATCH_UP_LIMIT == 5
    assert DEFAULTS["MAX_IDS"] == app_settings.MAX_IDS


def test_cache_is_cleared_on_setting_change() -> None:
    assert DEFAULTS["PAGE_SIZE"] == app_settings.PAGE_SIZE  # read, and cached
    with override_settings(NOTIFICATIONS={"PAGE_SIZE": 7}):
        assert app_settings.PAGE_SIZE == 7
        with override_settings(NOTIFICATIONS={"PAGE_SIZE": 8}):
            assert app_settings.PAGE_SIZE == 8
        assert app_settings.PAGE_SIZE == 7
    assert DEFAULTS["PAGE_SIZE"] == app_settings.PAGE_SIZE


def test_values_are_cached_between_changes(settings: Any) -> None:
    settings.NOTIFICATIONS = {"PAGE_SIZE": 3}
    assert app_settings.PAGE_SIZE == 3
    # Mutating the dict in place sends no setting_changed: the cached value stays.
    settings.NOTIFICATIONS["PAGE_SIZE"] = 4
    assert app_settings.PAGE_SIZE == 3


def test_unknown_key_is_an_error_naming_it(settings: Any) -> None:
    settings.NOTIFICATIONS = {"CATCHUP_LIMIT": 5}
    with pytest.raises(NotificationsImproperlyConfigured, match="CATCHUP_LIMIT"):
        app_settings.CATCH_UP_LIMIT  # noqa: B018


def test_the_error_is_improperly_configured(settings: Any) -> None:
    settings.NOTIFICATIONS = {"NOPE": 1}
    with pytest.raises(ImproperlyConfigured):
        app_settings.PAGE_SIZE  # noqa: B018


def test_a_broken_configuration_is_not_a_notifications_error(settings: Any) -> None:
    # `except NotificationsError` around notify() must never swallow a broken configuration.
    assert not issubclass(NotificationsImproperlyConfigured, NotificationsError)
    settings.NOTIFICATIONS = {"PAGE_SIZE": 0}
    with pytest.raises(ImproperlyConfigured):
        try:
            app_settings.PAGE_SIZE  # noqa: B018
        except NotificationsError:
            pytest.fail("caught as a NotificationsError")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"CATCH_UP_LIMIT": 0}, "'CATCH_UP_LIMIT'] must be a positive integer, not 0"),
        ({"CATCH_UP_LIMIT": "200"}, "positive integer, not '200'"),
        ({"CATCH_UP_LIMIT": 2.5}, "positive integer, not 2.5"),
        ({"PAGE_SIZE": True}, "positive integer, not True"),
        ({"PUBLISH_TIMEOUT": -1}, "'PUBLISH_TIMEOUT'] must be a positive number"),
        ({"GROUP_REFRESH_INTERVAL": False}, "must be None or a positive number, not False"),
        ({"CHANNEL_LAYER": ""}, "'CHANNEL_LAYER'] must be a non-empty string"),
        ({"CHANNEL_LAYER": None}, "non-empty string, not None"),
        # 0 would read as "no sockets" to some and "no cap" to others: None is the only "no cap".
        ({"MAX_CONNECTIONS_PER_USER": 0}, "must be None or a positive integer, not 0"),
    ],
    ids=repr,
)
def test_a_bad_value_is_an_error_naming_it(settings: Any, value: Any, message: str) -> None:
    settings.NOTIFICATIONS = value
    with pytest.raises(NotificationsImproperlyConfigured) as raised:
        app_settings.PAGE_SIZE  # noqa: B018
    assert message in str(raised.value)


def test_values_have_their_field_types(settings: Any) -> None:
    # Call sites need no int()/float(): an int given for a float setting is converted once, here.
    settings.NOTIFICATIONS = {
        "RATE_LIMIT_PER_SECOND": 3,
        "PUBLISH_TIMEOUT": 2,
        "GROUP_REFRESH_INTERVAL": 30,
        "BATCH_SIZE": 50.0,
    }
    assert type(app_settings.RATE_LIMIT_PER_SECOND) is float
    assert type(app_settings.PUBLISH_TIMEOUT) is float
    assert type(app_settings.GROUP_REFRESH_INTERVAL) is float
    assert app_settings.BATCH_SIZE == 50 and type(app_settings.BATCH_SIZE) is int


def test_max_connections_per_user_is_a_positive_integer_or_none_for_no_cap(settings: Any) -> None:
    assert app_settings.MAX_CONNECTIONS_PER_USER == 20
    settings.NOTIFICATIONS = {"MAX_CONNECTIONS_PER_USER": None}
    assert app_settings.MAX_CONNECTIONS_PER_USER is None
    settings.NOTIFICATIONS = {"MAX_CONNECTIONS_PER_USER": 3.0}
    assert app_settings.MAX_CONNECTIONS_PER_USER == 3


def test_every_default_has_a_typed_field_and_is_valid(settings: Any) -> None:
    assert [f.name for f in dataclasses.fields(NotificationsSettings)] == list(DEFAULTS)
    settings.NOTIFICATIONS = {}
    assert load() == NotificationsSettings(**DEFAULTS)


def test_the_settings_object_is_built_once_and_frozen(settings: Any) -> None:
    settings.NOTIFICATIONS = {"PAGE_SIZE": 3}
    built = load()
    assert load() is built
    with pytest.raises(dataclasses.FrozenInstanceError):
        built.PAGE_SIZE = 4  # type: ignore[misc]


def test_not_a_dict_is_an_error(settings: Any) -> None:
    settings.NOTIFICATIONS = [("PAGE_SIZE", 3)]
    with pytest.raises(NotificationsImproperlyConfigured, match="dict"):
        app_settings.PAGE_SIZE  # noqa: B018


def test_fixing_the_setting_recovers(settings: Any) -> None:
    settings.NOTIFICATIONS = {"NOPE": 1}
    with pytest.raises(NotificationsImproperlyConfigured):
        app_settings.PAGE_SIZE  # noqa: B018
    settings.NOTIFICATIONS = {"PAGE_SIZE": 9}
    assert app_settings.PAGE_SIZE == 9


def test_unknown_attribute_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="NO_SUCH"):
        app_settings.NO_SUCH  # noqa: B018
    assert not hasattr(app_settings, "no_such")
