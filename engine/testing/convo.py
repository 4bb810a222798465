"""Conversation test files (`*.convo.yaml`): read, check against the schema and the
flow under test, and turn into cases ready to run.

Every problem is reported as `file:line:col: error: message`, like a broken flow.
"""

from __future__ import annotations

import datetime
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped,unused-ignore]

from engine.diagnostics import Reporter
from engine.errors import ConvoFileError, Diagnostic, FlowError, did_you_mean
from engine.flow import Flow, PythonAction, Row
from engine.llm.setup import default_cassette
from engine.loader import load_flow, read_yaml_document
from engine.schema import check_schema, fast_validator, schema_file
from engine.testing.stubs import (
    StubError,
    python_actions,
    read_stub_table,
    slot_names,
    stub_function,
    with_stubs,
)

SUFFIX = ".convo.yaml"
DEFAULT_TODAY = datetime.date(2026, 1, 5)  # a Monday: "tomorrow" and "Friday" stay put
_EMPTY = "a conversation test file must be a mapping with 'flow' and 'cases'"
_RESERVED = frozenset({"con", "prn", "aux", "nul", *(f"com{i}" for i in range(1, 10)),
                       *(f"lpt{i}" for i in range(1, 10))})
_UNSET: Any = object()  # an expectation not given, as opposed to `intent: null`


@cache
def _validator() -> jsonschema.Draft202012Validator:
    return fast_validator(json.loads(schema_file("convo.schema.json").read_text("utf-8")))


@dataclass(frozen=True)
class Expectation:
    """What one turn must do; fields left unset are not checked."""

    state: str | None = None
    intent: Any = _UNSET
    route: str | None = None
    slots: Mapping[str, Any] | None = None
    says: tuple[str, ...] = ()
    not_says: tuple[str, ...] = ()
    matches: re.Pattern[str] | None = None
    buttons: tuple[str, ...] = ()
    ended: bool | None = None
    llm: bool | None = None

    @property
    def checks_intent(self) -> bool:
        return self.intent is not _UNSET


@dataclass(frozen=True)
class Turn:
    user: str
    expect: Expectation | None
    line: int


@dataclass(frozen=True)
class Start:
    state: str
    slots: Mapping[str, Any]


@dataclass(frozen=True)
class Case:
    name: str
    description: str
    start: Start | None
    today: datetime.date
    seed: int
    turns: tuple[Turn, ...]
    line: int
    marks: tuple[str, ...] = ()


@dataclass(frozen=True)
class ConvoFile:
    path: Path
    display: str  # the path as the user gave it, for messages
    flow: Flow  # with the file's data and action stubs applied
    llm: str  # "replay" or "offline"
    cassette: Path
    cases: Mapping[str, Case]


def shown_path(path: str | os.PathLike[str]) -> str:
    """A path as a user wants to read it: relative when it is under the working folder
    (on Windows a path on another drive has no relative form at all)."""
    try:
        relative = os.path.relpath(path)
    except ValueError:
        return os.fspath(path)
    return os.fspath(path) if relative.startswith("..") else relative


def is_convo_file(path: Path) -> bool:
    return path.name.endswith(SUFFIX) and len(path.name) > len(SUFFIX)


def load_convo(path: str | os.PathLike[str]) -> ConvoFile:
    """Read and check one conversation test file; ConvoFileError lists every problem."""
    display = os.fspath(path)
    file = Path(display)
    reporter = Reporter(display)
    data = read_yaml_document(file, reporter, kind="conversation test file", empty=_EMPTY)
    if data is None:
        raise ConvoFileError(reporter.sorted())
    if not isinstance(data, dict):
        reporter.at(reporter.sources.value(()), _EMPTY)
        raise ConvoFileError(reporter.sorted())
    check_schema(data, reporter, _validator())
    if reporter.has_errors:
        raise ConvoFileError(reporter.sorted())
    convo = _Builder(file, display, data, reporter).build()
    if convo is None or reporter.has_errors:
        raise ConvoFileError(reporter.sorted())
    return convo


def check_convo(path: str | os.PathLike[str]) -> list[Diagnostic]:
    """Every problem of a conversation test file (none when it is fine)."""
    try:
        load_convo(path)
    except ConvoFileError as exc:
        return list(exc.diagnostics)
    return []


