"""Real servers for end-to-end tests: daphne in a subprocess against the test database and Redis.

The subprocess runs ``tests.settings`` with two variables (see tests/settings.py):
``NOTIFICATIONS_TEST_DB_NAME`` (the test database, which must hold committed data: use
``transactional_db``) and ``NOTIFICATIONS_TEST_REDIS_URL`` (its channel layer). A test process that
creates notifications for the server's sockets uses the same layer config: ``redis_layer_config()``.

    with daphne_server(redis_url) as server:
        session = server.login("alice", "alice")
        websockets.sync.client.connect(server.ws_url, origin=server.origin,
                                       additional_headers={"Cookie": session.header})

Pytest fixtures wrapping this live in tests/conftest.py (``daphne``, ``daphne_factory``,
``live_redis_layer``). Also here: ``DaphneServer.logout()``, ``create_sessions()`` (signed-in sessions
for many users in one INSERT), ``ws_connect()`` / ``recv_json()`` (a sync websockets client),
``assert_clean_log()`` (no traceback in daphne's log), ``manage()`` (a third process),
``redis_server()`` (a throwaway redis-server to stop and restart) and ``counting_redis_connections()``.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from notifications.layers import redis_channel_layer
from tests.processes import HOST, free_port, wait_listening

# The project's ASGI app with a crash hook and GET /probe/ (tests/probe_asgi.py).
PROBE_APP = "tests.probe_asgi:application"

ROOT = Path(__file__).resolve().parent.parent


def redis_layer_config(redis_url: str, **options: Any) -> dict[str, Any]:
    """The CHANNEL_LAYERS entry the subprocesses use (tests/settings.py), for the test process.

    `redis_url` may list several comma-separated URLs: users are sharded over them.
    """
    options.setdefault("prefix", os.environ.get("NOTIFICATIONS_TEST_REDIS_PREFIX", "asgi"))
    return redis_channel_layer(redis_url.split(","), **options)


def test_db_name() -> str:
    """The name (SQLite: the file) of the test database this process is connected to."""
    from django.db import connection

    return str(connection.settings_dict["NAME"])


def subprocess_env(
    redis_url: str, *, db_name: str | None = None, extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Environment for a subprocess (daphne, manage.py) that shares the test database and Redis."""
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="tests.settings",
        NOTIFICATIONS_TEST_DB_NAME=db_name or test_db_name(),
        NOTIFICATIONS_TEST_REDIS_URL=redis_url,
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")])),
        PYTHONUNBUFFERED="1",
        PYTHONFAULTHANDLER="1",
    )
    env.update(extra or {})
    return env


@dataclass(frozen=True)
class Session:
    """Cookies of a signed-in HTTP session."""

    cookies: dict[str, str]

    @property
    def header(self) -> str:
        """The value of a ``Cookie`` request header."""
        return "; ".join(f"{name}={value}" for name, value in self.cookies.items())

    @property
    def sessionid(self) -> str:
        return self.cookies["sessionid"]


