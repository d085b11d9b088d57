"""The benchmark's verdict and table (bench/run.py), on made-up results: no servers, no timing.

The harness itself runs end to end in `make bench-quick` (.ci/run), which exits non-zero on what
`problems()` reports: a run of the real thing here would cost ~30 s of a loaded CI box for nothing more.
"""

from __future__ import annotations

from typing import Any

import pytest

from bench import run


def app_round(app: str, number: int, **changes: Any) -> dict[str, Any]:
    phases = {
        kind: {"expected": 100, "received": 100, "lost": 0, "duplicates": 0}
        for kind in ("single", "paced", "broadcast_n", "broadcast_b")
    }
    phases["single"].update(delivered_per_s=100.0, p50_ms=5.0, p99_ms=50.0)
    phases["broadcast_n"].update(last_socket_s=2.0, delivered_per_s=50.0)
    result: dict[str, Any] = {
        "app": app,
        "round": number,
        "phases": phases,
        "connects_per_s": 100.0,
        "daphne_tracebacks": 0,
        "daphne_tracebacks_closing": 0,
    }
    for path, value in changes.items():
        target = result
        *parents, key = path.split("__")
        for parent in parents:
            target = target[parent]
        target[key] = value
    return result


def test_a_clean_run_passes() -> None:
    assert run.failures([app_round("ours", 1), app_round("tutorial", 1)]) == []


@pytest.mark.parametrize(
    ("app", "changes"),
    [
        ("ours", {"phases__broadcast_b__lost": 1}),
        ("ours", {"phases__single__duplicates": 1}),
        ("tutorial", {"phases__paced__duplicates": 2}),
        ("tutorial", {"error": "Traceback ..."}),
        ("tutorial", {"daphne_tracebacks": 1}),
        ("ours", {"daphne_tracebacks_closing": 3}),
        ("ours", {"unexpected": 1}),
        ("tutorial", {"dropped": 1}),
    ],
)
def test_a_crash_or_a_loss_of_ours_fails_the_run(app: str, changes: dict[str, Any]) -> None:
    assert run.failures([app_round(app, 1, **changes)])


def test_the_tutorials_losses_and_crashes_on_close_are_figures_not_failures() -> None:
    # Its layer is at-most-once and nothing replays; its consumers crash when every socket closes at
    # once (redis-py's pool limit). Both are what the comparison shows.
    tutorial = app_round("tutorial", 1, phases__broadcast_b__lost=40, daphne_tracebacks_closing=12)
    assert run.failures([tutorial]) == []


def test_the_table_has_every_row_with_the_median_of_per_round_ratios() -> None:
    args = run.parse_args(["--users", "100", "--broadcast-users", "500"])
    results = [
        app_round("ours", 1, connects_per_s=300.0),
        app_round("tutorial", 1, connects_per_s=100.0),  # ratio 3
        app_round("ours", 2, connects_per_s=100.0),
        app_round("tutorial", 2, connects_per_s=100.0),  # ratio 1
        app_round("ours", 3, connects_per_s=220.0),
        app_round("tutorial", 3, connects_per_s=200.0),  # ratio 1.1
        app_round("tutorial", 4, phases__broadcast_b__lost=7),
    ]
    summary = run.summarise(args, results)
    rows = {row["figure"]: row for row in summary["table"]}
    assert rows["connects/s incl. auth, welcome, replay"]["ratio"] == pytest.approx(1.1)
    assert rows["connects/s incl. auth, welcome, replay"]["ours"] == 220.0
    table = run.render(args, summary, "header")
    for figure in (
        "single-recipient notify() calls, delivered/s",
        "bulk: one notify() to 500",
        "broadcast to 100 online",
        "broadcast to 500 online",
        "p50 notify() -> socket at 200/s",
        "p99 notify() -> socket at 200/s",
        "p50 at full throughput",
        "p99 at full throughput",
        "connects/s",
        "idle memory per socket",
        "lost / duplicates: broadcast B | 0 / 0 of 300 | 7 / 0 of 400",
        "tracebacks in daphne's log",
    ):
        assert figure in table
    # A figure a phase could not measure is shown as such, never as a number.
    assert "| broadcast to 500 online: last socket has it (s) | - | - |" in table


def test_the_runner_never_flushes_database_0() -> None:
    with pytest.raises(SystemExit):
        run.parse_args(["--redis-dbs", "0,14"])
