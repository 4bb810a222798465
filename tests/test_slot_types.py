from __future__ import annotations

from datetime import date

import pytest

from engine.slot_types import SLOT_KINDS, SlotType, build_slot_type

TODAY = date(2026, 11, 30)  # a Monday, so weekday arithmetic is easy to check by hand


def body_type() -> SlotType:
    return build_slot_type(
        "enum",
        values=("suv", "sedan", "hatchback", "pickup", "plug-in hybrid", "hybrid", "land rover",
                "battery", "Model 3"),
        synonyms={"crossover": "suv", "pick up": "pickup", "ute": "pickup"},
    )


# --- building ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", SLOT_KINDS)
def test_every_declared_kind_can_be_built_and_reports_its_kind(kind: str) -> None:
    slot = build_slot_type(kind, values=("a",), pattern="x")
    assert slot.kind == kind


@pytest.mark.parametrize(
    ("kind", "options", "message"),
    [
        ("colour", {}, "unknown slot type 'colour'"),
        ("enum", {}, "at least one value"),
        ("enum", {"values": ("suv",), "synonyms": {"crossover": "SUVs"}}, "not one of the values"),
        ("enum", {"values": ("suv", "sedan"), "synonyms": {"sedan": "suv"}}, "clashes"),
        ("enum", {"values": ("  ",)}, "must not be empty"),
        ("regex", {}, "needs a 'pattern'"),
        ("regex", {"pattern": "(unclosed"}, "invalid regex pattern"),
    ],
)
def test_build_rejects_bad_specs_with_a_message_saying_what_is_wrong(
    kind: str, options: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        build_slot_type(kind, **options)  # type: ignore[arg-type]


def test_enum_values_that_differ_only_in_case_keep_the_first_spelling() -> None:
    # Values read from a data column may repeat with different case; that must not fail.
    slot = build_slot_type("enum", values=("BMW", "bmw"))
    assert slot.extract("a bmw please", TODAY) == "BMW"


# --- text -------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [("  John Smith ", "John Smith"), ("", None),
                                                 ("   ", None)])
def test_text_parse_returns_the_stripped_answer(text: str, expected: str | None) -> None:
    assert build_slot_type("text").parse(text, TODAY) == expected


def test_text_is_never_extracted_from_a_longer_sentence() -> None:
    assert build_slot_type("text").extract("my name is John", TODAY) is None


# --- enum -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("SUV", "suv"),
        ("show me suvs under 35k", "suv"),
        ("any Sedans?", "sedan"),
        ("pickups", "pickup"),
        ("Hatchbacks please", "hatchback"),
        ("a crossover", "suv"),
        ("crossovers", "suv"),
        ("a pick-up truck", "pickup"),
        ("a pick up truck", "pickup"),
        ("utes", "pickup"),
        ("a plug-in hybrid", "plug-in hybrid"),
        ("a plug in hybrid", "plug-in hybrid"),
        ("just a hybrid", "hybrid"),
        ("something like a Land-Rover", "land rover"),
        ("spare batteries", "battery"),
        ("the model 3", "Model 3"),
        ("a coupe", None),
        ("suvsedan", None),
        ("hybridization", None),
    ],
)
def test_enum_matches_values_and_synonyms_as_whole_words_returning_the_canonical_value(
    text: str, expected: str | None
) -> None:
    slot = body_type()
    assert slot.extract(text, TODAY) == expected
    assert slot.parse(text, TODAY) == expected


def test_enum_prefers_the_longest_phrase_so_plug_in_hybrid_beats_hybrid() -> None:
    assert body_type().extract("I want a plug-in hybrid", TODAY) == "plug-in hybrid"


def test_enum_takes_the_first_mention_when_several_values_appear() -> None:
    assert body_type().extract("a sedan or maybe an suv", TODAY) == "sedan"


