"""The condition language of flow files: `when:` transitions and `where:` lookup filters.

Source text is tokenized and parsed by hand (never Python's eval or ast), then compiled
into nested closures, because a `where:` filter runs once per data row. Evaluation
never raises: missing names are None, mismatched types compare False and bad
arithmetic gives None, so a half-filled set of slots cannot crash a conversation.
Dotted names only enter Mappings and only whitelisted functions can be called, so an
expression cannot reach Python attributes.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any, NamedTuple

from engine.errors import ExpressionError, did_you_mean
from engine.expression_values import (
    CALL_ERRORS,
    DATED,
    FUNCTIONS,
    OPERATORS,
    Scope,
    scope_today,
)

_Fn = Callable[[Scope], object]

# Bounds parser recursion and closure depth, well below Python's recursion limit.
MAX_DEPTH = 50

_TOKEN = re.compile(r"""\s*(?:
    (?P<num>[0-9]{1,100}(?:\.[0-9]+)?)(?![A-Za-z0-9_.])  # int() refuses thousands of digits
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<str>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
  | (?P<op>==|!=|<=|>=|[<>+\-*/%()\[\],.])
  | (?P<end>\Z))""", re.VERBOSE | re.DOTALL)
# Other backslashes stay as written, so a Windows path or '\d' survives intact.
_ESCAPE = re.compile(r"\\([\\'\"])")
_KEYWORDS = frozenset({"and", "or", "not", "in", "true", "false", "null"})
_LITERALS: dict[str, object] = {"true": True, "false": False, "null": None}
# What went wrong when no token matches, by the text where matching stopped.
_FAILURES = {"&&": "use 'and' instead of '&&'", "||": "use 'or' instead of '||'",
             "!": "use 'not' instead of '!'", "=": "use '==' to compare",
             "'": "unterminated string", '"': "unterminated string",
             **dict.fromkeys("0123456789", "invalid number")}
_COMPARE_OPS = ("==", "!=", "<", "<=", ">", ">=")


class _Token(NamedTuple):
    kind: str  # "num", "str", "name", "kw", "op" or "end"
    text: str
    value: object
    offset: int


def _tokenize(source: str) -> list[_Token]:
    tokens: list[_Token] = []
    pos = 0
    while True:
        match = _TOKEN.match(source, pos)
        if match is None:
            i = len(source) - len(source[pos:].lstrip())
            found = next((f for f in _FAILURES if source.startswith(f, i)), None)
            raise ExpressionError(_FAILURES[found] if found else
                                  f"unexpected character {source[i]!r}", i)
        kind = match.lastgroup or "end"
        start, text = match.start(kind), match.group(kind)
        value: object = text
        if kind == "num":
            value = float(text) if "." in text else int(text)
        elif kind == "str":
            value = _ESCAPE.sub(r"\1", text[1:-1])
        elif kind == "name" and text in _KEYWORDS:
            kind = "kw"
        tokens.append(_Token(kind, text, value, start))
        if kind == "end":
            return tokens
        pos = match.end()


def _apply(op: Callable[[object], object], inner: _Fn, scope: Scope) -> object:
    return op(inner(scope))


def _both(left: _Fn, right: _Fn) -> _Fn:
    return lambda scope: bool(left(scope)) and bool(right(scope))


def _either(left: _Fn, right: _Fn) -> _Fn:
    return lambda scope: bool(left(scope)) or bool(right(scope))


def _chain(word: str, fns: Sequence[_Fn]) -> _Fn:
    """`a and b and c` as chained two-operand closures: no generator per evaluation."""
    fn = fns[0]
    for right in fns[1:]:
        fn = _both(fn, right) if word == "and" else _either(fn, right)
    return fn


def _specialise(node: _Node, fixed: Scope) -> _Fn | bool:
    """`node` with every part that reads only `fixed` variables worked out now.

    In a lookup, `slots.make == null or make == slots.make` is decided once for the
    whole table instead of once per row. Returns a constant truth value, or the
    function that is left to evaluate."""
    if node.roots <= fixed.keys():
        try:
            return bool(node.fn(fixed))
        except Exception:  # as evaluate(): a broken value counts as false
            return False
    if not node.logic:
        return node.fn
    left: list[_Fn] = []
    for part in node.parts:
        done = _specialise(part, fixed)
        if done is True or done is False:
            if done == (node.logic == "or"):  # true in an `or`, false in an `and`: decided
                return done
            continue  # true in an `and`, false in an `or`: no say
        left.append(done)
    return _chain(node.logic, left) if left else node.logic == "and"


class _Node(NamedTuple):
    fn: _Fn
    depth: int
    const: bool = False
    value: object = None
    roots: frozenset[str] = frozenset()  # the variables it reads, by first name
    logic: str = ""  # "and" / "or" for a logical node, whose operands are `parts`
    parts: tuple[_Node, ...] = ()


def _path(root: str, rest: tuple[str, ...]) -> _Fn:
    def lookup(scope: Scope) -> object:
        value = scope.get(root)
        for key in rest:
            # Only Mappings are entered, so attributes of other objects stay out of reach.
            if not (type(value) is dict or isinstance(value, Mapping)):
                return None
            value = value.get(key)
        return value
    return lookup


class _Parser:
    """Recursive descent, one method per precedence level, building closures as it goes."""

    def __init__(self, source: str) -> None:
        self.tokens = _tokenize(source)
        self.pos = self.nesting = 0
        self.tok = self.tokens[0]
        self.names: set[tuple[str, ...]] = set()

    def at(self, kind: str, *texts: str) -> bool:
        return self.tok.kind == kind and (not texts or self.tok.text in texts)

    def take(self) -> _Token:
        token = self.tok
        self.pos += token.kind != "end"
        self.tok = self.tokens[self.pos]
        return token

    def expect(self, kind: str, text: str, message: str) -> None:
        if not self.at(kind, text):
            raise self.fail(message)
        self.take()

    def fail(self, message: str = "") -> ExpressionError:
        """An error at the current token; by default, that the token was unexpected."""
        token = self.tok
        if not message:
            message = ("empty expression" if token.kind == "end" and self.pos == 0 else
                       "unexpected end of expression" if token.kind == "end" else
                       f"unexpected string {token.text}" if token.kind == "str" else
                       f"unexpected '{token.text}'")
        return ExpressionError(message, token.offset)

    def make(self, fn: _Fn, children: Sequence[_Node], offset: int, pure: bool = True) -> _Node:
        depth = 1 + max((c.depth for c in children), default=0)
        if depth > MAX_DEPTH:
            raise ExpressionError("expression is nested too deeply", offset)
        if not (pure and all(c.const for c in children)):
            return _Node(fn, depth, roots=frozenset().union(*(c.roots for c in children)))
        value = fn({})
        # A list keeps its builder so that each evaluation hands out a fresh list.
        return _Node(fn if isinstance(value, list) else lambda _: value, depth, True, value)

    def binary(self, op: str, left: _Node, right: _Node, offset: int) -> _Node:
        apply, lf, rf, constant = OPERATORS[op], left.fn, right.fn, right.value
        if right.const:  # spares a call per row for the common "price <= 30000"
            return self.make(lambda scope: apply(lf(scope), constant), (left, right), offset)
        return self.make(lambda scope: apply(lf(scope), rf(scope)), (left, right), offset)

    def expression(self) -> _Node:
        self.nesting += 1
        if self.nesting > MAX_DEPTH:
            raise self.fail("expression is nested too deeply")
        node = self.logical("or")
        self.nesting -= 1
        return node

    def logical(self, word: str) -> _Node:
        offset = self.tok.offset
        operand = (partial(self.logical, "and") if word == "or" else
                   partial(self.prefixed, "kw", "not", operator.not_, self.comparison))
        operands = [operand()]
        while self.at("kw", word):
            self.take()
            operands.append(operand())
        if len(operands) == 1:
            return operands[0]
        node = self.make(_chain(word, [o.fn for o in operands]), operands, offset)
        return node if node.const else node._replace(logic=word, parts=tuple(operands))

    def prefixed(self, kind: str, text: str, op: Callable[[Any], object],
                 operand: Callable[[], _Node]) -> _Node:
        """`not not x` or `- -x`: a run of prefix operators, looped rather than recursed."""
        offsets = []
        while self.at(kind, text):
            offsets.append(self.take().offset)
        node = operand()
        for offset in reversed(offsets):
            node = self.make(partial(_apply, op, node.fn), (node,), offset)
        return node

    def comparison(self) -> _Node:
        left = self.arithmetic()
        offset = self.tok.offset
        if self.at("op", *_COMPARE_OPS) or self.at("kw", "in"):
            op = self.take().text
        elif self.at("kw", "not"):
            self.take()
            self.expect("kw", "in", "expected 'in' after 'not'")
            op = "not in"
        else:
            return left
        right = self.arithmetic()
        if self.at("op", *_COMPARE_OPS) or self.at("kw", "in", "not"):
            raise self.fail("comparisons cannot be chained: combine them with 'and'")
        return self.binary(op, left, right, offset)

    def arithmetic(self, level: int = 0) -> _Node:
        operand = (partial(self.arithmetic, 1) if level == 0 else
                   partial(self.prefixed, "op", "-", partial(OPERATORS["-"], 0), self.primary))
        node = operand()
        while self.at("op", *(("+", "-"), ("*", "/", "%"))[level]):
            token = self.take()
            node = self.binary(token.text, node, operand(), token.offset)
        return node

    def primary(self) -> _Node:
        token = self.tok
        if token.kind in ("num", "str") or (token.kind == "kw" and token.text in _LITERALS):
            self.take()
            value = _LITERALS.get(token.text) if token.kind == "kw" else token.value
            return _Node(lambda _: value, 1, True, value)
        if token.kind == "name":
            return self.name(self.take())
        if self.at("op", "("):
            self.take()
            node = self.expression()
            self.expect("op", ")", "expected ')'")
            return node
        if not self.at("op", "["):
            raise self.fail()
        self.take()
        items = self.items("]")
        fns = tuple(i.fn for i in items)
        return self.make(lambda scope: [f(scope) for f in fns], items, token.offset)

    def items(self, close: str) -> list[_Node]:
        """Comma-separated expressions up to `close`; a trailing comma suits multi-line YAML."""
        items: list[_Node] = []
        while not self.at("op", close):
            items.append(self.expression())
            if not self.at("op", ","):
                break
            self.take()
        self.expect("op", close, f"expected ',' or '{close}'")
        return items

    def name(self, name: _Token) -> _Node:
        parts = [name.text]
        while self.at("op", "."):
            self.take()
            if not (self.at("name") or self.at("kw")):
                raise self.fail("expected a name after '.'")
            parts.append(self.take().text)
        if not self.at("op", "("):
            self.names.add(tuple(parts))
            return _Node(_path(parts[0], tuple(parts[1:])), 1, roots=frozenset(parts[:1]))
        if len(parts) > 1:
            raise self.fail("only built-in functions can be called")
        if name.text not in FUNCTIONS:
            raise ExpressionError(f"unknown function '{name.text}'"
                                  + did_you_mean(name.text, FUNCTIONS), name.offset)
        impl, low, high = FUNCTIONS[name.text]
        self.take()
        args = self.items(")")
        if not low <= len(args) <= (len(args) if high is None else high):
            count = f"at least {low}" if high is None else f"{low} or {high}" if low < high else (
                str(low))
            plural = "" if count in ("1", "at least 1") else "s"
            raise ExpressionError(f"{name.text}() takes {count} argument{plural}, got "
                                  f"{len(args)}", name.offset)
        fns = tuple(a.fn for a in args)
        dated = name.text in DATED

        def call(scope: Scope) -> object:
            try:
                values = [f(scope) for f in fns]
                return impl(scope_today(scope), *values) if dated else impl(*values)
            except CALL_ERRORS:
                return None
        return self.make(call, args, name.offset, not dated)


@dataclass(frozen=True, slots=True)
class Expression:
    """A compiled condition; evaluating it never raises."""

    source: str
    names: frozenset[tuple[str, ...]]
    _node: _Node = field(repr=False, compare=False)

    @property
    def _fn(self) -> _Fn:
        return self._node.fn

    def evaluate(self, scope: Mapping[str, object]) -> object:
        try:
            return self._fn(scope)
        except Exception:  # last resort for exotic scope objects (a broken __eq__ or Mapping)
            return None

    def test(self, scope: Mapping[str, object]) -> bool:
        try:
            return bool(self._fn(scope))
        except Exception:
            return False

    def bind(self, fixed: Mapping[str, object]) -> Callable[[Mapping[str, object]], bool]:
        """A test of rows in which the `fixed` variables no longer change: the parts
        that read only those are decided once, here. `bind(f)(row)` equals
        `test({**row, **f})`."""
        done = _specialise(self._node, fixed)
        if done is True or done is False:
            return lambda row: done
        fn = done

        def test_row(row: Mapping[str, object]) -> bool:
            try:
                return bool(fn({**row, **fixed}))
            except Exception:
                return False

        return test_row


def compile_expression(source: str) -> Expression:
    """Parse and compile `source`; raises ExpressionError pointing at the offending character."""
    parser = _Parser(source)
    node = parser.expression()
    if not parser.at("end"):
        raise parser.fail()
    return Expression(source, frozenset(parser.names), node)
