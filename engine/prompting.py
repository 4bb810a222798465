"""Assembling what an open-ended turn hands to the language model provider.

The flow's system prompt, the current state's `prompt` (a template over slots
and lookup results), the closest FAQ answer, the recent history, the message,
and, when the state lets the model route, the intents allowed here with the
slots they take. Prompts are rendered only for a provider that uses them; one
that fails to render is left out and reported, never allowed to end the turn.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from engine.errors import TemplateError
from engine.flow import Flow, State
from engine.llm.base import IntentOption, KnowledgeSnippet, ModelRequest, SlotOption
from engine.replies import render_response
from engine.routing import Router
from engine.session import Session
from engine.templates import Template
from engine.text import is_information_question

KNOWLEDGE_CONTEXT_SCORE = 0.4  # FAQ answers this close are handed to the model as context


def _render(template: Template | None, context: Mapping[str, Any],
            report: Callable[[str], None]) -> str | None:
    if template is None:
        return None
    try:
        return template.render(context)
    except TemplateError as exc:
        report(f"prompt left out: {exc}")
        return None


def routing_allowed(flow: Flow, state: State, text: str) -> bool:
    """Whether the model is offered the routing tool for this message. By default
    not for information questions: they want an answer, not a task, and the tool's
    definition would cost tokens on every such call. `router: always` offers it
    for those too; `router: false` never."""
    mode = state.llm.router if state.llm.router is not None else flow.llm.router
    if mode == "always":
        return True
    return mode is True and not is_information_question(text)


def _options(flow: Flow, intents: Sequence[str]) -> tuple[tuple[IntentOption, ...],
                                                          tuple[SlotOption, ...]]:
    options = tuple(IntentOption(name, flow.intents[name].description,
                                 flow.intents[name].examples, flow.intents[name].slots)
                    for name in intents)
    wanted = dict.fromkeys(slot for option in options for slot in option.slots)
    slots = tuple(SlotOption(name, flow.slots[name].kind,
                             tuple(getattr(flow.slots[name].parser, "values", ())))
                  for name in wanted)
    return options, slots


def model_request(
    flow: Flow, state: State, session: Session, text: str, router: Router,
    context: Mapping[str, Any], with_prompts: bool, report: Callable[[str], None],
) -> ModelRequest:
    hit = router.match_knowledge(text, KNOWLEDGE_CONTEXT_SCORE)
    snippets = () if hit is None else (KnowledgeSnippet(
        hit.entry.id, hit.why, render_response(hit.entry.answer, context, 0).text, hit.score),)
    if not with_prompts:  # offline: only the knowledge matters
        return ModelRequest(flow=flow.name, state=state.name, user=text, knowledge=snippets)
    intents: tuple[IntentOption, ...] = ()
    slot_options: tuple[SlotOption, ...] = ()
    if routing_allowed(flow, state, text):
        intents, slot_options = _options(flow, router.allowed_intents(state.name))
    settings = flow.llm
    return ModelRequest(
        flow=flow.name, state=state.name, user=text,
        system=_render(settings.system, context, report),
        state_prompt=_render(state.prompt, context, report),
        knowledge=snippets,
        history=tuple((role, said) for role, said in session.history),
        slots={name: session.slots[name] for name in flow.slots if name in session.slots},
        intents=intents, slot_options=slot_options,
        model=state.llm.model or settings.model,
        temperature=state.llm.temperature if state.llm.temperature is not None
        else settings.temperature,
        max_tokens=state.llm.max_tokens or settings.max_tokens,
        history_tokens=settings.history_tokens,
        min_confidence=settings.min_confidence,
    )