def test_enum_parse_accepts_an_exact_answer_whatever_its_punctuation() -> None:
    slot = build_slot_type("enum", values=("c++", "4x4"))
    assert slot.parse("C++", TODAY) == "c++"
    assert slot.parse("4X4", TODAY) == "4x4"


# --- number -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("7", 7),
        ("seven", 7),
        ("Seventeen", 17),
        ("zero", 0),
        ("7 seats", 7),
        ("I need 7 seats, maybe 8", 7),
        ("1,200", 1200),
        ("2.5", 2.5),
        ("2.0", 2),
        ("-3", -3),
        ("none", None),
        ("v8", None),
        ("", None),
    ],
)
def test_number_parse_reads_the_first_number_or_number_word(
    text: str, expected: float | None
) -> None:
    value = build_slot_type("number").parse(text, TODAY)
    assert value == expected
    assert type(value) is type(expected)


def test_number_is_not_extracted_from_a_sentence_because_bare_numbers_are_ambiguous() -> None:
    assert build_slot_type("number").extract("a car with 7 seats", TODAY) is None


# --- money ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("35000", 35000),
        ("35,000", 35000),
        ("$35,000", 35000),
        ("35k", 35000),
        ("35K", 35000),
        ("35.5k", 35500),
        ("35 k", 35000),
        ("35 grand", 35000),
        ("about 30 grand", 30000),
        ("1.2m", 1_200_000),
        ("2 million", 2_000_000),
        ("€30000", 30000),
        ("30000€", 30000),
        ("£30,000", 30000),
        ("USD 30000", 30000),
        ("30000 dollars", 30000),
        ("30000 bucks", 30000),
        ("under 35k", 35000),
        ("$35.50", 35.5),
        ("$35.00", 35),
        ("7", 7),
        ("for a 2019 car, around 20k", 20000),
        ("no idea", None),
    ],
)
def test_money_parse_is_lenient_because_the_whole_message_is_the_answer(
    text: str, expected: float | None
) -> None:
    value = build_slot_type("money").parse(text, TODAY)
    assert value == expected
    assert type(value) is type(expected)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("show me suvs under 35k", 35000),
        ("show me suvs under 35000", 35000),
        ("anything below $20,000?", 20000),
        ("less than 25 grand", 25000),
        ("budget of 40000", 40000),
        ("my budget is 40000", 40000),
        ("budget: 40k", 40000),
        ("something for 30000", 30000),
        ("no more than 28000 please", 28000),
        ("max. 30000", 30000),
        ("around 1.5m yen", 1_500_000),
        ("I can spend 30000 euros", 30000),
        ("a car for 5 people under 30k", 30000),
        ("under 50k miles, budget 20k", 20000),
    ],
)
def test_money_extract_finds_amounts_with_a_cue(text: str, expected: int) -> None:
    assert build_slot_type("money").extract(text, TODAY) == expected


@pytest.mark.parametrize(
    "text",
    [
        "a car with 7 seats",
        "2021 model",
        "I have 35000",
        "something from around 2019",
        "for 2 please",
        "under 50000 miles",
        "a 7-seater",
        "within 30 days",
        "I want 3 cars",
    ],
)
def test_money_extract_needs_a_cue_so_seat_counts_years_and_mileage_are_not_budgets(
    text: str,
) -> None:
    assert build_slot_type("money").extract(text, TODAY) is None


