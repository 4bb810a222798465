"""Shared test set-up."""

from __future__ import annotations

import os

import pytest


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """In CI a skipped test means a required part was missing: that is a failure."""
    if os.environ.get("CI", "").lower() not in ("1", "true", "yes"):
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter else []
    if skipped and exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
        if reporter:
            reporter.write_line(f"CI=true: {len(skipped)} skipped test(s) count as failures",
                                red=True)


_LLM_SETTINGS = ("OPENAI_API_KEY", "OPENAI_BASE_URL", "FLOWBOT_LLM", "FLOWBOT_CASSETTE",
                 "FLOWBOT_REPLAY", "FLOWBOT_MODEL", "FLOWBOT_LLM_TIMEOUT")


@pytest.fixture(autouse=True)
def _no_model_from_the_developer(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never reach a real model: a developer's key or local server in the
    environment is hidden, and tests that want a model set one up themselves."""
    for name in _LLM_SETTINGS:
        monkeypatch.delenv(name, raising=False)
