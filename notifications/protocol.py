"""The wire format, and nothing else: frame types, group names, encoding, validation.

Frames are JSON text frames, each an object with a ``type``; docs/protocol.md documents them.
Channel-layer messages between processes are built here too, so that a reader who wants to change the
format opens this module and no other.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

import msgpack
from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.serializers.json import DjangoJSONEncoder

from notifications.conf import app_settings

if TYPE_CHECKING:
    from notifications.models import Notification

# Server -> client frame types.
WELCOME: Final = "welcome"
NOTIFICATION: Final = "notification"
READ: Final = "read"
UNREAD: Final = "unread"
DELETED: Final = "deleted"
SEEN: Final = "seen"
ARCHIVED: Final = "archived"
UNARCHIVED: Final = "unarchived"
SNOOZED: Final = "snoozed"
RESET: Final = "reset"
ERROR: Final = "error"
PONG: Final = "pong"

# Client -> server frame types.
MARK_READ: Final = "mark_read"
MARK_ALL_READ: Final = "mark_all_read"
DELETE: Final = "delete"
PING: Final = "ping"
SYNC: Final = "sync"
MARK_SEEN: Final = "mark_seen"
ARCHIVE: Final = "archive"
UNARCHIVE: Final = "unarchive"
SNOOZE: Final = "snooze"
CLIENT_TYPES: Final = frozenset(
    {MARK_READ, MARK_ALL_READ, DELETE, PING, SYNC, MARK_SEEN, ARCHIVE, UNARCHIVE, SNOOZE}
)
_IDS_COMMANDS: Final = frozenset({MARK_READ, DELETE, MARK_SEEN, ARCHIVE, UNARCHIVE, SNOOZE})

# Snooze presets: an hour from now, tomorrow 9:00 and next Monday 9:00 in the user's time zone.
SNOOZE_PRESETS: Final = ("1h", "tomorrow", "next_week")

# Error codes of `error` frames.
INVALID_JSON: Final = "invalid_json"
BINARY_NOT_SUPPORTED: Final = "binary_not_supported"
UNKNOWN_TYPE: Final = "unknown_type"
INVALID: Final = "invalid"
NOT_FOUND: Final = "not_found"
RATE_LIMITED: Final = "rate_limited"
INVALID_SINCE: Final = "invalid_since"
SERVER_ERROR: Final = "server_error"

# Close codes: 4000-4999 only, because daphne (autobahn) refuses any server close code other than
# 1000 and 3000-4999 (close(code=1009) raises inside the app and the client sees 1011).
CLOSE_TOO_MANY_FRAMES: Final = 4008  # went on sending after `rate_limited` (policy)
CLOSE_TOO_BIG: Final = 4009  # a frame larger than MAX_FRAME_BYTES
CLOSE_TOO_MANY_CONNECTIONS: Final = 4029  # the user has MAX_CONNECTIONS_PER_USER sockets open
CLOSE_LOGGED_OUT: Final = 4401  # the session ended: do not reconnect
# Reconnect now, with ?since=: the session's key changed (a password change in this browser), or the
# socket fell MAX_BACKLOG_BYTES behind (a client that stopped reading). Nothing is lost.
CLOSE_RECONNECT: Final = 4001

# Channel-layer message types (dispatched by Channels to `notifications_push` etc.).
LAYER_PUSH: Final = "notifications.push"
LAYER_FRAME: Final = "notifications.frame"
LAYER_LOGOUT: Final = "notifications.logout"
LAYER_REVALIDATE: Final = "notifications.revalidate"

_GROUP_SAFE = re.compile(r"^[A-Za-z0-9_.-]{1,60}$")


class ProtocolError(Exception):
    """A client frame was refused; ``code`` and ``message`` go into the `error` frame."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def user_group(user_pk: Any) -> str:
    """The channel-layer group of every socket of one user, in this project's namespace.

    Two projects sharing one Redis database would otherwise share ``user 3``'s group: the name carries a
    key of the project (``PROJECT_KEY``, by default derived from ``SECRET_KEY``).
    """
    key = str(user_pk)
    if not _GROUP_SAFE.match(key):
        # Group names allow ASCII letters, digits, '-', '_', '.' and < 100 characters.
        key = "h" + hashlib.sha256(key.encode()).hexdigest()[:40]
    return f"notifications.{project_tag()}.user.{key}"


def project_tag() -> str:
    """A digest of this project's ``PROJECT_KEY`` (by default of ``SECRET_KEY``): its namespace in Redis."""
    return _project_tag(app_settings.PROJECT_KEY or settings.SECRET_KEY)


@functools.cache
def _project_tag(project_key: str) -> str:
    # A digest: the key itself (the SECRET_KEY by default) must never reach Redis.
    return hashlib.sha256(f"notifications.project:{project_key}".encode()).hexdigest()[:12]


def _encode(frame: dict[str, Any]) -> str:
    return json.dumps(frame, cls=DjangoJSONEncoder, separators=(",", ":"), ensure_ascii=False)


