"""`/save NAME` in `flowbot run`: the conversation so far becomes a test case in
FLOW.convo.yaml, driven through the chat as a user would type it."""

from __future__ import annotations

import datetime
import io
import json
import os
import shutil
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from cli import main
from engine import Engine, load_flow
from engine.console import ChatOptions, run_chat
from engine.testing.convo import load_convo
from engine.testing.runner import CaseRunner, provider_for
from engine.testing.saving import save_from_chat
from engine.yamlsrc import load_yaml

ROOT = Path(__file__).resolve().parent.parent
DAY = datetime.date(2026, 3, 4)  # a Wednesday: "friday" is 6 March
TODAY = DAY.isoformat()


@pytest.fixture
def flow(tmp_path: Path) -> Path:
    """A copy of the cars flow, so the repository's flows/ is never written."""
    folder = tmp_path / "flows"
    folder.mkdir()
    shutil.copy(ROOT / "flows" / "cars.yaml", folder)
    shutil.copy(ROOT / "flows" / "actions.py", folder)
    shutil.copytree(ROOT / "flows" / "data", folder / "data")
    return folder / "cars.yaml"


def engine_for(flow: Path) -> Engine:
    return Engine(load_flow(flow), today=lambda: DAY)


def options(flow: Path, **given: Any) -> ChatOptions:
    """What `flowbot run FLOW` passes: /save writes beside FLOW."""
    return ChatOptions(save_case=partial(save_from_chat, flow), **given)


def chat(flow: Path, *lines: str, session: Path | None = None, interactive: bool = False) -> str:
    out = io.StringIO()
    run_chat(engine_for(flow), options(flow, session_path=session, interactive=interactive),
             lines=lambda: iter(lines), out=out)
    return out.getvalue()


def convo(flow: Path) -> Path:
    return flow.with_name("cars.convo.yaml")


def cases(flow: Path) -> dict[str, Any]:
    """The cases as written, once the file has loaded as `flowbot test` loads it."""
    assert load_convo(convo(flow)).flow.name == "cars"
    data, _ = load_yaml(convo(flow).read_text(encoding="utf-8"))
    assert data["flow"] == "cars.yaml"
    found: dict[str, Any] = data["cases"]
    return found


def case(*turns: str, **more: Any) -> dict[str, Any]:
    """A saved case as it reads back: dated the engine's today."""
    return {"today": TODAY, **more, "turns": list(turns)}


