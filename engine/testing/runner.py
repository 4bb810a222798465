"""Running one conversation test case: the turns through the engine, each turn's
expectations checked, and the whole conversation written down as a transcript
(the data a snapshot keeps).

A case is deterministic by construction: the date is frozen, Python's random
module is seeded, the model answers from a cassette (or not at all), and reply
variations already rotate with the turn number.
"""

from __future__ import annotations

import copy
import datetime
import json
import os
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.errors import CassetteError, FlowbotError
from engine.llm.base import LLMProvider
from engine.llm.dotenv import merged_environment
from engine.llm.offline import OfflineProvider
from engine.llm.setup import LLMOptions, provider_from_env
from engine.replies import Reply
from engine.result import TurnResult
from engine.testing.convo import DEFAULT_TODAY, Case, ConvoFile, Expectation, Turn
from engine.turn import Engine

# The flow's own settings decide what a test sends to the model, whatever the shell says.
_IGNORED_WHEN_RECORDING = ("FLOWBOT_LLM", "FLOWBOT_MODEL", "FLOWBOT_CASSETTE", "FLOWBOT_REPLAY")


class RecordError(FlowbotError):
    """`--record` was asked for, but no model is reachable."""


def provider_for(convo: ConvoFile, record: bool = False,
                  env: Mapping[str, str] | None = None) -> LLMProvider:
    """The model a test file talks to: its cassette (strict replay), a live model
    while recording, or none for `llm: offline` files."""
    if convo.llm == "offline":
        return OfflineProvider(reason="this test file runs offline (llm: offline)",
                               hint="Remove 'llm: offline' to replay recorded answers.")
    if not record:
        return provider_from_env(convo.flow, env={}, options=LLMOptions(
            mode="replay", cassette=convo.cassette, lenient=False, dotenv=None))
    merged = merged_environment(os.environ if env is None else env, Path(".env"))
    for name in _IGNORED_WHEN_RECORDING:
        merged.pop(name, None)
    provider = provider_from_env(convo.flow, env=merged, options=LLMOptions(
        mode="record", cassette=convo.cassette, dotenv=None))
    if not provider.enabled:
        raise RecordError("--record needs a model: set OPENAI_API_KEY (or OPENAI_BASE_URL for "
                          "a local OpenAI-compatible server) in the environment or .env")
    return provider


class FrozenClock:
    """The engine's `today`, set per case."""

    def __init__(self, day: datetime.date = DEFAULT_TODAY) -> None:
        self.day = day

    def __call__(self) -> datetime.date:
        return self.day


@dataclass
class CaseRun:
    """What running one case produced."""

    transcript: dict[str, Any]
    results: list[TurnResult] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)  # expectations that did not hold
    error: str | None = None  # why the case stopped before its last turn


class CaseRunner:
    """Runs the cases of one test file over one Engine (built once per file)."""

    def __init__(self, convo: ConvoFile, provider: LLMProvider) -> None:
        self.convo = convo
        self.clock = FrozenClock()
        self.engine = Engine(convo.flow, provider=provider, today=self.clock)

    def run(self, case: Case) -> CaseRun:
        self.clock.day = case.today
        random.seed(case.seed)
        engine = self.engine
        session = engine.new_session(session_id=f"test-{case.name}")
        run = CaseRun({"case": case.name, "flow": engine.flow.name})
        turns: list[dict[str, Any]] = []
        if case.description:
            run.transcript["description"] = case.description
        state = None
        if case.start is not None:  # mid-flow: enter that state with those slots
            state = case.start.state
            session.slots = copy.deepcopy(dict(case.start.slots))
            run.transcript["start"] = {"state": state,
                                       "slots": {k: _brief(v) for k, v in session.slots.items()}}
        before = copy.deepcopy(session.slots)
        greeting = engine.start(session, state)
        run.results.append(greeting)
        turns.append(describe_turn(0, greeting, before))
        run.transcript["turns"] = turns
        for number, turn in enumerate(case.turns, 1):
            before = copy.deepcopy(session.slots)  # an action may change a list in place
            try:
                result = engine.handle(session, turn.user)
            except FlowbotError as exc:
                if isinstance(exc, CassetteError) and exc.hint:  # the hint for tests
                    exc.hint = (f"Record the model's answers with: flowbot test "
                                f"{self.convo.display} --record (needs OPENAI_API_KEY, or "
                                "OPENAI_BASE_URL for a local server)")
                run.error = (f"{self._where(case, turn, number)}: the turn could not run: "
                             f"{exc.format()}")
                return run
            run.results.append(result)
            turns.append(describe_turn(number, result, before))
            if turn.expect is not None:
                run.failures.extend(f"{self._where(case, turn, number)}: {problem}"
                                    for problem in check(turn.expect, result))
        return run

    def _where(self, case: Case, turn: Turn, number: int) -> str:
        shown = turn.user if len(turn.user) <= 60 else turn.user[:57] + "..."
        return f"{self.convo.display}:{turn.line}: case '{case.name}', turn {number} ({shown!r})"


