"""Switching from the real django-notifications-hq: its migrations and its API build the database in a
throwaway environment (pip, cached), then this package takes over the same project and `migrate`
converts the table. Every row and count is checked; then hq-style views, tags and JSON endpoints.

Without the package index the test skips; under CI=true it fails instead.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import CI

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
PROJECT = Path(__file__).resolve().parent / "hq_project"
CACHE = Path(os.environ.get("NOTIFICATIONS_HQ_CACHE") or tempfile.gettempdir()) / "notifications-hq"
# (hq release, the Django it ran on and its PostgreSQL driver, notifications of the big user): 1.6.0
# ends at hq migration 0008, 1.8.3 at 0009.
RELEASES = [
    ("1.6.0", ("django>=3.2,<4", "psycopg2-binary"), 300),
    ("1.8.3", ("django>=4.2,<5", "psycopg[binary]"), 10_000),
]


def hq_python() -> str:
    """The interpreter of hq's side: Django 3.2 (hq 1.6) imports `cgi`, gone from Python 3.13 on."""
    if sys.version_info < (3, 13):
        return sys.executable
    for name in ("python3.12", "python3.11"):
        found = shutil.which(name)
        if found and subprocess.run([found, "-c", ""], capture_output=True).returncode == 0:
            return found
    message = "hq's side needs Python 3.11 or 3.12 (Django 3.2 imports cgi); none on PATH"
    if CI:
        pytest.fail(f"CI=true: {message}")
    pytest.skip(message)


