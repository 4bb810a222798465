"""Reading `.env` files, and how they combine with the real environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.errors import FlowbotError
from engine.llm.dotenv import merged_environment, read_env_file


def env_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / ".env"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(("line", "expected"), [
    ("KEY=value", {"KEY": "value"}),
    ("export KEY=value", {"KEY": "value"}),
    ("KEY = value  ", {"KEY": "value"}),
    ("  KEY=value", {"KEY": "value"}),
    ("KEY=", {"KEY": ""}),
    ("KEY=value # the comment", {"KEY": "value"}),
    ("KEY= # only a comment", {"KEY": ""}),
    ("KEY=pa#ss", {"KEY": "pa#ss"}),
    ("KEY=#starts-with-hash", {"KEY": "#starts-with-hash"}),
    ("KEY=a=b", {"KEY": "a=b"}),
    ("KEY='single # quoted \\n'", {"KEY": "single # quoted \\n"}),
    ('KEY="double # quoted"', {"KEY": "double # quoted"}),
    ('KEY="line\\nbreak and \\"quote\\" and \\\\"', {"KEY": 'line\nbreak and "quote" and \\'}),
    ('KEY="kept \\x as is"', {"KEY": "kept \\x as is"}),
    ('KEY="value"  # comment after quotes', {"KEY": "value"}),
    ("KEY='  spaces kept  '", {"KEY": "  spaces kept  "}),
    ("OPENAI_API_KEY=sk-abc123", {"OPENAI_API_KEY": "sk-abc123"}),
])
def test_an_assignment_line_is_parsed(tmp_path: Path, line: str,
                                      expected: dict[str, str]) -> None:
    assert read_env_file(env_file(tmp_path, line + "\n")) == expected


@pytest.mark.parametrize("line", [
    "# a comment",
    "   ",
    "just some words",
    "=no-name",
    "1KEY=starts with a digit",
    'KEY="never closed',
    "KEY='never closed",
    'KEY="closed" but then junk',
])
def test_a_line_that_is_not_an_assignment_is_skipped_without_error(
        tmp_path: Path, line: str) -> None:
    assert read_env_file(env_file(tmp_path, f"BEFORE=1\n{line}\nAFTER=2\n")) == {
        "BEFORE": "1", "AFTER": "2"}


def test_a_whole_file_with_windows_line_endings_and_a_bom(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    path.write_bytes("\ufeff# flowbot settings\r\nFLOWBOT_LLM=replay\r\n\r\n"
                     "export OPENAI_MODEL='gpt-4o-mini'\r\nFLOWBOT_LLM=record\r\n".encode())
    assert read_env_file(path) == {"FLOWBOT_LLM": "record", "OPENAI_MODEL": "gpt-4o-mini"}


def test_a_missing_file_gives_no_values(tmp_path: Path) -> None:
    assert read_env_file(tmp_path / "absent.env") == {}


def test_an_unreadable_file_is_an_error_that_does_not_show_its_contents(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    path.write_bytes(b"OPENAI_API_KEY=sk-secret\xff\n")
    with pytest.raises(FlowbotError, match="not UTF-8") as caught:
        read_env_file(path)
    assert "sk-secret" not in str(caught.value)


def test_the_real_environment_wins_over_the_file(tmp_path: Path) -> None:
    path = env_file(tmp_path, "OPENAI_API_KEY=from-file\nFLOWBOT_LLM=record\n")
    merged = merged_environment({"OPENAI_API_KEY": "from-shell", "HOME": "/home/me"}, path)
    assert merged == {"OPENAI_API_KEY": "from-shell", "FLOWBOT_LLM": "record",
                      "HOME": "/home/me"}


def test_no_env_file_means_just_the_real_environment() -> None:
    env = {"HOME": "/home/me"}
    merged = merged_environment(env, None)
    assert merged == env and merged is not env
