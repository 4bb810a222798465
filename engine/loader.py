"""Load a flow file: read -> YAML with positions -> JSON Schema -> meaning -> Flow.

Every problem is reported as `file:line:col: severity: message`; a broken file
raises FlowError with all of them, never a traceback.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
from jsonschema.exceptions import ValidationError, best_match

from engine.build import FlowBuilder
from engine.checks import check_graph, check_shadowing
from engine.diagnostics import Reporter
from engine.errors import Diagnostic, FlowError, did_you_mean
from engine.flow import Flow
from engine.yamlsrc import Path_, Position, SourceMap, YamlSyntaxError, load_yaml

MAX_FLOW_BYTES = 5_000_000


def schema_path() -> Path:
    """The flow JSON Schema: inside the installed package, or in the source tree."""
    packaged = resources.files("engine").joinpath("schemas", "flow.schema.json")
    if packaged.is_file():
        return Path(str(packaged))
    return Path(__file__).resolve().parent.parent / "schemas" / "flow.schema.json"


@cache
def flow_schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(schema_path().read_text(encoding="utf-8"))
    return schema


@cache
def _validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(flow_schema())


@dataclass
class LoadReport:
    """The outcome of checking one flow file."""

    path: str
    flow: Flow | None = None
    diagnostics: list[Diagnostic] = field(default_factory=list)

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == "error"]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == "warning"]


def _read_text(path: Path, reporter: Reporter) -> str | None:
    start = Position(1, 1)
    if not path.exists():
        reporter.at(start, "no such file")
        return None
    if path.is_dir():
        reporter.at(start, "is a directory, not a flow file")
        return None
    try:
        raw = path.read_bytes()
    except OSError as exc:
        reporter.at(start, f"cannot read: {exc.strerror}")
        return None
    if len(raw) > MAX_FLOW_BYTES:
        reporter.at(start, f"file is too large ({len(raw)} bytes; the limit is {MAX_FLOW_BYTES})")
        return None
    if b"\x00" in raw:
        reporter.at(start, "binary file: a flow must be UTF-8 YAML text")
        return None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        reporter.at(Position(line, 1), "not UTF-8 text: a flow must be UTF-8 YAML")
        return None
    if not text.strip():
        reporter.at(start, "empty file: a flow needs at least 'flow', 'start' and 'states'")
        return None
    return text


def _schema_message(error: ValidationError) -> tuple[str, bool]:
    """A readable message for a schema error; True when it is about a key."""
    where = "/".join(str(p) for p in error.absolute_path) or "the top level"
    if error.validator == "additionalProperties":
        allowed = set(error.schema.get("properties", {}))
        extras = [k for k in error.instance if k not in allowed]
        name = str(extras[0]) if extras else "?"
        return f"unknown key '{name}' in {where}{did_you_mean(name, allowed)}", True
    if error.validator == "required":
        return f"{where}: {error.message}", False
    return f"{where}: {error.message}", False


def _leaf_errors(error: ValidationError) -> Iterator[ValidationError]:
    """For oneOf/anyOf, descend to the most relevant branch's error."""
    while error.validator in ("oneOf", "anyOf") and error.context:
        relevant = best_match(error.context)
        if relevant is None:
            break
        error = relevant
    yield error


def _check_schema(data: Any, reporter: Reporter) -> None:
    for top in _validator().iter_errors(data):
        for error in _leaf_errors(top):
            message, about_key = _schema_message(error)
            path: Path_ = tuple(error.absolute_path)
            if about_key and error.validator == "additionalProperties":
                allowed = set(error.schema.get("properties", {}))
                extras = [k for k in error.instance if k not in allowed]
                if extras:
                    path = (*path, extras[0])
            reporter.error(path, message, key=about_key)


def check_flow(path: str | os.PathLike[str]) -> LoadReport:
    """Check one flow file; the report holds the Flow when it has no errors."""
    display = os.fspath(path)
    reporter = Reporter(display)
    file = Path(display)
    text = _read_text(file, reporter)
    if text is None:
        return LoadReport(display, None, reporter.sorted())
    try:
        data, sources = load_yaml(text)
    except YamlSyntaxError as exc:
        for problem in exc.problems:
            reporter.at(problem.position, problem.message)
        return LoadReport(display, None, reporter.sorted())
    reporter.sources = sources
    if not isinstance(data, dict):
        reporter.at(sources.value(()), "a flow file must be a mapping with 'flow', 'start' "
                                       "and 'states'")
        return LoadReport(display, None, reporter.sorted())
    _check_schema(data, reporter)
    if reporter.has_errors:
        return LoadReport(display, None, reporter.sorted())
    flow = FlowBuilder(data, file.resolve(), reporter).build()
    if not reporter.has_errors:
        check_graph(flow, reporter)
        check_shadowing(flow, reporter)
    return LoadReport(display, None if reporter.has_errors else flow, reporter.sorted())


def load_flow(path: str | os.PathLike[str]) -> Flow:
    """Load a flow or raise FlowError carrying every diagnostic."""
    report = check_flow(path)
    if report.flow is None:
        raise FlowError(report.diagnostics)
    return report.flow


__all__ = ["LoadReport", "SourceMap", "check_flow", "flow_schema", "load_flow", "schema_path"]
