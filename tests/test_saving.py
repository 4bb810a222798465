"""`/save NAME` in `flowbot run`: the conversation so far becomes a test case in
FLOW.convo.yaml, driven through the chat as a user would type it."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from engine import Engine, load_flow
from engine.console import ChatOptions, run_chat
from engine.testing.convo import load_convo
from engine.testing.runner import CaseRunner, provider_for

ROOT = Path(__file__).resolve().parent.parent
CONVO_SCHEMA = json.loads((ROOT / "schemas" / "convo.schema.json").read_text(encoding="utf-8"))


@pytest.fixture
def flow(tmp_path: Path) -> Path:
    """A copy of the cars flow, so the repository's flows/ is never written."""
    folder = tmp_path / "flows"
    folder.mkdir()
    shutil.copy(ROOT / "flows" / "cars.yaml", folder)
    shutil.copy(ROOT / "flows" / "actions.py", folder)
    shutil.copytree(ROOT / "flows" / "data", folder / "data")
    return folder / "cars.yaml"


def chat(flow: Path, *lines: str, session: Path | None = None) -> str:
    out = io.StringIO()
    engine = Engine(load_flow(flow))
    run_chat(engine, ChatOptions(session_path=session), lines=lambda: iter(lines), out=out)
    return out.getvalue()


def convo(flow: Path) -> Path:
    return flow.with_name("cars.convo.yaml")