def isoformat(value: datetime) -> str:
    """A time as the protocol writes it: ISO 8601 in UTC, with Z."""
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _related(content_type_id: int | None, object_id: str, display: str) -> dict[str, str] | None:
    if content_type_id is None:
        return None
    # get_for_id is served from ContentType's cache after the first lookup: no SQL on the push path.
    ct = ContentType.objects.get_for_id(content_type_id)
    # str(): a freshly created notification holds the object's pk (int, UUID), a loaded one its text.
    return {"type": f"{ct.app_label}.{ct.model}", "id": str(object_id), "display": display}


def notification_payload(n: Notification) -> dict[str, Any]:
    """The notification object of the protocol (with the group's fields when it has a group_key)."""
    payload = {
        "id": n.pk,
        "seq": n.seq,
        "verb": n.verb,
        "title": n.title,
        "body": n.body,
        "url": n.url,
        "level": n.level,
        "category": n.category,
        "actor": _related(n.actor_content_type_id, n.actor_object_id, n.actor_display),
        "target": _related(n.target_content_type_id, n.target_object_id, n.target_display),
        "action_object": _related(
            n.action_object_content_type_id, n.action_object_object_id, n.action_object_display
        ),
        "data": n.data,
        "created_at": isoformat(n.created_at),
        "read": n.read_at is not None,
        "seen": n.seen_at is not None,
        "archived": n.archived_at is not None,
        "snoozed_until": None if n.snoozed_until is None else isoformat(n.snoozed_until),
    }
    if n.group_key:
        payload["group_key"] = n.group_key
        payload["group_count"] = n.group_count
        payload["actors"] = n.actors
    return payload


def encode_json(value: Any) -> str:
    """JSON text as the protocol writes it (also used by the HTTP API)."""
    return _encode(value)


def notification_frame(n: Notification) -> str:
    return _encode({"type": NOTIFICATION, "notification": notification_payload(n)})


def _counts_frame(kind: str, unread_count: int, last_seq: int, unseen_count: int) -> str:
    return _encode(
        {
            "type": kind,
            "unread_count": unread_count,
            "unseen_count": unseen_count,
            "last_seq": last_seq,
        }
    )


def welcome_frame(unread_count: int, last_seq: int, unseen_count: int) -> str:
    return _counts_frame(WELCOME, unread_count, last_seq, unseen_count)


def ids_frame(
    kind: str,
    ids: list[int],
    unread_count: int,
    unseen_count: int,
    *,
    until: datetime | None = None,
    notifications: list[dict[str, Any]] | None = None,
) -> str:
    """A state change: `until` for `snoozed`, the notifications themselves for `unarchived`."""
    assert kind in {READ, UNREAD, DELETED, SEEN, ARCHIVED, UNARCHIVED, SNOOZED}
    frame: dict[str, Any] = {
        "type": kind,
        "ids": ids,
        "unread_count": unread_count,
        "unseen_count": unseen_count,
    }
    if kind == SNOOZED:
        assert until is not None
        frame["until"] = isoformat(until)
    if kind == UNARCHIVED:
        frame["notifications"] = notifications or []
    return _encode(frame)


def reset_frame(unread_count: int, last_seq: int, unseen_count: int) -> str:
    return _counts_frame(RESET, unread_count, last_seq, unseen_count)


def error_frame(code: str, message: str) -> str:
    return _encode({"type": ERROR, "code": code, "message": message})


PONG_FRAME: Final = _encode({"type": PONG})


# Channel-layer messages. A push carries the frame text, encoded once, plus the seq the consumer
# needs to dedupe and detect gaps without parsing it.


def push_message(seq: int, frame: str) -> dict[str, Any]:
    return {"type": LAYER_PUSH, "seq": seq, "frame": frame}


def frame_message(frame: str) -> dict[str, Any]:
    return {"type": LAYER_FRAME, "frame": frame}


def session_tag(session_key: str) -> str:
    """Names one session in layer messages without sending its key (a bearer secret) to Redis."""
    return hashlib.sha256(session_key.encode()).hexdigest()[:32]


def logout_message(session: str | None) -> dict[str, Any]:
    """Close the sockets of one session (its `session_tag`), or of every session when None."""
    return {"type": LAYER_LOGOUT, "session": session}


def revalidate_message(session: str | None) -> dict[str, Any]:
    """Re-check the session of the sockets of one session (its `session_tag`), or of all when None."""
    return {"type": LAYER_REVALIDATE, "session": session}


# The Redis fan-out (notifications/redis_fanout.py): each PUBLISH carries up to FANOUT_BATCH
# (group, channel-layer message) pairs, msgpack-encoded (the frames inside stay JSON text, unescaped).

FANOUT_BATCH: Final = 500
_LAYER_TYPES: Final = frozenset({LAYER_PUSH, LAYER_FRAME, LAYER_LOGOUT, LAYER_REVALIDATE})


def fanout_channel(prefix: str) -> str:
    """The Redis pub/sub channel of one project.

    Redis pub/sub ignores the database number and the layer's prefix is often left at "asgi": the
    project's digest keeps one project's pushes (titles and bodies) out of another's processes.
    """
    return f"{prefix}.notifications.{project_tag()}.fanout"