def hq_environment(version: str, requirements: tuple[str, ...]) -> Path:
    """django-notifications-hq and its dependencies, installed once into a cached directory (one
    per interpreter: psycopg2's binary wheels are built for one Python)."""
    python = hq_python()
    tag = subprocess.run(
        [python, "-c", "import sys; print(f'py{sys.version_info[0]}{sys.version_info[1]}')"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    target = CACHE / f"hq-{version}-{tag}"
    if (target / "notifications").is_dir():
        return target
    CACHE.mkdir(parents=True, exist_ok=True)
    partial = CACHE / f"partial-{uuid.uuid4().hex}"
    result = subprocess.run(
        [
            python,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-warn-conflicts",
            "--target",
            str(partial),
            f"django-notifications-hq=={version}",
            *requirements,
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    if result.returncode != 0:
        shutil.rmtree(partial, ignore_errors=True)
        message = (
            f"pip could not install django-notifications-hq {version}: {result.stderr[-2000:]}"
        )
        if CI:
            pytest.fail(f"CI=true: {message}")
        pytest.skip(message)
    try:
        partial.rename(target)
    except OSError:  # a parallel run got there first
        shutil.rmtree(partial, ignore_errors=True)
    return target


@pytest.fixture
def database(tmp_path: Path) -> Iterator[str]:
    """A database of its own: a SQLite file, or a new PostgreSQL database under DATABASE_URL."""
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        yield str(tmp_path / "hq.sqlite3")
        return
    import psycopg

    name = f"hq_switch_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield url.rsplit("/", 1)[0].replace("postgresql://", "postgres://") + "/" + name
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class Project:
    """The hq-style project in a temporary directory, run on either side of the switch."""

    def __init__(self, path: Path, db: str, hq: Path) -> None:
        self.path, self.db, self.hq = path, db, hq

    def run(
        self, *args: str, switched: bool, env: dict[str, str] | None = None, ok: bool = True
    ) -> str:
        extra = {"HQ_SWITCHED": "1"} if switched else {}
        pythonpath = [str(self.path), str(ROOT) if switched else str(self.hq)]
        result = subprocess.run(
            [sys.executable if switched else hq_python(), "-W", "ignore", *args],
            cwd=self.path,
            env={
                **os.environ,
                "PYTHONPATH": os.pathsep.join(pythonpath),
                "DJANGO_SETTINGS_MODULE": "settings",
                "HQ_DATABASE_URL": self.db,
                **extra,
                **(env or {}),
            },
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert (result.returncode == 0) == ok, result.stdout[-3000:] + result.stderr[-5000:]
        return result.stdout + result.stderr if not ok else result.stdout

    def dump(self, switched: bool) -> dict[str, Any]:
        out = self.path / f"dump-{int(switched)}.json"
        self.run("dump.py", str(out), switched=switched)
        data: dict[str, Any] = json.loads(out.read_text())
        return data


@pytest.fixture(params=RELEASES, ids=[r[0] for r in RELEASES])
def hq_project(request: pytest.FixtureRequest, tmp_path: Path, database: str) -> Iterator[Any]:
    version, requirements, big = request.param
    hq = hq_environment(version, requirements)
    path = tmp_path / "project"
    shutil.copytree(PROJECT, path)
    project = Project(path, database, hq)
    project.run("manage.py", "makemigrations", "shop", switched=False)
    project.run("manage.py", "migrate", switched=False)
    project.run("make_data.py", str(big), switched=False)
    yield project, big


def test_migrate_converts_every_row_and_count(hq_project: Any) -> None:
    project, big = hq_project
    before = project.dump(switched=False)
    assert len(before["rows"]) == big + 9

    dry = project.run("manage.py", "convert_hq_notifications", "--dry-run", switched=True)
    assert f"{big + 9} notifications of 4 users" in dry
    assert project.dump(switched=False) == before  # the dry run changed nothing

    # Interrupted after three batches (as by a crash); `migrate` again resumes.
    project.run("interrupt.py", switched=True, env={"HQ_BATCH_SIZE": "97"})
    resumed = project.run("manage.py", "convert_hq_notifications", "--dry-run", switched=True)
    assert f"{3 * 97} already converted by an earlier run" in resumed
    migrated = project.run("manage.py", "migrate", switched=True, env={"HQ_BATCH_SIZE": "500"})
    assert "rows/s" in migrated and f"{big + 9}/{big + 9} rows (100%)" in migrated

    after = project.dump(switched=True)
    assert set(after["rows"]) == set(before["rows"])
    for pk, old in before["rows"].items():
        new = after["rows"][pk]
        assert {k: new[k] for k in old} == old, pk

    # seq follows hq's order (timestamp, then id) per user; counts are exact.
    for user in ("alice", "bob", "carol", "dave"):
        mine = sorted(
            (row for row in before["rows"].items() if row[1]["recipient"] == user),
            key=lambda item: (item[1]["timestamp"], int(item[0])),
        )
        assert [after["rows"][pk]["seq"] for pk, _ in mine] == list(range(1, len(mine) + 1))
        unread = sum(1 for _, row in mine if row["unread"])
        assert after["inboxes"][user] == [unread, len(mine)]

    shown = after["rows"][min(before["rows"], key=int)]
    assert shown["title"] == "bob commented on order A-17 on Release notes"
    assert (shown["actor_display"], shown["target_display"]) == ("bob", "Release notes")

    driven = json.loads(project.run("drive.py", switched=True))
    dave_unread = after["inboxes"]["dave"][0]
    assert driven["unread_count"] == {"unread_count": dave_unread}
    assert driven["all_count"] == {"all_count": big}
    assert driven["unread_list_count"] == dave_unread
    assert len(driven["unread_list_verbs"]) == 3
    assert {"slug", "actor", "verb", "timestamp", "unread", "level"} <= set(
        driven["unread_list_keys"]
    )
    assert driven["all_list_len"] == 10
    assert (driven["get_link_status"], driven["unread_after_get"]) == (200, dave_unread)
    assert (driven["post_redirect"], driven["unread_after_post"]) == (
        "/somewhere/",
        dave_unread - 1,
    )
    assert driven["no_token_status"] == 403
    assert f"[{dave_unread - 1}]" in driven["template"]
    assert 'class="live_notify_badge" data-notifications-count' in driven["template"]
    assert "register_notifier(fill_notification_list);" in driven["template"]
    assert driven["unread_after_all"] == [0, 0]

    # Rolling back gives hq its table as it was; it refuses to lose newer notifications unasked.
    new = "from notifications import notify; notify(User.objects.get(username='bob'), 'new')"
    shell = ["manage.py", "shell", "-c", f"from django.contrib.auth.models import User; {new}"]
    project.run(*shell, switched=True)
    refused = project.run(
        "manage.py", "convert_hq_notifications", "--rollback", switched=True, ok=False
    )
    assert "1 notification was created since the conversion" in refused
    project.run("manage.py", "convert_hq_notifications", "--rollback", "--force", switched=True)
    assert project.dump(switched=False) == before


@pytest.mark.parametrize("switched", [False, True], ids=["hq", "this-package"])
def test_readme_project_runs_unchanged(tmp_path: Path, database: str, switched: bool) -> None:
    """hq's README examples and a page built on its tags and notify.js, on a fresh database: the
    same project passes with django-notifications-hq and with this package."""
    path = tmp_path / "project"
    shutil.copytree(PROJECT, path)
    version, requirements, _ = RELEASES[-1]
    project = Project(path, database, hq_environment(version, requirements))
    project.run("manage.py", "makemigrations", "shop", switched=False)
    project.run("manage.py", "migrate", switched=switched)
    assert project.run("readme.py", switched=switched).strip() == "README examples: ok"


def test_rows_that_need_care(tmp_path: Path, database: str) -> None:
    path = tmp_path / "project"
    shutil.copytree(PROJECT, path)
    version, requirements, _ = RELEASES[-1]
    project = Project(path, database, hq_environment(version, requirements))
    project.run("manage.py", "makemigrations", "shop", switched=False)
    project.run("manage.py", "migrate", switched=False)
    project.run("make_data.py", "0", switched=False)
    project.run("edge_rows.py", switched=False)
    project.run("manage.py", "migrate", switched=True)
    rows = json.loads(project.run("edge_check.py", switched=True))
    assert rows["level"]["level"] == "info" and rows["level"]["data"] == {"hq": {"level": "debug"}}
    assert rows["text"]["data"] == {"data": "not json {"}
    assert rows["list"]["data"] == {"data": [1, 2]}
    assert (rows["gone"]["target"], rows["gone"]["title"]) == ("", "alice gone")
    assert (rows["bad id"]["target"], rows["bad id"]["title"]) == ("", "alice bad id order A-17")
