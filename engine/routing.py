"""Deciding which intent a user message means, tier by tier.

Rules (patterns and keywords) come first: cheap, exact and predictable. Then
the example matcher: similarity against the intents' example utterances, with
a threshold, offline and deterministic. Only the intents allowed in the
current state (its own `on` intents, then the global ones) are candidates.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from rapidfuzz import fuzz, process, utils

from engine.flow import Flow, KnowledgeEntry


@dataclass(frozen=True, slots=True)
class Match:
    intent: str
    tier: str  # "rule", "example" or "llm"
    confidence: float
    why: str  # the pattern or example that matched (or who chose), for /trace


@dataclass(frozen=True, slots=True)
class KnowledgeHit:
    entry: KnowledgeEntry
    score: float
    why: str


_WORD = re.compile(r"[a-z0-9]+")
_STOPWORDS = frozenset(
    [
        "a", "an", "the", "i", "me", "my", "mine", "you", "your", "we", "our", "us", "it",
        "its", "is", "are", "am", "was", "be", "been", "do", "does", "did", "can", "could",
        "would", "will", "shall", "should", "may", "might", "to", "of", "in", "on", "at",
        "for", "with", "and", "or", "but", "so", "this", "that", "these", "those", "there",
        "here", "what", "which", "who", "whom", "how", "when", "where", "why", "please",
        "just", "some", "any", "have", "has", "had", "get", "got", "im", "id", "ive",
        "youre", "dont"
    ]
)


def _words(text: str) -> list[str]:
    words = []
    for word in _WORD.findall(text.lower()):
        if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
            word = word[:-1]  # a light stem: "suvs" and "suv" are the same word
        if word not in _STOPWORDS:
            words.append(word)
    return words


class _ExampleIndex:
    """Similarity of a message to example utterances, offline and deterministic.

    Mostly word overlap weighted by rarity (so "open" matters more than a word
    every example shares, and stop words not at all), plus a little character
    similarity. Unknown words are mapped to a close known word first, so typos
    still match; words that stay unknown count against the match.
    """

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        self.labels = [label for label, _ in pairs]
        self.originals = [text for _, text in pairs]
        self._chars = [utils.default_process(text) for _, text in pairs]
        self._words = [frozenset(_words(text)) for _, text in pairs]
        count = max(len(pairs), 1)
        frequency: dict[str, int] = {}
        for words in self._words:
            for word in words:
                frequency[word] = frequency.get(word, 0) + 1
        self._idf = {w: math.log(1 + count / n) for w, n in frequency.items()}
        self._unknown_weight = math.log(1 + count)
        self._vocabulary = list(self._idf)
        self._norms = [math.sqrt(sum(self._idf[w] ** 2 for w in words)) for words in self._words]

    def _known(self, word: str) -> str | None:
        if word in self._idf:
            return word
        if len(word) < 4 or not self._vocabulary:
            return None
        close = process.extractOne(word, self._vocabulary, scorer=fuzz.ratio, score_cutoff=80)
        return close[0] if close else None

    def best(self, text: str, cutoff: float) -> tuple[str, float, str] | None:
        if not self.labels:
            return None
        query: dict[str, float] = {}
        for word in _words(text):
            known = self._known(word)
            if known is None:
                query[word] = self._unknown_weight
            else:
                query[known] = self._idf[known]
        query_norm = math.sqrt(sum(w * w for w in query.values()))
        chars = utils.default_process(text)
        best: tuple[float, int] | None = None
        for index, words in enumerate(self._words):
            similar = fuzz.token_sort_ratio(chars, self._chars[index]) / 100
            if not query and not words:  # "where are you": only short words on both sides
                score = similar
            else:
                overlap = 0.0
                if query_norm and self._norms[index]:
                    shared = sum(query[w] ** 2 for w in words if w in query)
                    overlap = shared / (query_norm * self._norms[index])
                score = 0.7 * overlap + 0.3 * similar
            if best is None or score > best[0]:
                best = (score, index)
        if best is None or best[0] < cutoff:
            return None
        score, index = best
        return self.labels[index], score, self.originals[index]


class Router:
    """Per-state candidate lists, built once per flow."""

    def __init__(self, flow: Flow) -> None:
        self.flow = flow
        urgent = [t.intent for t in flow.global_transitions if t.intent and t.priority]
        global_intents = [t.intent for t in flow.global_transitions if t.intent]
        self._rules: dict[str, list[tuple[str, re.Pattern[str]]]] = {}
        self._examples: dict[str, _ExampleIndex] = {}
        self._allowed: dict[str, list[str]] = {}
        for name, state in flow.states.items():
            allowed = list(dict.fromkeys([*urgent, *state.intents, *global_intents]))
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
                return Match(intent, "rule", 1.0, pattern.pattern)
        return None

    def match_examples(self, state: str, text: str) -> Match | None:
        found = self._examples[state].best(text, self.flow.settings.example_threshold)
        if found is None:
            return None
        intent, score, example = found
        return Match(intent, "example", round(score, 3), example)

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
        entry = self._knowledge_by_id[entry_id]
        return KnowledgeHit(entry, round(score, 3), f"question {question!r}")
