"""Response templates: Jinja2 in a sandbox, compiled once at load time.

Plain text without `{{` or `{%` skips Jinja entirely: most replies are static
and rendering them should cost nothing.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any

import jinja2
from jinja2 import meta
from jinja2.sandbox import ImmutableSandboxedEnvironment

from engine.errors import TemplateError


def _money(value: Any) -> str:
    try:
        amount = float(value)
    except (TypeError, ValueError):
        return str(value)
    return f"${amount:,.0f}" if amount == int(amount) else f"${amount:,.2f}"


def _join_natural(values: Any, word: str = "and") -> str:
    items = [str(v) for v in values or ()]
    if len(items) <= 2:
        return f" {word} ".join(items)
    return ", ".join(items[:-1]) + f" {word} " + items[-1]


def _nice_date(value: Any) -> str:
    """'2026-12-04' -> 'Friday 4 December 2026'; anything else unchanged."""
    try:
        day = datetime.date.fromisoformat(str(value))
    except ValueError:
        return str(value)
    return f"{day:%A} {day.day} {day:%B %Y}"


_ENV = ImmutableSandboxedEnvironment(
    autoescape=False,
    undefined=jinja2.ChainableUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=False,
)
_ENV.filters["money"] = _money
_ENV.filters["join_natural"] = _join_natural
_ENV.filters["nice_date"] = _nice_date


class Template:
    """A compiled template; `names` are the variables it reads."""

    __slots__ = ("_compiled", "names", "source")

    def __init__(self, source: str) -> None:
        self.source = source
        self._compiled: jinja2.Template | None = None
        self.names: frozenset[str] = frozenset()
        if "{{" in source or "{%" in source or "{#" in source:
            try:
                tree = _ENV.parse(source)
                self.names = frozenset(meta.find_undeclared_variables(tree))
                self._compiled = _ENV.from_string(tree)
            except jinja2.TemplateSyntaxError as exc:
                raise TemplateError(
                    f"template syntax: {exc.message} (template line {exc.lineno})"
                ) from None

    @property
    def is_static(self) -> bool:
        return self._compiled is None

    def render(self, context: Mapping[str, Any]) -> str:
        if self._compiled is None:
            return self.source
        try:
            return self._compiled.render(context).strip()
        except jinja2.TemplateError as exc:
            raise TemplateError(f"template failed: {exc}") from None

    def __repr__(self) -> str:
        return f"Template({self.source!r})"
