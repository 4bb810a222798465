"""Read YAML while remembering where every value came from.

PyYAML alone loses positions, silently keeps the last of two duplicate keys and
reads `on`, `yes` and `no` as booleans (YAML 1.1). Flows use `on:` as a key and
`yes`/`no` as words, so this loader keeps only `true`/`false` as booleans,
rejects duplicate keys with both line numbers, and returns a position for every
path in the document so later checks can point at `file:line:col`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml

Path_ = tuple[str | int, ...]

_BaseLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class FlowYamlLoader(_BaseLoader):  # type: ignore[misc,valid-type]
    """Safe loader whose only booleans are true/false (any case)."""


FlowYamlLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
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


@dataclass
class SourceMap:
    """Positions of values (and of mapping keys) by their path in the document."""

    values: dict[Path_, Position] = field(default_factory=dict)
    keys: dict[Path_, Position] = field(default_factory=dict)

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


@dataclass(frozen=True)
class YamlProblem:
    position: Position
    message: str


class YamlSyntaxError(Exception):
    def __init__(self, problems: list[YamlProblem]) -> None:
        self.problems = problems
        super().__init__("; ".join(p.message for p in problems))


def _pos(node: yaml.Node) -> Position:
    return Position(node.start_mark.line + 1, node.start_mark.column + 1)


def load_yaml(text: str) -> tuple[Any, SourceMap]:
    """Parse one YAML document into plain data plus a SourceMap.

    Raises YamlSyntaxError listing every duplicate key, or the parser's error.
    """
    loader = FlowYamlLoader(text)
    try:
        try:
            node = loader.get_single_node()
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            position = Position(mark.line + 1, mark.column + 1) if mark else Position(1, 1)
            problem = exc.problem or exc.context or "invalid YAML"
            raise YamlSyntaxError([YamlProblem(position, f"YAML syntax: {problem}")]) from None
        except yaml.YAMLError as exc:
            raise YamlSyntaxError([YamlProblem(Position(1, 1), f"YAML: {exc}")]) from None
        sources = SourceMap()
        problems: list[YamlProblem] = []
        if node is None:
            return None, sources
        data = _Builder(loader, sources, problems).build(node, ())
        if problems:
            raise YamlSyntaxError(problems)
        return data, sources
    finally:
        loader.dispose()


class _Builder:
    """Turns the composed node tree into data, recording positions on the way."""

    def __init__(self, loader: Any, sources: SourceMap, problems: list[YamlProblem]) -> None:
        self._loader = loader
        self._sources = sources
        self._problems = problems

    def build(self, node: yaml.Node, path: Path_) -> Any:
        self._sources.values[path] = _pos(node)
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        try:
            return self._loader.construct_object(node, deep=True)
        except yaml.YAMLError as exc:
            self._problems.append(YamlProblem(_pos(node), f"YAML: {exc}"))
            return None

    def _mapping(self, node: yaml.MappingNode, path: Path_) -> dict[Any, Any]:
        self._loader.flatten_mapping(node)  # resolves `<<: *anchor` merges
        result: dict[Any, Any] = {}
        seen: dict[Any, Position] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                self._problems.append(YamlProblem(_pos(key_node), "keys must be plain scalars"))
                continue
            key = self._loader.construct_object(key_node)
            if not isinstance(key, str | int | float | bool) and key is not None:
                self._problems.append(YamlProblem(_pos(key_node), f"unsupported key {key!r}"))
                continue
            if key in seen:
                first = seen[key]
                self._problems.append(
                    YamlProblem(
                        _pos(key_node),
                        f"duplicate key '{key}' (first defined at line {first.line})",
                    )
                )
                continue
            seen[key] = _pos(key_node)
            child: Path_ = (*path, key if isinstance(key, str | int) else str(key))
            self._sources.keys[child] = _pos(key_node)
            result[key] = self.build(value_node, child)
        return result
