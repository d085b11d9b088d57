"""The wire format: group names, client frame validation, the notification object, server frames."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from channels.layers import BaseChannelLayer
from django.contrib.contenttypes.models import ContentType

from notifications import api, notify, protocol
from notifications.protocol import Command, ProtocolError, decode_client_frame
from tests.testapp.models import Article

GROUP_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")


# Group names


@pytest.mark.parametrize(
    "pk",
    [
        1,
        0,
        -7,
        2**63 - 1,
        uuid.UUID("12345678-1234-5678-1234-567812345678"),
        "alice",
        "a b",
        "ünïcödé",
        "日本",
        "a/b:c",
        "x" * 200,
        "",
        "a!b",
        "user@example.com",
        "\x00",
    ],
    ids=repr,
)
def test_group_names_are_valid_for_channel_layers(pk: Any) -> None:
    name = protocol.user_group(pk)
    assert GROUP_NAME.match(name), name
    assert len(name) < 100
    assert BaseChannelLayer().require_valid_group_name(name)


def test_group_names_are_stable_and_readable_for_plain_pks() -> None:
    tag = protocol.user_group(1).split(".")[1]
    assert protocol.user_group(42) == f"notifications.{tag}.user.42"
    assert protocol.user_group("42") == protocol.user_group(42)
    u = uuid.UUID("12345678-1234-5678-1234-567812345678")
    assert protocol.user_group(u) == f"notifications.{tag}.user.{u}"
    assert protocol.user_group("a b") == protocol.user_group("a b")


@pytest.mark.parametrize(
    ("a", "b"), [("a b", "a_b"), ("a b", "a-b"), ("ü", "u"), ("x" * 200, "x" * 201), ("a/b", "a.b")]
)
def test_distinct_pks_get_distinct_groups(a: str, b: str) -> None:
    assert protocol.user_group(a) != protocol.user_group(b)


def test_all_groups_are_in_the_apps_namespace() -> None:
    for pk in (1, "a b", uuid.uuid4()):
        assert re.fullmatch(
            r"notifications\.[0-9a-f]{12}\.user\.[A-Za-z0-9_.-]+", protocol.user_group(pk)
        )


def test_group_names_carry_a_key_of_the_project_not_the_secret(settings: Any) -> None:
    settings.SECRET_KEY = "project-one"
    one = protocol.user_group(3)
    settings.SECRET_KEY = "project-two"
    two = protocol.user_group(3)
    assert one != two
    assert "project" not in one + two  # a digest: the secret never reaches Redis
    settings.NOTIFICATIONS = {"PROJECT_KEY": "shared"}
    shared = protocol.user_group(3)
    assert shared not in {one, two}
    settings.SECRET_KEY = "project-one"
    assert protocol.user_group(3) == shared  # the setting wins over SECRET_KEY


def test_the_longest_group_name_is_under_100_characters(settings: Any) -> None:
    settings.NOTIFICATIONS = {"PROJECT_KEY": "k" * 1000}
    assert len(protocol.user_group("9" * 60)) < 100
    assert len(protocol.user_group("9" * 61)) < 100


# Client frames


@pytest.mark.parametrize(
    ("text", "command"),
    [
        ('{"type": "ping"}', Command("ping")),
        ('{"type": "mark_all_read"}', Command("mark_all_read")),
        ('{"type": "mark_read", "ids": [3, 1, 3]}', Command("mark_read", ids=(3, 1))),
        ('{"type": "delete", "ids": [5]}', Command("delete", ids=(5,))),
        ('{"type": "sync", "since": 0}', Command("sync", since=0)),
        ('{"type": "sync", "since": 12}', Command("sync", since=12)),
        ('{"type": "ping", "extra": "ignored"}', Command("ping")),
    ],
)
def test_valid_client_frames(text: str, command: Command) -> None:
    assert decode_client_frame(text, max_ids=500) == command


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("not json", protocol.INVALID_JSON),
        ("", protocol.INVALID_JSON),
        ("{", protocol.INVALID_JSON),
        ("[]", protocol.INVALID_JSON),
        ("null", protocol.INVALID_JSON),
        ('"ping"', protocol.INVALID_JSON),
        ("42", protocol.INVALID_JSON),
        ("[" * 5000 + "]" * 5000, protocol.INVALID_JSON),
        ("{}", protocol.UNKNOWN_TYPE),
        ('{"type": "hack"}', protocol.UNKNOWN_TYPE),
        ('{"type": "PING"}', protocol.UNKNOWN_TYPE),
        ('{"type": 1}', protocol.UNKNOWN_TYPE),
        ('{"type": ["ping"]}', protocol.UNKNOWN_TYPE),
        ('{"type": null}', protocol.UNKNOWN_TYPE),
        ('{"type": "welcome"}', protocol.UNKNOWN_TYPE),  # a server frame
        ('{"type": "mark_read"}', protocol.INVALID),
        ('{"type": "mark_read", "ids": []}', protocol.INVALID),
        ('{"type": "mark_read", "ids": 1}', protocol.INVALID),
        ('{"type": "mark_read", "ids": "1"}', protocol.INVALID),
        ('{"type": "mark_read", "ids": ["1"]}', protocol.INVALID),
        ('{"type": "mark_read", "ids": [true]}', protocol.INVALID),
        ('{"type": "mark_read", "ids": [1.0]}', protocol.INVALID),
        ('{"type": "mark_read", "ids": [0]}', protocol.INVALID),
        ('{"type": "mark_read", "ids": [-1]}', protocol.INVALID),
        ('{"type": "mark_read", "ids": [9223372036854775808]}', protocol.INVALID),
        ('{"type": "mark_read", "ids": [NaN]}', protocol.INVALID),
        ('{"type": "mark_read", "ids": [null]}', protocol.INVALID),
        ('{"type": "delete", "ids": {"1": 1}}', protocol.INVALID),
        ('{"type": "sync"}', protocol.INVALID),
        ('{"type": "sync", "since": -1}', protocol.INVALID),
        ('{"type": "sync", "since": "3"}', protocol.INVALID),
        ('{"type": "sync", "since": 1.5}', protocol.INVALID),
        ('{"type": "sync", "since": true}', protocol.INVALID),
        ('{"type": "sync", "since": null}', protocol.INVALID),
        ('{"type": "sync", "since": 9223372036854775808}', protocol.INVALID),
    ],
)
def test_bad_client_frames(text: str, code: str) -> None:
    with pytest.raises(ProtocolError) as info:
        decode_client_frame(text, max_ids=500)
    assert info.value.code == code
    assert info.value.message


def test_deeply_nested_frame_is_a_clean_error() -> None:
    # Python 3.11 cannot parse it (RecursionError: invalid_json); 3.12+ parses an object with no
    # `type` (unknown_type). Either way an `error` frame, never an exception out of the consumer.
    with pytest.raises(ProtocolError) as info:
        decode_client_frame('{"a": ' * 5000 + "1" + "}" * 5000, max_ids=500)
    assert info.value.code in {protocol.INVALID_JSON, protocol.UNKNOWN_TYPE}


def test_too_many_ids() -> None:
    frame = json.dumps({"type": "delete", "ids": list(range(1, 12))})
    with pytest.raises(ProtocolError) as info:
        decode_client_frame(frame, max_ids=10)
    assert info.value.code == protocol.INVALID and "10" in info.value.message
    assert decode_client_frame(frame, max_ids=11).ids == tuple(range(1, 12))


def test_every_client_type_is_accepted() -> None:
    examples = {
        "mark_read": {"ids": [1]},
        "delete": {"ids": [1]},
        "sync": {"since": 1},
        "ping": {},
        "mark_all_read": {},
        "mark_seen": {"ids": [1]},
        "archive": {"ids": [1]},
        "unarchive": {"ids": [1]},
        "snooze": {"ids": [1], "preset": "1h"},
    }
    assert set(examples) == protocol.CLIENT_TYPES
    for kind, fields in examples.items():
        assert decode_client_frame(json.dumps({"type": kind, **fields}), max_ids=5).type == kind


@pytest.mark.parametrize("raw", ["0", "7", "123456789012345678"])
def test_parse_since(raw: str) -> None:
    assert protocol.parse_since(raw) == int(raw)


@pytest.mark.parametrize(
    "raw", ["", "-1", "1.0", "x", "\u00b2", "\u0661", " 1", "1234567890123456789"]
)
def test_parse_since_refuses(raw: str) -> None:
    with pytest.raises(ProtocolError) as info:
        protocol.parse_since(raw)
    assert info.value.code == protocol.INVALID_SINCE


# The notification object

DOCUMENTED_KEYS = {
    "id",
    "seq",
    "verb",
    "title",
    "body",
    "url",
    "level",
    "category",
    "seen",
    "archived",
    "snoozed_until",
    "actor",
    "target",
    "action_object",
    "data",
    "created_at",
    "read",
}


def test_payload_has_exactly_the_documented_keys(alice: Any) -> None:
    [n] = notify(alice, "x")
    assert set(protocol.notification_payload(n)) == DOCUMENTED_KEYS


def test_payload_values(alice: Any, bob: Any) -> None:
    post = Article.objects.create(title="Release notes")
    [n] = notify(
        alice,
        "commented",
        actor=bob,
        target=post,
        title="Bob commented",
        body="<b>Looks</b> good",
        url="/posts/3/",
        level="warning",
        category="comments",
        data={"k": [1, "two"]},
    )
    payload = protocol.notification_payload(n)
    assert payload == {
        "id": n.pk,
        "seq": 1,
        "verb": "commented",
        "title": "Bob commented",
        "body": "<b>Looks</b> good",  # plain text, not escaped: clients use textContent
        "url": "/posts/3/",
        "level": "warning",
        "category": "comments",
        "actor": {"type": "testapp.user", "id": str(bob.pk), "display": "bob"},
        "target": {"type": "testapp.article", "id": str(post.pk), "display": "Release notes"},
        "action_object": None,
        "data": {"k": [1, "two"]},
        "created_at": payload["created_at"],
        "read": False,
        "seen": False,
        "archived": False,
        "snoozed_until": None,
    }
    assert isinstance(payload["actor"]["id"], str) and isinstance(payload["target"]["id"], str)


def test_payload_of_a_reloaded_notification_is_the_same(alice: Any, bob: Any) -> None:
    from notifications.models import Notification

    [n] = notify(alice, "x", actor=bob, data={"a": 1})
    assert protocol.notification_payload(Notification.objects.get(pk=n.pk)) == (
        protocol.notification_payload(n)
    )


def test_created_at_is_iso_utc_with_z(alice: Any) -> None:
    [n] = notify(alice, "x")
    created_at = protocol.notification_payload(n)["created_at"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", created_at), created_at
    parsed = datetime.fromisoformat(created_at.replace("Z", "+00:00"))
    assert parsed == n.created_at


def test_created_at_in_another_zone_is_converted_to_utc(alice: Any) -> None:
    [n] = notify(alice, "x")
    n.created_at = datetime(2026, 11, 28, 11, 0, 0, tzinfo=timezone(timedelta(hours=2)))
    assert protocol.notification_payload(n)["created_at"] == "2026-11-28T09:00:00Z"
    n.created_at = datetime(2026, 11, 28, 9, 0, 0, 123456, tzinfo=UTC)
    assert protocol.notification_payload(n)["created_at"] == "2026-11-28T09:00:00.123456Z"


def test_read_flag_follows_read_at(alice: Any) -> None:
    [n] = notify(alice, "x")
    api.mark_read(alice, [n.pk])
    n.refresh_from_db()
    assert protocol.notification_payload(n)["read"] is True


def test_payload_runs_no_sql_once_content_types_are_cached(
    alice: Any, bob: Any, django_assert_num_queries: Any
) -> None:
    post = Article.objects.create(title="p")
    [n] = notify(alice, "x", actor=bob, target=post, action_object=post)
    ContentType.objects.get_for_model(Article)
    ContentType.objects.get_for_model(bob)
    with django_assert_num_queries(0):
        protocol.notification_frame(n)


# Server frames


def test_notification_frame(alice: Any) -> None:
    [n] = notify(alice, "x", title="ünïcode <&>")
    frame = protocol.notification_frame(n)
    assert json.loads(frame) == {
        "type": "notification",
        "notification": protocol.notification_payload(n),
    }
    assert "ünïcode" in frame  # not \\u-escaped: compact on the wire


def test_server_frames() -> None:
    assert json.loads(protocol.welcome_frame(3, 9, 2)) == {
        "type": "welcome",
        "unread_count": 3,
        "unseen_count": 2,
        "last_seq": 9,
    }
    assert json.loads(protocol.ids_frame(protocol.READ, [1, 2], 0, 0)) == {
        "type": "read",
        "ids": [1, 2],
        "unread_count": 0,
        "unseen_count": 0,
    }
    assert json.loads(protocol.ids_frame(protocol.DELETED, [4], 2, 1))["type"] == "deleted"
    assert json.loads(protocol.ids_frame(protocol.UNREAD, [4], 2, 1))["type"] == "unread"
    for kind in (protocol.SEEN, protocol.ARCHIVED):
        assert json.loads(protocol.ids_frame(kind, [4], 2, 1)) == {
            "type": kind,
            "ids": [4],
            "unread_count": 2,
            "unseen_count": 1,
        }
    until = datetime(2026, 12, 2, 8, tzinfo=UTC)
    assert json.loads(protocol.ids_frame(protocol.SNOOZED, [4], 2, 1, until=until)) == {
        "type": "snoozed",
        "ids": [4],
        "until": "2026-12-02T08:00:00Z",
        "unread_count": 2,
        "unseen_count": 1,
    }
    unarchived = protocol.ids_frame(protocol.UNARCHIVED, [4], 3, 1, notifications=[{"id": 4}])
    assert json.loads(unarchived)["notifications"] == [{"id": 4}]
    assert json.loads(protocol.reset_frame(5, 300, 4)) == {
        "type": "reset",
        "unread_count": 5,
        "unseen_count": 4,
        "last_seq": 300,
    }
    assert json.loads(protocol.error_frame("invalid", "bad ids")) == {
        "type": "error",
        "code": "invalid",
        "message": "bad ids",
    }
    assert json.loads(protocol.PONG_FRAME) == {"type": "pong"}


def test_layer_messages_carry_the_frame_encoded_once() -> None:
    frame = protocol.welcome_frame(0, 0, 0)
    assert protocol.push_message(7, frame) == {
        "type": "notifications.push",
        "seq": 7,
        "frame": frame,
    }
    assert protocol.frame_message(frame) == {"type": "notifications.frame", "frame": frame}
    assert protocol.logout_message("a1b2") == {"type": "notifications.logout", "session": "a1b2"}
    assert protocol.revalidate_message(None) == {
        "type": "notifications.revalidate",
        "session": None,
    }
    tag = protocol.session_tag("k" * 32)  # a digest: the key itself never goes to Redis
    assert len(tag) == 32 and tag != "k" * 32 and tag != protocol.session_tag("j" * 32)


def test_documented_error_codes_exist() -> None:
    doc = (Path(__file__).resolve().parent.parent / "docs" / "protocol.md").read_text("utf-8")
    codes = [
        protocol.INVALID_JSON,
        protocol.BINARY_NOT_SUPPORTED,
        protocol.UNKNOWN_TYPE,
        protocol.INVALID,
        protocol.NOT_FOUND,
        protocol.RATE_LIMITED,
        protocol.INVALID_SINCE,
        protocol.SERVER_ERROR,
    ]
    for code in codes:
        assert f"`{code}`" in doc
    for key in DOCUMENTED_KEYS:
        assert f'"{key}"' in doc


def test_snooze_command_takes_a_preset_or_an_explicit_time() -> None:
    command = decode_client_frame(
        json.dumps({"type": "snooze", "ids": [3], "preset": "tomorrow", "tz": "Europe/Paris"}),
        max_ids=5,
    )
    assert (command.ids, command.preset, command.tz, command.until) == (
        (3,),
        "tomorrow",
        "Europe/Paris",
        None,
    )
    command = decode_client_frame(
        json.dumps({"type": "snooze", "ids": [3], "until": "2026-12-02T09:00:00+01:00"}), max_ids=5
    )
    assert command.until == datetime(2026, 12, 2, 8, tzinfo=UTC)


@pytest.mark.parametrize(
    "fields",
    [
        {"ids": [1]},  # neither
        {"ids": [1], "preset": "1h", "until": "2026-12-02T09:00:00Z"},  # both
        {"ids": [1], "preset": "someday"},
        {"ids": [1], "until": "2026-12-02T09:00:00"},  # no offset: whose 9:00?
        {"ids": [1], "until": "tomorrow"},
        {"ids": [1], "until": 1764662400},
        {"ids": [1], "preset": "1h", "tz": 5},
        {"preset": "1h"},  # no ids
    ],
)
def test_bad_snooze_commands_are_refused(fields: dict[str, Any]) -> None:
    with pytest.raises(ProtocolError) as info:
        decode_client_frame(json.dumps({"type": "snooze", **fields}), max_ids=5)
    assert info.value.code == protocol.INVALID
