"""Settings: one NOTIFICATIONS dict merged over documented defaults, cached, cleared on change."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from notifications.conf import DEFAULTS, app_settings
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
    assert issubclass(NotificationsImproperlyConfigured, NotificationsError)


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
