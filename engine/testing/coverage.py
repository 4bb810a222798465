"""Which parts of a flow the conversation tests exercised: states, transitions, intents, slots.

A FlowCoverage watches the TurnResults of one flow's tests and reports what was never
reached, so a designer sees which branches no test walks through. Transitions are
matched by identity, not by value: two transitions can be equal field by field (the
same `goto` from the same state), yet they are different lines of the flow file.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.files import write_atomically
from engine.flow import Flow, Transition
from engine.result import TurnResult

DEFAULT_JSON = "flowbot-coverage.json"  # where --coverage writes unless told otherwise
KINDS = ("states", "transitions", "intents", "slots")
MAX_LISTED = 20  # missing items shown per kind in the table; the JSON lists them all
_MAX_CONDITION = 60


def _floored(covered: int, total: int, places: int) -> float:
    """The percentage rounded down, in integers: 99.99% never shows as 100.0%, and a
    float like 29/50*100 == 57.99999999999999 never shows as 57.9%."""
    if total == 0:
        return 100.0
    scale: int = 10**places  # int ** int is typed Any: the exponent could be negative
    return (100 * scale * covered // total) / scale


def _percent_text(covered: int, total: int) -> str:
    return f"{_floored(covered, total, 1):.1f}%"


@dataclass(frozen=True)
class KindCoverage:
    covered: int
    total: int
    missing: tuple[str, ...]  # labels of what was not covered, in flow order

    @property
    def percent(self) -> float:
        return 100.0 if self.total == 0 else 100 * self.covered / self.total


@dataclass(frozen=True)
class CoverageReport:
    name: str
    path: str
    kinds: Mapping[str, KindCoverage]  # keyed by KINDS, in that order

    @property
    def covered(self) -> int:
        return sum(k.covered for k in self.kinds.values())

    @property
    def total(self) -> int:
        return sum(k.total for k in self.kinds.values())

    @property
    def total_percent(self) -> float:
        return 100.0 if self.total == 0 else 100 * self.covered / self.total


def _base_label(transition: Transition) -> str:
    source = transition.source or "*"
    intent = transition.intent or "next"
    target = "(return)" if transition.back else transition.target or "(stay)"
    return f"{source} --{intent}--> {target}"


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def transition_labels(transitions: Sequence[Transition]) -> list[str]:
    """A readable label per transition; ones that would read alike get their condition,
    or failing that their position among the alike ones (`#2`)."""
    bases = [_base_label(t) for t in transitions]
    counts = Counter(bases)
    seen: Counter[str] = Counter()
    labels = []
    for transition, label in zip(transitions, bases, strict=True):
        if counts[label] > 1:
            seen[label] += 1
            if transition.when is not None:
                condition = " ".join(transition.when.source.split())  # YAML folds lines
                label += f" [when: {_clip(condition, _MAX_CONDITION)}]"
            else:
                label += f" #{seen[label]}"
        labels.append(label)
    return labels


def _kind(labels: Sequence[str], done: Sequence[bool]) -> KindCoverage:
    missing = tuple(label for label, hit in zip(labels, done, strict=True) if not hit)
    return KindCoverage(len(labels) - len(missing), len(labels), missing)


_FILLED = frozenset({"slot_filled", "slot_corrected"})


class FlowCoverage:
    """What the observed turns of one flow reached; merge the coverage of several runs."""

    def __init__(self, flow: Flow) -> None:
        self.flow = flow
        # Kept so the ids below stay valid: Flow.transitions builds a new tuple per call.
        self._transitions = flow.transitions
        self._index = {id(t): i for i, t in enumerate(self._transitions)}
        self.states: set[str] = set()
        self.transitions: set[int] = set()  # positions in flow.transitions
        self.intents: set[str] = set()
        self.slots: set[str] = set()

    def observe(self, result: TurnResult) -> None:
        flow = self.flow
        self.states.update(s for s in (*result.visited, result.state) if s in flow.states)
        for transition in result.fired:
            index = self._index.get(id(transition))
            if index is None:
                # Silently skipping would report a tested branch as missing.
                raise ValueError(
                    f"a transition fired that is not one of {flow.name} ({flow.path}): "
                    "observe the results of an Engine built on this same Flow object")
            self.transitions.add(index)
        if result.intent is not None and result.intent in flow.intents:
            self.intents.add(result.intent)
        self.slots.update(name for name, value in result.slots.items()
                          if value is not None and name in flow.slots)
        # A slot filled and then cleared within the same turn was still exercised.
        self.slots.update(event["slot"] for event in result.events
                          if event.get("type") in _FILLED and event.get("slot") in flow.slots)

    def to_data(self) -> dict[str, Any]:
        """Plain data, for a pytest-xdist worker to hand its share to the controller."""
        return {"flow": self.flow.path, "states": sorted(self.states),
                "transitions": sorted(self.transitions), "intents": sorted(self.intents),
                "slots": sorted(self.slots)}

    def add_data(self, data: Mapping[str, Any]) -> None:
        """Add what `to_data` of another process reported for this same flow."""
        if data["flow"] != self.flow.path:
            raise ValueError(f"cannot merge coverage of {data['flow']} into {self.flow.path}")
        self.states.update(data["states"])
        self.transitions.update(i for i in data["transitions"] if i < len(self._transitions))
        self.intents.update(data["intents"])
        self.slots.update(data["slots"])

    def merge(self, other: FlowCoverage) -> None:
        """Add what `other` covered; it must watch the same flow file, loaded or not
        by the same call (positions of transitions are compared, not objects)."""
        if other.flow.path != self.flow.path:
            raise ValueError(f"cannot merge coverage of {other.flow.path} into {self.flow.path}")
        if len(other._transitions) != len(self._transitions):
            raise ValueError(f"{self.flow.path} changed between the runs being merged")
        self.states |= other.states
        self.transitions |= other.transitions
        self.intents |= other.intents
        self.slots |= other.slots

    def report(self) -> CoverageReport:
        flow = self.flow
        states, intents, slots = list(flow.states), list(flow.intents), list(flow.slots)
        return CoverageReport(flow.name, flow.path, {
            "states": _kind(states, [s in self.states for s in states]),
            "transitions": _kind(transition_labels(self._transitions),
                                 [i in self.transitions for i in range(len(self._transitions))]),
            "intents": _kind(intents, [i in self.intents for i in intents]),
            "slots": _kind(slots, [s in self.slots for s in slots]),
        })


def _cell(covered: int, total: int) -> str:
    return f"{covered}/{total} ({_percent_text(covered, total)})"


def _wrap(head: str, items: Sequence[str], width: int, indent: str) -> list[str]:
    """`head` then the items, comma-separated, packed into lines of at most `width`."""
    lines, line = [], head
    for i, item in enumerate(items):
        piece = _clip(item, max(width - len(indent) - 1, 10)) + ("," if i < len(items) - 1 else "")
        if line != head and len(line) + 1 + len(piece) > width:
            lines.append(line)
            line = indent + piece
        else:
            line += " " + piece
    return [*lines, line]


def format_table(reports: Sequence[CoverageReport], width: int = 100,
                 limit: int = MAX_LISTED) -> str:
    """A plain-text table for the terminal: one block per flow, then what is missing."""
    header = ["flow", *KINDS, "total"]
    rows = [[r.name, *(_cell(k.covered, k.total) for k in r.kinds.values()),
             _cell(r.covered, r.total)] for r in reports]
    # One width per column across all flows, so the blocks line up under each other.
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

    blocks = []
    for report, row in zip(reports, rows, strict=True):
        block = [line(header), line(row)]
        missing = [(kind, k.missing) for kind, k in report.kinds.items() if k.missing]
        if missing:
            block.append("  not covered:")
        for kind, labels in missing:
            shown = list(labels[:limit])
            if len(labels) > limit:
                shown.append(f"… and {len(labels) - limit} more")
            block.extend(_wrap(f"    {kind}:", shown, width, " " * 6))
        blocks.append("\n".join(block))
    return "\n\n".join(blocks) + "\n" if blocks else ""


def to_json(reports: Sequence[CoverageReport]) -> dict[str, Any]:
    """The reports as JSON-ready data, keys in a fixed order for stable diffs."""
    flows = []
    for report in reports:
        data: dict[str, Any] = {"name": report.name, "path": report.path}
        for kind, k in report.kinds.items():
            data[kind] = {"covered": k.covered, "total": k.total,
                          "percent": _floored(k.covered, k.total, 2), "missing": list(k.missing)}
        data["total_percent"] = _floored(report.covered, report.total, 2)
        flows.append(data)
    return {"flows": flows}


def write_json(reports: Sequence[CoverageReport], path: str | os.PathLike[str]) -> None:
    """Atomically: a reader such as a CI step never sees half a file."""
    write_atomically(Path(path), json.dumps(to_json(reports), indent=2, ensure_ascii=False)
                     + "\n")


def below(reports: Sequence[CoverageReport], minimum: float) -> list[str]:
    """A message for each flow whose total coverage is under `minimum` percent."""
    return [f"{r.name} ({r.path}): {_percent_text(r.covered, r.total)} < {minimum:g}%"
            for r in reports if r.total_percent < minimum]
