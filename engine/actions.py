"""Actions a state or transition runs: lookups over data tables, setting and
clearing slots, and Python functions the author names explicitly.

Only a module the flow names (`python: actions.fn` -> `actions.py` beside the
flow) is ever imported; nothing is discovered by walking directories.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import sys
from collections.abc import Callable, Mapping, MutableMapping
from pathlib import Path
from types import ModuleType
from typing import Any

from engine.errors import ActionError, TemplateError, did_you_mean
from engine.expression_values import TODAY_KEY
from engine.flow import Action, CallPython, ClearSlots, Lookup, Row, SetSlots
from engine.templates import Template


class ActionImportError(Exception):
    """A Python action named by a flow cannot be imported."""


_MODULES: dict[Path, ModuleType] = {}


def import_python_action(dotted: str, base: Path) -> Callable[..., Any]:
    """`pkg.module.function` -> the function defined in BASE/pkg/module.py."""
    *module_parts, function_name = dotted.split(".")
    file = base.joinpath(*module_parts).with_suffix(".py")
    if not file.is_file():
        raise ActionImportError(f"Python action '{dotted}': no file {file.name} beside the flow")
    module = _MODULES.get(file.resolve())
    if module is None:
        name = "flowbot_actions_" + "_".join(module_parts) + f"_{abs(hash(file.resolve()))}"
        spec = importlib.util.spec_from_file_location(name, file)
        if spec is None or spec.loader is None:
            raise ActionImportError(f"Python action '{dotted}': cannot import {file.name}")
        module = importlib.util.module_from_spec(spec)
        try:
            sys.modules[name] = module
            spec.loader.exec_module(module)
        except Exception as exc:  # the author's module: report, never crash validation
            sys.modules.pop(name, None)
            raise ActionImportError(
                f"Python action '{dotted}': importing {file.name} failed: "
                f"{type(exc).__name__}: {exc}"
            ) from None
        _MODULES[file.resolve()] = module
    function = getattr(module, function_name, None)
    if not callable(function):
        defined = [name for name, value in vars(module).items()
                   if callable(value) and not name.startswith("_")]
        raise ActionImportError(f"Python action '{dotted}': {file.name} defines no function "
                                f"'{function_name}'{did_you_mean(function_name, defined)}")
    return function  # type: ignore[no-any-return]


def run_lookup(
    lookup: Lookup, rows: tuple[Row, ...], slots: Mapping[str, Any], today: Any = None
) -> Any:
    where = lookup.where
    if where is None:
        found = list(rows)
    else:
        matches = where.bind({"slots": slots, TODAY_KEY: today})  # slot tests decided once
        found = []
        for row in rows:
            if matches(row):
                if lookup.one and not lookup.sort:
                    return dict(row)  # the first match is all that is wanted
                found.append(row)
    if lookup.sort:
        # Rows missing the sort column go last, whichever the direction.
        column = lookup.sort
        present = [r for r in found if r.get(column) is not None]
        missing = [r for r in found if r.get(column) is None]
        with contextlib.suppress(TypeError):  # mixed types in a column: keep the table order
            present.sort(key=lambda row: row[column], reverse=lookup.descending)
        found = present + missing
    if lookup.one:
        return dict(found[0]) if found else None
    # Copies: the session owns what it stores, the table stays untouched.
    return [dict(row) for row in (found[: lookup.limit] if lookup.limit else found)]


def run_actions(
    actions: tuple[Action, ...],
    data: Mapping[str, tuple[Row, ...]],
    slots: MutableMapping[str, Any],
    context: Mapping[str, Any],
) -> list[str]:
    """Run actions in order, updating `slots`; return a short record of each."""
    record = []
    for action in actions:
        if isinstance(action, Lookup):
            result = run_lookup(action, data[action.table], slots, context.get(TODAY_KEY))
            slots[action.target] = result
            size = 0 if result is None else (len(result) if isinstance(result, list) else 1)
            record.append(f"lookup {action.table} -> {action.target} ({size})")
        elif isinstance(action, SetSlots):
            for name, value in action.values.items():
                if isinstance(value, Template):
                    try:
                        value = value.render({**context, **slots, "slots": slots})
                    except TemplateError as exc:
                        raise ActionError(f"set {name}: {exc}") from None
                slots[name] = value
            record.append("set " + ", ".join(action.values))
        elif isinstance(action, ClearSlots):
            names = list(slots) if action.names is None else action.names
            for name in names:
                slots.pop(name, None)
            record.append("clear " + ("all" if action.names is None else ", ".join(names)))
        elif isinstance(action, CallPython):
            record.append(_call_python(action, data, slots))
    return record


def _call_python(
    action: CallPython, data: Mapping[str, tuple[Row, ...]], slots: MutableMapping[str, Any]
) -> str:
    try:
        updates = action.function(dict(slots), data)
    except Exception as exc:  # the author's code: turn any failure into an ActionError
        raise ActionError(f"Python action {action.name} failed: {type(exc).__name__}: {exc}"
                          ) from None
    if updates is None:
        return f"python {action.name}"
    if not isinstance(updates, Mapping):
        raise ActionError(f"Python action {action.name} must return a dict of slot values or "
                          f"None, not {type(updates).__name__}")
    try:  # sessions are plain JSON: a date or an object would break saving them later
        json.dumps(dict(updates))
    except (TypeError, ValueError) as exc:
        raise ActionError(f"Python action {action.name} returned a value that is not plain "
                          f"JSON data (strings, numbers, lists, dicts): {exc}") from None
    slots.update(updates)
    return f"python {action.name} -> {', '.join(map(str, updates)) or 'nothing'}"
