"""Deciding which intent a user message means, tier by tier.

Rules (patterns and keywords) come first: cheap, exact and predictable. Then
the example matcher: similarity against the intents' example utterances, with
a threshold, offline and deterministic. Only the intents allowed in the
current state (its own `on` intents, then the global ones) are candidates.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rapidfuzz import fuzz, process, utils

from engine.flow import Flow, KnowledgeEntry


@dataclass(frozen=True, slots=True)
class Match:
    intent: str
    tier: str  # "rule", "example" or "llm"
    confidence: float
    why: str  # the pattern or example that matched, for /trace


@dataclass(frozen=True, slots=True)
class KnowledgeHit:
    entry: KnowledgeEntry
    score: float
    why: str


def _similarity(a: str, b: str, **_: object) -> float:
    # Order-insensitive, but over the whole message: a single shared word in a
    # long example must not count as a match (token_set_ratio would say 100).
    return 0.5 * fuzz.token_sort_ratio(a, b) + 0.5 * fuzz.ratio(a, b)


class _ExampleIndex:
    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        self.labels = [label for label, _ in pairs]
        self.originals = [text for _, text in pairs]
        self.choices = [utils.default_process(text) for _, text in pairs]

    def best(self, text: str, cutoff: float) -> tuple[str, float, str] | None:
        if not self.choices:
            return None
        found = process.extractOne(
            utils.default_process(text), self.choices, scorer=_similarity,
            processor=None, score_cutoff=cutoff * 100,
        )
        if found is None:
            return None
        _, score, index = found
        return self.labels[index], score / 100, self.originals[index]


class Router:
    """Per-state candidate lists, built once per flow."""

    def __init__(self, flow: Flow) -> None:
        self.flow = flow
        global_intents = [t.intent for t in flow.global_transitions if t.intent]
        self._rules: dict[str, list[tuple[str, re.Pattern[str]]]] = {}
        self._examples: dict[str, _ExampleIndex] = {}
        self._allowed: dict[str, list[str]] = {}
        for name, state in flow.states.items():
            allowed = list(dict.fromkeys([*state.intents, *global_intents]))
            self._allowed[name] = allowed
            self._rules[name] = [
                (intent, pattern) for intent in allowed for pattern in flow.intents[intent].patterns
            ]
            self._examples[name] = _ExampleIndex(
                [(intent, ex) for intent in allowed for ex in flow.intents[intent].examples]
            )
        self._knowledge_by_id = {entry.id: entry for entry in flow.knowledge}
        self._knowledge_rules = [
            (entry, pattern) for entry in flow.knowledge for pattern in entry.patterns
        ]
        self._knowledge = _ExampleIndex(
            [(entry.id, q) for entry in flow.knowledge for q in entry.questions]
        )

    def allowed_intents(self, state: str) -> list[str]:
        return self._allowed[state]

    def match_rules(self, state: str, text: str) -> Match | None:
        for intent, pattern in self._rules[state]:
            if pattern.search(text):
                return Match(intent, "rule", 1.0, f"pattern {pattern.pattern!r}")
        return None

    def match_examples(self, state: str, text: str) -> Match | None:
        found = self._examples[state].best(text, self.flow.settings.example_threshold)
        if found is None:
            return None
        intent, score, example = found
        return Match(intent, "example", round(score, 3), f"example {example!r}")

    def match_knowledge_rules(self, text: str) -> KnowledgeHit | None:
        for entry, pattern in self._knowledge_rules:
            if pattern.search(text):
                return KnowledgeHit(entry, 1.0, f"pattern {pattern.pattern!r}")
        return None

    def match_knowledge(self, text: str, threshold: float) -> KnowledgeHit | None:
        found = self._knowledge.best(text, threshold)
        if found is None:
            return None
        entry_id, score, question = found
        return KnowledgeHit(self._knowledge_by_id[entry_id], round(score, 3), f"question {question!r}")
