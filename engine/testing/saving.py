"""Saving a conversation as a test case: `/save NAME` in `flowbot run`.

The case goes into the conversation test file beside the flow (flows/cars.yaml ->
flows/cars.convo.yaml). A missing file is created with a short header. An existing
one gets the case appended as text at the end of its `cases:` mapping, so every
comment and every other byte of it stays as written; a layout that cannot be
appended to safely is refused with the reason, never rewritten. The file written
is read back and checked against schemas/convo.schema.json; if anything is wrong
the original is put back.
"""

from __future__ import annotations

import json
import math
import os
import re
import secrets
import shutil
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped,unused-ignore]
import yaml

from engine.errors import FlowbotError
from engine.schema import schema_file

CASE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]*")  # as in schemas/convo.schema.json
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
    created: bool  # the file was new


def convo_path(flow_path: Path) -> Path:
    """The conversation test file of a flow: FLOW.convo.yaml beside it."""
    return flow_path.with_name(f"{flow_path.stem}.convo.yaml")


def display_path(path: Path) -> Path:
    """`path` relative to the working directory when it is below it, else as it is."""
    try:
        return path.relative_to(Path.cwd()) if path.is_absolute() else path
    except ValueError:
        return path


@cache
def _validator() -> jsonschema.Draft202012Validator:
    path = schema_file("convo.schema.json")
    try:
        schema = json.loads(path.read_text(encoding="utf-8"))
    except OSError:
        raise SaveError(f"cannot check the case: the schema {path} is missing") from None
    return jsonschema.Draft202012Validator(schema)


def save_case(flow_path: Path, name: str, turns: list[str], start: dict[str, Any] | None = None,
              description: str | None = None) -> SavedCase:
    """Append the case NAME (these user turns, from `start` when given) to the flow's
    conversation test file; SaveError says why not, and then the file is unchanged."""
    if not CASE_NAME.fullmatch(name):
        raise SaveError(f"'{name}' is not a valid case name: use letters, digits, '_' and '-' "
                        "(not '-' first)")
    if not turns:
        raise SaveError("nothing to save yet: talk to the bot first")
    if not flow_path.is_file():
        raise SaveError(f"cannot save a case: the flow {flow_path} is not a file")
    path = display_path(convo_path(flow_path))
    case = _case(turns, start, description)
    original = _read(path)
    if original is None or not original.strip():
        newline, indent, step = "\n", 2, 2
        before: dict[str, Any] = {"flow": flow_path.name, "cases": {}}
        text = _header(path, flow_path.name)
    else:
        newline = "\r\n" if "\r\n" in original else "\n"
        before, indent, step = _check_existing(path, original, name, flow_path)
        text = original if original.endswith("\n") else original + newline
    text += newline.join(_case_lines(name, case, indent, step)) + newline
    _write(path, text)
    expected = {**before, "cases": {**(before.get("cases") or {}), name: case}}
    try:
        _verify(path, expected)
    except SaveError:
        _restore(path, original)
        raise
    return SavedCase(path, name, len(turns), created=original is None)


# ---- the case as YAML text ----------------------------------------------------------


def _case(turns: list[str], start: dict[str, Any] | None,
          description: str | None) -> dict[str, Any]:
    case: dict[str, Any] = {}
    if description:
        case["description"] = description
    if start is not None:
        case["start"] = {"state": start["state"]}
        if start.get("slots"):
            case["start"]["slots"] = start["slots"]
    case["turns"] = list(turns)
    return case


def _scalar(text: str) -> str:
    """`text` as one YAML scalar on one line: plain when that reads back the same
    string to YAML 1.1 and 1.2 readers alike, else quoted as PyYAML's emitter decides."""
    dumped = yaml.safe_dump([text], allow_unicode=True, width=math.inf)
    if _YAML_12_NUMBER.fullmatch(text):  # '1e3', '0o17': strings to PyYAML only
        dumped = yaml.safe_dump([text], allow_unicode=True, width=math.inf, default_style="'")
    elif len(dumped.splitlines()) != 1:  # line breaks inside: escape them in double quotes
        dumped = yaml.safe_dump([text], allow_unicode=True, width=math.inf, default_style='"')
    if len(dumped.splitlines()) != 1 or yaml.safe_load(dumped) != [text]:
        raise SaveError(f"cannot write {text!r} as a YAML string")
    return dumped.removeprefix("- ").rstrip("\n")


