"""Read YAML while remembering where every value came from.

PyYAML alone loses positions, silently keeps the last of two duplicate keys and
reads `on`, `yes` and `no` as booleans (YAML 1.1). Flows use `on:` as a key and
`yes`/`no` as words, so this loader keeps only `true`/`false` as booleans,
reads every mapping key as the string written (as JSON would), rejects
duplicate keys with both line numbers, and returns a position for every path in
the document so later checks can point at `file:line:col`, down to a character
inside a scalar (a condition's bad token, a template's bad line).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml

Path_ = tuple[str | int, ...]

_BaseLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

# Aliases can make a small file expand exponentially ("billion laughs").
MAX_NODES = 250_000


class FlowYamlLoader(_BaseLoader):  # type: ignore[misc,valid-type]
    """Safe loader for JSON's data model: the only booleans are true/false (any case),
    and dates stay strings (`2024-01-01` is text, as in JSON and in CSV tables)."""


_DROPPED = ("tag:yaml.org,2002:bool", "tag:yaml.org,2002:timestamp")
FlowYamlLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in _DROPPED]
    for first, resolvers in _BaseLoader.yaml_implicit_resolvers.items()
}
FlowYamlLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool",
    re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"),
)


@dataclass(frozen=True)
class Position:
    line: int  # 1-based
    column: int  # 1-based


@dataclass(frozen=True)
class _Span:
    """Where a scalar is written: source character indexes and YAML style."""

    start: int
    end: int
    style: str | None


def _squash(text: str) -> str:
    return "".join(text.split())


@dataclass
class SourceMap:
    """Positions of values (and of mapping keys) by their path in the document."""

    values: dict[Path_, Position] = field(default_factory=dict)
    keys: dict[Path_, Position] = field(default_factory=dict)
    spans: dict[Path_, _Span] = field(default_factory=dict)
    text: str = ""

    def value(self, path: Path_) -> Position:
        """Where the value at `path` starts, or its nearest enclosing value."""
        for end in range(len(path), -1, -1):
            found = self.values.get(path[:end])
            if found is not None:
                return found
        return Position(1, 1)

    def key(self, path: Path_) -> Position:
        """Where the key naming `path` is written; the value's position if it has no key."""
        return self.keys.get(path) or self.value(path)

    def within(self, path: Path_, value: str, offset: int) -> Position:
        """Where character `offset` of the string `value` at `path` is written.

        Exact whenever the source holds the value's non-blank characters in order
        (plain, block and quoted scalars without escapes); otherwise the value's start.
        """
        span = self.spans.get(path)
        if span is None:
            return self.value(path)
        start, end = span.start, span.end
        if span.style in ("|", ">"):  # the content starts on the line after the indicator
            newline = self.text.find("\n", start, end)
            if newline < 0:
                return self.value(path)
            start = newline + 1
        elif span.style in ("'", '"'):
            start, end = start + 1, end - 1
        segment = self.text[start:end]
        if _squash(segment) != _squash(value):
            return self.value(path)
        wanted = len(_squash(value[: max(offset, 0)]))
        seen, last = 0, -1
        for i, char in enumerate(segment):
            if char.isspace():
                continue
            if seen == wanted:
                return self._at_index(start + i)
            seen, last = seen + 1, i
        return self._at_index(start + last + 1) if last >= 0 else self.value(path)

    def _at_index(self, index: int) -> Position:
        line_start = self.text.rfind("\n", 0, index) + 1
        return Position(self.text.count("\n", 0, index) + 1, index - line_start + 1)


@dataclass(frozen=True)
class YamlProblem:
    position: Position
    message: str


class YamlSyntaxError(Exception):
    def __init__(self, problems: list[YamlProblem]) -> None:
        self.problems = problems
        super().__init__("; ".join(p.message for p in problems))


def _mark_position(mark: Any) -> Position:
    return Position(mark.line + 1, mark.column + 1)


def _pos(node: yaml.Node) -> Position:
    return _mark_position(node.start_mark)


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _syntax_problem(exc: yaml.MarkedYAMLError) -> YamlProblem:
    """The parser's complaint, at the problem; at the start of what was being read when
    the problem is only that the file ended (an unclosed quote or bracket)."""
    problem = _one_line(exc.problem or exc.context or "invalid YAML")
    mark, context = exc.problem_mark or exc.context_mark, exc.context_mark
    if context is not None and exc.context and mark is not context:
        if problem.startswith("but "):  # "expected a single document ..., but found ..."
            problem = f"{_one_line(exc.context)}, {problem}"
        elif "end of stream" in problem:
            problem, mark = f"{problem} {_one_line(exc.context)}", context
        else:
            at = _mark_position(context)
            problem += f" ({_one_line(exc.context)} at line {at.line}, column {at.column})"
    position = _mark_position(mark) if mark else Position(1, 1)
    return YamlProblem(position, f"YAML syntax: {problem}")


