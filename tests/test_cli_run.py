"""`flowbot run` and `flowbot graph`, through CliRunner and a real subprocess."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from prompt_toolkit.application import create_app_session
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput

from cli import main
from engine import Engine, load_flow
from engine.console import ChatOptions, run_chat

ROOT = Path(__file__).resolve().parent.parent
CARS = str(ROOT / "flows" / "cars.yaml")


def run(*args: str, input: str = "") -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), input=input)
    return result.exit_code, result.stdout, result.stderr


def test_piped_run_prints_plain_replies_naming_real_models() -> None:
    code, out, _ = run("run", CARS, input="hi\nshow me suvs under 35000\n")
    assert code == 0
    assert "language model is off" in out
    assert "Chevrolet Trax" in out and "\x1b[" not in out


def test_json_mode_prints_one_object_per_turn_with_the_documented_keys() -> None:
    code, out, _ = run("run", CARS, "--json", input="hi\nshow me suvs under 35k\nbook it\n")
    assert code == 0
    lines = [json.loads(line) for line in out.splitlines()]
    assert len(lines) == 4  # the greeting, then one per user turn
    assert lines[0]["user"] is None and lines[0]["notices"]
    turn = lines[2]
    assert {"user", "replies", "state", "slots", "intent", "route", "confidence"} <= set(turn)
    assert turn["route"] in ("rule", "example", "llm", "fallback")
    assert turn["replies"][0]["items"][0]["title"]
    assert lines[1]["replies"][0]["text"] and lines[0]["replies"][0]["buttons"]


def test_session_file_resumes_the_conversation(tmp_path: Path) -> None:
    session = tmp_path / "s.json"
    run("run", CARS, "--session", str(session), input="show me suvs\n")
    saved = json.loads(session.read_text())
    assert saved["state"] == "browse" and saved["pending"] == "budget"
    code, out, _ = run("run", CARS, "--session", str(session), "--json", input="30k\n")
    assert code == 0
    last = json.loads(out.splitlines()[-1])
    assert last["slots"]["budget"] == 30000 and last["slots"]["body_type"] == "suv"


def test_corrupt_session_file_is_a_clear_error(tmp_path: Path) -> None:
    session = tmp_path / "s.json"
    session.write_text("{not json")
    code, _, err = run("run", CARS, "--session", str(session), input="hi\n")
    assert code == 1
    assert "not valid JSON" in err and "Traceback" not in err


def test_slash_commands_show_state_slots_and_trace() -> None:
    typed = "show me suvs\n/state\n/slots\n/trace\n/help\n/quit\nhi\n"
    code, out, _ = run("run", CARS, input=typed)
    assert code == 0
    assert "state: browse, waiting for 'budget'" in out
    assert '"body_type": "suv"' in out
    assert "intent: browse  route: rule" in out and "pattern" in out
    assert "/reset" in out
    assert "Hello again" not in out  # /quit stopped before "hi"


def test_reset_command_starts_over() -> None:
    code, out, _ = run("run", CARS, input="show me suvs\n/reset\n/slots\n")
    assert code == 0
    assert out.rstrip().endswith("{}")


def test_goodbye_ends_the_run() -> None:
    code, out, _ = run("run", CARS, input="bye\nhi\n")
    assert code == 0
    assert out.rstrip().endswith("Goodbye!")


def test_broken_flow_exits_1_with_a_located_error(tmp_path: Path) -> None:
    flow = tmp_path / "broken.yaml"
    flow.write_text("flow: x\nstart: a\nstates:\n  a: {on: {hi: nowhere}}\n")
    code, out, err = run("run", str(flow), input="hi\n")
    assert code == 1
    assert f"{flow}:4:" in err and "Traceback" not in err + out


def test_usage_errors_exit_2() -> None:
    assert run("run")[0] == 2
    assert run("graph", CARS, "--format", "svg")[0] == 2
    assert run("nonsense")[0] == 2


def test_version_and_help() -> None:
    code, out, _ = run("--version")
    assert code == 0 and "flowbot, version" in out
    for command in ("run", "validate", "graph"):
        code, out, _ = run(command, "--help")
        assert code == 0 and "Usage:" in out


def test_graph_mermaid_and_dot() -> None:
    code, out, _ = run("graph", CARS)
    assert code == 0
    assert out.startswith("stateDiagram-v2") and "greet --> browse: browse" in out
    assert "goodbye --> [*]" in out
    code, out, _ = run("graph", CARS, "--format", "dot")
    assert code == 0
    assert out.startswith('digraph "cars"') and '"greet" -> "browse" [label="browse"];' in out


def test_real_subprocess_with_piped_stdin_and_no_api_key(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI")}
    env["NO_COLOR"] = "1"
    completed = subprocess.run(
        [sys.executable, str(ROOT / "cli.py"), "run", "flows/cars.yaml"],
        input="hi\nshow me suvs under 35000\nwhat are your opening hours?\n",
        capture_output=True, text=True, cwd=ROOT, env=env, timeout=60, check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert "Traceback" not in completed.stderr
    assert "Kia Sportage" in completed.stdout
    assert "Monday to Friday" in completed.stdout
    assert "\x1b[" not in completed.stdout


def test_interactive_chat_uses_line_editing_history_and_colours() -> None:
    engine = Engine(load_flow(CARS))
    out = io.StringIO()
    with create_pipe_input() as keys, create_app_session(input=keys, output=DummyOutput()):
        # Type a message, then recall it with the Up arrow and send it again.
        keys.send_text("show me suvs\r\x1b[A\r/quit\r")
        run_chat(engine, ChatOptions(interactive=True, color=True), out=out)
    text = out.getvalue()
    assert "\x1b[" in text  # coloured
    assert text.count("bot> ") >= 3 and "What's your budget?" in text
    assert text.count("What's your budget?") == 2  # the recalled line was sent again


def test_a_saved_conversation_that_ended_starts_over(tmp_path: Path) -> None:
    session = tmp_path / "s.json"
    run("run", CARS, "--session", str(session), input="bye\n")
    assert json.loads(session.read_text())["ended"] is True
    code, out, _ = run("run", CARS, "--session", str(session), input="show me suvs\n")
    assert code == 0
    assert "had ended: starting a new one" in out and "What's your budget?" in out


def test_the_start_notice_says_why_the_llm_is_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    _, out, _ = run("run", CARS, input="")
    assert "no OPENAI_API_KEY is set" in out
    assert "Set OPENAI_API_KEY (or OPENAI_BASE_URL for a local server) to turn it on." in out
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-secret-value")
    _, out, _ = run("run", CARS, "--llm", "offline", input="")
    assert "the offline mode was chosen" in out and "Set OPENAI_API_KEY" not in out
    assert "sk-test-secret-value" not in out


def test_the_start_notice_names_the_model_and_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-secret-value")
    _, out, _ = run("run", CARS, input="")  # starting asks nothing of the model
    assert "LLM: gpt-4o-mini via https://api.openai.com/v1 (live)" in out
    assert "sk-test-secret-value" not in out


def test_a_session_saved_before_the_flow_changed_still_resumes(tmp_path: Path) -> None:
    session = tmp_path / "s.json"
    run("run", CARS, "--session", str(session), input="show me suvs\n")
    saved = json.loads(session.read_text())
    saved["pending"], saved["stack"] = "a_slot_that_was_removed", ["a_removed_state"]
    session.write_text(json.dumps(saved))
    code, out, err = run("run", CARS, "--session", str(session), input="30k\n")
    assert code == 0 and "Traceback" not in out + err


def test_a_session_file_with_wrong_types_is_a_one_line_error(tmp_path: Path) -> None:
    session = tmp_path / "s.json"
    session.write_text(json.dumps({"state": "greet", "slots": []}))
    code, out, err = run("run", CARS, "--session", str(session), input="hi\n")
    assert code == 1 and err.strip().endswith("'slots' must be an object")
    assert "Traceback" not in out + err
