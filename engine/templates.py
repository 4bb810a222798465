"""Response templates: Jinja2 in a sandbox, compiled once at load time.

Plain text without `{{` or `{%` skips Jinja entirely: most replies are static
and rendering them should cost nothing.
"""

from __future__ import annotations

import datetime
import functools
from collections.abc import Mapping
from typing import Any

import jinja2
from jinja2 import nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment

from engine.errors import TemplateError, did_you_mean


def _missing(value: Any) -> bool:
    return value is None or isinstance(value, jinja2.Undefined)


def _money(value: Any) -> str:
    if _missing(value):
        return ""
    try:
        amount = float(value)
    except (TypeError, ValueError):
        return str(value)
    return f"${amount:,.0f}" if amount == int(amount) else f"${amount:,.2f}"


def _join_natural(values: Any, word: str = "and") -> str:
    if _missing(values):
        return ""
    items = [str(v) for v in values]
    if len(items) <= 2:
        return f" {word} ".join(items)
    return ", ".join(items[:-1]) + f" {word} " + items[-1]


def _nice_date(value: Any) -> str:
    """'2026-12-04' -> 'Friday 4 December 2026'; anything else unchanged."""
    if _missing(value):
        return ""
    try:
        day = datetime.date.fromisoformat(str(value))
    except ValueError:
        return str(value)
    return f"{day:%A} {day.day} {day:%B %Y}"


class _Environment(ImmutableSandboxedEnvironment):
    def getattr(self, obj: Any, attribute: str) -> Any:
        # `car.make` on a data row: read the key directly instead of trying (and
        # failing) attribute access first. Only plain data is reached this way.
        if type(obj) is dict and attribute in obj:
            return obj[attribute]
        return super().getattr(obj, attribute)


_ENV = _Environment(
    autoescape=False,
    undefined=jinja2.ChainableUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=False,
)
_ENV.filters["money"] = _money
_ENV.filters["join_natural"] = _join_natural
_ENV.filters["nice_date"] = _nice_date


@functools.lru_cache(maxsize=4096)
def _compile(source: str) -> jinja2.Template:
    return _ENV.from_string(source)


def _free_names(tree: nodes.Template) -> frozenset[str]:
    """Variables a template reads from its context (loop variables excluded).

    Cheaper than jinja2.meta, which runs the whole code generator; only warnings
    depend on it, so ignoring scoping subtleties is fine."""
    loaded = {n.name for n in tree.find_all(nodes.Name) if n.ctx == "load"}
    stored = {n.name for n in tree.find_all(nodes.Name) if n.ctx in ("store", "param")}
    return frozenset(loaded - stored - set(_ENV.globals))


def _check_filters(tree: nodes.Template) -> None:
    for kind, node_type, known in (("filter", nodes.Filter, _ENV.filters),
                                   ("test", nodes.Test, _ENV.tests)):
        for node in tree.find_all(node_type):
            if node.name not in known:
                raise TemplateError(f"unknown {kind} '{node.name}'{did_you_mean(node.name, known)}")


class Template:
    """A compiled template; `names` are the variables it reads."""

    __slots__ = ("_compiled", "_dynamic", "names", "source")

    def __init__(self, source: str) -> None:
        self.source = source
        self._dynamic = "{{" in source or "{%" in source or "{#" in source
        self._compiled: jinja2.Template | None = None
        self.names: frozenset[str] = frozenset()
        if self._dynamic:
            # Parse now, to report errors at load time; compile to Python on first
            # use, since that is most of the cost and a flow has many templates.
            try:
                tree = _ENV.parse(source)
            except jinja2.TemplateSyntaxError as exc:
                raise TemplateError(
                    f"template syntax: {exc.message} (template line {exc.lineno})"
                ) from None
            except RecursionError:
                raise TemplateError("template is nested too deeply") from None
            self.names = _free_names(tree)
            _check_filters(tree)

    @property
    def is_static(self) -> bool:
        return not self._dynamic

    def render(self, context: Mapping[str, Any]) -> str:
        if not self._dynamic:
            return self.source
        try:
            if self._compiled is None:
                self._compiled = _compile(self.source)
            return self._compiled.render(context).strip()
        except jinja2.TemplateError as exc:
            raise TemplateError(f"template failed: {exc}") from None
        except Exception as exc:  # {{ x|round }} on a missing x, {{ 1/0 }}: the author's bug
            raise TemplateError(f"template failed: {type(exc).__name__}: {exc}") from None

    def __repr__(self) -> str:
        return f"Template({self.source!r})"
