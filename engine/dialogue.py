"""One turn of one session, step by step.

A Dialogue lives for a single turn: it reads the compiled flow through the
engine's shared Parts, changes only its own Session, and collects replies,
events and a trace that become the TurnResult. Slot filling is its own part
(engine/filling.py).
"""

from __future__ import annotations

import datetime
from typing import Any

from engine.actions import run_actions
from engine.asking import ModelTurn
from engine.errors import ActionError, TemplateError
from engine.expression_values import TODAY_KEY
from engine.filling import SlotFilling
from engine.flow import ClearSlots, Response, Transition
from engine.llm.chat import TokenSink
from engine.machine import NEXT_EVENT, intent_event
from engine.parts import Parts
from engine.replies import Reply, render_response
from engine.result import TurnResult
from engine.routing import KnowledgeHit, Match
from engine.session import Session
from engine.text import is_question, normalise

MAX_HOPS = 25  # states passed through in one turn before we call it a loop
MAX_STACK = 10
_EVIDENCE = {"rule": "pattern", "example": "example"}  # what a tier matched, for /trace


class _Snapshot:
    """What a turn may change in a session, to undo a turn that fails. Shallow is
    enough: actions replace slot values, they never change one in place. (A plain
    slotted class: taken every turn, it must cost next to nothing.)"""

    __slots__ = ("attempts", "ended", "pending", "slots", "stack", "state")

    def __init__(self, session: Session) -> None:
        self.state, self.pending, self.attempts = session.state, session.pending, session.attempts
        self.stack, self.slots, self.ended = session.stack[:], session.slots.copy(), session.ended

    def restore(self, session: Session) -> None:
        session.state, session.pending, session.attempts = self.state, self.pending, self.attempts
        session.stack[:] = self.stack
        session.slots.clear()
        session.slots.update(self.slots)
        session.ended = self.ended


