"""Load a flow file: read -> YAML with positions -> JSON Schema -> meaning -> Flow.

Every problem is reported as `file:line:col: severity: message`; a broken file
raises FlowError with all of them, never a traceback.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.build import FlowBuilder
from engine.checks import check_graph, check_names, check_shadowing
from engine.diagnostics import Reporter
from engine.errors import Diagnostic, FlowError
from engine.flow import Flow, Row
from engine.schema import check_schema, flow_schema, schema_path
from engine.yamlsrc import Position, SourceMap, YamlSyntaxError, load_yaml

MAX_FLOW_BYTES = 5_000_000
_EMPTY = "empty file: a flow needs at least 'flow', 'start' and 'states'"


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


def _read_text(path: Path, reporter: Reporter, kind: str, empty: str) -> str | None:
    start = Position(1, 1)
    if not path.exists():
        reporter.at(start, "no such file")
        return None
    if path.is_dir():
        reporter.at(start, f"is a directory, not a {kind} file")
        return None
    if not path.is_file():
        reporter.at(start, "not a regular file")
        return None
    try:
        with path.open("rb") as file:
            raw = file.read(MAX_FLOW_BYTES + 1)
    except OSError as exc:
        reporter.at(start, f"cannot read: {exc.strerror}")
        return None
    if len(raw) > MAX_FLOW_BYTES:
        reporter.at(start, f"file is too large (the limit is {MAX_FLOW_BYTES} bytes)")
        return None
    if b"\x00" in raw:
        reporter.at(start, f"binary file: a {kind} must be UTF-8 YAML text")
        return None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        reporter.at(Position(line, 1), f"not UTF-8 text: a {kind} must be UTF-8 YAML")
        return None
    if not text.strip():
        reporter.at(start, empty)
        return None
    return text


def read_yaml_document(path: Path, reporter: Reporter, kind: str = "flow",
                       empty: str = _EMPTY) -> Any:
    """The data of a YAML file with every position in `reporter.sources`, or None
    once the reason is reported (missing, unreadable, binary, empty, bad YAML)."""
    text = _read_text(path, reporter, kind, empty)
    if text is None:
        return None
    try:
        data, sources = load_yaml(text)
    except YamlSyntaxError as exc:
        for problem in exc.problems:
            reporter.at(problem.position, problem.message)
        return None
    reporter.sources = sources
    if data is None:
        reporter.at(Position(1, 1), empty)
    return data


def check_flow(path: str | os.PathLike[str],
               tables: Mapping[str, tuple[Row, ...]] | None = None) -> LoadReport:
    """Check one flow file; the report holds the Flow when it has no errors.

    `tables` replaces the rows of data tables the flow names (conversation tests
    use it to stub a table)."""
    display = os.fspath(path)
    reporter = Reporter(display)
    file = Path(display)
    data = read_yaml_document(file, reporter)
    if data is None:
        return LoadReport(display, None, reporter.sorted())
    if not isinstance(data, dict):
        reporter.at(reporter.sources.value(()),
                    "a flow file must be a mapping with 'flow', 'start' and 'states'")
        return LoadReport(display, None, reporter.sorted())
    check_schema(data, reporter)
    if not reporter.has_errors:
        check_names(data, reporter)
    if reporter.has_errors:
        return LoadReport(display, None, reporter.sorted())
    flow = FlowBuilder(data, file.resolve(), reporter, tables).build()
    if not reporter.has_errors:
        check_graph(flow, reporter)
        check_shadowing(flow, reporter)
    return LoadReport(display, None if reporter.has_errors else flow, reporter.sorted())


def load_flow(path: str | os.PathLike[str],
              tables: Mapping[str, tuple[Row, ...]] | None = None) -> Flow:
    """Load a flow or raise FlowError carrying every diagnostic."""
    report = check_flow(path, tables)
    if report.flow is None:
        raise FlowError(report.diagnostics)
    return report.flow


__all__ = ["LoadReport", "SourceMap", "check_flow", "flow_schema", "load_flow", "schema_path"]
