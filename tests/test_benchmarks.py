"""The benchmark script runs end to end at tiny sizes (no timing assertions)."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks import convo_tests, llm_cost
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


def test_llm_cost_benchmark_counts_are_sane() -> None:
    report = llm_cost.run(repeat=1)

    assert report.conversations >= 30
    assert report.turns >= 300
    assert 0 < report.llm_calls < report.turns
    assert len(report.llm_messages) == report.llm_calls
    assert report.routes.get("llm", 0) == report.llm_calls  # the fake model never routes
    assert report.naive.calls == report.turns
    assert 0 < report.prompt_tokens < report.naive.prompt_tokens
    assert 0 < report.completion_tokens < report.naive.completion_tokens
    assert report.system_tokens + report.history_tokens < report.prompt_tokens
    assert report.tool_tokens > 0  # the routing tool is offered in most states
    table = llm_cost.format_table(report)
    assert f"{report.naive.prompt_tokens:,}" in table
    verdicts = llm_cost.format_verdicts(report).splitlines()
    assert len(verdicts) == 4
    assert all(line.startswith(("PASS", "FAIL")) for line in verdicts)


def test_convo_tests_benchmark_runs_tiny_generated_cases_through_flowbot_test(
        tmp_path: Path) -> None:
    # Tiny and without the fixed-cost runs, to keep this test near 3 s: it still
    # records a cassette, writes snapshots and runs `flowbot test` once.
    sizes = convo_tests.Sizes(cases=6, files=2, runs=1, fixed_costs=False)
    report = convo_tests.run(sizes, tmp_path)

    assert [row.key for row in report.rows] == [
        "cases", "model_calls", "flowbot_test", "per_case", "baseline", "baseline_split",
        "ratio",
    ]
    figures = report.figures
    assert figures["all_passed"] is True
    assert figures["summary"].startswith("6 passed")
    assert (figures["cases"], figures["files"]) == (6, 2)
    assert figures["turns"] >= 6 * 4
    assert figures["turns"] == figures["in_process"]["turns"]
    assert 6 <= figures["model_calls"] == figures["in_process"]["replayed_calls"]
    assert 0 < figures["cassette_entries"] <= figures["model_calls"]
    assert figures["verdicts"] == {}  # only 200 cases, or a projection from them, get one
    assert len(list((tmp_path / "project").glob("generated_*.convo.yaml"))) == 2
    assert (tmp_path / "project" / "cassettes" / "cars.llm.yaml").is_file()
    table = convo_tests.format_table(report.rows)
    for row in report.rows:
        assert row.label in table and row.value in table
    json.dumps(figures)  # --json must be able to print it
