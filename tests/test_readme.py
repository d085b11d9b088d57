"""README.md's install steps, copied from it, in a brand-new project served by daphne.

The README marks the blocks this test runs with an HTML comment just above them:

- ``<!-- readme-test: append PATH -->`` / ``<!-- readme-test: write PATH -->``: add the block to the end of
  a file of the project made by ``django-admin startproject mysite``, or write the file with it;
- ``<!-- readme-test: run -->``: ``python manage.py ...`` commands, run in order, and the ``daphne ...``
  command that serves the project (here on a free port);
- ``<!-- readme-test: notify -->``: a ``python manage.py shell -c ...`` line whose notification a
  signed-in WebSocket must receive.

The package is installed from this checkout into a throwaway virtualenv: a ``.pth`` file lends it the
running environment's dependencies, and pip installs the package alone (no dependencies, no build
isolation, no index: offline, about a second), so templates and static files come from what a wheel
ships, not from the checkout. The only change the test makes to the README's project is the Redis
address and a key prefix of its own (the shared Redis is never flushed).
"""

from __future__ import annotations

import http.client
import os
import re
import shlex
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests import processes, servers
from tests.conftest import REDIS_PREFIX, delete_redis_keys

pytestmark = [pytest.mark.slow, pytest.mark.redis]

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
PROJECT = "mysite"
PASSWORD = "readme-test-password"
BLOCK = re.compile(
    r"<!-- readme-test: (?P<action>\w+)(?: (?P<path>\S+))? -->\s*\n```\w*\n(?P<code>.*?)^```",
    re.DOTALL | re.MULTILINE,
)


@dataclass(frozen=True)
class Block:
    action: str
    path: str | None
    code: str


def readme_blocks() -> list[Block]:
    return [Block(m["action"], m["path"], m["code"]) for m in BLOCK.finditer(README.read_text())]


def test_the_readme_marks_its_install_steps() -> None:
    """If a marker is mistyped, the install test below would silently test less."""
    actions = [(b.action, b.path) for b in readme_blocks()]
    assert ("append", f"{PROJECT}/settings.py") in actions
    assert ("write", f"{PROJECT}/asgi.py") in actions
    assert ("write", f"{PROJECT}/urls.py") in actions
    assert ("run", None) in actions
    assert ("notify", None) in actions
    assert {action for action, _ in actions} <= {"append", "write", "run", "notify"}


def _clean_env() -> dict[str, str]:
    """The environment of a user's shell: nothing of this test run's settings or import paths."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "NOTIFICATIONS_", "PYTHON"))
        and key not in {"VIRTUAL_ENV", "DATABASE_URL", "REDIS_URL"}
    }
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _run(*args: str, cwd: Path, env: dict[str, str]) -> str:
    result = subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, f"{shlex.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def _throwaway_python(workdir: Path, env: dict[str, str]) -> Path:
    """A new virtualenv with this checkout installed in it, and this environment's dependencies."""
    venv = workdir / "venv"
    _run(sys.executable, "-m", "venv", "--without-pip", str(venv), cwd=workdir, env=env)
    python = venv / "bin" / "python"
    site_packages = Path(
        _run(
            str(python),
            "-c",
            "import sysconfig; print(sysconfig.get_path('purelib'))",
            cwd=workdir,
            env=env,
        ).strip()
    )
    lent = dict.fromkeys([sysconfig.get_path("purelib"), sysconfig.get_path("platlib")])
    (site_packages / "_readme_test_dependencies.pth").write_text("\n".join(lent) + "\n")
    # A copy, so that the build's files (build/, *.egg-info) never land in the checkout.
    source = workdir / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        if (ROOT / name).exists():
            shutil.copy2(ROOT / name, source / name)
    shutil.copytree(
        ROOT / "notifications",
        source / "notifications",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    _run(
        str(python),
        "-m",
        "pip",
        "install",
        "--quiet",
        "--no-deps",
        "--no-build-isolation",
        "--no-index",
        "--disable-pip-version-check",
        str(source),
        cwd=workdir,
        env=env,
    )
    where = _run(
        str(python),
        "-c",
        "import notifications; print(notifications.__file__)",
        cwd=workdir,
        env=env,
    )
    assert where.startswith(str(site_packages)), f"notifications imported from {where}"
    return python


def _request(
    server: servers.DaphneServer, path: str, session: servers.Session | None = None
) -> tuple[int, dict[str, str], str]:
    conn = http.client.HTTPConnection(server.host, server.port, timeout=10)
    try:
        conn.request("GET", path, headers={"Cookie": session.header} if session else {})
        response = conn.getresponse()
        body = response.read().decode(errors="replace")
        return response.status, {k.lower(): v for k, v in response.getheaders()}, body
    finally:
        conn.close()


def _static_urls(page: str) -> list[str]:
    """The stylesheet and module script URLs of a page, and every module they import."""
    urls = re.findall(r'<link[^>]+href="([^"]+\.css)"', page)
    urls += re.findall(r'<script[^>]+src="([^"]+\.js)"', page)
    assert any(u.endswith(".css") for u in urls) and any(u.endswith(".js") for u in urls), page
    return urls


def _module_imports(url: str, source: str) -> list[str]:
    base = url.rsplit("/", 1)[0]
    found = re.findall(r'(?:^|\s)(?:import|export)\b[^"\';]*?["\'](\./[^"\']+)["\']', source, re.M)
    return [f"{base}/{path[2:]}" for path in found]


@pytest.fixture
def new_project(redis_url: str) -> Iterator[tuple[Path, Path, dict[str, str]]]:
    """A project made by startproject, changed as the README's blocks say; its Python and env."""
    workdir = Path(tempfile.mkdtemp(prefix="readme-test-"))
    env = _clean_env()
    try:
        python = _throwaway_python(workdir, env)
        site = workdir / "site"
        site.mkdir()
        _run(str(python), "-m", "django", "startproject", PROJECT, str(site), cwd=workdir, env=env)
        for block in readme_blocks():
            if block.action not in {"append", "write"}:
                continue
            assert block.path, block
            target = site / block.path
            target.parent.mkdir(parents=True, exist_ok=True)
            if block.action == "append":
                assert target.exists(), (
                    f"the README appends to {block.path}, which startproject lacks"
                )
                target.write_text(target.read_text() + "\n" + block.code)
            else:
                target.write_text(block.code)
        prefix = f"{REDIS_PREFIX}readme"
        with (site / PROJECT / "settings.py").open("a") as settings:
            settings.write(
                "\n# tests/test_readme.py: this run's Redis, under a key prefix of its own\n"
                f'CHANNEL_LAYERS["default"]["CONFIG"]["hosts"][0]["address"] = {redis_url!r}\n'
                f'CHANNEL_LAYERS["default"]["CONFIG"]["prefix"] = {prefix!r}\n'
            )
        yield site, python, env
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        delete_redis_keys(redis_url, f"{REDIS_PREFIX}readme")


def _manage_command(line: str, python: Path) -> list[str]:
    args = shlex.split(line)
    assert args[:2] == ["python", "manage.py"], f"the README test cannot run {line!r}"
    return [str(python), *args[1:]]


@pytest.fixture
def served(new_project: tuple[Path, Path, dict[str, str]]) -> Iterator[Any]:
    """The README's `run` block: its manage.py commands, then its daphne command on a free port."""
    site, python, env = new_project
    (run,) = [b for b in readme_blocks() if b.action == "run"]
    lines = [line.split("#")[0].strip() for line in run.code.splitlines()]
    daphne_line = [line for line in lines if line.startswith("daphne ")]
    assert len(daphne_line) == 1, f"the README's run block serves with one daphne command: {lines}"
    for line in lines:
        if line and not line.startswith("daphne "):
            _run(*_manage_command(line, python), cwd=site, env=env)
    port = servers.free_port()
    log_path = site / "daphne.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                *(str(python), "-m", "daphne", "-b", servers.HOST, "-p", str(port)),
                *shlex.split(daphne_line[0])[1:],
            ],
            cwd=site,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = servers.DaphneServer(port=port, process=process, log_path=log_path, env=env)
    try:
        processes.wait_listening(process, port, 30, server.log)
        yield server, site, python, env
    finally:
        processes.stop(process)