def test_save_creates_the_test_file_with_a_header_and_the_typed_turns(
        flow: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copytree(ROOT / "schemas", tmp_path / "schemas")
    monkeypatch.chdir(tmp_path)
    out = chat(flow, "hi", "show me suvs", "/state", "under 30k", "/save suv_budget")
    text = convo(flow).read_text(encoding="utf-8")
    assert text.startswith("# yaml-language-server: $schema=../schemas/convo.schema.json\n")
    assert "flowbot test" in text
    assert cases(flow) == {"suv_budget": case("hi", "show me suvs", "under 30k")}
    shown = os.path.join("flows", "cars.convo.yaml")  # relative to the working folder
    assert (f"saved case 'suv_budget' (3 turns) to {shown}; "
            f"run it with: flowbot test {shown}\n") in out


def test_a_file_outside_the_working_folder_is_shown_by_its_full_path(flow: Path) -> None:
    out = chat(flow, "hi", "/save greeting")
    assert f"saved case 'greeting' (1 turn) to {convo(flow)};" in out


def test_a_path_with_no_relative_form_is_shown_in_full(
        flow: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def other_drive(path: Any, start: Any = None) -> str:
        raise ValueError("path is on mount 'D:', start on mount 'C:'")

    convo(flow).write_text("flow: cars.yaml\ncases:\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(os.path, "relpath", other_drive)
    out = chat(flow, "hi", "/save greeting")
    assert f"saved case 'greeting' (1 turn) to {convo(flow)};" in out


def test_save_is_not_available_without_a_saver(flow: Path) -> None:
    out = io.StringIO()
    lines = ["hi", "/save greeting", "/state"]
    run_chat(engine_for(flow), ChatOptions(), lines=lambda: iter(lines), out=out)
    assert "saving test cases is not available here\n" in out.getvalue()
    assert "state: greet" in out.getvalue()  # the chat carried on
    assert not convo(flow).exists()


def test_without_a_schemas_folder_the_header_has_no_schema_line(flow: Path) -> None:
    chat(flow, "hi", "/save greeting")
    text = convo(flow).read_text(encoding="utf-8")
    assert "$schema" not in text and text.startswith("#")
    assert cases(flow) == {"greeting": case("hi")}


def test_a_second_save_appends_and_keeps_the_rest_of_the_file_byte_for_byte(
        flow: Path) -> None:
    chat(flow, "hi", "/save first")
    edited = convo(flow).read_text(encoding="utf-8").replace(
        "cases:\n", "seed: 7   # keep this comment\ncases:\n  # cases below were saved from chat\n")
    convo(flow).write_text(edited, encoding="utf-8")
    chat(flow, "show me suvs", "/save second")
    text = convo(flow).read_text(encoding="utf-8")
    assert text.startswith(edited)
    assert text[len(edited):] == (
        f'  second:\n    today: "{TODAY}"\n    turns:\n      - show me suvs\n')
    assert cases(flow) == {"first": case("hi"), "second": case("show me suvs")}


def test_a_save_follows_the_indentation_of_the_existing_cases(flow: Path) -> None:
    convo(flow).write_text("flow: cars.yaml\ncases:\n    first:\n        turns: [hi]\n",
                           encoding="utf-8")
    chat(flow, "show me suvs", "/save second")
    assert convo(flow).read_text(encoding="utf-8").endswith(
        f'    second:\n        today: "{TODAY}"\n        turns:\n            - show me suvs\n')
    assert list(cases(flow)) == ["first", "second"]


def test_a_duplicate_name_is_refused_and_the_chat_goes_on(flow: Path) -> None:
    out = chat(flow, "hi", "/save greeting", "show me suvs", "/save greeting", "/state")
    assert "already has a case 'greeting': choose another name" in out
    assert "state: browse" in out  # the chat carried on
    assert cases(flow) == {"greeting": case("hi")}


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
    assert cases(flow) == {"after_reset": case("hi")}


def test_a_resumed_session_is_saved_with_its_start_state_and_slots(
        flow: Path, tmp_path: Path) -> None:
    session = tmp_path / "session.json"
    chat(flow, "show me suvs", session=session)
    out = chat(flow, "under 30k", "/save resumed", session=session)
    assert "resumed session" in out
    assert cases(flow) == {"resumed": case(
        "under 30k", start={"state": "browse", "slots": {"body_type": "suv"}})}
    assert "      slots: {body_type: suv}\n" in convo(flow).read_text(encoding="utf-8")


def test_a_resumed_session_saves_only_the_declared_slots_not_lookup_results(
        flow: Path, tmp_path: Path) -> None:
    session = tmp_path / "session.json"
    chat(flow, "show me suvs under 35k", session=session)
    assert len(json.loads(session.read_text())["slots"]["matches"]) > 1  # a lookup's rows
    out = chat(flow, "tell me about the Kona", "/save resumed", session=session)
    start = {"state": "browse", "slots": {"body_type": "suv", "budget": 35000}}
    assert cases(flow) == {"resumed": case("tell me about the Kona", start=start)}
    # Starting there re-enters 'browse', whose lookup finds the matches again.
    convo_file = load_convo(convo(flow))
    run = CaseRunner(convo_file, provider_for(convo_file)).run(convo_file.cases["resumed"])
    assert run.error is None and not run.failures
    assert [len(result.slots["matches"]) for result in run.results] == [5, 5]
    assert all(text in out for text in run.results[-1].texts)


def test_the_case_keeps_the_chat_s_date_so_weekdays_replay_the_same(flow: Path) -> None:
    out = chat(flow, "I'd like a test drive of the Kona", "friday", "/slots", "/save friday")
    assert '"date": "2026-03-06"' in out
    assert f'    today: "{TODAY}"\n' in convo(flow).read_text(encoding="utf-8")
    convo_file = load_convo(convo(flow))
    saved = convo_file.cases["friday"]
    assert saved.today == DAY
    run = CaseRunner(convo_file, provider_for(convo_file)).run(saved)
    assert run.error is None
    assert run.results[-1].slots["date"] == "2026-03-06"


def test_saving_into_the_projects_own_test_file_keeps_every_case(flow: Path) -> None:
    shutil.copy(ROOT / "flows" / "cars.convo.yaml", flow.parent)
    original = convo(flow).read_text(encoding="utf-8")
    old, _ = load_yaml(original)
    assert old["cases"]["compare_then_book"]["turns"][9] == {  # `yes` is a word here
        "user": "yes", "expect": {"state": "anything_else", "says": "Your reference is TD-"}}
    out = chat(flow, "show me suvs under 35k", "/save from_chat")
    assert "saved case 'from_chat' (1 turn)" in out
    text = convo(flow).read_text(encoding="utf-8")
    assert text.startswith(original)
    assert text[len(original):] == (
        f'  from_chat:\n    today: "{TODAY}"\n    turns:\n      - show me suvs under 35k\n')
    assert cases(flow) == {**old["cases"], "from_chat": case("show me suvs under 35k")}
    assert list(load_convo(convo(flow)).cases) == [*old["cases"], "from_chat"]


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
    "flow: cars.yaml\ncases:\n  first:\n    turns: [hi]\n  first:\n    turns: [hello]\n",
    "flow: cars.yaml\ncases:\n  first:\n    start: {state: nowhere}\n    turns: [hi]\n",
])
def test_a_file_that_cannot_be_appended_to_is_refused_and_left_unchanged(
        flow: Path, layout: str) -> None:
    convo(flow).write_text(layout, encoding="utf-8")
    out = chat(flow, "hi", "/save second")
    assert "cannot add to" in out and "add the case by hand" in out
    assert convo(flow).read_text(encoding="utf-8") == layout


def test_the_file_is_read_by_flowbot_s_yaml_rules_not_yaml_1_1(flow: Path) -> None:
    written = ("flow: cars.yaml\ntoday: 2026-01-05  # a date, but a string to flowbot\n"
               "cases:\n  words:\n    turns: [yes, no, on, off]\n")
    convo(flow).write_text(written, encoding="utf-8")
    chat(flow, "hi", "/save second")
    assert convo(flow).read_text(encoding="utf-8").startswith(written)
    assert cases(flow) == {"words": {"turns": ["yes", "no", "on", "off"]}, "second": case("hi")}


def test_a_cancelled_turn_is_not_kept(flow: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = engine_for(flow)
    real = engine.handle

    def slow(session: Any, text: str, on_token: Any = None) -> Any:
        if text == "cancel me":
            raise KeyboardInterrupt
        return real(session, text, on_token)

    monkeypatch.setattr(engine, "handle", slow)
    out = io.StringIO()
    lines = ["hi", "cancel me", "show me suvs", "/save kept"]
    run_chat(engine, options(flow, interactive=True), lines=lambda: iter(lines), out=out)
    assert "cancelled" in out.getvalue()
    assert cases(flow)["kept"]["turns"] == ["hi", "show me suvs"]


def test_an_empty_cases_key_gets_its_first_case(flow: Path) -> None:
    convo(flow).write_text("flow: cars.yaml  # written by hand\ncases:\n", encoding="utf-8")
    chat(flow, "hi", "/save first")
    assert convo(flow).read_text(encoding="utf-8") == (
        "flow: cars.yaml  # written by hand\ncases:\n"
        f'  first:\n    today: "{TODAY}"\n    turns:\n      - hi\n')


def test_windows_line_endings_are_kept(flow: Path) -> None:
    convo(flow).write_bytes(b"flow: cars.yaml\r\ncases:\r\n  first:\r\n    turns: [hi]")
    chat(flow, "show me suvs", "/save second")
    assert convo(flow).read_bytes() == (
        b"flow: cars.yaml\r\ncases:\r\n  first:\r\n    turns: [hi]\r\n"
        b'  second:\r\n    today: "2026-03-04"\r\n    turns:\r\n      - show me suvs\r\n')


def test_a_finished_conversation_can_still_be_saved_at_the_terminal(flow: Path) -> None:
    out = chat(flow, "show me suvs under 35k", "bye", "/save ends_politely", "/quit",
               interactive=True)
    assert "the conversation has ended" in out
    assert cases(flow) == {"ends_politely": case("show me suvs under 35k", "bye")}


def test_a_message_after_the_end_starts_a_new_case(flow: Path) -> None:
    chat(flow, "bye", "show me suvs under 35k", "/save second", "/quit", interactive=True)
    assert cases(flow) == {"second": case("show me suvs under 35k")}


def test_a_saved_case_runs_as_a_test_with_the_replies_the_chat_gave(flow: Path) -> None:
    typed = ["show me suvs under 35k", "tell me about the Kona", "book a test drive"]
    out = chat(flow, *typed, "/save from_chat")
    convo_file = load_convo(convo(flow))
    run = CaseRunner(convo_file, provider_for(convo_file)).run(convo_file.cases["from_chat"])
    assert run.error is None and not run.failures
    replies = [text for result in run.results for text in result.texts]
    assert all(reply in out for reply in replies)
    assert [t["user"] for t in run.transcript["turns"][1:]] == typed


def test_flowbot_run_offers_save_through_the_command_line(flow: Path) -> None:
    result = CliRunner().invoke(main, ["run", str(flow)],
                                input="show me suvs under 35k\n/save from_cli\n")
    assert result.exit_code == 0, result.output
    assert "saved case 'from_cli' (1 turn)" in result.output
    assert list(cases(flow)) == ["from_cli"]
