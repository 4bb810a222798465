"""`Engine.handle(session, text) -> TurnResult`: the public entry to a turn.

The Engine builds what all sessions of a flow share, once: the router, the
compiled state machine, the provider and the clock. Each call then runs one
Dialogue (engine/dialogue.py) over those parts:

normalise -> route (rules, slot answers, examples, knowledge, LLM router) ->
step (the shared machine fires one event) -> act -> respond (templates, or an
open-ended answer from the provider, else the state's fallback).

Each TurnResult says why it went where it went: which intent, by which tier,
with what confidence, which slots changed and which actions ran.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable

from engine.dialogue import Dialogue
from engine.flow import Flow
from engine.llm.base import LLMProvider
from engine.llm.chat import TokenSink
from engine.llm.offline import OfflineProvider
from engine.machine import FlowMachine
from engine.result import TurnResult
from engine.routing import Router
from engine.session import Session


class Engine:
    """Everything shared by the sessions of one flow; cheap to call per turn."""

    def __init__(
        self,
        flow: Flow,
        provider: LLMProvider | None = None,
        today: Callable[[], datetime.date] = datetime.date.today,
        max_input_chars: int | None = None,
    ) -> None:
        self.flow = flow
        self.provider: LLMProvider = provider or OfflineProvider()
        self.router = Router(flow)
        self.machine = FlowMachine(flow)
        self.today = today
        self.max_input_chars = max_input_chars or flow.settings.max_input_chars

    def new_session(self, session_id: str | None = None) -> Session:
        return Session(state=self.flow.start, id=session_id)

    def start(self, session: Session, state: str | None = None) -> TurnResult:
        """Open the conversation: enter the start state (or `state`, to begin mid-flow
        with the session's slots) and say what it says on arrival."""
        if state is not None and state not in self.flow.states:
            raise ValueError(f"the flow has no state {state!r}")
        dialogue = Dialogue(self, session, None)
        dialogue.begin(state)
        result = dialogue.result()
        if self.provider.enabled:
            result.notices.append(self.provider.describe())
        else:
            result.notices.append(dialogue.render_notice())
        return result

    def handle(self, session: Session, text: str,
               on_token: TokenSink | None = None) -> TurnResult:
        """Handle one user message; mutates `session` and says what happened.

        With `on_token`, a model's answer is passed on piece by piece as it streams
        in (engine/streaming.py wraps this as iterators); the TurnResult still holds
        the whole reply, marked `streamed`."""
        dialogue = Dialogue(self, session, text, on_token)
        dialogue.run()
        return dialogue.result()
