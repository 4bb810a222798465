"""The syrupy extension for conversation transcripts, and how a changed one is explained.

One YAML file per case (`__snapshots__/NAME.convo/CASE.yaml` beside the test file),
written for people reading a review: replies as text, multi-line text as literal
blocks, keys in a fixed order, and nothing that changes from run to run.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from syrupy.extensions.single_file import SingleFileSnapshotExtension, WriteMode
from syrupy.location import PyTestLocation
from syrupy.types import PropertyFilter, PropertyMatcher, SerializableData, SerializedData

from engine.llm.redact import redact

HEADER = ("# flowbot conversation snapshot: what the bot did, turn by turn.\n"
          "# Written by `flowbot test --update` (pytest --snapshot-update); review changes "
          "like code.\n")
_NO_FOLDING = 10_000


class _Dumper(yaml.SafeDumper):
    # Not libyaml's CSafeDumper, though faster: it writes characters beyond the BMP
    # (emoji) as escapes, so a snapshot would depend on how PyYAML was built.

    def ignore_aliases(self, data: Any) -> bool:
        return True  # a repeated reply is written out again, never as &anchor/*alias


def _string(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value and value == value.strip() else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _string)


def dump_transcript(transcript: Mapping[str, Any]) -> str:
    """The snapshot's text. Anything shaped like an API key or a password in a URL is
    scrubbed: snapshots are committed, and an action's error message can quote either."""
    text = yaml.dump(dict(transcript), Dumper=_Dumper, sort_keys=False, allow_unicode=True,
                     default_flow_style=False, width=_NO_FOLDING)
    return HEADER + redact(text, ())


def _without(value: Any, exclude: PropertyFilter | None, path: tuple[Any, ...] = ()) -> Any:
    """The transcript without the properties the caller excludes (syrupy's `exclude`).
    The transcript itself already leaves out what changes from run to run."""
    if exclude is None:
        return value
    if isinstance(value, Mapping):
        return {key: _without(item, exclude, (*path, (key, type(item))))
                for key, item in value.items()
                if not exclude(prop=key, path=(*path, (key, type(item))))}
    if isinstance(value, list):
        return [_without(item, exclude, (*path, (i, type(item)))) for i, item in enumerate(value)]
    return value


class ConversationSnapshot(SingleFileSnapshotExtension):
    file_extension = "yaml"
    _write_mode = WriteMode.TEXT

    def serialize(self, data: SerializableData, *, exclude: PropertyFilter | None = None,
                  include: PropertyFilter | None = None,
                  matcher: PropertyMatcher | None = None) -> SerializedData:
        if isinstance(data, str):  # already a snapshot's text (see stored_text)
            return data
        return dump_transcript(_without(data, exclude))

    @classmethod
    def discovery_dirname(cls, *, test_location: PyTestLocation) -> str:
        # Look for unused snapshots only in this test file's own folder. syrupy's
        # directory-wide discovery would treat the snapshots of other .convo.yaml
        # files as orphans (it only knows .py files own snapshots) and delete them
        # when those files are --ignore'd or not given on the command line.
        return cls.dirname(test_location=test_location)


def stored_text(location: str) -> str | None:
    try:
        return Path(location).read_text(encoding="utf-8")
    except FileNotFoundError:
        return None


# ---- explaining a difference ---------------------------------------------------------

def _shown(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


def _value_lines(name: str, old: Any, new: Any) -> list[str]:
    if isinstance(old, list) and isinstance(new, list) and name in ("bot", "events", "actions"):
        lines = []
        for index in range(max(len(old), len(new))):
            before = old[index] if index < len(old) else None
            after = new[index] if index < len(new) else None
            if isinstance(before, Mapping) and isinstance(after, Mapping):
                for key in dict.fromkeys([*before, *after]):
                    if before.get(key) != after.get(key):
                        lines += _value_lines(f"{name}[{index}].{key}", before.get(key),
                                              after.get(key))
            elif before != after:
                lines.append(f"  {name}[{index}]:")
                lines += [f"    - {_shown(before)}"] if before is not None else []
                lines += [f"    + {_shown(after)}"] if after is not None else []
        return lines
    if isinstance(old, Mapping) and isinstance(new, Mapping):  # slots: key by key
        return [line for key in dict.fromkeys([*old, *new]) if old.get(key) != new.get(key)
                for line in _value_lines(f"{name}.{key}", old.get(key), new.get(key))]
    lines = [f"  {name}:"]
    lines += [f"    - {_shown(old)}"] if old is not None else ["    - (none)"]
    lines += [f"    + {_shown(new)}"] if new is not None else ["    + (none)"]
    return lines


def explain_change(stored: str, transcript: Mapping[str, Any],
                   turn_lines: Mapping[int, int]) -> list[str]:
    """Turn by turn, how this run differs from the stored snapshot."""
    try:
        old = yaml.safe_load(stored or "") or {}
    except yaml.YAMLError:
        old = None
    if not isinstance(old, dict):
        return ["the stored snapshot is not a conversation transcript: rewrite it with --update"]
    new = transcript
    lines: list[str] = []
    for key in dict.fromkeys([*old, *new]):
        if key != "turns" and old.get(key) != new.get(key):
            lines += _value_lines(key, old.get(key), new.get(key))
    old_turns = {t.get("turn"): t for t in old.get("turns") or [] if isinstance(t, dict)}
    if not isinstance(old.get("turns"), list):
        old_turns = {}
    new_turns = {t["turn"]: t for t in new.get("turns", [])}
    for number in sorted(set(old_turns) | set(new_turns), key=lambda n: (n is None, n)):
        before, after = old_turns.get(number, {}), new_turns.get(number, {})
        if before == after:
            continue
        user = after.get("user", before.get("user"))
        line = turn_lines.get(number) if isinstance(number, int) else None
        where = f", line {line}" if line is not None else ""
        title = "the greeting" if number == 0 else f"turn {number}"
        said = f" {user!r}" if user is not None else ""
        if not before:
            lines.append(f"{title}{said}{where}: new (the snapshot stops before it)")
        elif not after:
            lines.append(f"{title}{said}: in the snapshot, but not run now")
        else:
            lines.append(f"{title}{said}{where}:")
            for key in dict.fromkeys([*before, *after]):
                if before.get(key) != after.get(key):
                    lines += _value_lines(key, before.get(key), after.get(key))
    return lines or ["the snapshot differs only in layout; rewrite it with --update"]
