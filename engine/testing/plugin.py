"""The pytest plugin (entry point `pytest11: flowbot`): every case of every
`*.convo.yaml` file becomes a test, checked turn by turn and against a snapshot.

Cases are `pytest.Function` items, so `-k`, markers, fixtures and syrupy's
bookkeeping (which snapshots a run used) work as for Python tests.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, cast

import pytest
from syrupy.assertion import SnapshotAssertion
from syrupy.location import PyTestLocation

from engine.errors import FlowbotError
from engine.loader import load_flow
from engine.testing.convo import Case, ConvoFile, is_convo_file, load_convo, shown_path
from engine.testing.coverage import (
    DEFAULT_JSON,
    CoverageReport,
    FlowCoverage,
    below,
    format_table,
    write_json,
)
from engine.testing.runner import CaseRunner, RecordError, provider_for
from engine.testing.snapshot import ConversationSnapshot, explain_change, stored_text

UPDATE_HINT = ("If the new behaviour is right, accept it with: flowbot test --update "
               "(pytest: --snapshot-update)")
_COVERAGE = pytest.StashKey[dict[str, FlowCoverage]]()
_REPORTS = pytest.StashKey[list[CoverageReport]]()


class ConversationFailure(Exception):
    """A case failed: the message already says where and why, no traceback needed."""


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("flowbot", "flowbot conversation tests (*.convo.yaml)")
    group.addoption("--flowbot-record", action="store_true", default=False,
                    help="ask the live (or local) model and re-record the cassettes of the "
                         "conversation tests, instead of replaying them")
    group.addoption("--flowbot-coverage", nargs="?", const=DEFAULT_JSON,
                    default=None, metavar="JSON",
                    help="report which states, transitions, intents and slots the "
                         "conversation tests exercised, and write it to JSON "
                         "[default file: flowbot-coverage.json]")
    group.addoption("--flowbot-min-coverage", type=float, default=None, metavar="N",
                    help="fail when a flow's coverage by conversation tests is below N percent")


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_COVERAGE] = {}
    config.addinivalue_line("markers", "flowbot: a conversation test case (*.convo.yaml)")
    if config.getoption("flowbot_record") and getattr(config.option, "numprocesses", None):
        # Workers recording at once would each rewrite the cassette, losing answers.
        raise pytest.UsageError("--flowbot-record cannot run with pytest-xdist: drop -n")


@pytest.fixture
def conversation_snapshot(request: pytest.FixtureRequest) -> SnapshotAssertion:
    """syrupy's `snapshot`, born with the conversation extension. Built directly rather
    than from `snapshot.use_extension(...)`: the plain fixture would register an amber
    assertion too, and syrupy would then scan __snapshots__ with the amber extension
    and delete other test files' conversation snapshots as unknown files."""
    option = request.config.option
    return SnapshotAssertion(
        update_snapshots=option.update_snapshots,
        update_new_snapshots_only=getattr(option, "update_new_snapshots_only", False),
        extension_class=ConversationSnapshot,
        test_location=PyTestLocation(request.node),
        session=request.config._syrupy,  # type: ignore[attr-defined]
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    cases = [item for item in items if isinstance(item, ConvoCase)]
    option = config.option
    if getattr(option, "update_snapshots", False) and option.maxfail and cases:
        # With -x/--maxfail the run may stop before some cases, and syrupy would then
        # delete their snapshots as unused: skip unused-snapshot handling altogether.
        option.disable_unused_snapshots = True
    if config.getoption("flowbot_record"):
        # No model to record with is one problem, said once, before any case runs.
        for file in dict.fromkeys(case.parent for case in cases):
            try:
                cast(ConvoTestFile, file).runner()
            except RecordError as exc:
                raise pytest.UsageError(exc.format()) from None
            except FlowbotError:
                pass  # an unreadable cassette and such: each case reports it


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if is_convo_file(file_path):
        return ConvoTestFile.from_parent(parent, path=file_path)
    return None


class ConvoTestFile(pytest.File):
    """One `*.convo.yaml` file: loads it once, runs its cases over one Engine."""

    convo: ConvoFile
    _runner: CaseRunner | None = None

    def collect(self) -> Iterator[pytest.Item]:
        if not self.config.pluginmanager.hasplugin("syrupy"):
            raise FlowbotError(f"{shown_path(self.path)}: conversation tests need the syrupy "
                               "pytest plugin, which is disabled here (-p no:syrupy?)")
        self.convo = load_convo(shown_path(self.path))
        for case in self.convo.cases.values():
            item = ConvoCase.from_parent(self, name=case.name, callobj=_case_test(self, case),
                                         case=case)
            for mark in ("flowbot", *case.marks):
                item.add_marker(mark)
            yield item

    def runner(self) -> CaseRunner:
        if self._runner is None:
            record = bool(self.config.getoption("flowbot_record"))
            self._runner = CaseRunner(self.convo, provider_for(self.convo, record=record))
        return self._runner

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException],
                     style: Any = None) -> str:
        if isinstance(excinfo.value, FlowbotError):
            return excinfo.value.format()
        return str(super().repr_failure(excinfo))


