"""The figures table the benchmark scripts print: one row per figure, with its
target and PASS or MISS when it has one."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Row:
    key: str
    label: str
    value: str
    target: str = ""
    verdict: str = ""  # "PASS", "MISS" or "" when the figure has no target


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def format_table(rows: Sequence[Row]) -> str:
    header = Row("", "figure", "value", "target", "result")
    widths = [max(len(getattr(row, name)) for row in (header, *rows))
              for name in ("label", "value", "target")]
    lines = [f"{row.label:<{widths[0]}}  {row.value:<{widths[1]}}  "
             f"{row.target:<{widths[2]}}  {row.verdict}".rstrip() for row in (header, *rows)]
    lines.insert(1, "-" * max(len(line) for line in lines))
    return "\n".join(lines)