class _Builder:
    """The meaning checks: names that must exist in the flow under test."""

    def __init__(self, file: Path, display: str, data: dict[str, Any],
                 reporter: Reporter) -> None:
        self.file = file
        self.base = file.resolve().parent
        self.display = display
        self.data = data
        self.report = reporter
        self.flow: Flow
        self.slots: set[str] = set()
        self.any_python = False

    def build(self) -> ConvoFile | None:
        data = self.data
        tables = self._tables()
        shown = shown_path(self.base / data["flow"])
        try:
            self.flow = load_flow(shown, tables)
        except FlowError as exc:
            errors = "; ".join(d.format() for d in exc.errors[:3])
            self.report.error(("flow",), f"the flow does not load: {errors}")
            return None
        for table in tables.keys() - self.flow.data.keys():
            self.report.error(("data", table), f"the flow has no data table '{table}'"
                              f"{did_you_mean(table, self.flow.data)}", key=True)
        self.flow = with_stubs(self.flow, self._functions())
        self.slots = slot_names(self.flow)
        self.any_python = bool(python_actions(self.flow))
        today = self._today(data.get("today"), ("today",), DEFAULT_TODAY)
        seed = data.get("seed", 0)
        start = self._start(data.get("start"), ("start",))
        self._case_names(list(data["cases"]))
        cases = {name: self._case(name, case, today, seed, start)
                 for name, case in data["cases"].items()}
        # By default the flow's own cassette: a conversation recorded with
        # `flowbot run --llm record` and saved with /save replays as it was recorded.
        cassette = (self.base / data["cassette"] if "cassette" in data
                    else default_cassette(self.flow))
        return ConvoFile(self.file, self.display, self.flow, data.get("llm", "replay"),
                         cassette, cases)

    def _case_names(self, names: list[str]) -> None:
        """Each case is a snapshot file named after it: names must make distinct, portable
        file names (macOS and Windows ignore case; Windows reserves a few names)."""
        seen: dict[str, str] = {}
        for name in names:
            where = ("cases", name)
            folded = name.casefold()
            if folded in seen:
                self.report.error(where, f"case '{name}' differs from case '{seen[folded]}' "
                                         "only in capitals: their snapshot files would clash "
                                         "on macOS and Windows", key=True)
            seen.setdefault(folded, name)
            if folded.split(".")[0] in _RESERVED:
                self.report.error(where, f"'{name}' is a reserved file name on Windows: "
                                         "choose another case name", key=True)
            if len(name) > 200:
                self.report.error(where, "case name is too long for a file name (at most 200 "
                                         "characters)", key=True)

    def _tables(self) -> dict[str, tuple[Row, ...]]:
        """Stub tables, read before the flow loads: enum slots take their values
        (`values_from`) from the stub rows, as lookups do."""
        tables: dict[str, tuple[Row, ...]] = {}
        for table, source in self.data.get("data", {}).items():
            try:
                tables[table] = read_stub_table(source, self.base)
            except StubError as exc:
                self.report.error(("data", table), str(exc))
        return tables

    def _functions(self) -> dict[str, PythonAction]:
        named = python_actions(self.flow)
        functions = {}
        for name, stub in self.data.get("actions", {}).items():
            where = ("actions", name)
            if name not in named:
                known = ", ".join(sorted(named)) or "none"
                self.report.error(where, f"the flow calls no Python action '{name}'"
                                  f"{did_you_mean(name, named)} (it calls: {known})", key=True)
                continue
            try:
                functions[name] = stub_function(name, stub, self.base)
            except StubError as exc:
                self.report.error(where, str(exc))
        return functions

    def _today(self, value: str | None, where: tuple[Any, ...],
               default: datetime.date) -> datetime.date:
        if value is None:
            return default
        try:
            return datetime.date.fromisoformat(value)
        except ValueError:
            self.report.error(where, f"'{value}' is not a date (use YYYY-MM-DD)")
            return default

    def _state(self, name: str, where: tuple[Any, ...]) -> None:
        if name not in self.flow.states:
            self.report.error(where, f"the flow has no state '{name}'"
                              f"{did_you_mean(name, self.flow.states)}")

    def _start(self, value: dict[str, Any] | None, where: tuple[Any, ...]) -> Start | None:
        if value is None:
            return None
        self._state(value["state"], (*where, "state"))
        slots = value.get("slots", {})
        self._slots(slots, (*where, "slots"))
        return Start(value["state"], slots)

    def _slots(self, slots: Mapping[str, Any], where: tuple[Any, ...]) -> None:
        """A misspelt slot name would make a check pass (it is always unset) or a start
        quietly incomplete: names the flow never uses are errors. When the flow has
        Python actions, which may set any name, only a near miss of a known one is."""
        for name in slots:
            hint = did_you_mean(name, self.slots)
            if name not in self.slots and (hint or not self.any_python):
                self.report.error((*where, name), f"the flow has no slot '{name}'{hint}",
                                  key=True)

    def _case(self, name: str, data: dict[str, Any], today: datetime.date, seed: int,
              start: Start | None) -> Case:
        where: tuple[Any, ...] = ("cases", name)
        turns = tuple(self._turn(turn, (*where, "turns", index))
                      for index, turn in enumerate(data["turns"]))
        own_start = self._start(data.get("start"), (*where, "start"))
        return Case(name, data.get("description", ""), own_start or start,
                    self._today(data.get("today"), (*where, "today"), today),
                    data.get("seed", seed), turns, self.report.sources.key(where).line,
                    tuple(data.get("marks", ())))

    def _turn(self, turn: str | dict[str, Any], where: tuple[Any, ...]) -> Turn:
        line = self.report.sources.value(where).line
        if isinstance(turn, str):
            return Turn(turn, None, line)
        expect = turn.get("expect")
        return Turn(turn["user"], None if expect is None
                    else self._expect(expect, (*where, "expect")), line)

    def _expect(self, data: dict[str, Any], where: tuple[Any, ...]) -> Expectation:
        flow = self.flow
        if "state" in data:
            self._state(data["state"], (*where, "state"))
        intent = data.get("intent", _UNSET)
        if isinstance(intent, str) and intent not in flow.intents:
            self.report.error((*where, "intent"), f"the flow has no intent '{intent}'"
                              f"{did_you_mean(intent, flow.intents)}")
        self._slots(data.get("slots", {}), (*where, "slots"))
        pattern = None
        if "matches" in data:
            try:
                pattern = re.compile(data["matches"])
            except re.error as exc:
                self.report.error((*where, "matches"), f"not a valid regular expression: {exc}")
        return Expectation(
            state=data.get("state"), intent=intent, route=data.get("route"),
            slots=data.get("slots"), says=_texts(data.get("says")),
            not_says=_texts(data.get("not_says")), matches=pattern,
            buttons=tuple(data.get("buttons", ())), ended=data.get("ended"),
            llm=data.get("llm"))


def _texts(value: str | list[str] | None) -> tuple[str, ...]:
    if value is None:
        return ()
    return (value,) if isinstance(value, str) else tuple(value)