def load_yaml(text: str) -> tuple[Any, SourceMap]:
    """Parse one YAML document into plain data plus a SourceMap.

    Raises YamlSyntaxError listing every duplicate key, or the parser's error.
    """
    loader = FlowYamlLoader(text)
    try:
        try:
            node = loader.get_single_node()
        except yaml.MarkedYAMLError as exc:
            raise YamlSyntaxError([_syntax_problem(exc)]) from None
        except yaml.YAMLError as exc:
            raise YamlSyntaxError([YamlProblem(Position(1, 1), f"YAML: {_one_line(str(exc))}")]
                                  ) from None
        sources = SourceMap(text=text)
        problems: list[YamlProblem] = []
        if node is None:
            return None, sources
        data = _Builder(loader, sources, problems).build(node, ())
        if problems:
            raise YamlSyntaxError(problems)
        return data, sources
    finally:
        loader.dispose()


class _TooBig(Exception):
    pass


class _Builder:
    """Turns the composed node tree into data, recording positions on the way."""

    def __init__(self, loader: Any, sources: SourceMap, problems: list[YamlProblem]) -> None:
        self._loader = loader
        self._sources = sources
        self._problems = problems
        self._open: set[int] = set()  # nodes being built: an alias to one is a cycle
        self._count = 0

    def build(self, node: yaml.Node, path: Path_) -> Any:
        try:
            return self._build(node, path)
        except _TooBig:
            self._problems.append(YamlProblem(
                _pos(node), f"the document expands to more than {MAX_NODES} values "
                            "(too many aliases?)"))
            return None

    def _build(self, node: yaml.Node, path: Path_) -> Any:
        self._count += 1
        if self._count > MAX_NODES:
            raise _TooBig
        self._sources.values[path] = _pos(node)
        if isinstance(node, yaml.ScalarNode):
            return self._scalar(node, path)
        if id(node) in self._open:
            self._problems.append(YamlProblem(_pos(node), "an alias refers to a value that "
                                                          "contains it (a cycle)"))
            return None
        self._open.add(id(node))
        try:
            if isinstance(node, yaml.MappingNode):
                return self._mapping(node, path)
            return [self._build(item, (*path, i)) for i, item in enumerate(node.value)]
        finally:
            self._open.discard(id(node))

    def _scalar(self, node: yaml.ScalarNode, path: Path_) -> Any:
        self._sources.spans[path] = _Span(node.start_mark.index, node.end_mark.index, node.style)
        try:
            return self._loader.construct_object(node, deep=True)
        except yaml.YAMLError as exc:
            problem = getattr(exc, "problem", None) or str(exc)
            self._problems.append(YamlProblem(_pos(node), f"YAML: {_one_line(problem)}"))
        except (ValueError, TypeError, IndexError):  # PyYAML on an explicit tag it can't read
            self._problems.append(YamlProblem(
                _pos(node), f"YAML: cannot read {node.value!r} as {node.tag.rsplit(':', 1)[-1]}"))
        return None

    def _mapping(self, node: yaml.MappingNode, path: Path_) -> dict[str, Any]:
        try:
            self._loader.flatten_mapping(node)  # resolves `<<: *anchor` merges
        except yaml.MarkedYAMLError as exc:
            self._problems.append(YamlProblem(_pos(node), f"YAML: {_one_line(exc.problem or '')}"))
            return {}
        result: dict[str, Any] = {}
        seen: dict[str, Position] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                self._problems.append(YamlProblem(_pos(key_node), "keys must be plain scalars"))
                continue
            key = str(key_node.value)  # as written: `on`, `yes` and `1` are all names
            if key in seen:
                first = seen[key]
                self._problems.append(YamlProblem(
                    _pos(key_node), f"duplicate key '{key}' (first defined at line {first.line})"))
                continue
            seen[key] = _pos(key_node)
            child: Path_ = (*path, key)
            self._sources.keys[child] = _pos(key_node)
            result[key] = self._build(value_node, child)
        return result
