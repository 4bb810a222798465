"""Running one conversation test case: the turns through the engine, each turn's
expectations checked (expectations.py), and the whole conversation written down
as a transcript (transcript.py), the data a snapshot keeps.

A case is deterministic by construction: the date is frozen, Python's random
module is seeded, the model answers from a cassette (or not at all), and reply
variations already rotate with the turn number.
"""

from __future__ import annotations

import copy
import datetime
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
from engine.result import TurnResult
from engine.testing.convo import DEFAULT_TODAY, Case, ConvoFile, Turn
from engine.testing.expectations import check
from engine.testing.transcript import brief, describe_turn
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
                                       "slots": {k: brief(v) for k, v in session.slots.items()}}
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
