"""Compiling the small pieces of a flow, each with precise diagnostics: templates,
responses, conditions and regexes.

FlowBuilder (engine/build.py) assembles the sections of a flow from these.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from engine.diagnostics import Reporter
from engine.errors import ExpressionError, TemplateError, did_you_mean
from engine.expressions import Expression, compile_expression
from engine.flow import Button, ItemList, Response
from engine.templates import Template
from engine.yamlsrc import Path_

T = TypeVar("T")
TEMPLATE_GLOBALS = frozenset(
    {"slots", "user", "state", "item", "length", "limit", "error", "slot", "reason", "hint"}
)


def _find_name(source: str, name: str) -> int:
    """Where `name` first appears in `source` as a whole (dotted) name; 0 if it does not."""
    found = re.search(rf"(?<![\w.]){re.escape(name)}(?!\w)", source)
    return found.start() if found else 0


class SnippetCompiler:
    """Knows the flow's names (slots, variables, table columns) and reports every
    problem through the Reporter instead of stopping at the first."""

    def __init__(self, reporter: Reporter, variables: set[str], has_python: bool) -> None:
        self.r = reporter
        self.variables = variables
        self.has_python = has_python  # a Python action may set any slot
        self.columns: dict[str, frozenset[str] | None] = {}  # by table; None: unknown

    def _optional(self, build: Callable[[Any, Path_], T], spec: Mapping[str, Any], key: str,
                  at: Path_) -> T | None:
        """`build` the value of `spec[key]` (written at `at`.key), if the key is there."""
        return build(spec[key], (*at, key)) if key in spec else None

    def _ref(self, kind: str, name: str, known: set[str], at: Path_, key: bool = False) -> bool:
        if name in known:
            return True
        self.r.error(at, f"unknown {kind} '{name}'{did_you_mean(name, known)}", key=key)
        return False

    def template(self, source: Any, at: Path_, extra: frozenset[str] = frozenset()) -> Template:
        text = str(source)
        try:
            template = Template(text)
        except TemplateError as exc:
            # templates.py raises from Jinja's error, which knows the template line.
            line = getattr(exc.__context__, "lineno", None) or 1
            offset = sum(len(part) + 1 for part in text.split("\n")[: line - 1])
            self.r.inside(at, text, offset, str(exc))
            return Template("")
        known = self.variables | TEMPLATE_GLOBALS | extra
        for name in sorted(template.names - known):
            self.r.inside(at, text, _find_name(text, name),
                          f"template uses '{name}', which is not a slot or variable"
                          f"{did_you_mean(name, known)}", "warning")
        return template

    def response(self, spec: Any, at: Path_) -> Response:
        if isinstance(spec, str):
            return Response((self.template(spec, at),))
        if isinstance(spec, list):
            return Response(tuple(self.template(s, (*at, i)) for i, s in enumerate(spec)))
        text = spec["text"]
        texts = text if isinstance(text, list) else [text]
        text_at = (*at, "text")
        variations = tuple(
            self.template(t, (*text_at, i) if isinstance(text, list) else text_at)
            for i, t in enumerate(texts)
        )
        buttons = tuple(self._button(b, (*at, "buttons", i))
                        for i, b in enumerate(spec.get("buttons", [])))
        items = None
        if "items" in spec:
            items_spec = spec["items"]
            items_at = (*at, "items")
            self._ref("slot or variable", items_spec["from"], self.variables, (*items_at, "from"))
            item_names = frozenset({"item"})
            items = ItemList(
                source=items_spec["from"],
                title=self.template(items_spec["title"], (*items_at, "title"), item_names),
                subtitle=(self.template(items_spec["subtitle"], (*items_at, "subtitle"), item_names)
                          if "subtitle" in items_spec else None),
                limit=items_spec.get("limit", 10),
            )
        return Response(variations, buttons, items)

    def _button(self, spec: Any, at: Path_) -> Button:
        if isinstance(spec, str):
            return Button(self.template(spec, at))
        payload = spec.get("payload")
        return Button(
            self.template(spec["title"], (*at, "title")),
            self.template(payload, (*at, "payload")) if payload is not None else None,
        )

    def expression(self, source: str, at: Path_, table: str | None = None
                   ) -> Expression | None:
        """A condition; in a lookup's `where`, bare names are the `table`'s columns."""
        try:
            expr = compile_expression(source)
        except ExpressionError as exc:
            self.r.inside(at, source, exc.offset, f"invalid condition: {exc}")
            return None
        columns = self.columns.get(table) if table else None
        for dotted in sorted(expr.names):
            root = dotted[0]
            offset = _find_name(source, ".".join(dotted[:2]))
            if root == "slots":
                if len(dotted) < 2:
                    continue
                name = dotted[1]
                if name not in self.variables:
                    message = f"condition uses unknown slot 'slots.{name}'" + did_you_mean(
                        name, self.variables)
                    # A Python action may set it: only a warning then.
                    self.r.inside(at, source, offset, message,
                                  "warning" if self.has_python else "error")
            elif table is not None and (columns is None or root in columns):
                continue  # a column, or columns unknown: the table's problem is reported
            else:
                hint = f" (did you mean 'slots.{root}'?)" if root in self.variables else (
                    did_you_mean(root, columns or ()))
                where = "a column of the table or 'slots.NAME'" if table else "'slots.NAME'"
                self.r.inside(at, source, offset,
                              f"condition uses unknown name '{root}': use {where}{hint}")
        return expr

    def _regex(self, source: str, at: Path_) -> re.Pattern[str] | None:
        try:
            return re.compile(source, re.IGNORECASE)
        except re.error as exc:
            self.r.inside(at, source, exc.pos or 0,
                          f"invalid regex: {exc.msg} (at character {(exc.pos or 0) + 1})")
            return None

    def _patterns(self, spec: Mapping[str, Any], at: Path_) -> tuple[re.Pattern[str], ...]:
        """An item's `patterns` plus one whole-word pattern for its `keywords`."""
        patterns = [p for i, src in enumerate(spec.get("patterns", []))
                    if (p := self._regex(src, (*at, "patterns", i))) is not None]
        keywords = [k.strip() for k in spec.get("keywords", []) if k.strip()]
        if keywords:
            words = "|".join(re.escape(k).replace(r"\ ", r"\s+") for k in keywords)
            patterns.append(re.compile(rf"(?<!\w)(?:{words})(?!\w)", re.IGNORECASE))
        return tuple(patterns)
