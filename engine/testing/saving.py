"""Saving a conversation as a test case: `/save NAME` in `flowbot run`.

The case goes into the conversation test file beside the flow (flows/cars.yaml ->
flows/cars.convo.yaml). A missing file is created with a short header. An existing
one gets the case appended as text at the end of its `cases:` mapping, so every
comment and every other byte of it stays as written; a layout that cannot be
appended to safely is refused with the reason, never rewritten.

Everything is read with the project's own YAML rules (engine.yamlsrc: only
true/false are booleans, dates stay strings, duplicate keys are errors), and the
file written is checked with `load_convo`, exactly as `flowbot test` will read it;
if it does not load, the original is put back.
"""

from __future__ import annotations

import datetime
import json
import math
import os
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from engine.errors import ConvoFileError, FlowbotError
from engine.files import write_atomically
from engine.schema import schema_file
from engine.testing.convo import load_convo, shown_path
from engine.yamlsrc import FlowYamlLoader, YamlSyntaxError, load_yaml

# Numbers that YAML 1.2 readers (editors) resolve but PyYAML's YAML 1.1 resolver does not.
_YAML_12_NUMBER = re.compile(r"[-+]?(0o[0-7]+|(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?)")
_NULL_TAG = "tag:yaml.org,2002:null"


class SaveError(FlowbotError):
    """A conversation could not be saved as a test case; the file is as it was."""


@dataclass(frozen=True)
class SavedCase:
    path: Path  # the conversation test file
    name: str
    turns: int


def convo_path(flow_path: Path) -> Path:
    """The conversation test file of a flow: FLOW.convo.yaml beside it."""
    return flow_path.with_name(f"{flow_path.stem}.convo.yaml")


def save_from_chat(flow_path: Path, name: str, turns: list[str], start: dict[str, Any] | None,
                   today: datetime.date) -> str:
    """`/save NAME` in the chat (engine.console.ChatOptions.save_case, with the flow
    bound): save the case and say where it went; SaveError says why not."""
    saved = save_case(flow_path, name, turns, start, today)
    shown = shown_path(saved.path)
    count = f"{saved.turns} turn{'s' * (saved.turns != 1)}"
    return f"saved case '{saved.name}' ({count}) to {shown}; run it with: flowbot test {shown}"


def save_case(flow_path: Path, name: str, turns: list[str], start: dict[str, Any] | None,
              today: datetime.date) -> SavedCase:
    """Append the case NAME (these user turns on the date `today`, from `start` when
    given) to the flow's conversation test file; SaveError says why not, and then the
    file is as it was."""
    if not _case_name().fullmatch(name):
        raise SaveError(f"'{name}' is not a valid case name: use letters, digits, '_' and '-' "
                        "(not '-' first)")
    if not turns:
        raise SaveError("nothing to save yet: talk to the bot first")
    if not flow_path.is_file():
        raise SaveError(f"cannot save a case: the flow {shown_path(flow_path)} is not a file")
    path = convo_path(flow_path)
    shown = shown_path(path)
    case = _case(turns, start, today)
    original = _read(path, shown)
    if original is None or not original.strip():
        newline, indent, step = "\n", 2, 2
        before: dict[str, Any] = {"flow": flow_path.name, "cases": {}}
        text = _header(path, flow_path.name)
    else:
        newline = "\r\n" if "\r\n" in original else "\n"
        before, indent, step = _check_existing(path, shown, original, name, flow_path)
        text = original if original.endswith("\n") else original + newline
    text += newline.join(_case_lines(name, case, indent, step)) + newline
    _check_appended(shown, text, {**before, "cases": {**(before["cases"] or {}), name: case}})
    _write(path, shown, text)
    try:
        load_convo(shown)  # as `flowbot test` reads it: the schema and the flow's names
    except ConvoFileError as exc:
        _restore(path, shown, original)
        first = next(iter(exc.errors or exc.diagnostics), None)
        why = first.format() if first is not None else "it does not load"
        raise SaveError(f"cannot add to {shown}: with the case it would not load: {why}; "
                        "the file is left as it was: add the case by hand") from None
    except BaseException:
        _restore(path, shown, original)
        raise
    return SavedCase(path, name, len(turns))


