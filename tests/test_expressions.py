"""The condition language: parsing, evaluation rules, error messages and safety."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import date

import pytest

from engine.errors import ExpressionError
from engine.expression_values import TODAY_KEY
from engine.expressions import MAX_DEPTH, compile_expression


def ev(source: str, scope: Mapping[str, object] | None = None) -> object:
    return compile_expression(source).evaluate(scope or {})


class RecordingScope(Mapping[str, object]):
    """A scope that remembers which root names were looked up."""

    def __init__(self, values: dict[str, object]) -> None:
        self.data = values
        self.looked_up: list[str] = []

    def __getitem__(self, key: str) -> object:
        self.looked_up.append(key)
        return self.data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.data)

    def __len__(self) -> int:
        return len(self.data)


class Opaque:
    """A Python object that leaked into a scope; it records any method an expression calls."""

    secret = "hidden"

    def __init__(self) -> None:
        self.touched: list[str] = []

    def lower(self) -> str:
        self.touched.append("lower")
        return "x"

    def __len__(self) -> int:
        self.touched.append("__len__")
        return 1

    def __str__(self) -> str:
        self.touched.append("__str__")
        return "x"

    def __abs__(self) -> int:
        self.touched.append("__abs__")
        return 1

    def __int__(self) -> int:
        self.touched.append("__int__")
        return 1

    def __float__(self) -> float:
        self.touched.append("__float__")
        return 1.0


# ---- literals, names and precedence -------------------------------------------------

@pytest.mark.parametrize(("source", "expected"), [
    ("42", 42), ("3.5", 3.5), ("007", 7), ("'suv'", "suv"), ('"suv"', "suv"),
    ("true", True), ("false", False), ("null", None), ("[]", []),
    ("[1, 'a', [true]]", [1, "a", [True]]), ("[1, 2,]", [1, 2]),
    (r"'it\'s'", "it's"), (r'"say \"hi\""', 'say "hi"'), (r"'a\\b'", "a\\b"),
    ('"it\'s"', "it's"),
])
def test_literals_evaluate_to_plain_python_values(source: str, expected: object) -> None:
    assert ev(source) == expected


def test_backslash_before_other_characters_is_kept_as_written() -> None:
    assert ev(r"'C:\data\new'") == "C:\\data\\new"


def test_list_literal_holds_evaluated_names() -> None:
    assert ev("[slots.x, 1 + 1]", {"slots": {"x": "a"}}) == ["a", 2]


def test_each_evaluation_returns_a_fresh_list() -> None:
    expr = compile_expression("[1, [2]]")
    first = expr.evaluate({})
    assert isinstance(first, list)
    first.append(99)
    assert expr.evaluate({}) == [1, [2]]


def test_dotted_names_walk_nested_mappings() -> None:
    scope = {"item": {"specs": {"range": 480}}, "slots": {"budget": 30000}}
    assert ev("item.specs.range", scope) == 480
    assert ev("slots.budget", scope) == 30000
    assert ev("slots . budget", scope) == 30000


@pytest.mark.parametrize("source", [
    "nowhere", "slots.missing", "slots.budget.amount", "item.specs.range.max", "slots.name.upper",
])
def test_missing_or_non_mapping_paths_evaluate_to_none(source: str) -> None:
    scope = {"slots": {"budget": 30000, "name": "ann"}, "item": {"specs": {"range": 480}}}
    assert ev(source, scope) is None


def test_keywords_may_follow_a_dot() -> None:
    assert ev("row.in", {"row": {"in": 1}}) == 1


@pytest.mark.parametrize(("source", "expected"), [
    ("1 + 2 * 3", 7), ("(1 + 2) * 3", 9), ("10 - 4 - 3", 3), ("2 * 3 % 4", 2),
    ("-2 * 3", -6), ("- -2", 2), ("-(1 + 2)", -3), ("1 + 2 == 3", True),
    ("not 1 == 2", True), ("not not 5", True), ("true or false and false", True),
    ("(true or false) and false", False), ("not false and false", False),
])
def test_operators_bind_by_precedence(source: str, expected: object) -> None:
    assert ev(source) == expected


def test_comparison_binds_looser_than_arithmetic() -> None:
    assert ev("price + 1000 <= slots.budget", {"price": 29000, "slots": {"budget": 30000}}) is True


# ---- operators ---------------------------------------------------------------------

@pytest.mark.parametrize(("source", "expected"), [
    ("1 == 1", True), ("1 == 1.0", True), ("'a' == 'a'", True), ("'a' == 'A'", False),
    ("null == null", True), ("[1, 2] == [1, 2]", True), ("1 != 2", True), ("'a' != 'a'", False),
    ("1 < 2", True), ("2 <= 2", True), ("3 > 2.5", True), ("2 >= 3", False),
    ("'apple' < 'banana'", True), ("'b' >= 'a'", True),
    ("'suv' in ['suv', 'sedan']", True), ("'van' in ['suv', 'sedan']", False),
    ("2 in [1, 2.0]", True), ("'sub' in 'a substring'", True), ("'SUB' in 'a substring'", False),
    ("'van' not in ['suv']", True), ("'suv' not in ['suv']", False),
    ("7 + 3", 10), ("'a' + 'b'", "ab"), ("7 - 3", 4), ("7 * 3", 21), ("7 / 2", 3.5),
    ("7 % 3", 1), ("1.5 + 1", 2.5),
])
def test_each_operator(source: str, expected: object) -> None:
    assert ev(source) == expected


def test_and_or_return_booleans() -> None:
    assert ev("1 and 'yes'") is True
    assert ev("0 or ''") is False
    assert ev("0 or 'x'") is True
    assert ev("not 'x'") is False


def test_and_stops_at_the_first_false_operand() -> None:
    scope = RecordingScope({"a": False, "b": True})
    assert compile_expression("a and b").test(scope) is False
    assert scope.looked_up == ["a"]


def test_or_stops_at_the_first_true_operand() -> None:
    scope = RecordingScope({"a": 1, "b": True, "c": True})
    assert compile_expression("a or b or c").test(scope) is True
    assert scope.looked_up == ["a"]


def test_in_with_a_list_from_the_scope() -> None:
    assert ev("'heated seats' in features", {"features": ["heated seats", "sunroof"]}) is True


def test_whitespace_and_newlines_between_tokens_are_ignored() -> None:
    assert ev("\n  slots.a\t==\n 'x'  and\n(1<2) ", {"slots": {"a": "x"}}) is True
    assert ev("slots.a=='x'", {"slots": {"a": "x"}}) is True


# ---- robustness: evaluation never raises -------------------------------------------

@pytest.mark.parametrize(("source", "expected"), [
    ("null < 5", False), ("slots.missing >= 5", False), ("'a' < 3", False), ("3 > 'a'", False),
    ("'a' == 3", False), ("'a' != 3", True), ("'1' == 1", False), ("true == 1", False),
    ("true < 2", False), ("[1] < [2]", False), ("null == 0", False),
    ("null + 1", None), ("'a' - 1", None), ("'a' + 1", None), ("'a' * 3", None),
    ("true + 1", None), ("-'a'", None), ("-null", None),
    ("1 / 0", None), ("1 % 0", None), ("1.0 / 0", None),
    ("'a' in null", False), ("'a' not in null", True), ("1 in 'abc'", False),
    ("'a' in 5", False), ("null in [null]", True),
])
def test_mismatched_types_give_false_or_none_instead_of_raising(
        source: str, expected: object) -> None:
    assert ev(source) == expected
    assert type(ev(source)) is type(expected)


def test_missing_slot_compares_false_instead_of_raising() -> None:
    expr = compile_expression("slots.budget > 20000 and slots.body_type == 'suv'")
    assert expr.test({"slots": {}}) is False
    assert expr.test({}) is False
    assert expr.test({"slots": {"budget": 25000, "body_type": "suv"}}) is True


def test_overflowing_arithmetic_gives_none() -> None:
    assert ev("x / 1", {"x": 10 ** 400}) is None


def test_lookup_filter_from_a_flow_file() -> None:
    expr = compile_expression(
        "(slots.make == null or lower(make) == slots.make) and price <= slots.budget")
    row = {"make": "Toyota", "price": 25000}
    assert expr.test({**row, "slots": {"make": None, "budget": 30000}}) is True
    assert expr.test({**row, "slots": {"make": "toyota", "budget": 30000}}) is True
    assert expr.test({**row, "slots": {"make": "honda", "budget": 30000}}) is False
    assert expr.test({**row, "slots": {"make": None, "budget": None}}) is False
    assert expr.test({"make": None, "price": None, "slots": {"make": "toyota"}}) is False


def test_exotic_scope_objects_cannot_make_evaluation_raise() -> None:
    class Broken:
        def __eq__(self, other: object) -> bool:
            raise RuntimeError("boom")

        __hash__ = object.__hash__

    class BrokenMapping(Mapping[str, object]):
        def __getitem__(self, key: str) -> object:
            raise RuntimeError("boom")

        def __iter__(self) -> Iterator[str]:
            return iter(())

        def __len__(self) -> int:
            return 0

    expr = compile_expression("x == y")
    broken = Broken()
    assert expr.evaluate({"x": broken, "y": broken}) is None
    assert expr.test({"x": broken, "y": broken}) is False
    assert compile_expression("m.a == 1").evaluate({"m": BrokenMapping()}) is None


def test_long_chains_within_the_depth_limit_evaluate() -> None:
    source = " + ".join(["1"] * MAX_DEPTH)
    assert ev(source.replace("1", "x"), {"x": 1}) == MAX_DEPTH


# ---- safety: no way into Python internals ---------------------------------------------

@pytest.mark.parametrize("source", [
    "x.__class__", "x.__dict__", "x.secret", "x.lower", "slots.__class__", "slots.get",
    "slots.keys", "name.__class__", "name.upper", "__builtins__", "__import__",
    "x.__class__.__bases__",
])
def test_attribute_names_never_reach_python_objects(source: str) -> None:
    scope = {"x": Opaque(), "slots": {"a": 1}, "name": "ann"}
    assert ev(source, scope) is None


@pytest.mark.parametrize("source", [
    "lower(x)", "upper(x)", "len(x)", "str(x)", "int(x)", "float(x)", "abs(x)", "round(x)",
    "contains(x, 'a')", "startswith(x, 'a')", "endswith(x, 'a')", "min(x, x)", "-x", "x + x",
    "x < x", "'a' in x",
])
def test_functions_and_operators_refuse_python_objects_without_calling_them(
        source: str) -> None:
    opaque = Opaque()
    assert ev(source, {"x": opaque}) in (None, False)
    assert opaque.touched == []


@pytest.mark.parametrize("source", ["eval('1')", "__import__('os')", "getattr(x, 'a')",
                                    "x.lower()", "open('f')", "exec('1')"])
def test_only_whitelisted_functions_can_be_called(source: str) -> None:
    with pytest.raises(ExpressionError):
        compile_expression(source)


# ---- functions ---------------------------------------------------------------------

@pytest.mark.parametrize(("source", "expected"), [
    ("len('abc')", 3), ("len([1, 2])", 2), ("len(slots)", 2), ("len(5)", None),
    ("len(null)", None),
    ("lower('SUV')", "suv"), ("lower(5)", None), ("lower(null)", None),
    ("upper('suv')", "SUV"), ("upper(null)", None),
    ("contains('Heated Seats', 'heated')", True), ("contains('abc', 'x')", False),
    ("contains(['a', 'b'], 'b')", True), ("contains(['a', 'b'], 'B')", False),
    ("contains(null, 'a')", None), ("contains('abc', 1)", None),
    ("startswith('sedan', 'se')", True), ("startswith('sedan', 'an')", False),
    ("startswith(null, 'a')", None), ("startswith('a', 1)", None),
    ("endswith('sedan', 'an')", True), ("endswith('sedan', 'se')", False),
    ("endswith(1, 'a')", None),
    ("abs(-3)", 3), ("abs(2.5)", 2.5), ("abs('a')", None), ("abs(true)", None),
    ("min(3, 1, 2)", 1), ("max(3, 1, 2)", 3), ("min('b', 'a')", "a"), ("min(4)", 4),
    ("min([5, 2, 9])", 2), ("max([5, 2, 9])", 9), ("min([])", None), ("min(1, null)", None),
    ("max(1, 'a')", None), ("max(1, 2.5)", 2.5),
    ("round(2.567, 1)", 2.6), ("round(2.5)", 2), ("round(7)", 7), ("round('a')", None),
    ("round(1.5, 'a')", None), ("round(x)", None), ("round(15, -1)", 20),
    ("round(12345, -1000000000)", None), ("round(1.5, true)", None),
    ("int('42')", 42), ("int(' -7 ')", -7), ("int('3.9')", 3), ("int(3.9)", 3),
    ("int('12345678901234567890')", 12345678901234567890), ("int('abc')", None),
    ("int(null)", None), ("int(inf)", None), ("int(true)", 1),
    ("float('2.5')", 2.5), ("float(2)", 2.0), ("float('x')", None), ("float(null)", None),
    ("str(5)", "5"), ("str(2.5)", "2.5"), ("str('a')", "a"), ("str(true)", "true"),
    ("str(null)", None), ("str([1])", None),
])
def test_each_function(source: str, expected: object) -> None:
    scope = {"slots": {"a": 1, "b": 2}, "inf": float("inf"), "x": float("nan")}
    result = ev(source, scope)
    assert result == expected
    assert type(result) is type(expected)


def test_today_is_the_local_iso_date() -> None:
    before = date.today().isoformat()
    result = ev("today()")
    assert result in {before, date.today().isoformat()}  # either side of midnight


def test_today_comes_from_the_clock_in_the_scope() -> None:
    assert ev("today()", {TODAY_KEY: lambda: date(2024, 2, 29)}) == "2024-02-29"


def test_today_is_read_at_evaluation_not_at_compile_time() -> None:
    expr = compile_expression("days_until('2024-03-10')")
    assert expr.evaluate({TODAY_KEY: lambda: date(2024, 3, 1)}) == 9
    assert expr.evaluate({TODAY_KEY: lambda: date(2024, 3, 9)}) == 1


@pytest.mark.parametrize(("argument", "expected"), [
    ("'2024-03-11'", 10), ("'2024-02-28'", -2), ("'2024-03-01T18:30:00'", 0),
    ("'03/11/2024'", None), ("'soon'", None), ("null", None), ("5", None),
    ("d", 31), ("today()", 0),
])
def test_days_until_counts_days_from_today(argument: str, expected: int | None) -> None:
    scope = {"d": date(2024, 4, 1), TODAY_KEY: lambda: date(2024, 3, 1)}
    assert ev(f"days_until({argument})", scope) == expected


def test_calls_with_constant_arguments_give_the_same_result_as_with_names() -> None:
    assert ev("lower('ABC')") == ev("lower(x)", {"x": "ABC"}) == "abc"


# ---- names ---------------------------------------------------------------------------

def test_names_lists_every_variable_path() -> None:
    expr = compile_expression(
        "(slots.make == null or lower(make) == slots.make) and price <= slots.budget"
        " and item.specs.range > 0 and len(features) > 0 and [slots] != []")
    assert expr.names == frozenset({
        ("slots", "make"), ("make",), ("price",), ("slots", "budget"),
        ("item", "specs", "range"), ("features",), ("slots",),
    })


def test_names_leave_out_functions_and_literals() -> None:
    assert compile_expression("today() == '2024-01-01' and true").names == frozenset()


def test_expression_keeps_its_source() -> None:
    expr = compile_expression("slots.a == 1")
    assert expr.source == "slots.a == 1"
    assert "slots.a == 1" in repr(expr)


# ---- syntax errors -----------------------------------------------------------------

@pytest.mark.parametrize(("source", "message", "offset"), [
    ("", "empty expression", 0),
    ("slots.a ==", "unexpected end of expression", 10),
    ("not", "unexpected end of expression", 3),
    ("(a or b", "expected ')'", 7),
    ("(a b)", "expected ')'", 3),
    ("lower(a", "expected ',' or ')'", 7),
    ("lower(a b)", "expected ',' or ')'", 8),
    ("[1, 2", "expected ',' or ']'", 5),
    ("[1, , 2]", "unexpected ','", 4),
    ("x == 'suv", "unterminated string", 5),
    ('"abc\\"', "unterminated string", 0),
    ("foo(1)", "unknown function 'foo'", 0),
    ("x and lowr(make)", "unknown function 'lowr' (did you mean 'lower'?)", 6),
    ("slots.a = 1", "use '==' to compare", 8),
    ("a && b", "use 'and' instead of '&&'", 2),
    ("a || b", "use 'or' instead of '||'", 2),
    ("!a", "use 'not' instead of '!'", 0),
    ("1 < x < 3", "comparisons cannot be chained: combine them with 'and'", 6),
    ("a == b == c", "comparisons cannot be chained: combine them with 'and'", 7),
    ("a in b in c", "comparisons cannot be chained: combine them with 'and'", 7),
    ("a not b", "expected 'in' after 'not'", 6),
    ("slots.", "expected a name after '.'", 6),
    ("slots.1", "expected a name after '.'", 6),
    ("slots.lower(x)", "only built-in functions can be called", 11),
    ("lower()", "lower() takes 1 argument, got 0", 0),
    ("x == contains('a')", "contains() takes 2 arguments, got 1", 5),
    ("round(1, 2, 3)", "round() takes 1 or 2 arguments, got 3", 0),
    ("min()", "min() takes at least 1 argument, got 0", 0),
    ("today(1)", "today() takes 0 arguments, got 1", 0),
    ("a b", "unexpected 'b'", 2),
    ("a 'b'", "unexpected string 'b'", 2),
    ("a == )", "unexpected ')'", 5),
    ("(1)(2)", "unexpected '('", 3),
    ("x in", "unexpected end of expression", 4),
    ("3abc", "invalid number", 0),
    ("x > 1.2.3", "invalid number", 4),
    ("x == 1" + "0" * 101, "invalid number", 5),
    ("a @ b", "unexpected character '@'", 2),
    ("a & b", "unexpected character '&'", 2),
    ("prix > 5 € ", "unexpected character '€'", 9),
])
def test_syntax_errors_say_what_is_wrong_and_where(source: str, message: str, offset: int) -> None:
    with pytest.raises(ExpressionError) as caught:
        compile_expression(source)
    assert caught.value.message == message
    assert caught.value.offset == offset


def test_error_text_counts_characters_from_one() -> None:
    with pytest.raises(ExpressionError, match=r"use '==' to compare \(at character 3\)"):
        compile_expression("a = 1")


@pytest.mark.parametrize("source", [
    "(" * (MAX_DEPTH + 1) + "1" + ")" * (MAX_DEPTH + 1),
    "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1),
    "abs(" * (MAX_DEPTH + 1) + "1" + ")" * (MAX_DEPTH + 1),
    " + ".join(["x"] * (MAX_DEPTH + 2)),
    "not " * (MAX_DEPTH + 1) + "x",
    "(" * 5000,
])
def test_deeply_nested_expressions_are_rejected_not_crashed(source: str) -> None:
    with pytest.raises(ExpressionError, match="nested too deeply"):
        compile_expression(source)


def test_many_clauses_joined_by_or_do_not_count_as_nesting() -> None:
    source = " or ".join(f"x == {i}" for i in range(200))
    assert compile_expression(source).test({"x": 199}) is True


@pytest.mark.parametrize(
    ("source", "fixed"),
    [
        ("(slots.make == null or make == slots.make) and price <= slots.budget",
         {"slots": {"make": None, "budget": 30000}}),
        ("(slots.make == null or make == slots.make) and price <= slots.budget",
         {"slots": {"make": "Kia", "budget": 30000}}),
        ("slots.a == 1 or slots.b == 2", {"slots": {"a": 0, "b": 2}}),
        ("slots.a == 1 and make == 'Kia'", {"slots": {"a": 0}}),
        ("not (slots.a == 1) and (price > 10 or slots.b)", {"slots": {"a": 0, "b": None}}),
        ("len(make) > slots.n or missing.x == null", {"slots": {"n": 3}}),
    ],
)
def test_bind_decides_fixed_parts_once_and_agrees_with_test(
    source: str, fixed: dict[str, object]
) -> None:
    expression = compile_expression(source)
    rows = [{"make": "Kia", "price": 20000}, {"make": "Ford", "price": 40000},
            {"make": "Kia", "price": 5}, {}]
    bound = expression.bind(fixed)
    for row in rows:
        assert bound(row) == expression.test({**row, **fixed}), row
