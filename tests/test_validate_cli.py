"""`flowbot validate` as a user runs it: one `PATH:LINE:COL: severity: MESSAGE` line per
problem, exit 0 when every flow is valid, 1 when any is not, 2 for a usage error, and
never a traceback, whatever the file holds.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from cli import main

FIXTURES = Path(__file__).parent / "fixtures"
BAD = sorted((FIXTURES / "bad").glob("*.yaml"))
SHIPPED = sorted((Path(__file__).parent.parent / "flows").glob("*.yaml"))
EXPECT = re.compile(r"^# expect: (\d+):(\d+) (error|warning) (.+)$", re.MULTILINE)
DIAGNOSTIC = re.compile(r"^(.+):(\d+):(\d+): (error|warning): (.+)$")


def validate(*args: str | Path) -> Result:
    result = CliRunner().invoke(main, ["validate", *map(str, args)])
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


def diagnostics(result: Result) -> list[str]:
    return [line for line in result.stderr.splitlines() if DIAGNOSTIC.match(line)]


def expected_lines(fixture: Path) -> list[str]:
    """`PATH:LINE:COL: severity: MESSAGE-PREFIX` for each `# expect:` of a fixture."""
    return [f"{fixture}:{line}:{col}: {severity}: {message.strip()}"
            for line, col, severity, message in EXPECT.findall(fixture.read_text("utf-8"))]


@pytest.mark.parametrize("fixture", BAD, ids=lambda p: p.stem)
def test_validate_prints_each_expected_problem_at_its_line_and_column(fixture: Path) -> None:
    wanted = expected_lines(fixture)
    result = validate(fixture)
    printed = diagnostics(result)
    assert len(printed) == len(wanted), result.stderr
    for prefix in wanted:
        assert any(line.startswith(prefix) for line in printed), (
            f"missing {prefix!r} in:\n{result.stderr}")
    has_errors = any(": error: " in line for line in wanted)
    assert result.exit_code == (1 if has_errors else 0)


def test_every_problem_line_has_the_compiler_format_and_goes_to_stderr() -> None:
    result = validate(*BAD)
    assert result.exit_code == 1
    for line in result.stderr.splitlines():
        match = DIAGNOSTIC.match(line)
        assert match, f"not PATH:LINE:COL: severity: MESSAGE: {line!r}"
        assert Path(match.group(1)).parent == FIXTURES / "bad"
        assert int(match.group(2)) >= 1 and int(match.group(3)) >= 1
    assert sum(len(expected_lines(f)) for f in BAD) == len(result.stderr.splitlines())


def test_all_problems_in_a_file_are_printed_not_just_the_first() -> None:
    fixture = FIXTURES / "bad" / "multiple_errors.yaml"
    result = validate(fixture)
    assert result.exit_code == 1
    assert diagnostics(result) == [
        f"{fixture}:12:12: error: unknown state 'don' (did you mean 'done'?)",
        f"{fixture}:13:7: error: unknown intent 'byee' (did you mean 'bye'?)",
        f"{fixture}:15:15: error: unknown slot 'nam' (did you mean 'name'?)",
    ]


def test_shipped_flows_validate_cleanly() -> None:
    assert SHIPPED, "no flows shipped in flows/"
    result = validate(*SHIPPED)
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    assert result.stdout.splitlines() == [f"{flow}: ok" for flow in SHIPPED]


def test_good_fixtures_validate_cleanly_even_with_yes_no_and_on() -> None:
    good = sorted((FIXTURES / "good").glob("*.yaml"))
    result = validate("--strict", *good)
    assert result.exit_code == 0, result.output


def test_warnings_alone_exit_zero_and_are_still_printed() -> None:
    fixture = FIXTURES / "bad" / "shadowing.yaml"
    result = validate(fixture)
    assert result.exit_code == 0
    assert len(diagnostics(result)) == 1
    assert f"{fixture}:8:38: warning: " in result.stderr
    assert result.stdout.startswith(f"{fixture}: ok")


def test_strict_turns_warnings_into_exit_one() -> None:
    result = validate("--strict", FIXTURES / "bad" / "shadowing.yaml")
    assert result.exit_code == 1
    assert ": warning: " in result.stderr
    assert result.stdout == ""


def test_one_bad_flow_among_good_ones_fails_the_run_but_all_are_checked() -> None:
    bad = FIXTURES / "bad" / "unknown_target.yaml"
    result = validate(SHIPPED[0], bad, SHIPPED[0])
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [f"{SHIPPED[0]}: ok"] * 2
    assert diagnostics(result) == [
        f"{bad}:11:12: error: unknown state 'paymnet' (did you mean 'payment'?)"]


def test_missing_path_is_one_clear_line(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.yaml"
    result = validate(missing)
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [f"{missing}:1:1: error: no such file"]


def test_directory_is_one_clear_line(tmp_path: Path) -> None:
    result = validate(tmp_path)
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"{tmp_path}:1:1: error: is a directory, not a flow file"]


@pytest.mark.parametrize("content", [b"", b"\n\n", b"# nothing but a comment\n"])
def test_empty_file_is_one_clear_line(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "empty.yaml"
    path.write_bytes(content)
    result = validate(path)
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"{path}:1:1: error: empty file: a flow needs at least 'flow', 'start' and 'states'"]


def test_binary_file_is_one_clear_line(tmp_path: Path) -> None:
    path = tmp_path / "binary.yaml"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    result = validate(path)
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"{path}:1:1: error: binary file: a flow must be UTF-8 YAML text"]


def test_a_flow_that_is_a_list_is_one_clear_line(tmp_path: Path) -> None:
    path = tmp_path / "list.yaml"
    path.write_text("- flow: demo\n")
    result = validate(path)
    assert result.exit_code == 1
    assert diagnostics(result) == [
        f"{path}:1:1: error: a flow file must be a mapping with 'flow', 'start' and 'states'"]


@pytest.mark.parametrize("args", [[], ["--no-such-option", "flows/cars.yaml"]],
                         ids=["no-flow", "unknown-option"])
def test_usage_errors_exit_two(args: list[str]) -> None:
    result = CliRunner().invoke(main, ["validate", *args])
    assert result.exit_code == 2
    assert "Usage:" in result.output


@pytest.mark.parametrize(
    "text",
    [
        "flow: [unclosed\n",
        "{{{{\n",
        "flow: demo\nstart: !!int x\nstates: {}\n",
        "a: &a [*a]\n",
        "? [complex, key]\n: value\n",
        "flow: demo\nstart: a\nstates:\n  a: {say: '{{ x }', final: true}\n",
        "flow: demo\nstart: a\nstates:\n  a: {on: {1: a}, next: a}\n",
        "flow: demo\nstart: a\nstates:\n  a: {do: [{python: ..x}], final: true}\n",
        "flow: demo\nstart: a\nstates:\n  a:\n    say: Hi\n    next: [{goto: a, when: '('}]\n",
        "flow: demo\nstart: a\nsettings: {max_attempts: 0}\nstates:\n  a: {final: true}\n",
        "\t",
        "%YAML 1.1\n---\nflow: demo\n",
        "flow: demo\nstart: a\nstates:\n  a: {say: Hi, final: true}\n...\n---\n",
    ],
)
def test_strange_flow_files_give_diagnostics_not_tracebacks(tmp_path: Path, text: str) -> None:
    path = tmp_path / "strange.yaml"
    path.write_text(text)
    result = validate(path)
    assert result.exit_code == 1
    assert diagnostics(result), result.output
    assert len(diagnostics(result)) == len(result.stderr.splitlines())
