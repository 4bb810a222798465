"""Unit tests of the runtime modules: machine, routing, templates, actions,
sessions, input normalising and replies."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine import Engine, Session, StoreError, TemplateError
from engine.actions import run_lookup
from engine.expressions import compile_expression
from engine.flow import Lookup
from engine.machine import NEXT_EVENT, intent_event
from engine.session import load_session_file, save_session_file
from engine.templates import Template
from engine.text import normalise
from tests.flowkit import engine_for, started

SMALL = """\
flow: small
start: a
intents:
  go: {patterns: ['\\bgo\\b'], examples: ["let us move on now"]}
  stop: {keywords: [stop, halt now]}
slots:
  n: {type: number, prompt: "How many?"}
states:
  a:
    say: "in a"
    on:
      go:
        - {when: "slots.n > 5", goto: c}
        - {goto: b}
  b:
    collect: [n]
    say: "n is {{ n }}"
    next:
      - {when: "slots.n > 5", goto: c}
      - {goto: a}
  c: {say: "in c", final: true}
global:
  - {intent: stop, goto: c}
"""


@pytest.fixture
def small(tmp_path: Path) -> Engine:
    return engine_for(tmp_path, SMALL)


def test_machine_takes_the_first_transition_whose_condition_holds(small: Engine) -> None:
    machine = small.machine
    assert machine.fire("a", intent_event("go"), {"slots": {"n": 9}})[0] == "c"
    dest, fired = machine.fire("a", intent_event("go"), {"slots": {}})
    assert dest == "b" and fired is not None and fired.target == "b"


def test_machine_ignores_events_not_allowed_in_a_state(small: Engine) -> None:
    assert small.machine.fire("c", intent_event("go"), {"slots": {}}) == ("c", None)
    assert small.machine.fire("a", "intent:unknown", {"slots": {}}) == ("a", None)


def test_global_transitions_fire_from_every_state(small: Engine) -> None:
    for state in ("a", "b"):
        assert small.machine.fire(state, intent_event("stop"), {"slots": {}})[0] == "c"


def test_next_exits_run_without_waiting(small: Engine) -> None:
    assert small.machine.fire("b", NEXT_EVENT, {"slots": {"n": 1}})[0] == "a"
    session = started(small)
    small.handle(session, "go")
    result = small.handle(session, "3")
    assert result.texts == ["n is 3", "in a"] and result.state == "a"


def test_keywords_match_whole_words_only(small: Engine) -> None:
    assert small.router.match_rules("a", "please stop") is not None
    assert small.router.match_rules("a", "unstoppable") is None
    assert small.router.match_rules("a", "halt   now").intent == "stop"


def test_example_matcher_uses_allowed_intents_only(small: Engine) -> None:
    match = small.router.match_examples("a", "let us move on")
    assert match is not None and match.intent == "go" and match.tier == "example"
    assert small.router.match_examples("c", "let us move on") is None


def test_a_loop_of_next_exits_is_stopped_and_reported(tmp_path: Path) -> None:
    engine = engine_for(tmp_path, """\
        flow: loop
        start: a
        intents: {go: {patterns: [go]}}
        slots: {n: {type: number}}
        states:
          a: {on: {go: b}}
          b: {next: [{goto: a, when: "slots.n == 1"}, {goto: c}]}
          c: {next: b}
        """)
    session = started(engine)
    result = engine.handle(session, "go")
    assert any(e["type"] == "error" and "without waiting" in e["message"] for e in result.events)


def test_template_filters_and_sandbox() -> None:
    assert Template("{{ 35000|money }}").render({}) == "$35,000"
    assert Template("{{ xs|join_natural }}").render({"xs": ["a", "b", "c"]}) == "a, b and c"
    assert Template("{{ d|nice_date }}").render({"d": "2026-12-04"}) == "Friday 4 December 2026"
    assert Template("{{ x.__class__.__mro__ }}").render({"x": 1}) == ""
    assert Template("plain text").is_static


def test_lookup_filters_sorts_and_limits() -> None:
    rows = ({"m": "a", "p": 3}, {"m": "b", "p": 1}, {"m": "c", "p": None}, {"m": "d", "p": 2})
    lookup = Lookup("t", "out", compile_expression("p == null or p >= slots.min"), "p", True, 3)
    assert [r["m"] for r in run_lookup(lookup, rows, {"min": 2})] == ["a", "d", "c"]
    one = Lookup("t", "out", compile_expression("m == 'b'"), one=True)
    assert run_lookup(one, rows, {}) == {"m": "b", "p": 1}


def test_normalise_removes_control_and_invisible_characters() -> None:
    assert normalise("  hi\x00 there\u200b\n\t ") == "hi there"
    assert normalise("ｓｈｏｗ　ｍｅ") == "show me"  # full-width forms fold to ASCII


def test_session_round_trips_through_json(tmp_path: Path) -> None:
    session = Session("browse", id="abc", slots={"budget": 30000}, pending="body_type")
    path = tmp_path / "s.json"
    save_session_file(session, path)
    loaded = load_session_file(path)
    assert loaded is not None and loaded.to_dict() == session.to_dict()
    json.dumps(loaded.to_dict())
    assert load_session_file(tmp_path / "missing.json") is None


def test_session_file_with_foreign_keys_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    path.write_text(json.dumps({"state": "a", "evil": 1}))
    with pytest.raises(StoreError, match="unexpected keys"):
        load_session_file(path)


def test_failing_python_action_gives_the_fallback_and_the_turn_completes(tmp_path: Path) -> None:
    (tmp_path / "acts.py").write_text("def boom(slots, data):\n    raise RuntimeError('kaput')\n")
    engine = engine_for(tmp_path, """\
        flow: acts
        start: a
        intents: {go: {patterns: [go]}}
        states:
          a: {on: {go: {do: [{python: acts.boom}], goto: b}}}
          b: {say: never, final: true}
        """)
    session = started(engine)
    result = engine.handle(session, "go")
    assert result.state == "a"
    assert any("kaput" in e.get("message", "") for e in result.events)
    assert result.texts and "didn't understand" in result.texts[0]
    assert engine.handle(session, "go").state == "a"  # still usable


def test_variations_rotate_deterministically(tmp_path: Path) -> None:
    engine = engine_for(tmp_path, """\
        flow: v
        start: a
        intents: {hi: {patterns: [hi]}}
        states:
          a: {on: {hi: {say: [one, two, three]}}}
        """)
    session = started(engine)
    texts = [engine.handle(session, "hi").texts[0] for _ in range(4)]
    assert texts == ["two", "three", "one", "two"]


def test_filters_render_missing_values_as_empty_text() -> None:
    rendered = Template("[{{ budget|money }}|{{ xs|join_natural }}|{{ d|nice_date }}]").render({})
    assert rendered == "[||]"


def test_an_exact_choice_answers_the_question_before_intent_rules(tmp_path: Path) -> None:
    engine = engine_for(tmp_path, """\
        flow: choice
        start: a
        intents:
          cancel: {patterns: ['\\bcancel\\b']}
        slots:
          action: {type: enum, values: [reschedule, cancel], prompt: "Reschedule or cancel?"}
        states:
          a:
            collect: [action]
            say: "you chose {{ action }}"
            on: {cancel: b}
          b: {say: cancelled, final: true}
        global:
          - {intent: cancel, goto: b}
        """)
    session = started(engine)
    result = engine.handle(session, "Cancel.")
    assert result.slots["action"] == "cancel" and result.state == "a"
    assert result.texts == ["you chose cancel"]
    session = started(engine)
    assert engine.handle(session, "please cancel everything").state == "b"


def test_a_high_priority_global_beats_the_state_intents(tmp_path: Path) -> None:
    flow = """\
        flow: urgent
        start: a
        intents:
          book: {patterns: ['\\bbook\\b']}
          emergency: {patterns: ['\\bbleeding\\b']}
        states:
          a: {on: {book: b}}
          b: {say: booking, final: true}
          sos: {say: call 911, final: true}
        global:
          - {intent: emergency, goto: sos, priority: PRIORITY}
        """
    normal = engine_for(tmp_path, flow.replace("PRIORITY", "normal"))
    assert normal.handle(started(normal), "book me in, I'm bleeding").state == "b"
    high = engine_for(tmp_path, flow.replace("PRIORITY", "high"))
    assert high.handle(started(high), "book me in, I'm bleeding").state == "sos"


def test_a_template_that_fails_at_run_time_does_not_break_the_turn(tmp_path: Path) -> None:
    engine = engine_for(tmp_path, """\
        flow: broken
        start: a
        intents: {go: {patterns: [go]}}
        states:
          a: {on: {go: {say: "{{ missing|round }} and {{ 1 / 0 }}"}}}
        """)
    session = started(engine)
    result = engine.handle(session, "go")
    assert any(e["type"] == "error" and "template failed" in e["message"] for e in result.events)
    assert engine.handle(session, "go").state == "a"


def test_an_optional_mention_group_that_did_not_match_is_skipped(tmp_path: Path) -> None:
    engine = engine_for(tmp_path, """\
        flow: names
        start: a
        slots:
          name: {type: text, mentions: ['(?:my name is (\\w+))|called'], prompt: "Name?"}
        states:
          a: {collect: [name], say: "hi {{ name }}", final: true}
        """)
    session = started(engine)
    assert engine.handle(session, "called").texts == ["hi called"]


def test_a_python_action_must_return_plain_json_data(tmp_path: Path) -> None:
    (tmp_path / "acts.py").write_text(
        "import datetime\ndef when(slots, data):\n    return {'day': datetime.date(2026, 1, 1)}\n")
    engine = engine_for(tmp_path, """\
        flow: acts
        start: a
        intents: {go: {patterns: [go]}}
        states:
          a: {on: {go: {do: [{python: acts.when}], goto: b}}}
          b: {say: done, final: true}
        """)
    session = started(engine)
    result = engine.handle(session, "go")
    assert any("not plain JSON" in e.get("message", "") for e in result.events)
    json.dumps(session.to_dict())


def test_a_failing_start_notice_falls_back_to_plain_words(tmp_path: Path) -> None:
    engine = engine_for(tmp_path, """\
        flow: notice
        start: a
        messages: {llm_off: "{{ 1 / 0 }}"}
        states:
          a: {say: hello, final: true}
        """)
    result = engine.start(engine.new_session())
    assert result.notices == ["(The language model is off: no OPENAI_API_KEY is set.)"]
    assert result.texts == ["hello"]


@pytest.mark.parametrize(
    ("field", "value"),
    [("slots", []), ("attempts", "x"), ("history", 5), ("state", ["x"]), ("stack", [1])],
)
def test_a_session_with_wrong_types_is_rejected_clearly(field: str, value: object) -> None:
    data = Session("a").to_dict()
    data[field] = value
    with pytest.raises(StoreError, match=f"'{field}' must be"):
        Session.from_dict(data)


def test_a_deeply_nested_template_is_a_template_error() -> None:
    with pytest.raises(TemplateError, match="nested too deeply"):
        Template("{{ " + "(" * 3000 + "1" + ")" * 3000 + " }}")


def test_a_turn_that_fails_half_way_changes_nothing(tmp_path: Path) -> None:
    (tmp_path / "acts.py").write_text("def boom(slots, data):\n    raise RuntimeError('no')\n")
    engine = engine_for(tmp_path, """\
        flow: atomic
        start: a
        intents: {go: {patterns: [go]}}
        slots: {n: {type: number}}
        states:
          a: {on: {go: {do: [{set: {n: 1}}], say: moving, goto: b}}}
          b: {do: [{python: acts.boom}], say: never, final: true}
        """)
    session = started(engine)
    result = engine.handle(session, "go")
    assert (result.state, session.slots) == ("a", {})
    assert "moving" not in result.texts and result.texts