def test_the_readme_install_steps_work_in_a_new_project(served: Any) -> None:
    server, site, python, env = served
    (notify,) = [b for b in readme_blocks() if b.action == "notify"]
    username = re.search(r'username="([^"]+)"', notify.code)
    title = re.search(r'title="([^"]+)"', notify.code)
    assert username and title, notify.code
    create_user = (
        "from django.contrib.auth import get_user_model; "
        f"get_user_model().objects.create_user({username[1]!r}, password={PASSWORD!r})"
    )
    _run(str(python), "manage.py", "shell", "-c", create_user, cwd=site, env=env)

    # Signed out: the page renders without a bell, and the list page sends to a sign-in page that exists.
    status, _, page = _request(server, "/")
    assert status == 200 and "data-notifications-bell" not in page, (status, page[:300])
    status, headers, _ = _request(server, "/notifications/")
    assert status == 302 and headers["location"].startswith("/accounts/login/"), (status, headers)
    status, _, login_page = _request(server, headers["location"])
    assert status == 200 and "csrfmiddlewaretoken" in login_page, (status, login_page[:300])

    session = server.login(username[1], PASSWORD)

    # Signed in: the bell renders on the project's page, and its stylesheet and scripts are served.
    status, _, page = _request(server, "/", session)
    assert status == 200 and "data-notifications-bell" in page, page
    pending, seen = _static_urls(page), set()
    while pending:
        url = pending.pop()
        if url in seen:
            continue
        seen.add(url)
        status, headers, body = _request(server, url)
        assert status == 200, f"{url}: HTTP {status}"
        if url.endswith(".js"):
            assert "javascript" in headers["content-type"], (url, headers)
            pending += _module_imports(url, body)
        else:
            assert headers["content-type"].startswith("text/css"), (url, headers)
    assert any("/static/notifications/js/" in url for url in seen), seen

    # The list page, inside the project's layout: a way back to the site.
    status, _, page = _request(server, "/notifications/", session)
    assert status == 200 and "data-notifications-page" in page, (status, page[:300])
    assert 'href="/"' in page, page

    # A notify() from `manage.py shell` in another process reaches the signed-in socket live.
    with servers.ws_connect(server, session) as socket:
        assert servers.recv_json(socket)["type"] == "welcome"
        _run(*_manage_command(notify.code.strip(), python), cwd=site, env=env)
        frame = servers.recv_json(socket)
        while frame["type"] != "notification":
            frame = servers.recv_json(socket)
        assert frame["notification"]["title"] == title[1], frame
    assert "Traceback" not in server.log(), server.log()
