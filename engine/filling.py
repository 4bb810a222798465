"""Slot filling within one turn: answers to the pending question, values mentioned
in passing, corrections, invalid answers and giving up.

A part of Dialogue (engine/dialogue.py), kept apart because it is a concept of
its own; it reads and changes the turn state declared in engine/turnstate.py.
"""

from __future__ import annotations

import re
from typing import Any

from engine import slotfill
from engine.flow import CollectStep, Response, Slot
from engine.slot_types import EnumSlot
from engine.templates import Template
from engine.turnstate import TurnState

# Stricter, for free-text answers: names like "Will Smith" start like a question.
_WH_QUESTION = re.compile(r"\?\s*$|^(?:what|which|who|whom|whose|when|where|why|how)\b",
                          re.IGNORECASE)


class SlotFilling(TurnState):
    def _exact_answer(self) -> bool:
        """A message that is exactly one of the choices asked for answers the question,
        even when an intent's pattern would match it too ("cancel" to "reschedule
        or cancel?")."""
        pending = self.session.pending
        if pending is None:
            return False
        slot = self.flow.slots[pending]
        if not isinstance(slot.parser, EnumSlot) or slot.parser.exact(self.text) is None:
            return False
        return self._fill_from_answer()

    def _fill_from_answer(self) -> bool:
        """Fill the pending slot from the whole message, and any collected slot it mentions."""
        state = self.flow.states[self.session.state]
        pending = self.session.pending
        others = [s.slot for s in state.collect if s.slot != pending]
        answered = False
        if pending is not None:
            slot = self.flow.slots[pending]
            value = slotfill.mentioned(slot, self.text, self.today)
            if slot.kind == "text" and value is None:
                # Free text takes anything, so first rule out what is clearly something
                # else: a question ("why do you ask?"), an FAQ ("opening hours"), or a
                # correction of another answer ("actually Saturday").
                if (_WH_QUESTION.search(self.text)
                        or self.parts.router.match_knowledge_rules(self.text)):
                    return False
                if self._extract(others):
                    return self._settled("correction")
            if value is None:
                value = slotfill.answer(slot, self.text, self.today)
            if value is not None:
                error = slotfill.invalid_reason(slot, value, self.today)
                if error is not None:
                    self._invalid_answer(pending, error)
                    return True
                self._set_slot(slot, value, "answer")
                answered = True
        # The words of the answer are not also a mention of another slot ("the Mustang"
        # answers "compare it with?", it does not change the first model too).
        given = self.session.slots.get(pending) if answered and pending else None
        mentioned = self._extract(others, not_value=given)
        if not (answered or mentioned):
            return False
        return self._settled("slot answer")

    def _settled(self, why: str) -> bool:
        self.route, self.confidence = "rule", 1.0
        self._why("{}: {}", why, [(e["slot"], e.get("value")) for e in self.events
                                  if e["type"].startswith("slot_")])
        self._settle()
        return True

    def _extract(self, names: list[str] | tuple[str, ...], not_value: Any = None) -> bool:
        """Fill slots mentioned in the message; True if any changed.

        A slot with its own `mentions` patterns is found only by them: they say how
        the author tells it apart. Such slots go first, and the words they take are
        hidden from the rest: in "compare it with the Corolla" the Corolla is the
        second model, not also the first."""
        if not names:
            return False
        changed = False
        text = self.text
        ordered = sorted(dict.fromkeys(names), key=lambda n: not self.flow.slots[n].mentions)
        for name in ordered:
            slot = self.flow.slots[name]
            if slot.mentions:
                found = slotfill.mentioned_at(slot, text, self.today)
                value = None if found is None else found[0]
                if found is not None:
                    text = text[: found[1]] + " " * (found[2] - found[1]) + text[found[2]:]
            else:
                value = slot.parser.extract(text, self.today)
            if value is None or (not_value is not None and value == not_value):
                continue
            reason = slotfill.invalid_reason(slot, value, self.today)
            if reason is not None:  # say so: silently ignoring "under 500001" would confuse
                self.events.append({"type": "slot_invalid", "slot": name, "value": value,
                                    "reason": reason})
                self.say(self.flow.messages.invalid, {"error": reason, "slot": name})
                continue
            changed = self._set_slot(slot, value, "mention") or changed
        return changed

    def _set_slot(self, slot: Slot, value: Any, how: str) -> bool:
        if self.session.pending == slot.name:
            self.session.pending = None
            self.session.attempts = 0
        slots = self.session.slots
        old = slots.get(slot.name)
        if old == value:
            return False
        kind = "slot_filled" if old is None else "slot_corrected"
        event: dict[str, Any] = {"type": kind, "slot": slot.name, "value": value, "by": how}
        if old is not None:
            event["previous"] = old
        self.events.append(event)
        slots[slot.name] = value
        return True

    def _invalid_answer(self, name: str, reason: str | None) -> None:
        session = self.session
        slot = self.flow.slots[name]
        step = self._collect_step(name)
        session.attempts += 1
        self.events.append({"type": "slot_invalid", "slot": name,
                            "reason": reason or "not understood", "attempt": session.attempts})
        self._why("invalid answer for '{}' ({}), attempt {}", name, reason or "not understood",
                  session.attempts)
        limit = (step.max_attempts if step and step.max_attempts else slot.max_attempts)
        if session.attempts >= limit:
            on_fail = (step.on_fail if step else None) or slot.on_fail
            session.attempts = 0
            if on_fail:
                self.events.append({"type": "slot_gave_up", "slot": name, "goto": on_fail})
                self._remember(session.state)  # so "carry on where we left off" can come back
                self._why("gave up on '{}' after {} attempts: go to '{}'", name, limit, on_fail)
                self._arrive(on_fail)
                self._settle()
                return
        reprompt = (step.reprompt if step else None) or slot.reprompt
        if reprompt is None:
            self.say(self.flow.messages.invalid, {"error": reason, "slot": name})
            reprompt = self._prompt_for(name, step)
        self.say(reprompt, {"error": reason, "slot": name})

    def _collect_step(self, name: str) -> CollectStep | None:
        state = self.flow.states[self.session.state]
        return next((s for s in state.collect if s.slot == name), None)

    # ---- states --------------------------------------------------------------

    def _ask(self, step: CollectStep) -> None:
        self.session.pending = step.slot
        self.say(self._prompt_for(step.slot, step))

    def _prompt_for(self, name: str, step: CollectStep | None) -> Response:
        """The question for a slot: the state's wording, the slot's, or a plain default."""
        prompt = (step.prompt if step else None) or self.flow.slots[name].prompt
        return prompt or Response((Template(f"What is the {name.replace('_', ' ')}?"),))

    def _reask(self) -> None:
        pending = self.session.pending
        if pending is not None:
            self.say(self._prompt_for(pending, self._collect_step(pending)))
