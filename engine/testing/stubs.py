"""Stubs for conversation tests: data tables and Python actions replaced, so a test
does not depend on stock that changes or on code that talks to the outside world.

The flow itself is never edited: `with_stubs` returns a copy whose Python actions
call the stubs, in the same order, so coverage still lines up with the real flow.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from engine.actions import ActionImportError, import_python_action
from engine.data import DataFileError, read_table
from engine.flow import (
    Action,
    CallPython,
    Flow,
    Lookup,
    PythonAction,
    Row,
    SetSlots,
    State,
    Transition,
)


class StubError(Exception):
    """A stub named by a conversation test file cannot be used."""


def read_stub_table(source: str | list[dict[str, Any]], base: Path) -> tuple[Row, ...]:
    """Rows given inline, or read from a file relative to the test file."""
    if isinstance(source, list):
        return tuple(source)
    try:
        return read_table(base / source, source)
    except DataFileError as exc:
        raise StubError(str(exc)) from None


def stub_function(name: str, stub: Mapping[str, Any], base: Path) -> PythonAction:
    """`{returns: {...}}` -> always those slot values; `{python: m.f}` -> that function."""
    if "returns" in stub:
        values = dict(stub["returns"])

        def fixed(slots: dict[str, Any], data: Mapping[str, Any]) -> dict[str, Any]:
            return dict(values)

        return fixed
    try:
        return import_python_action(stub["python"], base)
    except ActionImportError as exc:
        raise StubError(f"stub for {name}: {exc}") from None


def _all_actions(flow: Flow) -> Iterator[Action]:
    for state in flow.states.values():
        yield from state.actions
    for transition in flow.transitions:
        yield from transition.actions


def python_actions(flow: Flow) -> set[str]:
    """The names of the Python actions the flow calls."""
    return {action.name for action in _all_actions(flow) if isinstance(action, CallPython)}


def slot_names(flow: Flow) -> set[str]:
    """Every name a slot can have: the declared slots, lookup results and `set` keys.
    (Python actions may set others: only they know.)"""
    names = set(flow.slots)
    for action in _all_actions(flow):
        if isinstance(action, Lookup):
            names.add(action.target)
        elif isinstance(action, SetSlots):
            names.update(action.values)
    return names


def with_stubs(flow: Flow, functions: Mapping[str, PythonAction]) -> Flow:
    """A copy of `flow` calling `functions` instead of its own Python actions.
    (Stub tables are given to `load_flow`, so that enum values drawn from them agree.)"""
    if not functions:
        return flow

    def actions(items: tuple[Action, ...]) -> tuple[Action, ...]:
        return tuple(CallPython(a.name, functions[a.name])
                     if isinstance(a, CallPython) and a.name in functions else a
                     for a in items)

    def transitions(items: tuple[Transition, ...]) -> tuple[Transition, ...]:
        return tuple(dataclasses.replace(t, actions=actions(t.actions)) if t.actions else t
                     for t in items)

    def state(s: State) -> State:
        return dataclasses.replace(s, actions=actions(s.actions),
                                   transitions=transitions(s.transitions),
                                   next=transitions(s.next))

    return dataclasses.replace(
        flow,
        states={name: state(s) for name, s in flow.states.items()},
        global_transitions=transitions(flow.global_transitions),
    )

