"""Fixtures of the browser tests: Chromium through Playwright, daphne on a free port, signed-in pages.

The tests need /usr/bin/chromium (the Debian package; Playwright never downloads a browser here) and the
`playwright` package; without them they skip with the reason, except under CI=true where they fail.
daphne runs tests.e2e.asgi against the test database (committed data: `transactional_db`) and the same
Redis channel layer as the test process (tests/servers.py), so `notify()` called in a test, or in a
`manage.py notify` subprocess, is delivered by the server. Unlike the `daphne` fixture of
tests/conftest.py, this server serves static files, counts its WebSockets (tests/e2e/asgi.py) and can be
stopped and started again on the same port. When a test fails, the daphne log and each page's client
state (with the frames its sockets received) are printed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from tests import processes, servers
from tests.conftest import make_user

CI = os.environ.get("CI") == "true"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
ROOT = Path(__file__).resolve().parents[2]


def _unavailable(reason: str) -> None:
    if CI:
        pytest.fail(f"CI=true: browser tests cannot run: {reason}")
    pytest.skip(reason)


@pytest.fixture(autouse=True)
def _orm_beside_playwright(monkeypatch: pytest.MonkeyPatch) -> None:
    """Playwright's sync API keeps an event loop in this thread; the ORM calls here stay synchronous."""
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture
def playwright_instance(django_db_setup: None) -> Iterator[Any]:
    """Playwright for one test: its sync API keeps an event loop in this thread while it runs, which
    must not outlive the test (other tests run their own loops), nor exist while the test database is
    created (its setup refuses a running loop)."""
    if not os.path.exists(CHROMIUM):
        _unavailable(f"{CHROMIUM} is missing (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is not installed")
    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture
def browser(playwright_instance: Any) -> Iterator[Any]:
    browser = playwright_instance.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


class Daphne:
    """daphne serving tests.e2e.asgi on a fixed free port; stop() and start() again keep the port."""

    def __init__(self, env: dict[str, str]) -> None:
        self.port = servers.free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = env
        self.proc: subprocess.Popen[bytes] | None = None
        fd, name = tempfile.mkstemp(prefix=f"e2e-daphne-{self.port}-", suffix=".log")
        os.close(fd)
        self.log = Path(name)

    def start(self) -> None:
        daphne = shutil.which("daphne", path=str(Path(sys.executable).parent)) or "daphne"
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [daphne, "-b", "127.0.0.1", "-p", str(self.port), "tests.e2e.asgi:application"],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        processes.wait_listening(self.proc, self.port, 20, lambda: self.log.read_text()[-2000:])

    def stop(self) -> None:
        if self.proc is None:
            return
        processes.stop(self.proc)
        self.proc = None

    def sockets(self) -> dict[str, int]:
        """The server's own count of open WebSockets (see tests/e2e/asgi.py)."""
        with urllib.request.urlopen(f"{self.url}/__e2e__/sockets", timeout=5) as response:
            return dict(json.load(response))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.when == "call":
        item.stash[_failed] = report.failed
    return report


_failed = pytest.StashKey[bool]()


@pytest.fixture
def alice(transactional_db: None) -> Any:
    """alice, committed: the daphne subprocess reads her from the database."""
    return make_user("alice")


@pytest.fixture
def server_settings() -> dict[str, Any]:
    """NOTIFICATIONS keys the e2e daphne adds to tests/settings.py's; a test module overrides it."""
    return {}


@pytest.fixture
def server(
    request: pytest.FixtureRequest,
    transactional_db: None,
    live_redis_layer: dict[str, Any],
    redis_url: str,
    server_settings: dict[str, Any],
) -> Iterator[Daphne]:
    """daphne on the test database, sharing the (flushed) Redis channel layer with this process."""
    extra = (
        {"NOTIFICATIONS_TEST_SETTINGS": json.dumps(server_settings)} if server_settings else None
    )
    env = servers.subprocess_env(redis_url, extra=extra)
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    daphne = Daphne(env)
    daphne.start()
    yield daphne
    daphne.stop()
    if request.node.stash.get(_failed, False):
        print(
            f"--- daphne log ({daphne.log}) ---\n{daphne.log.read_text(errors='replace')[-6000:]}"
        )
    else:
        daphne.log.unlink(missing_ok=True)


# Diagnostics only: every frame a page's WebSockets receive, printed when a test fails.
FRAME_LOG = """
(() => {
  const Native = window.WebSocket;
  if (!Native || Native.__logged) return;
  window.__frames = [];
  class Logged extends Native {
    constructor(...args) {
      super(...args);
      const t = () => Math.round(performance.now());
      window.__frames.push(`${t()} new ${args[0]}`);
      this.addEventListener("message", (e) => window.__frames.push(`${t()} ${String(e.data).slice(0, 120)}`));
      this.addEventListener("close", (e) => window.__frames.push(`${t()} close ${e.code}`));
    }
  }
  Logged.__logged = true;
  window.WebSocket = Logged;
})();
"""

PAGE_STATE = """() => {
  const c = window.notifications && window.notifications.client;
  return {
    url: location.href,
    state: c && c.state, leader: c && c.isLeader, since: c && c.tracker.since,
    unread: c && c.store.unreadCount, items: c && c.store.items.map((n) => n.seq),
    frames: window.__frames || null,
  };
}"""


@pytest.fixture
def login(
    request: pytest.FixtureRequest, browser: Any, server: Daphne
) -> Iterator[Callable[..., Any]]:
    """login(user, **context_options) -> a browser context signed in as `user` (session cookie)."""
    contexts: list[Any] = []

    def make(user: Any, **options: Any) -> Any:
        django_client = Client()
        django_client.force_login(user)
        context = browser.new_context(base_url=server.url, **options)
        context.add_cookies(
            [
                {
                    "name": "sessionid",
                    "value": django_client.cookies["sessionid"].value,
                    "url": server.url,
                }
            ]
        )
        if options.get("java_script_enabled", True):
            context.add_init_script(FRAME_LOG)
        contexts.append(context)
        return context

    yield make
    if request.node.stash.get(_failed, False):
        for context in contexts:
            for page in context.pages:
                try:
                    print("--- page ---", json.dumps(page.evaluate(PAGE_STATE), indent=1))
                except Exception as exc:  # a closed or navigating page
                    print("--- page ---", exc)
    for context in contexts:
        context.close()