@dataclass
class DaphneServer:
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path
    host: str = HOST
    env: dict[str, str] = field(default_factory=dict, repr=False)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def origin(self) -> str:
        """An Origin header the server allows (ALLOWED_HOSTS)."""
        return self.url

    @property
    def ws_url(self) -> str:
        return f"ws://{self.host}:{self.port}/ws/notifications/"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def rss_bytes(self) -> int:
        """Resident memory of the daphne process (Linux)."""
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        match = re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)
        assert match, status
        return int(match.group(1)) * 1024

    def login(self, username: str, password: str) -> Session:
        """Sign in through the login form over HTTP, as a browser does; return the session cookies."""
        conn = http.client.HTTPConnection(self.host, self.port, timeout=10)
        try:
            conn.request("GET", "/accounts/login/")
            response = conn.getresponse()
            page = response.read().decode()
            cookies = _cookies(response)
            match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
            assert response.status == 200 and match, (response.status, page[:500])
            body = urlencode(
                {"username": username, "password": password, "csrfmiddlewaretoken": match[1]}
            )
            conn.request(
                "POST",
                "/accounts/login/",
                body=body,
                headers={
                    "Content-Type": "application/x-www-form-urlencoded",
                    "Cookie": Session(cookies).header,
                    "Origin": self.origin,
                    "Referer": f"{self.url}/accounts/login/",
                },
            )
            response = conn.getresponse()
            response.read()
            cookies.update(_cookies(response))
        finally:
            conn.close()
        if response.status != 302 or "sessionid" not in cookies:
            raise AssertionError(f"Login of {username!r} failed: HTTP {response.status}")
        return Session(cookies)

    def logout(self, session: Session) -> None:
        """Sign out through Django's LogoutView (POST with the CSRF token), as a browser does."""
        conn = http.client.HTTPConnection(self.host, self.port, timeout=10)
        try:
            conn.request(
                "POST",
                "/accounts/logout/",
                body="",
                headers={
                    "Cookie": session.header,
                    "X-CSRFToken": session.cookies.get("csrftoken", ""),
                    "Origin": self.origin,
                    "Referer": f"{self.url}/",
                },
            )
            response = conn.getresponse()
            response.read()
        finally:
            conn.close()
        if response.status not in {200, 302}:
            raise AssertionError(f"Logout failed: HTTP {response.status}")

    def change_password(self, session: Session, old: str, new: str) -> Session:
        """Change the password through Django's PasswordChangeView; return the session's new cookies.

        The view keeps this session signed in with update_session_auth_hash(), which gives it a new key.
        """
        conn = http.client.HTTPConnection(self.host, self.port, timeout=10)
        try:
            body = urlencode(
                {
                    "old_password": old,
                    "new_password1": new,
                    "new_password2": new,
                    "csrfmiddlewaretoken": session.cookies.get("csrftoken", ""),
                }
            )
            conn.request(
                "POST",
                "/accounts/password_change/",
                body=body,
                headers={
                    "Content-Type": "application/x-www-form-urlencoded",
                    "Cookie": session.header,
                    "Origin": self.origin,
                    "Referer": f"{self.url}/accounts/password_change/",
                },
            )
            response = conn.getresponse()
            page = response.read()
        finally:
            conn.close()
        if response.status != 302:
            raise AssertionError(f"Password change failed: HTTP {response.status} {page[:300]!r}")
        return Session({**session.cookies, **_cookies(response)})


def assert_clean_log(server: DaphneServer) -> None:
    """Fail on any traceback in the server's log (an app crash, a close code daphne refused ...)."""
    log = server.log()
    if "Traceback" in log:
        start = log.index("Traceback")
        raise AssertionError(
            f"daphne logged a traceback:\n{log[max(0, start - 500) : start + 4000]}"
        )


def _cookies(response: http.client.HTTPResponse) -> dict[str, str]:
    jar: SimpleCookie = SimpleCookie()
    for header in response.headers.get_all("Set-Cookie") or []:
        jar.load(header)
    return {name: morsel.value for name, morsel in jar.items()}