def pack_fanout(pairs: Sequence[tuple[str, dict[str, Any]]]) -> bytes:
    packed: bytes = msgpack.packb([[group, message] for group, message in pairs])
    return packed


def unpack_fanout(data: bytes) -> list[tuple[str, dict[str, Any]]]:
    """The pairs of one fan-out message; ValueError if it is not one (a foreign publisher)."""
    try:
        items = msgpack.unpackb(data)
    except Exception as exc:
        raise ValueError(f"not a fan-out message: {exc}") from None
    if not isinstance(items, list):
        raise ValueError("not a fan-out message: not a list")
    pairs = []
    for item in items:
        if not (
            isinstance(item, list)
            and len(item) == 2
            and isinstance(item[0], str)
            and isinstance(item[1], dict)
            and item[1].get("type") in _LAYER_TYPES
        ):
            raise ValueError("not a fan-out message: bad pair")
        pairs.append((item[0], item[1]))
    return pairs


# Client frames.


@dataclass(frozen=True, slots=True)
class Command:
    type: str
    ids: tuple[int, ...] = ()
    since: int = 0
    # `snooze`: a preset of SNOOZE_PRESETS, or an explicit `until`; `tz` names the user's time zone.
    preset: str = ""
    until: datetime | None = None
    tz: str = ""


def parse_since(raw: str) -> int:
    """A `since` cursor: a non-negative integer."""
    if not raw.isascii() or not raw.isdigit() or len(raw) > 18:
        raise ProtocolError(INVALID_SINCE, "`since` must be a non-negative integer.")
    return int(raw)


def parse_ids(value: Any, *, max_ids: int) -> tuple[int, ...]:
    """A list of 1..max_ids notification ids (positive integers), deduplicated in order."""
    if not isinstance(value, list) or not value:
        raise ProtocolError(INVALID, "`ids` must be a non-empty list of integers.")
    if len(value) > max_ids:
        raise ProtocolError(INVALID, f"`ids` may hold at most {max_ids} ids.")
    for item in value:
        if not isinstance(item, int) or isinstance(item, bool) or not 0 < item < 2**63:
            raise ProtocolError(INVALID, "`ids` must be a non-empty list of integers.")
    return tuple(dict.fromkeys(value))


def decode_client_frame(text: str, *, max_ids: int) -> Command:
    """Validate one client text frame; raise ProtocolError with the `error` code to send."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: nested too deeply
        raise ProtocolError(INVALID_JSON, "The frame is not valid JSON.") from None
    if not isinstance(data, dict):
        raise ProtocolError(INVALID_JSON, "The frame must be a JSON object.")
    kind = data.get("type")
    if not isinstance(kind, str) or kind not in CLIENT_TYPES:
        raise ProtocolError(
            UNKNOWN_TYPE, f"`type` must be one of: {', '.join(sorted(CLIENT_TYPES))}."
        )
    if kind == SNOOZE:
        ids = parse_ids(data.get("ids"), max_ids=max_ids)
        preset, until, tz = parse_snooze(data)
        return Command(SNOOZE, ids=ids, preset=preset, until=until, tz=tz)
    if kind in _IDS_COMMANDS:
        return Command(kind, ids=parse_ids(data.get("ids"), max_ids=max_ids))
    if kind == SYNC:
        since = data.get("since")
        if not isinstance(since, int) or isinstance(since, bool) or not 0 <= since < 2**63:
            raise ProtocolError(INVALID, "`since` must be a non-negative integer.")
        return Command(kind, since=since)
    return Command(kind)


def parse_until(value: Any) -> datetime:
    """An explicit snooze time: ISO 8601 with its UTC offset ("2026-12-02T09:00:00+01:00" or "...Z")."""
    if isinstance(value, str) and len(value) <= 40:
        try:
            until = datetime.fromisoformat(value)
        except ValueError:
            pass
        else:
            if until.tzinfo is not None:
                return until
    raise ProtocolError(INVALID, "`until` must be an ISO 8601 date and time with its UTC offset.")


def parse_snooze(data: dict[str, Any]) -> tuple[str, datetime | None, str]:
    """(preset, until, tz) of a snooze: exactly one of `preset` and `until`; `tz` optional.

    Also read by the HTTP API, from a JSON body or form fields.
    """
    preset, until, tz = data.get("preset"), data.get("until"), data.get("tz") or ""
    if not isinstance(tz, str) or len(tz) > 64:
        raise ProtocolError(INVALID, "`tz` must be a time zone name such as Europe/Paris.")
    if (preset is None) == (until is None):
        raise ProtocolError(INVALID, "Give `preset` or `until`, not both.")
    if until is not None:
        return "", parse_until(until), tz
    if preset not in SNOOZE_PRESETS:
        raise ProtocolError(INVALID, f"`preset` must be one of: {', '.join(SNOOZE_PRESETS)}.")
    return preset, None, tz
