"""The benchmark script runs end to end at tiny sizes (no timing assertions)."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks.turns import Sizes, format_details, format_table, run

TINY = Sizes(rounds=1, cycles=1, warmup_cycles=1, sessions=100, states=20, intents=10,
             load_repeats=1)


def test_benchmark_reports_every_figure_at_tiny_sizes(tmp_path: Path) -> None:
    report = run(TINY, workdir=tmp_path)

    assert [row.key for row in report.rows] == [
        "turn_flowbot", "turns_per_second", "turn_baseline", "ratio", "session_memory",
        "session_json", "check_flow", "diagnostics", "engine_build",
    ]
    table = format_table(report.rows)
    for row in report.rows:
        assert row.label in table and row.value in table
    assert set(report.figures["verdicts"]) == {"ratio", "session_memory", "check_flow",
                                               "diagnostics"}
    assert set(report.figures["verdicts"].values()) <= {"PASS", "MISS"}
    assert report.figures["generated_flow"]["states"] == 20
    assert report.figures["generated_flow"]["errors"] == 0
    assert report.figures["sessions"]["sessions"] == 100
    assert "'restart'" in format_details(report)
    json.dumps(report.figures)  # --json must be able to print it
