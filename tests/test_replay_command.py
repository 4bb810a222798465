"""`flowbot replay`: recorded conversations re-run against a flow, through the CLI."""

from __future__ import annotations

import datetime
import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli import main
from engine import Engine, load_flow
from engine.testing.rerun import Observed, compare
from engine.testing.transcripts import RecordedTurn

ROOT = Path(__file__).resolve().parent.parent
FLOWS = ROOT / "flows"
CARS = str(FLOWS / "cars.yaml")
MESSAGES = "hi\nshow me suvs\n30k\ntell me about the kona\nbye\n"
GOODBYE = "Thanks for visiting Acme Motors. Goodbye!"


def flowbot(*args: str, input: str = "") -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), input=input)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(scope="module")
def transcript(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two runs of `flowbot run --json`, concatenated as a user would with `>>`."""
    code, first, _ = flowbot("run", CARS, "--json", input=MESSAGES)
    assert code == 0
    code, second, _ = flowbot("run", CARS, "--json", input="show me a sedan\nunder 40k\n")
    assert code == 0
    path = tmp_path_factory.mktemp("replay") / "cars.jsonl"
    path.write_text(first + second, encoding="utf-8")
    return path


def edited_copy(tmp_path: Path, old: str, new: str) -> str:
    """flows/cars.yaml copied with its data and actions, with one piece of text changed."""
    shutil.copytree(FLOWS / "data", tmp_path / "data")
    shutil.copy(FLOWS / "actions.py", tmp_path / "actions.py")
    text = (FLOWS / "cars.yaml").read_text(encoding="utf-8")
    assert text.count(old) == 1
    (tmp_path / "cars.yaml").write_text(text.replace(old, new), encoding="utf-8")
    return str(tmp_path / "cars.yaml")


def test_replaying_against_the_unchanged_flow_is_all_the_same(transcript: Path) -> None:
    code, out, err = flowbot("replay", str(transcript), "--flow", CARS)
    assert (code, err) == (0, "")
    assert out == "2 conversations, 7 turns: all the same\n"


def test_verbose_lists_every_turn_and_quiet_only_the_summary(transcript: Path) -> None:
    _, out, _ = flowbot("replay", str(transcript), "--flow", CARS, "--verbose")
    assert 'conversation 2 (line 7), turn 2 "under 40k": same' in out
    assert "conversation 1 (line 1), greeting: same" in out
    _, out, _ = flowbot("replay", str(transcript), "--flow", CARS, "-q")
    assert out.splitlines() == ["2 conversations, 7 turns: all the same"]


def test_a_changed_reply_is_shown_old_and_new_at_its_conversation_and_turn(
        transcript: Path, tmp_path: Path) -> None:
    flow = edited_copy(tmp_path, GOODBYE, "Bye for now!")
    code, out, _ = flowbot("replay", str(transcript), "--flow", flow)
    assert code == 1
    assert out.splitlines() == [
        'conversation 1 (line 1), turn 5 "bye": reply differs',
        f"    - {GOODBYE}",
        "    + Bye for now!",
        "2 conversations, 7 turns: 1 turn differs",
    ]


def test_a_changed_transition_reports_the_new_state_and_what_follows(
        transcript: Path, tmp_path: Path) -> None:
    exits = "      refine: browse\n      browse: browse\n      details: "
    flow = edited_copy(tmp_path, exits + "details", exits + "greet")  # browse's exits only
    code, out, _ = flowbot("replay", str(transcript), "--flow", flow)
    assert code == 1
    assert ('conversation 1 (line 1), turn 4 "tell me about the kona": '
            "state 'details' -> 'greet'; reply differs") in out
    assert "    - The 2024 Hyundai Kona is a 5-seat suv" in out
    assert out.rstrip().endswith("2 conversations, 7 turns: 1 turn differs")


def test_the_role_and_text_export_format_is_replayed(tmp_path: Path) -> None:
    lines = [{"role": "bot", "text": "ignored greeting wording", "state": "greet"},
             {"role": "user", "text": "show me suvs"},
             {"role": "bot", "text": 'What\'s your budget? (for example "35k")',
              "state": "browse", "intent": "browse"},
             {"role": "user", "text": "bye"},
             {"role": "bot", "text": "See you!"}]
    path = tmp_path / "export.jsonl"
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n\n", encoding="utf-8")
    code, out, _ = flowbot("replay", str(path), "--flow", CARS)
    assert code == 1
    assert out.splitlines() == [
        "conversation 1 (line 1), greeting: reply differs",
        "    - ignored greeting wording",
        "    + Hi! I'm the Acme Motors assistant. I can help you browse our cars, tell you "
        "about a model, compare two models or book a test drive. What are you looking for?",
        'conversation 1 (line 1), turn 2 "bye": reply differs',
        "    - See you!",
        f"    + {GOODBYE}",
        "1 conversation, 2 turns: 1 turn differs, 1 greeting differs",
    ]


def test_a_malformed_json_line_exits_2_naming_the_file_and_line(
        transcript: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.jsonl"
    broken.write_text(transcript.read_text().replace("\n", "\n{oops\n", 1), encoding="utf-8")
    code, out, err = flowbot("replay", str(broken), "--flow", CARS)
    assert code == 2 and out == ""
    assert err.startswith(f"{broken}:2: not valid JSON") and "Traceback" not in err


@pytest.mark.parametrize("line", ['["user", "hi"]', '{"text": "hi"}',
                                  '{"role": "system", "text": "hi"}',
                                  '{"user": "hi", "replies": "hello"}'])
def test_lines_that_are_not_transcript_turns_exit_2_with_the_line(
        tmp_path: Path, line: str) -> None:
    path = tmp_path / "odd.jsonl"
    path.write_text(f'\n{line}\n', encoding="utf-8")
    code, _, err = flowbot("replay", str(path), "--flow", CARS)
    assert code == 2 and err.startswith(f"{path}:2: ")


def test_a_resumed_conversation_starts_in_its_recorded_state(tmp_path: Path) -> None:
    session = tmp_path / "session.json"
    flowbot("run", CARS, "--session", str(session), input="show me suvs\n")
    code, resumed, _ = flowbot("run", CARS, "--session", str(session), "--json", input="30k\n")
    assert code == 0 and json.loads(resumed.splitlines()[0])["resumed"] is True
    path = tmp_path / "resumed.jsonl"
    path.write_text(resumed, encoding="utf-8")
    code, out, _ = flowbot("replay", str(path), "--flow", CARS)
    assert (code, out) == (0, "1 conversation, 1 turn: all the same\n")
    path.write_text(resumed.replace('"state": "browse"', '"state": "browsing"', 1))
    code, out, _ = flowbot("replay", str(path), "--flow", CARS)
    assert code == 1
    assert ("conversation 1 (line 1): it resumed in state 'browsing', which the flow no longer "
            "has (did you mean 'browse'?)") in out


def test_a_missing_transcript_is_a_clear_error_without_a_traceback(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.jsonl"
    code, out, err = flowbot("replay", str(missing), "--flow", CARS)
    assert (code, out) == (2, "")
    assert err == f"{missing}: no such file\n"


def test_an_empty_transcript_exits_2(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n\n", encoding="utf-8")
    code, _, err = flowbot("replay", str(empty), "--flow", CARS)
    assert code == 2 and err == f"{empty}: holds no conversation\n"


def test_a_strict_cassette_miss_is_reported_for_its_turn_not_as_a_traceback(
        tmp_path: Path) -> None:
    path = tmp_path / "question.jsonl"
    path.write_text('{"role": "user", "text": "is the RAV4 any good for camping?"}\n')
    code, out, err = flowbot("replay", str(path), "--flow", CARS, "--llm", "replay",
                             "--cassette", str(tmp_path / "empty.llm.yaml"))
    assert code == 1 and "Traceback" not in out + err
    assert "conversation 1 (line 1): turn 1 failed, the rest was not re-run:" in out
    assert out.rstrip().endswith("1 conversation, 1 turn: 1 conversation not re-run to the end")
    assert "\n    To re-record" in out  # the error's further lines stay under its conversation


def recorded(route: str, reply: str) -> RecordedTurn:
    return RecordedTurn("is it good for camping?", (reply,), state="browse", route=route,
                        llm=route == "llm", recorded=frozenset({"state", "route"}))


def observed(route: str, reply: str) -> Observed:
    return Observed((reply,), "browse", None, route, ended=False, llm=route == "llm")


def test_model_wording_is_not_compared_when_the_model_answered_both_times() -> None:
    differences, notes = compare(recorded("llm", "Yes, lots of room."),
                                 observed("llm", "It has plenty of space."))
    assert differences == ()
    assert notes == ("reply wording not compared: the model answered both then and now",)


def test_a_model_answer_now_replaced_by_the_fallback_is_a_difference() -> None:
    differences, notes = compare(recorded("llm", "Yes, lots of room."),
                                 observed("fallback", "Sorry, I didn't get that."))
    assert [str(d) for d in differences] == [
        "route: 'llm' -> 'fallback'",
        "reply: - Yes, lots of room. / + Sorry, I didn't get that."]
    assert "not now" in notes[0]


# ---- resumed conversations, dates, partial recordings, byte-order marks, the model ----


@pytest.mark.parametrize("answer", ["30k", "30000"])
def test_a_resumed_conversation_is_asked_again_for_the_slot_it_waited_for(
        tmp_path: Path, answer: str) -> None:
    # A bare "30000" is a budget only as the answer to "What's your budget?": the
    # re-run must be waiting for that slot, as the live session was.
    session = tmp_path / "session.json"
    flowbot("run", CARS, "--session", str(session), input="show me suvs\n")
    code, resumed, _ = flowbot("run", CARS, "--session", str(session), "--json",
                               input=answer + "\n")
    assert code == 0 and json.loads(resumed.splitlines()[-1])["slots"]["budget"] == 30000
    path = tmp_path / "resumed.jsonl"
    path.write_text(resumed, encoding="utf-8")
    code, out, _ = flowbot("replay", str(path), "--flow", CARS, "--verbose")
    assert code == 0
    assert out.splitlines() == [f'conversation 1 (line 1), turn 1 "{answer}": same',
                                "1 conversation, 1 turn: all the same"]


MONDAY = datetime.date(2024, 6, 3)
BOOKING = ["book a test drive of the kona", "friday", "Sam Lee", "555 123 4567", "yes"]


def recorded_on(day: datetime.date, messages: list[str]) -> str:
    """What `flowbot run --json` prints for MESSAGES on DAY (the command cannot pin
    the date): the greeting's line, then one line per turn."""
    engine = Engine(load_flow(CARS), today=lambda: day)
    session = engine.new_session()
    results = [engine.start(session), *(engine.handle(session, text) for text in messages)]
    return "".join(json.dumps(result.to_dict(), default=str) + "\n" for result in results)


def test_today_replays_relative_dates_as_on_the_day_they_were_recorded(
        tmp_path: Path) -> None:
    path = tmp_path / "booking.jsonl"
    path.write_text(recorded_on(MONDAY, BOOKING), encoding="utf-8")
    assert "Friday 7 June 2024" in path.read_text(encoding="utf-8")
    code, out, _ = flowbot("replay", str(path), "--flow", CARS, "--today", "2024-06-03")
    assert (code, out) == (0, "1 conversation, 5 turns: all the same\n")
    code, out, _ = flowbot("replay", str(path), "--flow", CARS)  # read against today
    assert code == 1
    assert "    - Shall I book a test drive of the Kona on Friday 7 June 2024" in out


@pytest.mark.parametrize("value", ["2024-13-01", "03/06/2024", "friday"])
def test_a_today_that_is_not_a_yyyy_mm_dd_date_exits_2_saying_so(
        transcript: Path, value: str) -> None:
    code, out, err = flowbot("replay", str(transcript), "--flow", CARS, "--today", value)
    assert (code, out) == (2, "")
    assert f"Invalid value for '--today': '{value}' does not match the format" in err
    assert "%Y-%m-%d" in err and "Traceback" not in err


def test_a_turn_recorded_without_replies_has_its_words_left_alone(
        transcript: Path, tmp_path: Path) -> None:
    lines = [json.loads(line) for line in transcript.read_text().splitlines()]
    bye = next(line for line in lines if line["user"] == "bye")
    del bye["replies"]
    path = tmp_path / "no-replies.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    flow = edited_copy(tmp_path, GOODBYE, "Bye for now!")  # would differ, were it recorded
    code, out, _ = flowbot("replay", str(path), "--flow", flow, "--verbose")
    assert code == 0
    assert ('conversation 1 (line 1), turn 5 "bye": same\n'
            "    note: replies not compared: the recording does not hold them") in out
    differences, _ = compare(RecordedTurn("bye", None, state="end", recorded=frozenset({"state"})),
                             Observed(("Bye for now!",), "end", None, "rule", True, False))
    assert differences == ()


def test_an_export_user_line_without_a_bot_line_is_not_a_reply_difference(
        tmp_path: Path) -> None:
    path = tmp_path / "cut-short.jsonl"
    path.write_text('{"role": "user", "text": "show me suvs"}\n', encoding="utf-8")
    code, out, _ = flowbot("replay", str(path), "--flow", CARS)
    assert (code, out) == (0, "1 conversation, 1 turn: all the same\n")


def test_a_transcript_starting_with_a_byte_order_mark_is_read(
        transcript: Path, tmp_path: Path) -> None:
    path = tmp_path / "bom.jsonl"
    path.write_text(transcript.read_text(encoding="utf-8"), encoding="utf-8-sig")
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    code, out, _ = flowbot("replay", str(path), "--flow", CARS)
    assert (code, out) == (0, "2 conversations, 7 turns: all the same\n")


def test_help_says_what_today_does_and_that_a_key_means_the_live_model() -> None:
    code, out, _ = flowbot("replay", "--help")
    assert code == 0
    flat = " ".join(out.split())
    assert "--today YYYY-MM-DD" in flat
    assert "costs money and is not repeatable" in flat


def test_a_live_model_is_named_on_stderr_without_its_key(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "sk-replay-test-0123456789abcdefghij"
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    # Nothing listens there, and these rule-routed turns never ask the model anyway.
    monkeypatch.setenv("OPENAI_BASE_URL", "http://user:hunter2@127.0.0.1:9/v1")
    path = tmp_path / "rules.jsonl"
    path.write_text(recorded_on(MONDAY, ["show me suvs", "30k"]), encoding="utf-8")
    code, out, err = flowbot("replay", str(path), "--flow", CARS)
    assert (code, out) == (0, "1 conversation, 2 turns: all the same\n")
    assert err.startswith("LLM: ") and "(live)" in err
    assert secret not in err and "hunter2" not in err