def cases(flow: Path) -> dict[str, Any]:
    data = yaml.safe_load(convo(flow).read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator(CONVO_SCHEMA).validate(data)
    assert data["flow"] == "cars.yaml"
    found: dict[str, Any] = data["cases"]
    return found


def test_save_creates_the_test_file_with_a_header_and_the_typed_turns(
        flow: Path, tmp_path: Path) -> None:
    shutil.copytree(ROOT / "schemas", tmp_path / "schemas")
    out = chat(flow, "hi", "show me suvs", "/state", "under 30k", "/save suv_budget")
    text = convo(flow).read_text(encoding="utf-8")
    assert text.startswith("# yaml-language-server: $schema=../schemas/convo.schema.json\n")
    assert "flowbot test" in text
    assert cases(flow) == {"suv_budget": {"turns": ["hi", "show me suvs", "under 30k"]}}
    assert f"saved case 'suv_budget' (3 turns) to {convo(flow)}" in out
    assert f"run it with: flowbot test {convo(flow)}" in out


def test_without_a_schemas_folder_the_header_has_no_schema_line(flow: Path) -> None:
    chat(flow, "hi", "/save greeting")
    text = convo(flow).read_text(encoding="utf-8")
    assert "$schema" not in text and text.startswith("#")
    assert cases(flow) == {"greeting": {"turns": ["hi"]}}


def test_a_second_save_appends_and_keeps_the_rest_of_the_file_byte_for_byte(
        flow: Path) -> None:
    chat(flow, "hi", "/save first")
    edited = convo(flow).read_text(encoding="utf-8").replace(
        "cases:\n", "seed: 7   # keep this comment\ncases:\n  # cases below were saved from chat\n")
    convo(flow).write_text(edited, encoding="utf-8")
    chat(flow, "show me suvs", "/save second")
    text = convo(flow).read_text(encoding="utf-8")
    assert text.startswith(edited)
    assert text[len(edited):] == "  second:\n    turns:\n      - show me suvs\n"
    assert cases(flow) == {"first": {"turns": ["hi"]}, "second": {"turns": ["show me suvs"]}}


def test_a_save_follows_the_indentation_of_the_existing_cases(flow: Path) -> None:
    convo(flow).write_text("flow: cars.yaml\ncases:\n    first:\n        turns: [hi]\n",
                           encoding="utf-8")
    chat(flow, "show me suvs", "/save second")
    assert convo(flow).read_text(encoding="utf-8").endswith(
        "    second:\n        turns:\n            - show me suvs\n")
    assert list(cases(flow)) == ["first", "second"]


def test_a_duplicate_name_is_refused_and_the_chat_goes_on(flow: Path) -> None:
    out = chat(flow, "hi", "/save greeting", "show me suvs", "/save greeting", "/state")
    assert "already has a case 'greeting': choose another name" in out
    assert "state: browse" in out  # the chat carried on
    assert cases(flow) == {"greeting": {"turns": ["hi"]}}


@pytest.mark.parametrize("name", ["-leading-dash", "has.dot", "naïve", "a/b"])
def test_an_invalid_name_is_refused(flow: Path, name: str) -> None:
    out = chat(flow, "hi", f"/save {name}")
    assert f"'{name}' is not a valid case name" in out
    assert not convo(flow).exists()


def test_save_without_a_name_prints_the_usage(flow: Path) -> None:
    out = chat(flow, "hi", "/save", "/save two words")
    assert out.count("usage: /save NAME") == 2
    assert not convo(flow).exists()


def test_save_before_any_turn_is_refused(flow: Path) -> None:
    out = chat(flow, "/save empty", "/help")
    assert "nothing to save yet" in out
    assert not convo(flow).exists()


def test_slash_commands_are_not_turns(flow: Path) -> None:
    chat(flow, "hi", "/state", "/slots", "/trace", "/help", "show me suvs", "/save commands")
    assert cases(flow)["commands"]["turns"] == ["hi", "show me suvs"]


def test_reset_starts_a_fresh_list_of_turns(flow: Path) -> None:
    out = chat(flow, "show me suvs", "/reset", "/save nothing", "hi", "/save after_reset")
    assert "nothing to save yet" in out
    assert cases(flow) == {"after_reset": {"turns": ["hi"]}}


def test_a_resumed_session_is_saved_with_its_start_state_and_slots(
        flow: Path, tmp_path: Path) -> None:
    session = tmp_path / "session.json"
    chat(flow, "show me suvs", session=session)
    out = chat(flow, "under 30k", "/save resumed", session=session)
    assert "resumed session" in out
    assert cases(flow) == {"resumed": {
        "start": {"state": "browse", "slots": {"body_type": "suv"}},
        "turns": ["under 30k"],
    }}
    assert "      slots: {body_type: suv}\n" in convo(flow).read_text(encoding="utf-8")


ODD = ["- a dash", "{brace", "key: value", "# hash", "it's", '"quoted"', "héllo ✓ 🚗",
       "yes", "null", "123", "1e3", "~", "", "  spaced  ", "@at", "!bang", "*star", "a\tb"]


def test_odd_strings_round_trip_exactly(flow: Path) -> None:
    chat(flow, *ODD, "/save odd")
    assert cases(flow)["odd"]["turns"] == ODD


@pytest.mark.parametrize("name", ["123", "yes", "null", "1e3", "0_9"])
def test_names_that_look_like_other_yaml_values_stay_strings(flow: Path, name: str) -> None:
    chat(flow, "hi", f"/save {name}")
    assert list(cases(flow)) == [name]


@pytest.mark.parametrize("layout", [
    "flow: cars.yaml\ncases:\n  first:\n    turns: [hi]\ntoday: '2026-01-05'\n",
    "flow: cars.yaml\ncases: {first: {turns: [hi]}}\n",
    "flow: cars.yaml\ncases:\n  first:\n    turns: [hi]\n...\n",
    "- not a mapping\n",
    "flow: cars.yaml\ncases:\n  first: [unclosed\n",
    "flow: other.yaml\ncases:\n  first:\n    turns: [hi]\n",
    "flow: cars.yaml\ncases:\n  first:\n    turn: [hi]\n",
])
def test_a_file_that_cannot_be_appended_to_is_refused_and_left_unchanged(
        flow: Path, layout: str) -> None:
    convo(flow).write_text(layout, encoding="utf-8")
    out = chat(flow, "hi", "/save second")
    assert "cannot add to" in out and "add the case by hand" in out
    assert convo(flow).read_text(encoding="utf-8") == layout


def test_a_cancelled_turn_is_not_kept(flow: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = Engine(load_flow(flow))
    real = engine.handle

    def slow(session: Any, text: str, on_token: Any = None) -> Any:
        if text == "cancel me":
            raise KeyboardInterrupt
        return real(session, text, on_token)

    monkeypatch.setattr(engine, "handle", slow)
    out = io.StringIO()
    lines = ["hi", "cancel me", "show me suvs", "/save kept"]
    run_chat(engine, ChatOptions(interactive=True), lines=lambda: iter(lines), out=out)
    assert "cancelled" in out.getvalue()
    assert cases(flow)["kept"]["turns"] == ["hi", "show me suvs"]


def test_an_empty_cases_key_gets_its_first_case(flow: Path) -> None:
    convo(flow).write_text("flow: cars.yaml  # written by hand\ncases:\n", encoding="utf-8")
    chat(flow, "hi", "/save first")
    assert convo(flow).read_text(encoding="utf-8") == (
        "flow: cars.yaml  # written by hand\ncases:\n  first:\n    turns:\n      - hi\n")


def test_windows_line_endings_are_kept(flow: Path) -> None:
    convo(flow).write_bytes(b"flow: cars.yaml\r\ncases:\r\n  first:\r\n    turns: [hi]")
    chat(flow, "show me suvs", "/save second")
    assert convo(flow).read_bytes() == (b"flow: cars.yaml\r\ncases:\r\n  first:\r\n    turns: [hi]"
                                        b"\r\n  second:\r\n    turns:\r\n      - show me suvs\r\n")


def test_a_finished_conversation_can_still_be_saved_at_the_terminal(flow: Path) -> None:
    out = io.StringIO()
    lines = ["show me suvs under 35k", "bye", "/save ends_politely", "/quit"]
    run_chat(Engine(load_flow(flow)), ChatOptions(interactive=True), lines=lambda: iter(lines),
             out=out)
    assert "the conversation has ended" in out.getvalue()
    assert cases(flow) == {"ends_politely": {"turns": ["show me suvs under 35k", "bye"]}}


def test_a_message_after_the_end_starts_a_new_case(flow: Path) -> None:
    lines = ["bye", "show me suvs under 35k", "/save second", "/quit"]
    run_chat(Engine(load_flow(flow)), ChatOptions(interactive=True), lines=lambda: iter(lines),
             out=io.StringIO())
    assert cases(flow) == {"second": {"turns": ["show me suvs under 35k"]}}


def test_a_saved_case_runs_as_a_test_with_the_replies_the_chat_gave(flow: Path) -> None:
    typed = ["show me suvs under 35k", "tell me about the Kona", "book a test drive"]
    out = chat(flow, *typed, "/save from_chat")
    convo_file = load_convo(convo(flow))
    run = CaseRunner(convo_file, provider_for(convo_file)).run(convo_file.cases["from_chat"])
    assert run.error is None and not run.failures
    replies = [text for result in run.results for text in result.texts]
    assert all(reply in out for reply in replies)
    assert [t["user"] for t in run.transcript["turns"][1:]] == typed
