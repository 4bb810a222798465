"""The state diagram of a flow as Mermaid or Graphviz DOT text.

Written by hand rather than with transitions' GraphMachine: it needs no system
package, and GraphMachine keeps a graph per model, which has no place near the
runtime.
"""

from __future__ import annotations

import json

from engine.flow import Flow, Transition

ANY = "any state"


def _label(transition: Transition) -> str:
    parts = [transition.intent or "next"]
    if transition.when is not None:
        parts.append(f"[{transition.when.source}]")
    return " ".join(parts)


def _edges(flow: Flow) -> list[tuple[str, str, str]]:
    edges = []
    for state in flow.states.values():
        for transition in (*state.transitions, *state.next):
            if transition.target:
                edges.append((state.name, transition.target, _label(transition)))
            elif transition.back:
                edges.append((state.name, "(back)", _label(transition)))
        for step in state.collect:
            on_fail = step.on_fail or flow.slots[step.slot].on_fail
            if on_fail:
                edges.append((state.name, on_fail, f"{step.slot} failed"))
    for transition in flow.global_transitions:
        if transition.target:
            edges.append((ANY, transition.target, _label(transition)))
    return edges


def _mermaid_id(name: str) -> str:
    return {"any state": "any_state", "(back)": "back"}.get(name, name)


def to_mermaid(flow: Flow) -> str:
    lines = ["stateDiagram-v2", f"    [*] --> {flow.start}"]
    if any(t.target for t in flow.global_transitions):
        lines.append(f'    state "{ANY}" as any_state')
    for source, target, label in _edges(flow):
        clean = label.replace(":", " ").replace('"', "'")
        lines.append(f"    {_mermaid_id(source)} --> {_mermaid_id(target)}: {clean}")
    for state in flow.states.values():
        if state.final:
            lines.append(f"    {state.name} --> [*]")
    return "\n".join(lines) + "\n"


def to_dot(flow: Flow) -> str:
    def quote(text: str) -> str:
        return json.dumps(text)

    lines = [
        f"digraph {quote(flow.name)} {{",
        "    rankdir=LR;",
        "    node [shape=box, style=rounded];",
        '    "__start__" [shape=point];',
        f'    "__start__" -> {quote(flow.start)};',
    ]
    for state in flow.states.values():
        if state.final:
            lines.append(f"    {quote(state.name)} [peripheries=2];")
    if any(t.target for t in flow.global_transitions):
        lines.append(f"    {quote(ANY)} [shape=note];")
    for source, target, label in _edges(flow):
        lines.append(f"    {quote(source)} -> {quote(target)} [label={quote(label)}];")
    lines.append("}")
    return "\n".join(lines) + "\n"
