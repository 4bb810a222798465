"""The flow format's JSON Schema: where it lives, how it is checked quickly, and
its errors explained in words a flow author understands."""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped,unused-ignore]
from jsonschema.exceptions import ValidationError  # type: ignore[import-untyped,unused-ignore]

from engine.diagnostics import Reporter
from engine.errors import did_you_mean
from engine.yamlsrc import Path_


def schema_file(name: str) -> Path:
    """A JSON Schema shipped with flowbot: inside the installed package, or in the
    source tree's schemas/ folder."""
    packaged = resources.files("engine").joinpath("schemas", name)
    if packaged.is_file():
        return Path(str(packaged))
    return Path(__file__).resolve().parent.parent / "schemas" / name


def schema_path() -> Path:
    """The flow format's JSON Schema."""
    return schema_file("flow.schema.json")


@cache
def flow_schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(schema_path().read_text(encoding="utf-8"))
    return schema


_ANNOTATIONS = {"$ref", "description", "default", "title"}


def _for_speed(node: Any, defs: dict[str, Any]) -> Any:
    """The same schema, cheaper to check: local `$ref`s inlined (no registry look-ups)
    and `oneOf` as `anyOf`. The flow schema's alternatives never overlap (they differ
    in type or in required keys, with no extra keys allowed), so both accept exactly
    the same documents, but `anyOf` can stop at the first branch that fits."""
    if isinstance(node, list):
        return [_for_speed(item, defs) for item in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/") and set(node) <= _ANNOTATIONS:
        # Beside a $ref the schema only writes annotations, so merging them is safe.
        resolved = _for_speed(defs[ref.removeprefix("#/$defs/")], defs)
        # `$comment` keeps the definition's name for the error messages (_describe_schema).
        return {**resolved, **{k: v for k, v in node.items() if k != "$ref"}, "$comment": ref}
    return {("anyOf" if key == "oneOf" else key): _for_speed(value, defs)
            for key, value in node.items()}


def fast_validator(schema: dict[str, Any]) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(_for_speed(schema, schema.get("$defs", {})))


@cache
def _validator() -> jsonschema.Draft202012Validator:
    return fast_validator(flow_schema())


# ---- schema errors, in words a flow author understands ----------------------------

_NAME_RULE = "use letters, digits and '_', starting with a letter or '_'"
_PATTERNS = {  # JSON Schema pattern -> what it asks for
    "^[A-Za-z_][A-Za-z0-9_]*$": f"is not a valid name: {_NAME_RULE}",
    "^[A-Za-z][A-Za-z0-9_-]*$": "is not a valid flow name: use letters, digits, '_' and '-', "
                                "starting with a letter",
    "\\.(csv|json|ya?ml)$": "is not a data file name: use a .csv, .json, .yaml or .yml file",
    "^[A-Za-z_][A-Za-z0-9_]*(\\.[A-Za-z_][A-Za-z0-9_]*)+$":
        "is not MODULE.FUNCTION (for example 'actions.book')",
    "^[A-Za-z_][A-Za-z0-9_]*\\.[A-Za-z_][A-Za-z0-9_]*$": "is not TABLE.COLUMN",
    "^-?[A-Za-z_][A-Za-z0-9_]*$": "is not a column name (a leading '-' sorts descending)",
}
_REF_WORDS = {"name": "a name", "template": "a text", "expression": "a condition"}
_TYPE_WORDS = {"string": "a string", "integer": "an integer", "number": "a number",
               "boolean": "true or false", "array": "a list", "object": "a mapping",
               "null": "null"}
_YAML_11_BOOLEANS = frozenset({"yes", "no", "on", "off", "y", "n"})


@dataclass(frozen=True)
class _SchemaProblem:
    path: Path_
    message: str
    at_key: bool = False
    missing: str | None = None  # for "missing required key"
    suggests: str | None = None  # for "unknown key ... did you mean"


def _where(path: Iterable[Any]) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "the top level"


def _in(path: Path_) -> str:
    return f"in {_where(path)}" if path else "at the top level"


def _resolve(schema: Any) -> Any:
    while isinstance(schema, dict) and str(schema.get("$ref", "")).startswith("#/$defs/"):
        schema = flow_schema()["$defs"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _describe_schema(schema: Any, plural: bool = False) -> str:
    """'a name', 'a list of texts', 'a mapping with 'text''..."""
    ref = (str(schema.get("$ref") or schema.get("$comment") or "").rsplit("/", 1)[-1]
           if isinstance(schema, dict) else "")
    if ref in _REF_WORDS:
        words = _REF_WORDS[ref]
    else:
        schema = _resolve(schema)
        if not isinstance(schema, dict):
            words = "a value"
        elif "const" in schema:
            return repr(schema["const"])
        elif schema.get("type") == "array" and isinstance(schema.get("items"), dict):
            words = "a list of " + _describe_schema(schema["items"], plural=True)
        elif schema.get("type") == "object" and schema.get("required"):
            words = "a mapping with " + " and ".join(f"'{k}'" for k in schema["required"])
        else:
            kinds = schema.get("type", "")
            kinds = kinds if isinstance(kinds, list) else [kinds]
            words = " or ".join(_TYPE_WORDS.get(k, "a value") for k in kinds if k) or "a value"
    if plural:
        head, _, rest = words.partition(" ")
        if head in ("a", "an"):
            noun, _, tail = rest.partition(" ")
            words = f"{noun}s" + (f" {tail}" if tail else "")
    return words


def _either(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


def _shown(text: str) -> str:
    """A string as quoted in a message: on one line, and not too long."""
    text = " ".join(text.split())
    return repr(text if len(text) <= 40 else text[:37] + "...")


def _describe_value(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the string {_shown(value)}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return f"a {type(value).__name__}"


def _branches(error: ValidationError) -> list[tuple[Any, list[ValidationError]]]:
    """A oneOf/anyOf error's branches that fit the value's type, with their errors."""
    schema, value = _fields(error)[:2]
    options = schema.get(error.validator, [])
    grouped: dict[int, list[ValidationError]] = {}
    for sub in error.context or ():
        grouped.setdefault(int(sub.relative_schema_path[0]), []).append(sub)
    fitting = []
    for index, errors in sorted(grouped.items()):
        root = [e for e in errors if not e.relative_path]
        if any(e.validator in ("type", "const") for e in root):
            continue
        fitting.append((options[index] if index < len(options) else {}, errors))
    if len(fitting) > 1 and isinstance(value, dict):
        # Several mappings fit: keep those that know most of the keys written.
        def known(branch: tuple[Any, list[ValidationError]]) -> int:
            properties = _resolve(branch[0]).get("properties", {})
            return sum(1 for key in value if key in properties)

        best = max(known(b) for b in fitting)
        fitting = [b for b in fitting if known(b) == best] if best else []
        fitting.sort(key=lambda b: len(b[1]))
        fitting = fitting[:1]
    return fitting


def _fields(error: ValidationError) -> tuple[Any, Any, Any]:
    """The failing schema, the value and the rule's value (untyped JSON, all three)."""
    return error.schema, error.instance, error.validator_value


def _explain(error: ValidationError) -> Iterator[_SchemaProblem]:
    path: Path_ = tuple(error.absolute_path)
    schema, value, rule = _fields(error)
    where = _where(path)
    if error.validator in ("oneOf", "anyOf") and not error.context:  # several branches fit
        yield _SchemaProblem(path, f"{where}: {error.message}")
    elif error.validator in ("oneOf", "anyOf"):
        fitting = _branches(error)
        if len(fitting) == 1:
            for sub in fitting[0][1]:
                yield from _explain(sub)
            return
        branches = schema.get(error.validator, [])
        options = [_describe_schema(branch) for branch in branches]
        if isinstance(value, dict) and all(o.startswith("a mapping with") for o in options):
            keys = [str(_resolve(branch).get("required", ["?"])[0]) for branch in branches]
            unknown = [k for k in value if k not in keys]
            hint = did_you_mean(unknown[0], keys) if unknown else ""
            yield _SchemaProblem(path, f"{where}: expected one of the keys "
                                       f"{_either([repr(k) for k in keys])}{hint}")
            return
        yield _SchemaProblem(path, f"{where}: expected {_either(options)}, "
                                   f"got {_describe_value(value)}")
    elif error.validator == "additionalProperties":
        allowed = list(schema.get("properties", {}))
        for key in value:
            if key in allowed:
                continue
            hint = did_you_mean(str(key), allowed)
            close = next(iter(difflib.get_close_matches(str(key), allowed, n=1)), None)
            if not hint:
                hint = f"; expected {_either([repr(k) for k in allowed])}" if allowed else ""
            yield _SchemaProblem((*path, key), f"unknown key '{key}' {_in(path)}{hint}",
                                 at_key=True, suggests=close)
    elif error.validator == "required":
        for key in rule:
            if key not in value and error.message.startswith(repr(key)):
                yield _SchemaProblem(path, f"missing required key '{key}' {_in(path)}",
                                     at_key=True, missing=key)
    elif error.validator == "type":
        kinds = rule if isinstance(rule, list) else [rule]
        expected = _either([_TYPE_WORDS.get(str(k), str(k)) for k in kinds])
        hint = ""
        if "boolean" in kinds and isinstance(value, str) and value.lower() in _YAML_11_BOOLEANS:
            hint = " (in a flow only true and false are booleans)"
        yield _SchemaProblem(path, f"{where}: expected {expected}, got "
                                   f"{_describe_value(value)}{hint}")
    elif error.validator == "enum":
        choices = [str(c) for c in rule]
        shown = _shown(value) if isinstance(value, str) else _describe_value(value)
        yield _SchemaProblem(path, f"{where}: {shown} is not one of "
                                   f"{_either([repr(c) for c in choices])}"
                                   f"{did_you_mean(str(value), choices)}")
    elif error.validator == "const":
        yield _SchemaProblem(path, f"{where}: expected {rule!r}, got {_describe_value(value)}")
    elif error.validator == "pattern":
        what = _PATTERNS.get(rule, f"does not match the pattern {rule!r}")
        yield _SchemaProblem(path, f"{where}: {_shown(str(value))} {what}")
    elif error.validator in ("minItems", "minProperties") and rule == 1:
        yield _SchemaProblem(path, f"{where}: must not be empty")
    else:
        yield _SchemaProblem(path, f"{where}: {error.message}")


def check_schema(data: Any, reporter: Reporter,
                 validator: jsonschema.Draft202012Validator | None = None) -> None:
    """Report every schema violation at the offending key or value (against the flow
    schema unless another validator is given)."""
    validator = validator or _validator()
    problems = [p for top in validator.iter_errors(data) for p in _explain(top)]
    # "missing 'text'" says nothing more than "unknown key 'txt' (did you mean 'text'?)".
    suggested = {(p.path[:-1], p.suggests) for p in problems if p.suggests}
    for problem in problems:
        if (problem.path, problem.missing) in suggested:
            continue
        reporter.error(problem.path, problem.message, key=problem.at_key)
