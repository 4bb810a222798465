"""Reading a `.env` file, so an API key can live beside the project instead of in a shell.

Only the common subset of the format is understood; a line that is not an
assignment is skipped rather than refused, because a stray line in a file the
user keeps for many tools should not stop flowbot from starting. Values are
never logged or printed: the file usually holds the API key.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from engine.errors import FlowbotError

_ASSIGNMENT = re.compile(r"(?:export\s+)?([A-Za-z_][A-Za-z0-9_.]*)\s*=(.*)")
_DOUBLE_QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"(.*)')
_SINGLE_QUOTED = re.compile(r"'([^']*)'(.*)")
_ESCAPE = re.compile(r"\\(.)")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\"}
_INLINE_COMMENT = re.compile(r"\s#")


def read_env_file(path: Path) -> dict[str, str]:
    """The assignments in a `.env` file, later lines winning; {} when there is no file."""
    try:
        text = path.read_text(encoding="utf-8-sig")  # -sig: editors on Windows add a BOM
    except FileNotFoundError:
        return {}
    except UnicodeDecodeError:
        raise FlowbotError(f"cannot read {path}: not UTF-8 text") from None
    except OSError as exc:
        raise FlowbotError(f"cannot read {path}: {exc.strerror or exc}") from None
    values: dict[str, str] = {}
    for line in text.splitlines():
        parsed = _parse_line(line)
        if parsed is not None:
            values[parsed[0]] = parsed[1]
    return values


def merged_environment(env: Mapping[str, str], path: Path | None) -> dict[str, str]:
    """The `.env` values overlaid by the real environment: what the user set in the
    shell for this run wins over what the file holds for every run."""
    merged = read_env_file(path) if path is not None else {}
    merged.update(env)
    return merged


def _parse_line(line: str) -> tuple[str, str] | None:
    stripped = line.strip()
    if not stripped or stripped.startswith("#"):
        return None
    match = _ASSIGNMENT.fullmatch(stripped)
    if match is None:
        return None
    value = _parse_value(match.group(2))
    return None if value is None else (match.group(1), value)


def _parse_value(raw: str) -> str | None:
    """The value of `raw` (the text after '='), or None when it is malformed, such as
    an unclosed quote or text after the closing quote that is not a comment."""
    body = raw.lstrip()
    if body.startswith('"'):
        quoted = _DOUBLE_QUOTED.fullmatch(body)
        if quoted is None or not _is_comment(quoted.group(2)):
            return None
        return _ESCAPE.sub(lambda m: _ESCAPES.get(m.group(1), m.group(0)), quoted.group(1))
    if body.startswith("'"):
        quoted = _SINGLE_QUOTED.fullmatch(body)
        if quoted is None or not _is_comment(quoted.group(2)):
            return None
        return quoted.group(1)  # single quotes are literal: no escapes
    comment = _INLINE_COMMENT.search(raw)
    # A '#' with no space before it ("pa#ss", "=#x") is part of the value; " #" starts
    # a comment, so "KEY= # note" is empty.
    return (raw[:comment.start()] if comment else raw).strip()


def _is_comment(rest: str) -> bool:
    rest = rest.strip()
    return not rest or rest.startswith("#")
