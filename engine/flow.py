"""The loaded, checked and compiled form of a flow file: frozen data, no I/O.

The loader builds these once; every turn only reads them. Regexes, conditions
and templates are already compiled here so a turn never parses anything.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from engine.expressions import Expression
from engine.slot_types import SlotType
from engine.templates import Template

Row = Mapping[str, Any]
ROWS_NAME, FIELD_END, ROW_END = "flowbot_rows", "\x1f", "\x1e"  # see ItemList.all_rows
PythonAction = Callable[..., Mapping[str, Any] | None]


@dataclass(frozen=True)
class Button:
    title: Template
    payload: Template | None = None


@dataclass(frozen=True)
class ItemList:
    source: str  # slot holding a list of rows
    title: Template
    subtitle: Template | None = None
    limit: int = 10
    # Every item's title and subtitle in one template, rendered once per reply
    # instead of twice per item (Jinja's per-render set-up is most of the cost).
    all_rows: Template = field(init=False)

    def __post_init__(self) -> None:
        subtitle = self.subtitle.source if self.subtitle else ""
        object.__setattr__(self, "all_rows", Template(
            f"{{% for item in {ROWS_NAME} %}}{self.title.source}{FIELD_END}{subtitle}"
            f"{ROW_END}{{% endfor %}}"))


@dataclass(frozen=True)
class Response:
    variations: tuple[Template, ...]
    buttons: tuple[Button, ...] = ()
    items: ItemList | None = None
    static: bool = field(init=False)  # no template in it: needs no context to render

    def __post_init__(self) -> None:
        templates = [*self.variations, *(b.title for b in self.buttons),
                     *(b.payload for b in self.buttons if b.payload is not None)]
        object.__setattr__(self, "static", self.items is None and all(
            t.is_static for t in templates))


@dataclass(frozen=True)
class Slot:
    name: str
    kind: str
    parser: SlotType
    mentions: tuple[re.Pattern[str], ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    after: str | None = None
    prompt: Response | None = None
    reprompt: Response | None = None
    max_attempts: int = 3
    on_fail: str | None = None


@dataclass(frozen=True)
class Intent:
    name: str
    patterns: tuple[re.Pattern[str], ...] = ()
    examples: tuple[str, ...] = ()
    slots: tuple[str, ...] = ()
    description: str = ""


@dataclass(frozen=True)
class KnowledgeEntry:
    id: str
    questions: tuple[str, ...]
    answer: Response
    patterns: tuple[re.Pattern[str], ...] = ()


@dataclass(frozen=True)
class Lookup:
    table: str
    target: str
    where: Expression | None = None
    sort: str | None = None
    descending: bool = False
    limit: int | None = None
    one: bool = False


@dataclass(frozen=True)
class SetSlots:
    values: Mapping[str, Any]  # a value is a literal or a Template


@dataclass(frozen=True)
class ClearSlots:
    names: tuple[str, ...] | None  # None clears every slot


@dataclass(frozen=True)
class CallPython:
    name: str  # as written in the flow, e.g. "actions.monthly_payment"
    function: PythonAction


Action = Lookup | SetSlots | ClearSlots | CallPython


@dataclass(frozen=True)
class Transition:
    """What happens when an intent is matched (or a state's `next` fires)."""

    source: str | None  # None for global transitions
    intent: str | None
    target: str | None = None  # None: stay (digression) unless `back`
    back: bool = False
    remember: bool = False
    when: Expression | None = None
    actions: tuple[Action, ...] = ()
    say: Response | None = None
    priority: bool = False  # a global matched before the state's own intents


@dataclass(frozen=True)
class CollectStep:
    slot: str
    prompt: Response | None = None
    reprompt: Response | None = None
    max_attempts: int | None = None
    on_fail: str | None = None


@dataclass(frozen=True)
class StateLLM:
    """A state's overrides of the flow's llm settings (None: the flow's)."""

    model: str | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    router: bool | str | None = None


@dataclass(frozen=True)
class State:
    name: str
    intro: Response | None = None
    collect: tuple[CollectStep, ...] = ()
    actions: tuple[Action, ...] = ()
    say: Response | None = None
    transitions: tuple[Transition, ...] = ()
    next: tuple[Transition, ...] = ()
    prompt: Template | None = None
    fallback: Response | None = None
    final: bool = False
    llm: StateLLM = field(default_factory=StateLLM)

    @property
    def intents(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(t.intent for t in self.transitions if t.intent))


@dataclass(frozen=True)
class Settings:
    max_input_chars: int = 1000
    example_threshold: float = 0.72
    knowledge_threshold: float = 0.7
    history_turns: int = 10
    max_attempts: int = 3


@dataclass(frozen=True)
class LLMSettings:
    model: str | None = None
    system: Template | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    base_url: str | None = None
    timeout: float = 20.0  # seconds: a chat user should not wait minutes for a fallback
    retries: int = 1
    history_tokens: int = 200
    router: bool | str = True  # True, False or "always" (questions too)
    min_confidence: float = 0.6


@dataclass(frozen=True)
class Messages:
    fallback: Response
    empty: Response
    too_long: Response
    invalid: Response
    llm_off: Response


@dataclass(frozen=True)
class Flow:
    name: str
    path: str
    start: str
    states: Mapping[str, State]
    intents: Mapping[str, Intent]
    slots: Mapping[str, Slot]
    global_transitions: tuple[Transition, ...]
    knowledge: tuple[KnowledgeEntry, ...]
    data: Mapping[str, tuple[Row, ...]]
    messages: Messages
    settings: Settings = field(default_factory=Settings)
    llm: LLMSettings = field(default_factory=LLMSettings)
    description: str = ""

    @property
    def transitions(self) -> tuple[Transition, ...]:
        """Every transition of the flow, state ones first, in definition order."""
        own = tuple(t for s in self.states.values() for t in (*s.transitions, *s.next))
        return own + self.global_transitions
