"""Asking the model within one turn: when nothing in the flow matched, one
request lets the model choose an intent allowed here (the LLM router) or answer
in words; a failure or an empty answer gets the state's fallback.

A part of Dialogue (engine/dialogue.py), kept apart because it is a concept of
its own; it reads and changes the turn state declared in engine/turnstate.py. The model's
choice is checked again here, and its slot values are parsed like user text:
nothing a model says is trusted as it comes.
"""

from __future__ import annotations

from engine import prompting, slotfill
from engine.llm.base import ModelOutcome
from engine.replies import Reply
from engine.routing import Match
from engine.turnstate import TurnState


class ModelTurn(TurnState):
    def _ask_model(self) -> None:
        """Nothing in the flow matched: one request lets the model route the message
        to an intent allowed here, or answer it in words; else the state's fallback."""
        provider = self.parts.provider
        state = self.flow.states[self.session.state]
        request = prompting.model_request(
            self.flow, state, self.session, self.text, self.parts.router, self._context(),
            with_prompts=provider.enabled, report=self._error)
        outcome = provider.respond(request, self.on_token)
        self._record_llm(outcome)
        for note in outcome.notes:
            self._why("{}", note)
        match = self._llm_match(outcome, {option.name for option in request.intents})
        if match is not None:
            if outcome.streamed:  # words already streamed out are not this turn's reply
                self.events.append({"type": "stream_discarded"})
            self._take_intent(match)
            return
        if outcome.text.strip():
            self.route = "llm" if outcome.source == "llm" else "fallback"
            self.confidence = 0.0 if outcome.source == "llm" else 0.5
            self._why("open-ended: answered by {} ({})", outcome.provider, outcome.source)
            self.replies.append(Reply(outcome.text.strip(), streamed=outcome.streamed))
        else:
            if outcome.error:
                self._why("model failed ({}): {}", outcome.error_kind, outcome.error)
            self._why("nothing matched: fallback reply")
            self.say(self._fallback_response())
        self._reask()

    def _llm_match(self, outcome: ModelOutcome, allowed: set[str]) -> Match | None:
        routed = outcome.route
        if routed is None:
            return None
        if routed.intent not in allowed:  # the provider checked; the flow checks again
            self._why("LLM router chose '{}', not allowed here: ignored", routed.intent)
            return None
        # Slot values from a model are parsed like user text: never trusted as they come.
        for name, value in routed.slots.items():
            slot = self.flow.slots.get(name)
            if slot is None or name not in self.flow.intents[routed.intent].slots:
                continue
            parsed = slot.parser.parse(str(value), self.today)
            if parsed is not None and slotfill.invalid_reason(slot, parsed, self.today) is None:
                self._set_slot(slot, parsed, "llm")
        return Match(routed.intent, "llm", routed.confidence, "LLM router")

    def _record_llm(self, outcome: ModelOutcome) -> None:
        if outcome.calls == 0 and outcome.source != "knowledge" and not outcome.error:
            return  # nothing was asked and nothing answered: offline with no FAQ hit
        self.llm = {"provider": outcome.provider, "model": outcome.model,
                    "prompt_tokens": outcome.prompt_tokens,
                    "completion_tokens": outcome.completion_tokens,
                    "latency_ms": outcome.latency_ms, "replayed": outcome.replayed,
                    "calls": outcome.calls, "source": outcome.source}
        if outcome.route is not None:
            self.llm["routed"] = outcome.route.intent
        if outcome.error:
            self.llm["error"] = outcome.error
            self.llm["error_kind"] = outcome.error_kind
            self.events.append({"type": "llm_error", "kind": outcome.error_kind})
        if outcome.messages:
            self.llm["messages"] = [{"role": role, "content": content}
                                    for role, content in outcome.messages]
