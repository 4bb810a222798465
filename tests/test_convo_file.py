"""Conversation test files read directly (no inner pytest): what the loader accepts and
refuses, and how a changed transcript is explained."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from engine.errors import ConvoFileError
from engine.replies import Reply
from engine.result import TurnResult
from engine.testing.convo import load_convo
from engine.testing.runner import CaseRunner, provider_for
from engine.testing.snapshot import dump_transcript, explain_change
from engine.testing.transcript import describe_turn

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def flows(tmp_path: Path) -> Path:
    for name in ("cars.yaml", "actions.py"):
        shutil.copy(ROOT / "flows" / name, tmp_path)
    shutil.copytree(ROOT / "flows" / "data", tmp_path / "data")
    return tmp_path


def write(folder: Path, text: str) -> Path:
    path = folder / "t.convo.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def errors(path: Path) -> list[str]:
    with pytest.raises(ConvoFileError) as caught:
        load_convo(path)
    return [d.format() for d in caught.value.diagnostics]


def test_a_misspelt_slot_in_a_check_or_a_start_is_an_error_with_a_suggestion(
        flows: Path) -> None:
    path = write(flows, "flow: cars.yaml\n"
                        "start: {state: browse, slots: {bugdet: 30000}}\n"
                        "cases:\n"
                        "  a:\n"
                        "    turns: [{user: hi, expect: {slots: {nmae: null}}}]\n")
    assert errors(path) == [
        f"{path}:2:32: error: the flow has no slot 'bugdet' (did you mean 'budget'?)",
        f"{path}:5:41: error: the flow has no slot 'nmae' (did you mean 'name'?)",
    ]


def test_lookup_results_and_python_action_outputs_are_slots_a_test_may_name(
        flows: Path) -> None:
    path = write(flows, "flow: cars.yaml\n"
                        "cases:\n"
                        "  a:\n"
                        "    turns: [{user: hi, expect: {slots: {matches: null, "
                        "loyalty_points: null}}}]\n")
    assert list(load_convo(path).cases) == ["a"]  # `matches` from a lookup; cars runs Python


def test_stub_rows_give_enum_values_drawn_from_the_table(flows: Path) -> None:
    # The flow's synonyms for `make` must still point at makes the stub table has.
    others = "".join(f"    - {{make: {make}, model: M{i}, price: 1}}\n"
                     for i, make in enumerate(["Chevrolet", "Volkswagen", "Mercedes-Benz"]))
    path = write(flows, "flow: cars.yaml\n"
                        "data:\n"
                        "  cars:\n"
                        "    - {make: Acme, model: Roadster, year: 2030, body_type: coupe,\n"
                        "       price: 9999, fuel: electric, seats: 2, drive: rwd,\n"
                        "       mpg: null, range_miles: 300, description: Test car}\n"
                        + others +
                        "cases:\n"
                        "  a:\n"
                        "    turns: [{user: tell me about the Roadster, "
                        "expect: {state: details, says: '$9,999'}}]\n")
    convo = load_convo(path)
    run = CaseRunner(convo, provider_for(convo)).run(convo.cases["a"])
    assert run.error is None and run.failures == []


def test_a_case_can_start_mid_flow_and_the_state_says_what_it_says_on_arrival(
        flows: Path) -> None:
    path = write(flows, "flow: cars.yaml\n"
                        "cases:\n"
                        "  a:\n"
                        "    start: {state: browse, slots: {body_type: suv}}\n"
                        "    turns: [{user: 30k, expect: {slots: {budget: 30000}}}]\n")
    convo = load_convo(path)
    run = CaseRunner(convo, provider_for(convo)).run(convo.cases["a"])
    greeting = run.transcript["turns"][0]
    assert greeting["state"] == "browse" and "budget" in greeting["bot"][0]
    assert run.failures == [] and run.transcript["start"]["slots"] == {"body_type": "suv"}


def test_a_changed_slot_is_explained_key_by_key() -> None:
    old = {"case": "a", "turns": [{"turn": 1, "user": "hi", "state": "s",
                                   "slots": {"budget": 30000, "body_type": "suv"}}]}
    new = {"case": "a", "turns": [{"turn": 1, "user": "hi", "state": "s",
                                   "slots": {"budget": 35000, "body_type": "suv"}}]}
    lines = explain_change(dump_transcript(old), new, {1: 7})
    assert lines == ["turn 1 'hi', line 7:", "  slots.budget:", "    - 30000", "    + 35000"]


def test_what_changes_between_runs_stays_out_of_the_transcript() -> None:
    result = TurnResult(user="is it good for camping?", replies=[Reply("Yes.")],
                        state="details", slots={}, route="llm",
                        llm={"provider": "openai", "model": "m", "calls": 1, "latency_ms": 812,
                             "replayed": True, "source": "llm", "prompt_tokens": 9,
                             "messages": [{"role": "user", "content": "hi"}]})
    turn = describe_turn(1, result, {})
    assert turn["llm"] == {"model": "m", "calls": 1, "source": "llm", "prompt_tokens": 9}


def test_every_example_flow_has_conversation_tests() -> None:
    flows = [p for p in (ROOT / "flows").glob("*.yaml") if not p.name.endswith(".convo.yaml")]
    assert flows
    for flow in flows:
        tested = {load_convo(p).flow.name for p in (ROOT / "flows").glob("*.convo.yaml")}
        assert flow.stem in tested, f"{flow.name} has no *.convo.yaml tests"


def test_changing_a_cars_response_fails_naming_the_case_and_turn_until_update(
        tmp_path: Path) -> None:
    shutil.copytree(ROOT / "flows", tmp_path / "flows",
                    ignore=shutil.ignore_patterns("clinic*", "__pycache__"))
    shutil.rmtree(tmp_path / "flows" / "__snapshots__" / "clinic.convo", ignore_errors=True)
    shutil.rmtree(tmp_path / "flows" / "__snapshots__" / "clinic_offline.convo",
                  ignore_errors=True)
    flow = tmp_path / "flows" / "cars.yaml"
    flow.write_text(flow.read_text("utf-8").replace(
        "Thanks for visiting Acme Motors. Goodbye!", "Bye for now from Acme Motors!"), "utf-8")

    def flowbot_test(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "cli", "test", "flows", *args],
                              cwd=tmp_path, capture_output=True, text=True, check=False,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})

    failed = flowbot_test()
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "flows/cars.convo.yaml::compare_then_book: the conversation differs" in failed.stdout
    assert "turn 11 'no', line " in failed.stdout  # the turn, and its line in the file
    assert "- Thanks for visiting Acme Motors. Goodbye!" in failed.stdout
    assert "+ Bye for now from Acme Motors!" in failed.stdout
    assert flowbot_test("--update").returncode == 0
    passed = flowbot_test("--coverage", "--min-coverage", "90")
    assert passed.returncode == 0, passed.stdout
    assert "cars  11/11 (100.0%)  40/40 (100.0%)" in passed.stdout


def test_case_names_must_make_distinct_portable_snapshot_file_names(flows: Path) -> None:
    path = write(flows, "flow: cars.yaml\n"
                        "cases:\n"
                        "  Booking: {turns: [hi]}\n"
                        "  booking: {turns: [hi]}\n"
                        "  con: {turns: [hi]}\n")
    assert errors(path) == [
        f"{path}:4:3: error: case 'booking' differs from case 'Booking' only in capitals: "
        "their snapshot files would clash on macOS and Windows",
        f"{path}:5:3: error: 'con' is a reserved file name on Windows: choose another case name",
    ]


def test_an_empty_stub_table_is_a_clear_error_when_enum_values_come_from_it(
        flows: Path) -> None:
    path = write(flows, "flow: cars.yaml\n"
                        "data: {cars: []}\n"
                        "cases:\n"
                        "  a: {turns: [hi]}\n")
    [problem] = errors(path)
    assert problem.startswith(f"{path}:1:7: error: the flow does not load: ")
    assert "enum slot 'make' needs 'values', or 'values_from' naming a column with values" \
        in problem


def test_a_key_quoted_in_an_error_never_reaches_a_snapshot() -> None:
    key = "sk-proj-" + "A1b2C3d4" * 5
    text = dump_transcript({"turns": [{"turn": 1, "events": [
        f"error message=\"Python action failed: https://bob:hunter2@api.example.com {key}\""]}]})
    assert key not in text and "hunter2" not in text
