"""Flow coverage: which states, transitions, intents and slots the conversations reached."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine import Engine, load_flow
from engine.testing.coverage import (
    KINDS,
    CoverageReport,
    FlowCoverage,
    KindCoverage,
    below,
    format_table,
    to_json,
    transition_labels,
    write_json,
)
from tests.flowkit import engine_for, started

CARS = Path(__file__).resolve().parent.parent / "flows" / "cars.yaml"

ALIKE = """\
flow: alike
start: a
intents:
  go: {patterns: ['\\bgo\\b']}
slots:
  n: {type: number}
states:
  a:
    on:
      go:
        - {when: "slots.n > 5", goto: b}
        - {goto: b}
  b:
    next:
      - {goto: a}
      - {goto: a}
"""

NO_SLOTS = """\
flow: tiny
start: a
intents: {go: {patterns: ['\\bgo\\b']}}
states:
  a: {on: {go: b}}
  b: {say: "in b", final: true}
"""


def _covered(engine: Engine, *messages: str) -> FlowCoverage:
    coverage = FlowCoverage(engine.flow)
    session = engine.new_session()
    coverage.observe(engine.start(session))
    for text in messages:
        coverage.observe(engine.handle(session, text))
    return coverage


@pytest.fixture(scope="module")
def cars() -> Engine:
    return Engine(load_flow(CARS))


@pytest.fixture(scope="module")
def browsing(cars: Engine) -> CoverageReport:
    return _covered(cars, "show me suvs under 35k", "help", "tell me about the RAV4").report()


def _report(**kinds: KindCoverage) -> CoverageReport:
    empty = KindCoverage(0, 0, ())
    return CoverageReport("x", "flows/x.yaml", {kind: kinds.get(kind, empty) for kind in KINDS})


def test_states_entered_during_the_turns_are_covered(browsing: CoverageReport) -> None:
    states = browsing.kinds["states"]
    assert {"greet", "browse", "details"}.isdisjoint(states.missing)
    assert "goodbye" in states.missing
    assert states.covered == 3 and states.covered + len(states.missing) == states.total


def test_a_fired_transition_is_covered_and_the_others_are_listed_missing(
        browsing: CoverageReport, cars: Engine) -> None:
    transitions = browsing.kinds["transitions"]
    assert "greet --browse--> browse" not in transitions.missing
    assert "greet --details--> details" in transitions.missing
    assert transitions.covered == 3 and transitions.total == len(cars.flow.transitions)


def test_global_transitions_are_labelled_with_a_star(browsing: CoverageReport) -> None:
    missing = browsing.kinds["transitions"].missing
    assert "* --help--> (stay)" not in missing  # "help" was asked
    assert "* --thanks--> (stay)" in missing
    assert "* --restart--> greet" in missing


def test_labels_show_automatic_exits_returns_and_digressions(cars: Engine) -> None:
    labels = transition_labels(cars.flow.transitions)
    assert "booking --next--> confirm_booking" in labels
    assert "handoff --affirm--> (return)" in labels
    assert "greet --greet--> (stay)" in labels
    assert len(set(labels)) == len(labels)


def test_alike_transitions_are_told_apart_by_condition_or_position(tmp_path: Path) -> None:
    labels = transition_labels(engine_for(tmp_path, ALIKE).flow.transitions)
    assert labels == ["a --go--> b [when: slots.n > 5]", "a --go--> b #2",
                      "b --next--> a #1", "b --next--> a #2"]


def test_matched_intents_and_filled_declared_slots_are_counted(
        browsing: CoverageReport, cars: Engine) -> None:
    intents, slots = browsing.kinds["intents"], browsing.kinds["slots"]
    assert intents.covered == 3 and "compare" in intents.missing
    assert "browse" not in intents.missing and "help" not in intents.missing
    # A lookup's result ("matches") is a session value but not a declared slot.
    assert slots.total == len(cars.flow.slots)
    assert set(cars.flow.slots) - set(slots.missing) == {"body_type", "budget", "model"}


def test_percentages_count_an_empty_kind_as_fully_covered(tmp_path: Path) -> None:
    assert KindCoverage(1, 3, ("b", "c")).percent == pytest.approx(100 / 3)
    assert KindCoverage(0, 0, ()).percent == 100.0
    assert _report().total_percent == 100.0
    report = _covered(engine_for(tmp_path, NO_SLOTS)).report()
    assert report.kinds["slots"].percent == 100.0
    assert (report.covered, report.total) == (1, 2 + 1 + 1 + 0)  # only state a, entered
    assert report.total_percent == 25.0


def test_merge_unions_what_each_run_covered(cars: Engine) -> None:
    merged = _covered(cars, "show me suvs under 35k")
    # A second load of the same file: merging goes by position, not by object.
    merged.merge(_covered(Engine(load_flow(CARS)), "compare the civic and the corolla"))
    missing = merged.report().kinds["transitions"].missing
    assert "greet --browse--> browse" not in missing
    assert "greet --compare--> compare" not in missing
    assert {"browse", "compare"}.isdisjoint(merged.report().kinds["states"].missing)


def test_merge_refuses_another_flow(cars: Engine, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cannot merge"):
        FlowCoverage(cars.flow).merge(FlowCoverage(engine_for(tmp_path, NO_SLOTS).flow))


def test_observing_a_turn_of_another_flow_object_fails_loudly(cars: Engine) -> None:
    coverage = FlowCoverage(load_flow(CARS))
    session = started(cars)
    with pytest.raises(ValueError, match="same Flow object"):
        coverage.observe(cars.handle(session, "show me suvs under 35k"))


def test_table_shows_each_flow_and_what_it_did_not_cover(browsing: CoverageReport) -> None:
    table = format_table([browsing], width=80)
    lines = table.splitlines()
    assert lines[0].split() == ["flow", *KINDS, "total"]
    assert lines[1].startswith("cars ") and "3/11 (27.2%)" in lines[1]
    assert "not covered:" in table and "greet --details--> details" in table
    assert all(len(line) <= 80 for line in lines)


def test_table_lists_at_most_the_limit_then_counts_the_rest() -> None:
    labels = tuple(f"state_{i}" for i in range(25))
    table = format_table([_report(states=KindCoverage(0, 25, labels))])
    assert "state_19" in table and "state_20" not in table
    assert "… and 5 more" in table


def test_table_rounds_percentages_down() -> None:
    table = format_table([_report(states=KindCoverage(29, 50, ("a",)),
                                  slots=KindCoverage(9999, 10000, ("b",)))])
    assert "29/50 (58.0%)" in table and "(99.9%)" in table


def test_json_report_is_serialisable_and_keeps_a_fixed_key_order(
        browsing: CoverageReport, tmp_path: Path) -> None:
    data = to_json([browsing])
    assert json.loads(json.dumps(data)) == data
    flow = data["flows"][0]
    assert list(flow) == ["name", "path", *KINDS, "total_percent"]
    assert list(flow["states"]) == ["covered", "total", "percent", "missing"]
    assert "greet --details--> details" in flow["transitions"]["missing"]
    target = tmp_path / "out" / "coverage.json"
    write_json([browsing], target)
    assert json.loads(target.read_text(encoding="utf-8")) == data
    assert [p.name for p in target.parent.iterdir()] == ["coverage.json"]


def test_below_names_the_flows_under_the_minimum_only() -> None:
    low = _report(states=KindCoverage(7, 8, ("a",)))
    high = CoverageReport("y", "flows/y.yaml", {**low.kinds, "slots": KindCoverage(2, 2, ())})
    assert below([low, high], 90) == ["x (flows/x.yaml): 87.5% < 90%"]
    assert below([low], 87.5) == []