@cache
def _case_name() -> re.Pattern[str]:
    """Case names as schemas/convo.schema.json allows them: the schema is their only
    definition, and checking here refuses a bad name before anything is written."""
    path = schema_file("convo.schema.json")
    try:
        pattern = json.loads(path.read_text(encoding="utf-8"))["$defs"]["case_name"]["pattern"]
        return re.compile(pattern)
    except (OSError, ValueError, LookupError, TypeError, re.error):
        raise SaveError(f"cannot check the case name: {path} is missing or has no "
                        "case_name pattern") from None


# ---- the case as YAML text ----------------------------------------------------------


def _case(turns: list[str], start: dict[str, Any] | None,
          today: datetime.date) -> dict[str, Any]:
    """The case as the project's loader will read it back."""
    # The date the chat ran on, so "Friday" and "tomorrow" mean the same days on replay.
    case: dict[str, Any] = {"today": today.isoformat()}
    if start is not None:
        # `start:` re-enters the state with these slots (engine/testing/runner.py calls
        # Engine.start(session, state)), so the state's lookups and actions run again.
        case["start"] = {"state": start["state"]}
        if start.get("slots"):
            case["start"]["slots"] = start["slots"]
    case["turns"] = list(turns)
    return case


def _reads_back(text: str) -> Any:
    """What the project's loader reads from a small piece of YAML we wrote."""
    try:
        return yaml.load(text, Loader=FlowYamlLoader)
    except yaml.YAMLError:
        return None


def _scalar(text: str) -> str:
    """`text` as one YAML scalar on one line: plain when that reads back the same
    string to YAML 1.1 readers (editors) and to ours alike, else quoted as PyYAML's
    emitter decides."""
    dumped = yaml.safe_dump([text], allow_unicode=True, width=math.inf)
    if _YAML_12_NUMBER.fullmatch(text):  # '1e3', '0o17': strings to PyYAML only
        dumped = yaml.safe_dump([text], allow_unicode=True, width=math.inf, default_style="'")
    elif len(dumped.splitlines()) != 1:  # line breaks inside: escape them in double quotes
        dumped = yaml.safe_dump([text], allow_unicode=True, width=math.inf, default_style='"')
    if len(dumped.splitlines()) != 1 or _reads_back(dumped) != [text]:
        raise SaveError(f"cannot write {text!r} as a YAML string")
    return dumped.removeprefix("- ").rstrip("\n")


def _value(value: Any, pad: str) -> list[str]:
    """Any plain value after 'key:': on the same line in flow style when it fits, else
    as an indented block (valid YAML either way)."""
    flow = yaml.safe_dump(value, allow_unicode=True, width=math.inf, default_flow_style=True,
                          sort_keys=False)
    if len(flow.splitlines()) == 1 and len(flow) <= 100 and _reads_back(flow) == value:
        return [" " + flow.rstrip("\n")]
    block = yaml.safe_dump(value, allow_unicode=True, default_flow_style=False, sort_keys=False)
    return ["", *(pad + line for line in block.splitlines())]


def _case_lines(name: str, case: dict[str, Any], indent: int, step: int) -> list[str]:
    pad, inner, deeper = " " * indent, " " * (indent + step), " " * (indent + 2 * step)
    # Quoted, as in the project's own test files: a date to every YAML reader is text here.
    lines = [f"{pad}{_scalar(name)}:", f'{inner}today: "{case["today"]}"']
    if "start" in case:
        lines += [f"{inner}start:", f"{deeper}state: {_scalar(case['start']['state'])}"]
        if "slots" in case["start"]:
            first, *rest = _value(case["start"]["slots"], deeper + " " * step)
            lines += [f"{deeper}slots:{first}", *rest]
    lines.append(f"{inner}turns:")
    lines += [f"{deeper}- {_scalar(turn)}" for turn in case["turns"]]
    return lines


def _header(path: Path, flow_name: str) -> str:
    schema = _schema_ref(path.parent)
    lines = [f"# yaml-language-server: $schema={schema}", "#"] if schema else []
    lines += [
        f"# Conversation tests for {flow_name}: each case replays its user turns and checks",
        f"# the replies. Run them with: flowbot test {path.name}",
        f"# Add cases by hand, or with /save NAME while chatting in: flowbot run {flow_name}",
        f"flow: {_scalar(flow_name)}",
        "",
        "cases:",
    ]
    return "\n".join(lines) + "\n"