class ConvoCase(pytest.Function):
    """One case of a conversation test file."""

    def __init__(self, *args: Any, case: Case, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.case = case

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, self.case.line - 1, f"case {self.case.name}"

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException],
                     style: Any = None) -> str:
        if isinstance(excinfo.value, ConversationFailure | FlowbotError):
            return str(excinfo.value)
        return str(super().repr_failure(excinfo))


def _keep(assertion: SnapshotAssertion, location: str) -> None:
    """Leave a stored snapshot as it is: a match against itself marks it used, so
    --snapshot-update neither rewrites it nor deletes it as unused."""
    kept = stored_text(location)
    if kept is not None:
        assert assertion == kept


def _case_test(file: ConvoTestFile, case: Case) -> Callable[[SnapshotAssertion], None]:
    def run_case(conversation_snapshot: SnapshotAssertion) -> None:
        assertion = conversation_snapshot
        location = assertion.extension.get_location(test_location=assertion.test_location,
                                                    index=assertion.index)
        title = f"{file.convo.display}::{case.name}"
        try:
            runner = file.runner()
            run = runner.run(case)
        except FlowbotError as exc:  # no model to record with, an unreadable cassette...
            _keep(assertion, location)
            raise ConversationFailure(f"{title} could not run\n{exc.format()}") from None
        except BaseException:
            _keep(assertion, location)
            raise
        coverage = file.config.stash[_COVERAGE]
        seen = coverage.get(str(file.path))
        if seen is None:
            seen = coverage[str(file.path)] = FlowCoverage(runner.engine.flow)
        for result in run.results:
            seen.observe(result)
        if run.error is not None:  # the transcript is cut short: not a snapshot to keep
            _keep(assertion, location)
            raise ConversationFailure(f"{title} failed\n{run.error}")
        problems = [*run.failures]
        matched = assertion == run.transcript  # syrupy records the outcome either way
        stored = None if matched else stored_text(location)
        if not matched and stored is None:
            problems.append(f"{title}: there is no snapshot of this case yet "
                            f"({shown_path(location)}): write it with flowbot test "
                            "--update (pytest: --snapshot-update)")
        elif not matched:
            turn_lines = {number: turn.line for number, turn in enumerate(case.turns, 1)}
            problems.append(f"{title}: the conversation differs from its snapshot "
                            f"{shown_path(location)}")
            problems += explain_change(stored or "", run.transcript, turn_lines)
            problems.append(UPDATE_HINT)
        if problems:
            raise ConversationFailure("\n".join(problems))

    run_case.__name__ = case.name
    run_case.__module__ = __name__
    return run_case


def _reports(config: pytest.Config) -> list[CoverageReport]:
    """One report per flow, over every test file that exercised it; made once, when the
    last case has run (the minimum check and the terminal summary both read it)."""
    if _REPORTS in config.stash:
        return config.stash[_REPORTS]
    by_flow: dict[str, FlowCoverage] = {}
    for seen in config.stash.get(_COVERAGE, {}).values():
        merged = by_flow.get(seen.flow.path)
        if merged is None:
            merged = by_flow[seen.flow.path] = FlowCoverage(seen.flow)
        merged.merge(seen)
    reports = [dataclasses.replace(c.report(), path=shown_path(c.flow.path))
               for c in by_flow.values()]
    config.stash[_REPORTS] = reports
    return reports


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    worker_output = getattr(config, "workeroutput", None)
    if worker_output is not None:  # a pytest-xdist worker: the controller reports
        worker_output["flowbot_coverage"] = [seen.to_data()
                                             for seen in config.stash[_COVERAGE].values()]
        return
    minimum = session.config.getoption("flowbot_min_coverage")
    if minimum is not None and exitstatus == 0 and below(_reports(session.config), minimum):
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    """pytest-xdist: a worker finished; add the coverage its cases reached."""
    coverage = node.config.stash[_COVERAGE]
    for number, data in enumerate(getattr(node, "workeroutput", {}).get("flowbot_coverage", [])):
        try:
            seen = FlowCoverage(load_flow(data["flow"]))
        except FlowbotError:  # the flow changed or vanished while the tests ran
            continue
        seen.add_data(data)
        coverage[f"{node.gateway.id}:{number}"] = seen  # _reports merges them by flow


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int,
                            config: pytest.Config) -> None:
    wanted = config.getoption("flowbot_coverage")
    minimum = config.getoption("flowbot_min_coverage")
    reports = _reports(config)
    if not reports or (wanted is None and minimum is None):
        return
    terminalreporter.section("flowbot coverage")
    terminalreporter.write(format_table(reports).rstrip("\n") + "\n")
    if wanted is not None:
        try:
            write_json(reports, Path(wanted))
            terminalreporter.write_line(f"coverage written to {wanted}")
        except OSError as exc:
            terminalreporter.write_line(f"cannot write coverage to {wanted}: "
                                        f"{exc.strerror or exc}", red=True)
    if minimum is not None:
        for message in below(reports, minimum):
            terminalreporter.write_line(f"FAIL: coverage of {message}", red=True)
