"""`flowbot test`: conversation tests for people who do not know pytest.

It finds the `*.convo.yaml` files under the paths given and hands them to pytest
with the flowbot plugin's options; pytest's exit codes come back unchanged.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from engine.testing.convo import is_convo_file, shown_path
from engine.testing.coverage import DEFAULT_JSON

# Folders that never hold a project's own tests.
_SKIPPED_DIRS = frozenset({"node_modules", "__pycache__", "__snapshots__", "site-packages",
                           "venv", "env"})
NO_TESTS = 5  # pytest's "no tests were collected"
USAGE_ERROR = 4  # pytest's


@dataclass(frozen=True)
class RunOptions:
    update: bool = False
    record: bool = False
    keyword: str | None = None
    coverage: bool = False
    coverage_json: str = DEFAULT_JSON
    min_coverage: float | None = None
    verbose: int = 0
    exitfirst: bool = False


def find_convo_files(paths: Iterable[Path]) -> Iterator[Path]:
    """Every conversation test file under `paths`, in a stable order."""
    for path in paths:
        if path.is_file():
            yield path
            continue
        found = []
        for root, dirs, files in os.walk(path):
            dirs[:] = sorted(d for d in dirs
                             if not d.startswith(".") and d not in _SKIPPED_DIRS)
            found += [Path(root) / name for name in files if is_convo_file(Path(name))]
        yield from sorted(found)


def pytest_args(files: list[Path], options: RunOptions) -> list[str]:
    # --snapshot-details: name unused snapshots, not just count them
    args = [*(str(file) for file in files), "--snapshot-details"]
    if options.update:
        args.append("--snapshot-update")
    if options.record:
        args.append("--flowbot-record")
    if options.keyword:
        args += ["-k", options.keyword]
    if options.coverage or options.min_coverage is not None:
        args.append(f"--flowbot-coverage={options.coverage_json}")
    if options.min_coverage is not None:
        args.append(f"--flowbot-min-coverage={options.min_coverage:g}")
    if options.verbose:
        args.append("-" + "v" * options.verbose)
    if options.exitfirst:
        args.append("-x")
    return args


def run_tests(paths: list[Path], options: RunOptions) -> int:
    """Run the conversation tests; returns pytest's exit code."""
    missing = [str(path) for path in paths if not path.exists()]
    if missing:
        print(f"flowbot test: no such file or folder: {', '.join(missing)}", file=sys.stderr)
        return USAGE_ERROR
    others = [shown_path(p) for p in paths if p.is_file() and not is_convo_file(p)]
    if others:
        print(f"flowbot test: not a conversation test file (*.convo.yaml): {', '.join(others)}"
              " (run Python tests with pytest)", file=sys.stderr)
        return USAGE_ERROR
    files = list(dict.fromkeys(find_convo_files(paths or [Path(".")])))
    if not files:
        where = ", ".join(str(p) for p in paths) or "this folder"
        print(f"flowbot test: no *.convo.yaml conversation test files under {where}",
              file=sys.stderr)
        return NO_TESTS
    # A pytest of its own: in this process `engine` is already imported, so pytest
    # could not rewrite the plugin's asserts and would warn (an error under
    # filterwarnings=error); a child process also starts from a clean import state.
    return subprocess.call([sys.executable, "-m", "pytest", *pytest_args(files, options)])
