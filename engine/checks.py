"""Whole-flow checks: names that must be identifiers (on the raw data, before
building), then on the compiled flow reachability, dead ends and intents whose
patterns shadow another intent's examples."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from engine.diagnostics import Reporter
from engine.flow import Flow

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def check_names(raw: Mapping[str, Any], reporter: Reporter) -> None:
    """Names that templates, conditions and transitions refer to must be identifiers.

    The schema checks names used as values; names used as keys are checked here."""
    for section in ("states", "intents", "slots", "data"):
        for name in raw.get(section, {}):
            if not _NAME.fullmatch(name):
                reporter.error((section, name), f"'{name}' is not a valid name in {section}: "
                                                "use letters, digits and '_', starting with a "
                                                "letter or '_'", key=True)


def _targets(flow: Flow, state_name: str) -> set[str]:
    state = flow.states[state_name]
    found = {t.target for t in (*state.transitions, *state.next) if t.target}
    for step in state.collect:
        on_fail = step.on_fail or flow.slots[step.slot].on_fail
        if on_fail:
            found.add(on_fail)
    return found


def reachable_states(flow: Flow) -> set[str]:
    """States reachable from the start, through state, global and give-up transitions."""
    global_targets = {t.target for t in flow.global_transitions if t.target}
    seen: set[str] = set()
    todo = [flow.start, *global_targets]
    while todo:
        name = todo.pop()
        if name in seen or name not in flow.states:
            continue
        seen.add(name)
        todo.extend(_targets(flow, name))
    return seen


def check_graph(flow: Flow, reporter: Reporter) -> None:
    reachable = reachable_states(flow)
    for name, state in flow.states.items():
        if name not in reachable:
            reporter.error(("states", name), f"state '{name}' is unreachable: no transition "
                                             f"leads to it from '{flow.start}'", key=True)
        if not state.final and not state.transitions and not state.next:
            reporter.error(("states", name), f"state '{name}' has no way out: give it 'on', "
                                             "'next', or 'final: true'", key=True)
        if state.final and (state.transitions or state.next):
            reporter.warning(("states", name), f"state '{name}' is final, so its 'on' and "
                                               "'next' are never used", key=True)
    for loop in _next_loops(flow):
        path = " -> ".join([*loop, loop[0]])
        # With a condition on the way, it may break out; without, it never does.
        escapes = any(t.when is not None for name in loop for t in flow.states[name].next)
        report = reporter.warning if escapes else reporter.error
        report(("states", loop[0]), f"states {path} follow 'next' in a circle without asking "
                                    "the user anything" + (" unless a 'when' holds"
                                                           if escapes else ""), key=True)


def _next_loops(flow: Flow) -> list[list[str]]:
    """Circles of states joined by unconditional `next` that never wait for the user
    (no slot to collect): at run time the turn would go round until it gives up."""
    def step(name: str) -> str | None:
        state = flow.states[name]
        if state.collect or state.final:
            return None
        # The first unconditional exit is the one taken when no condition holds.
        return next((t.target for t in state.next if t.when is None), None)

    loops: list[list[str]] = []
    seen: set[str] = set()
    for start in flow.states:
        path: list[str] = []
        name: str | None = start
        while name is not None and name not in seen and name not in path:
            path.append(name)
            name = step(name)
        if name is not None and name in path:
            loops.append(path[path.index(name):])
        seen.update(path)
    return loops


def check_shadowing(flow: Flow, reporter: Reporter) -> None:
    """Warn when a pattern or keyword of one intent matches an example of another:
    the rule tier runs before the example matcher, so that example would be
    routed to the wrong intent."""
    for intent in flow.intents.values():
        for other in flow.intents.values():
            if other.name == intent.name:
                continue
            for i, example in enumerate(other.examples):
                for pattern in intent.patterns:
                    found = pattern.search(example)
                    if found is None:
                        continue
                    reporter.inside(
                        ("intents", other.name, "examples", i), example, found.start(),
                        f"example \"{example}\" of intent '{other.name}' is shadowed by intent "
                        f"'{intent.name}': its rule matches \"{found.group(0)}\", and rules "
                        "are tried before examples",
                        "warning",
                    )
                    break