@contextmanager
def daphne_server(
    redis_url: str,
    *,
    db_name: str | None = None,
    env: Mapping[str, str] | None = None,
    args: tuple[str, ...] = (),
    startup_timeout: float = 30,
    application: str = "project.asgi:application",
) -> Iterator[DaphneServer]:
    """Run ``daphne <application>`` (the project's by default) on a free port until the block exits."""
    daphne = Path(sys.executable).with_name("daphne")
    command = [str(daphne)] if daphne.exists() else [sys.executable, "-m", "daphne"]
    full_env = subprocess_env(redis_url, db_name=db_name, extra=env)
    fd, log_name = tempfile.mkstemp(prefix="daphne-", suffix=".log")
    log_path = Path(log_name)
    with os.fdopen(fd, "wb") as log:
        port = free_port()
        process = subprocess.Popen(
            [*command, "-b", HOST, "-p", str(port), *args, application],
            cwd=ROOT,
            env=full_env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = DaphneServer(port=port, process=process, log_path=log_path, env=full_env)
    try:
        wait_listening(process, port, startup_timeout, server.log)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            # Stuck on shutdown: dump every thread's stack (faulthandler) into the kept log.
            process.send_signal(signal.SIGABRT)
            try:
                process.wait(5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
            print(f"daphne on port {port} did not stop on SIGTERM; stacks in {log_path}")
        else:
            if not os.environ.get("NOTIFICATIONS_TEST_KEEP_LOGS"):  # set it to read them after
                log_path.unlink(missing_ok=True)


def manage(
    redis_url: str, *args: str, timeout: float = 60, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``manage.py <args>`` in a third process sharing the test database and Redis."""
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=subprocess_env(redis_url, extra=env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=True,
    )


def create_sessions(users: Iterable[Any]) -> list[Session]:
    """Signed-in sessions for many users at once (what ``login()`` does, in one bulk insert)."""
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore
    from django.contrib.sessions.models import Session as SessionRow
    from django.utils import timezone
    from django.utils.crypto import get_random_string

    backend = settings.AUTHENTICATION_BACKENDS[0]
    expire = timezone.now() + timezone.timedelta(seconds=settings.SESSION_COOKIE_AGE)
    store = SessionStore()
    rows = []
    for user in users:
        data = {
            SESSION_KEY: str(user.pk),
            BACKEND_SESSION_KEY: backend,
            HASH_SESSION_KEY: user.get_session_auth_hash(),
        }
        key = get_random_string(32, "abcdefghijklmnopqrstuvwxyz0123456789")
        rows.append(
            SessionRow(session_key=key, session_data=store.encode(data), expire_date=expire)
        )
    SessionRow.objects.bulk_create(rows, batch_size=500)
    return [Session({settings.SESSION_COOKIE_NAME: row.session_key}) for row in rows]


@contextmanager
def counting_redis_connections() -> Iterator[list[int]]:
    """Count the Redis connections this process opens (redis-py asyncio) inside the block."""
    from redis.asyncio.connection import Connection

    opened: list[int] = []
    original = Connection._connect

    async def counting(self: Connection) -> None:
        opened.append(id(self))
        await original(self)

    Connection._connect = counting  # type: ignore[method-assign]
    try:
        yield opened
    finally:
        Connection._connect = original  # type: ignore[method-assign]


def ws_connect(
    server: DaphneServer, session: Session | None, *, since: int | None = None, **kwargs: Any
) -> Any:
    """A real WebSocket client (websockets, sync) to the server, with the session cookie."""
    from websockets.sync.client import connect

    headers = {"Cookie": session.header} if session else {}
    kwargs.setdefault("origin", server.origin)
    kwargs.setdefault("open_timeout", 10)
    url = server.ws_url if since is None else f"{server.ws_url}?since={since}"
    return connect(url, additional_headers=headers, **kwargs)


def recv_json(ws: Any, timeout: float = 10) -> dict[str, Any]:
    """The next frame of a sync websockets client, decoded."""
    import json

    frame: dict[str, Any] = json.loads(ws.recv(timeout=timeout))
    return frame


class RedisServer:
    """A throwaway redis-server on a free port of 127.0.0.1, without persistence."""

    def __init__(self, binary: str = "redis-server") -> None:
        self.binary = binary
        self.port = free_port()
        self.url = f"redis://{HOST}:{self.port}/0"
        self.workdir = tempfile.mkdtemp(prefix="notifications-redis-")
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 10) -> None:
        self.process = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                HOST,
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                self.workdir,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with socket.create_connection((HOST, self.port), timeout=0.5) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"redis-server did not start on port {self.port}")

    def stop(self) -> None:
        """Kill it, as a crash would: everything it held is gone."""
        if self.process is not None:
            self.process.kill()
            self.process.wait(10)
            self.process = None


@contextmanager
def redis_server() -> Iterator[RedisServer]:
    """Run a throwaway redis-server (``.stop()`` / ``.start()`` restart it on the same port)."""
    import shutil

    binary = shutil.which("redis-server")
    if binary is None:
        import pytest

        pytest.skip("redis-server is not installed")
    server = RedisServer(binary)
    server.start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(server.workdir, ignore_errors=True)


def wait_until(condition: Callable[[], Any], what: str, timeout: float = 30) -> Any:
    """Poll state held in another process (no event to await) until `condition()` is truthy.

    Generous by default: under load, a daphne process's presence writer may wait for SQLite's lock
    (up to 20 s, the demo's busy timeout) before its count is in the table."""
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        time.sleep(0.1)
    return result


def probe(server: DaphneServer, *, memory: bool = False) -> dict[str, int]:
    """What a daphne serving PROBE_APP holds of its sockets (tests/probe_asgi.py)."""
    conn = http.client.HTTPConnection(server.host, server.port, timeout=30)
    try:
        conn.request("GET", "/probe/?memory=1" if memory else "/probe/")
        held: dict[str, int] = json.loads(conn.getresponse().read())
    finally:
        conn.close()
    return held


def wait_held(
    server: DaphneServer, expected: dict[str, int], timeout: float = 10, *, memory: bool = False
) -> dict[str, int]:
    """Until a daphne serving PROBE_APP holds this much of its sockets; what it holds then.

    With the layer transport, channels-redis may hold a cancelled receive() for its blocking read, or
    lose the cancellation (the consumer then asks again, wire.reap). The socket's own state is gone
    before that (the hub, the group, the refresher).
    """
    deadline = time.monotonic() + timeout
    while any((held := probe(server, memory=memory)).get(k) != v for k, v in expected.items()):
        if time.monotonic() > deadline:
            raise AssertionError(f"after {timeout} s the process holds {held}, not {expected}")
        time.sleep(0.1)
    return held