def _value(value: Any, pad: str) -> list[str]:
    """Any plain value after 'key:': on the same line in flow style when it fits, else
    as an indented block (valid YAML either way)."""
    flow = yaml.safe_dump(value, allow_unicode=True, width=math.inf, default_flow_style=True,
                          sort_keys=False)
    if len(flow.splitlines()) == 1 and len(flow) <= 100 and yaml.safe_load(flow) == value:
        return [" " + flow.rstrip("\n")]
    block = yaml.safe_dump(value, allow_unicode=True, default_flow_style=False, sort_keys=False)
    return ["", *(pad + line for line in block.splitlines())]


def _case_lines(name: str, case: dict[str, Any], indent: int, step: int) -> list[str]:
    pad, inner, deeper = " " * indent, " " * (indent + step), " " * (indent + 2 * step)
    lines = [f"{pad}{_scalar(name)}:"]
    if "description" in case:
        lines.append(f"{inner}description: {_scalar(case['description'])}")
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


def _check_existing(path: Path, text: str, name: str,
                    flow_path: Path) -> tuple[dict[str, Any], int, int]:
    """The file's data, the column of its case names and the indentation step inside
    a case; SaveError when the case cannot be appended at the end of the text."""
    def refuse(why: str) -> SaveError:
        return SaveError(f"cannot add to {path}: {why}; add the case by hand")

    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        explicit_end = any(isinstance(event, yaml.DocumentEndEvent) and event.explicit
                           for event in yaml.parse(text, Loader=yaml.SafeLoader))
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise refuse(f"it is not valid YAML ({getattr(exc, 'problem', None) or exc}{where})"
                     ) from None
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
    empty = isinstance(cases, yaml.ScalarNode) and cases.tag == _NULL_TAG and not cases.value
    if empty:
        indent, step = last_key.start_mark.column + 2, 2
    elif isinstance(cases, yaml.MappingNode) and not cases.flow_style:
        if any(getattr(key, "value", None) == name for key, _ in cases.value):
            raise SaveError(f"{path} already has a case '{name}': choose another name")
        indent, step = cases.value[0][0].start_mark.column, _step(cases)
    else:
        raise refuse("its 'cases' is not a block mapping of NAME: case")
    problems = [error for error in _validator().iter_errors(data)
                if not (empty and list(error.absolute_path)[:1] == ["cases"])]
    if problems:
        error = jsonschema.exceptions.best_match(problems)
        where = ".".join(str(part) for part in error.absolute_path) or "top level"
        raise refuse(f"it is not a valid conversation test file yet ({where}: {error.message})")
    if (path.parent / data["flow"]).resolve() != flow_path.resolve():
        raise refuse(f"it tests the flow '{data['flow']}', not {flow_path.name}")
    return data, indent, step


def _step(cases: yaml.MappingNode) -> int:
    """How far the existing cases indent their keys (2 unless they say otherwise)."""
    column: int = cases.value[0][0].start_mark.column
    for _, case in cases.value:
        if isinstance(case, yaml.MappingNode) and not case.flow_style and case.value:
            inner: int = case.value[0][0].start_mark.column
            return max(1, inner - column)
    return 2


# ---- reading, writing, checking ----------------------------------------------------------


def _read(path: Path) -> str | None:
    try:
        return path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) else "it is not UTF-8 text"
        raise SaveError(f"cannot read {path}: {why}") from None


def _write(path: Path, text: str) -> None:
    """Atomically: a temporary file beside it, then os.replace."""
    temp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        with open(temp, "x", encoding="utf-8", newline="") as handle:
            handle.write(text)
        if path.exists():
            shutil.copymode(path, temp)
        os.replace(temp, path)
    except OSError as exc:
        temp.unlink(missing_ok=True)
        raise SaveError(f"cannot write {path}: {exc.strerror}") from None


def _restore(path: Path, original: str | None) -> None:
    if original is None:
        path.unlink(missing_ok=True)
    else:
        _write(path, original)


def _verify(path: Path, expected: dict[str, Any]) -> None:
    """The file as written must be a valid conversation test file holding exactly
    what it held before plus the new case."""
    text = _read(path)
    try:
        data = yaml.safe_load(text or "")
    except yaml.YAMLError as exc:
        raise SaveError(f"saving broke {path} ({exc}); it is restored: "
                        "add the case by hand") from None
    error = jsonschema.exceptions.best_match(_validator().iter_errors(data))
    if error is not None:
        raise SaveError(f"saving would make {path} invalid ({error.message}); it is restored: "
                        "add the case by hand")
    if data != expected:
        raise SaveError(f"saving would change other parts of {path}; it is restored: "
                        "add the case by hand")