# ---- the transcript ------------------------------------------------------------------

def _brief(value: Any) -> Any:
    """Slot values as a reader wants them: lookup results summarised, not dumped."""
    if isinstance(value, list) and value and all(isinstance(v, Mapping) for v in value):
        return f"<{len(value)} row{'s' if len(value) != 1 else ''}>"
    if isinstance(value, Mapping):
        return "<row>"
    return value


def describe_reply(reply: Reply) -> Any:
    if not reply.buttons and not reply.items:
        return reply.text
    data: dict[str, Any] = {"text": reply.text}
    if reply.buttons:
        data["buttons"] = [b["title"] if b.get("payload") in (None, b["title"])
                           else f"{b['title']} -> {b['payload']}" for b in reply.buttons]
    if reply.items:
        data["items"] = [item["title"] + (f" - {item['subtitle']}" if item.get("subtitle")
                                          else "") for item in reply.items]
    return data


def describe_event(event: Mapping[str, Any]) -> str:
    """One line per event: `slot_filled slot=budget value=35000 by=mention`."""
    details = " ".join(f"{key}={_scalar(value)}" for key, value in event.items()
                       if key != "type")
    return f"{event.get('type', 'event')} {details}".strip()


def _scalar(value: Any) -> str:
    if isinstance(value, str) and value and " " not in value:
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


def _llm_summary(llm: Mapping[str, Any]) -> dict[str, Any]:
    # latency and `replayed` change between a recording run and a replay: left out.
    keys = ("model", "calls", "source", "routed", "prompt_tokens", "completion_tokens",
            "error_kind")
    return {key: llm[key] for key in keys if llm.get(key) not in (None, "")}


def describe_turn(number: int, result: TurnResult, before: Mapping[str, Any]) -> dict[str, Any]:
    """One turn of the transcript, with only the fields that tell behaviour apart."""
    entry: dict[str, Any] = {"turn": number}
    if result.user is not None:
        entry["user"] = result.user
        entry["intent"] = result.intent
        entry["route"] = result.route
        if result.route == "example" or (result.route == "llm" and result.intent):
            entry["confidence"] = round(result.confidence, 2)
    entry["state"] = result.state
    changed = {name: _brief(value) for name, value in result.slots.items()
               if name not in before or before[name] != value}
    if changed:
        entry["slots"] = changed
    cleared = [name for name in before if name not in result.slots]
    if cleared:
        entry["cleared"] = cleared
    entry["bot"] = [describe_reply(reply) for reply in result.replies]
    if result.actions:
        entry["actions"] = list(result.actions)
    if result.events:
        entry["events"] = [describe_event(event) for event in result.events]
    if result.llm is not None:
        entry["llm"] = _llm_summary(result.llm)
    if result.ended:
        entry["ended"] = True
    return entry


# ---- expectations -------------------------------------------------------------------

def check(expect: Expectation, result: TurnResult) -> list[str]:
    """Every expectation of the turn that does not hold, as a sentence."""
    problems = []
    if expect.state is not None and result.state != expect.state:
        problems.append(f"expected state '{expect.state}', got '{result.state}'")
    if expect.checks_intent and result.intent != expect.intent:
        problems.append(f"expected intent {_shown(expect.intent)}, got {_shown(result.intent)}")
    if expect.route is not None and result.route != expect.route:
        problems.append(f"expected route '{expect.route}', got '{result.route}'")
    for name, wanted in (expect.slots or {}).items():
        actual = result.slots.get(name)
        if actual != wanted:
            problems.append(f"expected slot '{name}' = {_shown(wanted)}, got {_shown(actual)}")
    text = "\n".join(result.texts)
    lowered = text.casefold()
    for wanted in expect.says:
        if wanted.casefold() not in lowered:
            problems.append(f"expected the reply to say {wanted!r}; it said {text!r}")
    for unwanted in expect.not_says:
        if unwanted.casefold() in lowered:
            problems.append(f"expected the reply not to say {unwanted!r}; it said {text!r}")
    if expect.matches is not None and expect.matches.search(text) is None:
        problems.append(f"expected the reply to match /{expect.matches.pattern}/; "
                        f"it said {text!r}")
    offered = [button["title"] for reply in result.replies for button in reply.buttons]
    missing = [title for title in expect.buttons if title not in offered]
    if missing:
        problems.append(f"expected buttons {missing}; offered {offered}")
    if expect.ended is not None and result.ended != expect.ended:
        problems.append("expected the conversation to end" if expect.ended
                        else "expected the conversation to go on; it ended")
    if expect.llm is not None and (result.llm is not None) != expect.llm:
        problems.append("expected the model to be asked" if expect.llm
                        else "expected no model call; the model was asked")
    return problems


def _shown(value: Any) -> str:
    return "null" if value is None else repr(value)