class Dialogue(SlotFilling, ModelTurn):
    def __init__(self, parts: Parts, session: Session, text: str | None,
                 on_token: TokenSink | None = None) -> None:
        self.parts = parts
        self.on_token = on_token
        self.flow = parts.flow
        self.session = session
        self.raw = text
        self.text = ""
        self.replies: list[Reply] = []
        self.events: list[dict[str, Any]] = []
        self.steps: list[tuple[str, tuple[Any, ...]]] = []  # the trace, formatted on demand
        self.actions: list[str] = []
        self.intent: str | None = None
        self.route = "fallback"
        self.confidence = 0.0
        self.llm: dict[str, Any] | None = None
        self.visited: list[str] = []
        self.fired: list[Transition] = []
        self._day: datetime.date | None = None

    @property
    def today(self) -> datetime.date:
        if self._day is None:  # asked for lazily: most turns parse no slot
            self._day = self.parts.today()
        return self._day

    # ---- results -----------------------------------------------------------

    def result(self) -> TurnResult:
        session = self.session
        bot_text = "\n".join(r.text for r in self.replies)
        if self.raw is not None:
            session.history.append(["user", self.text])
        if bot_text:
            session.history.append(["bot", bot_text])
        keep = self.flow.settings.history_turns * 2
        if len(session.history) > keep:
            del session.history[: len(session.history) - keep]
        return TurnResult(
            user=self.raw, replies=self.replies, state=session.state, slots=dict(session.slots),
            intent=self.intent, route=self.route, confidence=self.confidence,
            actions=self.actions, events=self.events, steps=self.steps, llm=self.llm,
            ended=session.ended, visited=self.visited, fired=self.fired,
        )

    def _scope(self) -> dict[str, Any]:
        """What conditions see: the slots, and the engine's clock for today()."""
        return {"slots": self.session.slots, TODAY_KEY: self.parts.today}

    def _context(self) -> dict[str, Any]:
        slots = self.session.slots
        return {**slots, "slots": slots, "user": self.text, "state": self.session.state}

    def say(self, response: Response | None, extra: dict[str, Any] | None = None) -> None:
        if response is None:
            return
        if response.static:  # most replies: no context to build
            self.replies.append(render_response(response, {}, self.session.turns))
            return
        context = self._context()
        if extra:
            context.update(extra)
        try:
            self.replies.append(render_response(response, context, self.session.turns))
        except TemplateError as exc:
            self._error(str(exc))

    def render_notice(self) -> str:
        provider = self.parts.provider
        context = {**self._context(), "reason": provider.off_reason,
                   "hint": provider.how_to_enable}
        try:
            return render_response(self.flow.messages.llm_off, context, 0).text
        except TemplateError as exc:  # the flow's own wording failed: say it plainly
            self._error(str(exc))
            return f"(The language model is off: {provider.off_reason}.)"

    def _why(self, template: str, *args: Any) -> None:
        """Note a step for /trace. Formatting waits until someone reads the trace: most
        turns are never traced, and this is the hot path."""
        self.steps.append((template, args))

    def _error(self, message: str) -> None:
        self.events.append({"type": "error", "message": message})
        self._why("error: {}", message)

    # ---- the turn ----------------------------------------------------------

    def begin(self, state: str | None = None) -> None:
        self.route, self.confidence = "rule", 1.0  # the greeting is the flow's, not a guess
        self.session.ended = False
        state = state or self.flow.start
        self._why("start in '{}'", state)
        try:
            self._arrive(state)
            self._settle()
        except (ActionError, TemplateError) as exc:
            self._error(str(exc))
            self.say(self._fallback_response())

    def run(self) -> None:
        session = self.session
        if session.ended:  # a finished conversation starts over
            self._restart()
        session.turns += 1
        raw = self.raw or ""
        limit = self.parts.max_input_chars
        # Normalising shrinks text only a little: far beyond the limit, skip the work.
        text = "" if len(raw) > limit * 4 else normalise(raw)
        if len(raw) > limit * 4 or len(text) > limit:
            length = len(text) or len(raw)  # counted after normalising, where we did
            self.events.append({"type": "input_too_long", "length": length, "limit": limit})
            self._why("input of {} characters is over the limit of {}", length, limit)
            self.say(self.flow.messages.too_long, {"length": length, "limit": limit})
            self._reask()
            return
        self.text = text
        if not self.text:
            self._why("empty input")
            self.say(self.flow.messages.empty)
            self._reask()
            return
        before = _Snapshot(session)
        try:
            self._route_and_step()
        except (ActionError, TemplateError) as exc:
            # All or nothing: a turn that fails half-way leaves the conversation where
            # it was, and says the state's fallback instead of half its replies.
            before.restore(session)
            self.replies.clear()
            self._error(str(exc))
            self.say(self._fallback_response())
            self._reask()

    def _restart(self) -> None:
        self.session.slots.clear()
        self.session.stack.clear()
        self.session.ended = False
        self._why("conversation had ended: starting over")
        self._arrive(self.flow.start)

    def _route_and_step(self) -> None:
        state_name = self.session.state
        router = self.parts.router
        if self._exact_answer():
            return
        match = router.match_rules(state_name, self.text)
        if match is not None:
            self._take_intent(match)
            return
        if self._fill_from_answer():
            return
        hit = router.match_knowledge_rules(self.text)
        if hit is not None:
            self._answer_knowledge(hit)
            return
        match = router.match_examples(state_name, self.text)
        if match is not None:
            self._take_intent(match)
            return
        hit = router.match_knowledge(self.text, self.flow.settings.knowledge_threshold)
        if hit is not None:
            self._answer_knowledge(hit)
            return
        if self.session.pending and not is_question(self.text):
            self._invalid_answer(self.session.pending, None)
            return
        self._ask_model()

    def _arrive(self, name: str) -> None:
        session = self.session
        session.state = name
        session.pending = None
        session.attempts = 0
        self.visited.append(name)
        self._why("enter '{}'", name)
        self.say(self.flow.states[name].intro)

    def _settle(self) -> None:
        """Continue the current state: ask for a missing slot, or finish it and
        follow its `next` exits until a state waits for the user."""
        for _ in range(MAX_HOPS):
            state = self.flow.states[self.session.state]
            missing = next((s for s in state.collect if self.session.slots.get(s.slot) is None),
                           None)
            if missing is not None:
                self._ask(missing)
                return
            self.session.pending = None
            self._run(state.actions)
            self.say(state.say)
            if state.final:
                self.session.ended = True
                self.events.append({"type": "ended", "state": state.name})
                return
            if not state.next:
                return
            dest, fired = self.parts.machine.fire(state.name, NEXT_EVENT, self._scope())
            if fired is None:
                return
            self._apply(fired)
            self._why("next: '{}' -> '{}'", state.name, dest)
            self._arrive(dest)
        self._error(f"the flow passed through {MAX_HOPS} states without waiting for the user")

    def _remember(self, state: str) -> None:
        stack = self.session.stack
        if not stack or stack[-1] != state:
            stack.append(state)
            del stack[:-MAX_STACK]

    def _run(self, actions: tuple[Any, ...]) -> None:
        if not actions:
            return
        if any(isinstance(a, ClearSlots) and a.names is None for a in actions):
            self.session.stack.clear()  # `clear: all` forgets where to return to as well
        context = {"user": self.text, "state": self.session.state, TODAY_KEY: self.parts.today}
        self.actions.extend(run_actions(actions, self.flow.data, self.session.slots, context))

    def _apply(self, transition: Transition) -> None:
        self.fired.append(transition)
        self._run(transition.actions)
        self.say(transition.say)

    # ---- intents -------------------------------------------------------------

    def _take_intent(self, match: Match) -> None:
        session = self.session
        self.intent, self.route, self.confidence = match.intent, match.tier, match.confidence
        self._why("intent '{}' by {} ({} '{}', confidence {})", match.intent, match.tier,
                  _EVIDENCE.get(match.tier, "from"), match.why, match.confidence)
        self._extract(self.flow.intents[match.intent].slots)
        source = session.state
        dest, fired = self.parts.machine.fire(source, intent_event(match.intent), self._scope())
        if fired is None:
            self.events.append({"type": "no_transition", "intent": match.intent})
            self._why("no transition for '{}' from '{}' (conditions did not hold)",
                      match.intent, source)
            self.say(self._fallback_response())
            self._reask()
            return
        self._apply(fired)
        if fired.remember and fired.target is not None and fired.target != source:
            self._remember(source)
        if fired.back:
            if fired.remember:  # remember + return: straight back here, the stack untouched
                target = source
            else:
                target = session.stack.pop() if session.stack else self.flow.start
            self._why("return to '{}'", target)
            if target == source:  # came straight back: the message may answer, as below
                self._extract([s.slot for s in self.flow.states[source].collect])
            session.state = target
            self.visited.append(target)
            self._settle()
        elif fired.target is not None:
            self._why("transition '{}' -> '{}'", source, dest)
            self._arrive(dest)
            self._settle()
        else:  # no target: answer and stay
            if fired.source is None:
                self.events.append({"type": "digression", "intent": match.intent})
            # Only a message that stays may also answer this state's questions ("thanks,
            # Friday works"); one that leaves must not fill slots of the task it leaves.
            state = self.flow.states[source]
            if self._extract([s.slot for s in state.collect]) and session.pending is None:
                self._settle()
            else:
                self._reask()

    def _answer_knowledge(self, hit: KnowledgeHit) -> None:
        self.route = "rule" if hit.why.startswith("pattern") else "example"
        self.confidence = hit.score
        self.events.append({"type": "knowledge", "id": hit.entry.id})
        self._why("knowledge '{}' ({}, score {})", hit.entry.id, hit.why, hit.score)
        self.say(hit.entry.answer)
        self._reask()

    def _fallback_response(self) -> Response:
        state = self.flow.states[self.session.state]
        return state.fallback or self.flow.messages.fallback
