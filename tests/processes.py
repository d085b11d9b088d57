"""Child processes, for the suite and the benchmark (bench/run.py) alike: a free port, waiting until a
server listens on it, stopping a process, running a Python script in the repository. Standard library
only, so the benchmark imports it cheaply."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

HOST = "127.0.0.1"
ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def wait_listening(
    process: subprocess.Popen[bytes],
    port: int,
    timeout: float,
    log: Callable[[], str],
    host: str = HOST,
    name: str = "daphne",
) -> None:
    """Return once ``process`` accepts connections on ``port``; raise with its ``log()`` if it exits
    or does not listen within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with {process.returncode}:\n{log()}")
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{name} did not listen on port {port} in {timeout} s:\n{log()}")


def stop(process: subprocess.Popen[bytes], timeout: float = 10) -> None:
    """SIGTERM, and SIGKILL if it has not exited within ``timeout`` seconds."""
    process.terminate()
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout)


def run_script(
    script: str, env: dict[str, str], timeout: float
) -> subprocess.CompletedProcess[str]:
    """Run `script` with this interpreter in the repository; its output as text; raise if it fails."""
    return subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=True,
    )
