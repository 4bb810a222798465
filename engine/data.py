"""Data tables a flow names under `data:`: CSV, JSON or YAML files beside the flow.

Tables are read once at load time into tuples of plain dicts, so lookups at run
time touch no files. CSV cells become int, float or None where they look like it.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from engine.diagnostics import Reporter
from engine.flow import Row
from engine.yamlsrc import FlowYamlLoader

_INT = re.compile(r"^-?\d+$")
_FLOAT = re.compile(r"^-?\d+\.\d*$|^-?\.\d+$")


class DataFileError(Exception):
    """A data file is missing or malformed; the message says how."""


def _cell(text: str) -> Any:
    value = text.strip()
    if value == "":
        return None
    if _INT.match(value):
        return int(value)
    if _FLOAT.match(value):
        return float(value)
    return value


def _read_csv(text: str) -> tuple[tuple[Row, ...], frozenset[str]]:
    reader = csv.reader(io.StringIO(text))
    try:
        header = next(reader)
    except StopIteration:
        raise DataFileError("the CSV file is empty: it needs a header line") from None
    columns = [c.strip() for c in header]
    if not all(columns) or len(set(columns)) != len(columns):
        raise DataFileError("the CSV header needs unique, non-empty column names")
    rows = []
    for record in reader:
        if not record:
            continue
        if len(record) != len(columns):
            raise DataFileError(
                f"line {reader.line_num} has {len(record)} fields, the header has {len(columns)}"
            )
        rows.append({c: _cell(v) for c, v in zip(columns, record, strict=True)})
    return tuple(rows), frozenset(columns)


def _check_records(data: Any) -> tuple[Row, ...]:
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise DataFileError("the file must hold a list of records (objects)")
    return tuple(data)


def read_table(path: Path, display: str | None = None) -> tuple[Row, ...]:
    """Read one table; raises DataFileError with a one-line reason.

    `display` is how messages name the file (the path as the flow writes it).
    """
    return _read(path, display)[0]


def _read(path: Path, display: str | None) -> tuple[tuple[Row, ...], frozenset[str] | None]:
    """A table's rows and columns (None when there are no rows to tell them from)."""
    name = display or str(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise DataFileError(f"data file '{name}' not found (paths are relative to the flow "
                            "file)") from None
    except IsADirectoryError:
        raise DataFileError(f"data file '{name}' is a directory") from None
    except UnicodeDecodeError:
        raise DataFileError(f"data file '{name}' is not UTF-8 text") from None
    except OSError as exc:
        raise DataFileError(f"cannot read data file '{name}': {exc.strerror}") from None
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            return _read_csv(text)
        if suffix == ".json":
            rows = _check_records(json.loads(text))
        else:
            rows = _check_records(yaml.load(text, Loader=FlowYamlLoader))  # a safe loader
        return rows, (columns_of(rows) if rows else None)
    except DataFileError as exc:
        raise DataFileError(f"malformed data file '{name}': {exc}") from None
    except csv.Error as exc:
        raise DataFileError(f"malformed CSV in '{name}': {exc}") from None
    except json.JSONDecodeError as exc:
        raise DataFileError(
            f"malformed JSON in '{name}' at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        ) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise DataFileError(f"malformed YAML in '{name}'{where}: "
                            f"{' '.join(str(problem).split())}") from None


def columns_of(rows: tuple[Row, ...]) -> frozenset[str]:
    names: set[str] = set()
    for row in rows:
        names.update(row)
    return frozenset(names)


def load_tables(spec: Mapping[str, str], base: Path, reporter: Reporter
                ) -> tuple[dict[str, tuple[Row, ...]], dict[str, frozenset[str] | None]]:
    """Every table a flow's `data:` names, and each table's columns.

    A table that cannot be read is reported at its entry and left empty with unknown
    (None) columns, so the rest of the flow is still checked without follow-on errors."""
    tables: dict[str, tuple[Row, ...]] = {}
    columns: dict[str, frozenset[str] | None] = {}
    for name, relative in spec.items():
        try:
            tables[name], columns[name] = _read(base / relative, relative)
        except DataFileError as exc:
            reporter.error(("data", name), str(exc))
            tables[name], columns[name] = (), None
    return tables, columns