# --- date -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("today", "2026-11-30"),
        ("Tomorrow please", "2026-12-01"),
        ("the day after tomorrow", "2026-12-02"),
        ("friday", "2026-12-04"),
        ("Next Friday", "2026-12-04"),
        ("on fri", "2026-12-04"),
        ("monday", "2026-12-07"),  # strictly after today, so not today itself
        ("sunday", "2026-12-06"),
        ("in 3 days", "2026-12-03"),
        ("in three days", "2026-12-03"),
        ("in a week", "2026-12-07"),
        ("in 2 weeks", "2026-12-14"),
        ("2026-12-05", "2026-12-05"),
        ("2026/12/05", "2026-12-05"),
        ("5 December", "2026-12-05"),
        ("December 5", "2026-12-05"),
        ("Dec 5th", "2026-12-05"),
        ("5th of december", "2026-12-05"),
        ("Sept. 3rd", "2027-09-03"),
        ("5 dec 2027", "2027-12-05"),
        ("December 5, 2027", "2027-12-05"),
        ("November 30", "2026-11-30"),  # today is not past
        ("November 29", "2027-11-29"),  # yesterday is, so next year
        ("29 feb", "2028-02-29"),  # the next 29 February is in a leap year
        ("can I come in on Dec 5th at 3pm?", "2026-12-05"),
    ],
)
def test_date_understands_relative_weekday_and_calendar_dates(text: str, expected: str) -> None:
    slot = build_slot_type("date")
    assert slot.parse(text, TODAY) == expected
    assert slot.extract(text, TODAY) == expected


@pytest.mark.parametrize(
    "text",
    ["5/12", "12/5/2026", "feb 30", "2026-02-30", "2026-13-01", "2026-12/05", "soon", "december"],
)
def test_date_rejects_ambiguous_slash_dates_and_impossible_dates(text: str) -> None:
    slot = build_slot_type("date")
    assert slot.parse(text, TODAY) is None
    assert slot.extract(text, TODAY) is None


def test_date_extract_ignores_bare_weekday_abbreviations_that_are_ordinary_words() -> None:
    slot = build_slot_type("date")
    assert slot.extract("I sat in one yesterday", TODAY) is None
    assert slot.extract("can I come on sat", TODAY) == "2026-12-05"
    assert slot.parse("sat", TODAY) == "2026-12-05"


# --- email ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("John.Doe@Example.com", "john.doe@example.com"),
        ("mail me at jane+cars@mail.co.uk.", "jane+cars@mail.co.uk"),
        ("email:bob@x.io or bob@y.io", "bob@x.io"),
        ("not an email @ all", None),
        ("jane@localhost", None),
    ],
)
def test_email_finds_the_first_address_lowercased(text: str, expected: str | None) -> None:
    slot = build_slot_type("email")
    assert slot.parse(text, TODAY) == expected
    assert slot.extract(text, TODAY) == expected


# --- phone ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("+1 (555) 123-4567", "+15551234567"),
        ("555-123-4567", "5551234567"),
        ("call me on 555.123.4567 after 5", "5551234567"),
        ("(555) 123 4567", "5551234567"),
        ("+44 20 7946 0958", "+442079460958"),
        ("5551234", "5551234"),
        ("my number is 555 1234", "5551234"),
    ],
)
def test_phone_returns_digits_keeping_a_leading_plus(text: str, expected: str) -> None:
    slot = build_slot_type("phone")
    assert slot.parse(text, TODAY) == expected
    assert slot.extract(text, TODAY) == expected


@pytest.mark.parametrize(
    "text",
    ["35000", "2021", "555123", "a 2021 model for 35000", "$1500000", "on 2026-12-05",
     "1234567890123456"],
)
def test_phone_needs_seven_to_fifteen_digits_so_years_prices_and_dates_are_not_numbers(
    text: str,
) -> None:
    assert build_slot_type("phone").extract(text, TODAY) is None


# --- regex ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "text", "expected"),
    [
        (r"vin ([a-z0-9]{17})", "my VIN 1HGCM82633A004352 ok", "1HGCM82633A004352"),
        (r"[A-Z]{2}\d{2} ?[A-Z]{3}", "reg ab12 cde please", "ab12 cde"),
        (r"order (\d+)", "no order here", None),
        (r"x(y)?", "x", None),
    ],
)
def test_regex_returns_group_one_or_the_whole_match_ignoring_case(
    pattern: str, text: str, expected: str | None
) -> None:
    slot = build_slot_type("regex", pattern=pattern)
    assert slot.parse(text, TODAY) == expected
    assert slot.extract(text, TODAY) == expected
