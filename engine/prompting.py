"""Assembling what an open-ended turn hands to the language model provider.

The flow's system prompt, the current state's `prompt` (a template over slots
and lookup results), the closest FAQ answer, the recent history and the message.
Prompts are rendered only for a provider that uses them; one that fails to
render is left out and reported, never allowed to end the turn.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from engine.errors import TemplateError
from engine.flow import Flow, State
from engine.llm.base import KnowledgeSnippet, ReplyRequest
from engine.replies import render_response
from engine.routing import Router
from engine.session import Session
from engine.templates import Template

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


def reply_request(
    flow: Flow, state: State, session: Session, text: str, router: Router,
    context: Mapping[str, Any], with_prompts: bool, report: Callable[[str], None],
) -> ReplyRequest:
    hit = router.match_knowledge(text, KNOWLEDGE_CONTEXT_SCORE)
    snippets = () if hit is None else (KnowledgeSnippet(
        hit.entry.id, hit.why, render_response(hit.entry.answer, context, 0).text, hit.score),)
    return ReplyRequest(
        flow=flow.name, state=state.name, user=text,
        system=_render(flow.llm.system, context, report) if with_prompts else None,
        state_prompt=_render(state.prompt, context, report) if with_prompts else None,
        knowledge=snippets,
        history=tuple((role, said) for role, said in session.history),
        slots=dict(session.slots),
    )
