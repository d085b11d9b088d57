"""The repository stands alone: its files link only to files it holds, and name no path outside it."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# A Markdown link or image target that is not a URL or an anchor.
LINK = re.compile(r"\]\((?!https?://|mailto:|#)([^)\s]+)\)")
# A path into the machine the repository was written on, or a sibling folder of the checkout.
OUTSIDE = re.compile(r"(?<![\w.])(?:\.\./shared|/work/|/home/\w|/root/)")


def tracked_text_files() -> list[Path]:
    try:
        names = subprocess.run(
            ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
        ).stdout.split(b"\0")
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    files = []
    for name in filter(None, names):
        path = ROOT / name.decode()
        if path.is_file() and b"\0" not in path.read_bytes()[:4096]:
            files.append(path)
    return files


def test_markdown_links_point_to_files_of_the_repository() -> None:
    broken = []
    for path in tracked_text_files():
        if path.suffix != ".md":
            continue
        for target in LINK.findall(path.read_text()):
            resolved = (path.parent / target.split("#")[0]).resolve()
            if not resolved.is_relative_to(ROOT) or not resolved.exists():
                broken.append(f"{path.relative_to(ROOT)}: {target}")
    assert not broken


def test_no_file_names_a_path_outside_the_repository() -> None:
    found = [
        f"{path.relative_to(ROOT)}: {match[0]}"
        for path in tracked_text_files()
        if path.name != "test_repository.py"
        for match in [OUTSIDE.search(path.read_text(errors="replace"))]
        if match
    ]
    assert not found
