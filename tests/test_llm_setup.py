"""Choosing the provider from the environment, a .env file and the command line."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli import main
from engine import Engine, load_flow
from engine.errors import FlowbotError
from engine.flow import Flow
from engine.llm.offline import OfflineProvider
from engine.llm.provider import ChatProvider
from engine.llm.setup import LLMOptions, provider_from_env
from engine.testing.fake_openai import FakeOpenAI

CARS = Path(__file__).resolve().parent.parent / "flows" / "cars.yaml"
NO_DOTENV = LLMOptions(dotenv=None)


@pytest.fixture(scope="module")
def cars() -> Flow:
    return load_flow(CARS)


def test_no_key_and_no_server_means_offline_and_says_how_to_turn_it_on(cars: Flow) -> None:
    provider = provider_from_env(cars, {}, NO_DOTENV)
    assert isinstance(provider, OfflineProvider) and not provider.enabled
    assert "OPENAI_API_KEY" in provider.how_to_enable


def test_a_key_means_the_live_openai_provider_with_the_flows_model(cars: Flow) -> None:
    provider = provider_from_env(cars, {"OPENAI_API_KEY": "sk-abcdefgh12345678"}, NO_DOTENV)
    assert isinstance(provider, ChatProvider)
    assert provider.describe() == "LLM: gpt-4o-mini via https://api.openai.com/v1 (live)"
    assert "sk-abcdefgh" not in provider.describe()


def test_a_base_url_alone_reaches_a_local_server_with_another_model(cars: Flow) -> None:
    env = {"OPENAI_BASE_URL": "http://127.0.0.1:11434/v1", "FLOWBOT_MODEL": "llama3.1"}
    provider = provider_from_env(cars, env, NO_DOTENV)
    assert provider.describe() == "LLM: llama3.1 via http://127.0.0.1:11434/v1 (live)"


def test_replay_needs_no_key_and_names_its_cassette(cars: Flow, tmp_path: Path) -> None:
    cassette = tmp_path / "c.llm.yaml"
    provider = provider_from_env(cars, {}, LLMOptions(mode="replay", cassette=cassette,
                                                      dotenv=None))
    assert provider.enabled and str(cassette) in provider.describe()


def test_record_without_a_model_to_ask_stays_offline_and_says_why(cars: Flow) -> None:
    provider = provider_from_env(cars, {"FLOWBOT_LLM": "record"}, NO_DOTENV)
    assert isinstance(provider, OfflineProvider)
    assert "record mode needs OPENAI_API_KEY or OPENAI_BASE_URL" in provider.off_reason


def test_the_offline_mode_wins_over_a_key(cars: Flow) -> None:
    provider = provider_from_env(cars, {"OPENAI_API_KEY": "k", "FLOWBOT_LLM": "offline"},
                                 NO_DOTENV)
    assert not provider.enabled and provider.off_reason == "the offline mode was chosen"


def test_a_dotenv_file_supplies_the_key_and_the_real_environment_wins(
        cars: Flow, tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text("OPENAI_API_KEY=sk-fromdotenv123456\nFLOWBOT_MODEL=from-dotenv\n")
    provider = provider_from_env(cars, {"FLOWBOT_MODEL": "from-env"}, LLMOptions(dotenv=dotenv))
    assert provider.enabled and provider.model == "from-env"


@pytest.mark.parametrize(("env", "message"), [
    ({"FLOWBOT_LLM": "sometimes"}, "FLOWBOT_LLM must be one of live, record, replay, offline"),
    ({"OPENAI_API_KEY": "k", "FLOWBOT_LLM_TIMEOUT": "soon"}, "FLOWBOT_LLM_TIMEOUT must be a"),
    ({"OPENAI_API_KEY": "k", "FLOWBOT_LLM_TIMEOUT": "0"}, "between 0 and 600"),
])
def test_bad_settings_are_clear_errors(cars: Flow, env: dict[str, str], message: str) -> None:
    with pytest.raises(FlowbotError, match=message):
        provider_from_env(cars, env, NO_DOTENV)


def test_the_cli_reports_a_bad_mode_without_a_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLOWBOT_LLM", "sometimes")
    result = CliRunner().invoke(main, ["run", str(CARS)], input="")
    assert result.exit_code == 2 and "FLOWBOT_LLM must be one of" in result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_flowbot_model_is_the_model_every_request_names(cars: Flow) -> None:
    with FakeOpenAI() as server:
        env = {"OPENAI_BASE_URL": server.base_url, "FLOWBOT_MODEL": "llama3.1"}
        engine = Engine(cars, provider=provider_from_env(cars, env, NO_DOTENV))
        session = engine.new_session()
        engine.start(session)
        engine.handle(session, "is the RAV4 good for camping?")
        assert server.chat_requests[-1].body["model"] == "llama3.1"


def test_a_flows_own_base_url_never_receives_the_users_key(cars: Flow) -> None:
    with FakeOpenAI() as server:
        flow = dataclasses.replace(cars, llm=dataclasses.replace(cars.llm,
                                                                 base_url=server.base_url))
        env = {"OPENAI_API_KEY": "sk-users-own-key-123456"}
        engine = Engine(flow, provider=provider_from_env(flow, env, NO_DOTENV))
        session = engine.new_session()
        engine.start(session)
        engine.handle(session, "is the RAV4 good for camping?")
        assert server.chat_requests[-1].headers["authorization"] == "Bearer not-needed"


@pytest.mark.parametrize("url", ["http://[::1", "127.0.0.1:11434", "ftp://example.com/v1"])
def test_a_malformed_base_url_is_a_clear_error(cars: Flow, url: str) -> None:
    with pytest.raises(FlowbotError, match="OPENAI_BASE_URL must be an http"):
        provider_from_env(cars, {"OPENAI_BASE_URL": url}, NO_DOTENV)