def _schema_ref(folder: Path) -> str | None:
    """schemas/convo.schema.json relative to `folder`, when an enclosing project has it."""
    here = folder.resolve()
    for root in (here, *here.parents):
        candidate = root / "schemas" / "convo.schema.json"
        if candidate.is_file():
            return Path(os.path.relpath(candidate, here)).as_posix()
    return None


# ---- the existing file ----------------------------------------------------------------


def _check_existing(path: Path, shown: str, text: str, name: str,
                    flow_path: Path) -> tuple[dict[str, Any], int, int]:
    """The file's data, the column of its case names and the indentation step inside
    a case; SaveError when the case cannot be appended at the end of the text."""
    def refuse(why: str) -> SaveError:
        return SaveError(f"cannot add to {shown}: {why}; add the case by hand")

    try:
        data, _ = load_yaml(text)
    except YamlSyntaxError as exc:
        problem = exc.problems[0]
        raise refuse(f"line {problem.position.line}: {problem.message}") from None
    root, explicit_end = _layout(text)
    if not isinstance(root, yaml.MappingNode) or root.flow_style or not root.value:
        raise refuse("it is not a block mapping with 'flow:' and 'cases:'")
    last_key = root.value[-1][0]
    if not (isinstance(last_key, yaml.ScalarNode) and last_key.value == "cases"):
        found = getattr(last_key, "value", "?")
        raise refuse(f"its last top-level key is '{found}', not 'cases', so the end of the "
                     "file is not the end of the cases")
    if explicit_end:
        raise refuse("its document ends with '...' before the end of the file")
    cases = root.value[-1][1]
    if isinstance(cases, yaml.ScalarNode) and cases.tag == _NULL_TAG and not cases.value:
        indent, step = last_key.start_mark.column + 2, 2
    elif isinstance(cases, yaml.MappingNode) and not cases.flow_style and cases.value:
        if name in data["cases"]:
            raise SaveError(f"{shown} already has a case '{name}': choose another name")
        indent, step = cases.value[0][0].start_mark.column, _step(cases)
    else:
        raise refuse("its 'cases' is not a block mapping of NAME: case")
    flow = data.get("flow")
    if isinstance(flow, str) and (path.parent / flow).resolve() != flow_path.resolve():
        raise refuse(f"it tests the flow '{flow}', not {flow_path.name}")
    return data, indent, step


def _layout(text: str) -> tuple[yaml.Node | None, bool]:
    """The node tree, composed by the same rules as the data, and whether the document
    ends with an explicit '...' (after which appended lines would be a second one)."""
    root = yaml.compose(text, Loader=FlowYamlLoader)
    explicit_end = any(isinstance(event, yaml.DocumentEndEvent) and event.explicit
                       for event in yaml.parse(text, Loader=FlowYamlLoader))
    return root, explicit_end


def _step(cases: yaml.MappingNode) -> int:
    """How far the existing cases indent their keys (2 unless they say otherwise)."""
    column: int = cases.value[0][0].start_mark.column
    for _, case in cases.value:
        if isinstance(case, yaml.MappingNode) and not case.flow_style and case.value:
            inner: int = case.value[0][0].start_mark.column
            return max(1, inner - column)
    return 2


def _check_appended(shown: str, text: str, expected: dict[str, Any]) -> None:
    """Before anything is written: the new text must read back as exactly what the
    file held plus the new case (the append changed nothing else)."""
    try:
        data, _ = load_yaml(text)
    except YamlSyntaxError:
        data = None
    if data != expected:
        raise SaveError(f"cannot add to {shown}: appending the case would change other parts "
                        "of it; add the case by hand")


# ---- reading and writing ------------------------------------------------------------------


def _read(path: Path, shown: str) -> str | None:
    try:
        return path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) else "it is not UTF-8 text"
        raise SaveError(f"cannot read {shown}: {why}") from None


def _write(path: Path, shown: str, text: str) -> None:
    try:
        write_atomically(path, text)
    except OSError as exc:
        raise SaveError(f"cannot write {shown}: {exc.strerror or exc}") from None


def _restore(path: Path, shown: str, original: str | None) -> None:
    if original is None:
        path.unlink(missing_ok=True)
    else:
        _write(path, shown, original)
