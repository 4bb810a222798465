"""The flow as one `transitions.Machine`, compiled once and shared by every session.

Sessions are plain data, so a turn borrows a tiny carrier object that holds the
session's state name, fires one event on it and reads back where it landed and
which transition fired. Nothing is attached to the machine per session: adding
a model per session would cost ~28 KB and hundreds of microseconds each.

Events are `intent:NAME` for intents and `next` for a state's automatic exits.
Each flow transition becomes one machine transition, in flow order (state ones
before global ones), so the first whose condition holds wins.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, cast

from transitions import EventData, Machine

from engine.expressions import Expression
from engine.flow import Flow, Transition

NEXT_EVENT = "next"


def intent_event(intent: str) -> str:
    return f"intent:{intent}"


class Carrier:
    """A throw-away stand-in for a session while one event is processed."""

    __slots__ = ("fired", "state")

    def __init__(self, state: str) -> None:
        self.state = state
        self.fired: Transition | None = None


def _condition(when: Expression) -> Callable[[EventData], bool]:
    def holds(event: EventData) -> bool:
        return when.test(event.kwargs["scope"])

    return holds


def _recorder(transition: Transition) -> Callable[[EventData], None]:
    def record(event: EventData) -> None:
        cast(Carrier, event.model).fired = transition

    return record


class FlowMachine:
    """Wraps the shared Machine; `fire` is the only thing a turn calls."""

    def __init__(self, flow: Flow) -> None:
        self.machine = Machine(
            model=None,
            states=list(flow.states),
            initial=flow.start,
            auto_transitions=False,
            send_event=True,
            ignore_invalid_triggers=True,
        )
        all_states = list(flow.states)
        for transition in flow.transitions:
            event = NEXT_EVENT if transition.intent is None else intent_event(transition.intent)
            sources: list[Any] = [transition.source] if transition.source else all_states
            # A `return` or a stay-put digression does not move the machine here: the
            # turn moves the session back itself, since the target is only known at run time.
            dest = None if transition.back or transition.target is None else transition.target
            self.machine.add_transition(
                event,
                sources,
                dest,
                conditions=[_condition(transition.when)] if transition.when else None,
                before=[_recorder(transition)],
            )
        self._events = self.machine.events

    def fire(
        self, state: str, event: str, scope: Mapping[str, Any]
    ) -> tuple[str, Transition | None]:
        """Fire `event` from `state`: the resulting state and the transition taken, if any."""
        found = self._events.get(event)
        if found is None:
            return state, None
        carrier = Carrier(state)
        found.trigger(carrier, scope=scope)
        return carrier.state, carrier.fired
