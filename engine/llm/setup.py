"""Choosing the provider: from the environment (and `.env`), the flow and the CLI.

Modes (`FLOWBOT_LLM` or `flowbot run --llm`):

- `live`    ask the model (OpenAI, or any OpenAI-compatible server)
- `record`  ask the model and write every call to a cassette
- `replay`  answer from the cassette only, with no network
- `offline` no model: FAQ answers and fallback replies

Without a mode, a key or a base URL means `live`, and neither means `offline`.
The key is read here and handed to the client; nothing else ever sees it.
"""

from __future__ import annotations

import os
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from engine.errors import FlowbotError
from engine.flow import Flow
from engine.llm.base import LLMProvider
from engine.llm.breaker import CircuitBreaker
from engine.llm.cassette import Cassette, RecordingBackend, ReplayBackend
from engine.llm.chat import ChatBackend
from engine.llm.dotenv import merged_environment
from engine.llm.offline import OfflineProvider
from engine.llm.provider import ChatProvider
from engine.llm.redact import redact

MODES = ("live", "record", "replay", "offline")
DEFAULT_MODEL = "gpt-4o-mini"
BREAKER_THRESHOLD = 3  # consecutive failures before the model is skipped…
BREAKER_COOLDOWN = 30.0  # …for this many seconds


class ConfigError(FlowbotError):
    """The LLM settings in the environment or on the command line are wrong."""

    exit_code = 2


@dataclass(frozen=True)
class LLMOptions:
    """What the command line may say; None: the environment decides."""

    mode: str | None = None
    cassette: Path | None = None
    lenient: bool | None = None
    dotenv: Path | None = Path(".env")


def default_cassette(flow: Flow) -> Path:
    return Path(flow.path).resolve().parent / "cassettes" / f"{flow.name}.llm.yaml"


def _number(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number of seconds, not {raw!r}") from None
    if not 0 < value <= 600:
        raise ConfigError(f"{name} must be between 0 and 600 seconds, not {raw}")
    return value


def _check_url(url: str, source: str) -> None:
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{source} must be an http(s) URL such as "
                          f"http://127.0.0.1:11434/v1, not {redact(url)!r}")


def provider_from_env(flow: Flow, env: Mapping[str, str] | None = None,
                      options: LLMOptions | None = None) -> LLMProvider:
    options = options or LLMOptions()
    env = merged_environment(os.environ if env is None else env, options.dotenv)
    key = env.get("OPENAI_API_KEY", "").strip()
    env_base_url = env.get("OPENAI_BASE_URL", "").strip()
    base_url = env_base_url or flow.llm.base_url
    if base_url:
        _check_url(base_url, "OPENAI_BASE_URL" if env_base_url else "llm.base_url")
    mode = (options.mode or env.get("FLOWBOT_LLM", "").strip().lower()
            or ("live" if key or base_url else "offline"))
    if mode not in MODES:
        raise ConfigError(f"FLOWBOT_LLM must be one of {', '.join(MODES)}, not {mode!r}")
    if mode == "offline":
        if key or base_url:
            return OfflineProvider(reason="the offline mode was chosen",
                                   hint="Use --llm live (or FLOWBOT_LLM=live) to ask the model.")
        return OfflineProvider()
    cassette_path = options.cassette or (Path(env["FLOWBOT_CASSETTE"])
                                         if env.get("FLOWBOT_CASSETTE") else None)
    cassette_path = cassette_path or default_cassette(flow)
    pinned = env.get("FLOWBOT_MODEL", "").strip()
    model = pinned or flow.llm.model or DEFAULT_MODEL
    backend: ChatBackend
    if mode == "replay":
        lenient = (options.lenient if options.lenient is not None
                   else env.get("FLOWBOT_REPLAY", "strict").strip().lower() == "lenient")
        backend = ReplayBackend(Cassette.load(cassette_path), strict=not lenient)
    else:
        if not key and not base_url:
            return OfflineProvider(
                reason=f"the {mode} mode needs OPENAI_API_KEY or OPENAI_BASE_URL, and neither "
                       "is set")
        # Imported here, not at the top: the openai package takes most of a second to
        # import, which `flowbot validate` and offline or replayed runs never need.
        from engine.llm.openai_backend import OpenAIBackend

        backend = OpenAIBackend(
            # The key goes only where the user sent it: OpenAI, or their own
            # OPENAI_BASE_URL. A flow file from elsewhere must not collect keys.
            api_key=key if key and (env_base_url or not base_url) else None,
            base_url=base_url,
            timeout=_number(env, "FLOWBOT_LLM_TIMEOUT", flow.llm.timeout),
            retries=flow.llm.retries)
        if mode == "record":
            backend = RecordingBackend(backend, Cassette.load(cassette_path),
                                       secrets=(key,) if key else ())
    return ChatProvider(
        backend, model, temperature=flow.llm.temperature, max_tokens=flow.llm.max_tokens,
        mode=mode, pinned=bool(pinned), breaker=CircuitBreaker(BREAKER_THRESHOLD, BREAKER_COOLDOWN),
        secrets=(key,) if key else ())
