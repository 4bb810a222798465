"""flows/clinic.yaml end to end, through the public API, on a fixed date.

Today is Monday 30 November 2026, so "Friday" is 4 December 2026 and
"20 November 2026" is in the past.
"""

from __future__ import annotations

import datetime
import json
import re
from pathlib import Path

import pytest

from engine import Engine, Session, TurnResult, check_flow, load_flow

FLOWS = Path(__file__).resolve().parent.parent / "flows"
CLINIC = FLOWS / "clinic.yaml"
TODAY = datetime.date(2026, 11, 30)
FRIDAY = "2026-12-04"

DATE_PROMPT = "Which day would you like to come in?"
NAME_PROMPT = "What's the patient's full name?"
PHONE_PROMPT = "What's the best phone number to reach you on?"
EMAIL_PROMPT = "And your email address, for the confirmation?"

# Everything needed to reach the confirmation question, one message per turn.
TO_CONFIRMATION = ("I need to see a dermatologist", "Friday", "yes", "Jane Doe",
                   "555-010-1234", "jane@example.com")


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine(load_flow(CLINIC), today=lambda: TODAY)


def doctors() -> list[dict[str, object]]:
    return json.loads((FLOWS / "data" / "doctors.json").read_text(encoding="utf-8"))


def chat(engine: Engine, *messages: str) -> tuple[Session, TurnResult]:
    """A new conversation: start it, send each message, return the last turn."""
    session = engine.new_session("test")
    result = engine.start(session)
    for message in messages:
        result = engine.handle(session, message)
    return session, result


def said(result: TurnResult) -> str:
    return "\n".join(result.texts)


# ---- the flow file ---------------------------------------------------------------------


def test_flow_validates_without_errors_or_warnings() -> None:
    report = check_flow(CLINIC)
    assert [d.format() for d in report.diagnostics] == []


def test_doctors_table_has_the_fields_the_flow_relies_on() -> None:
    rows = doctors()
    assert len(rows) >= 10
    for row in rows:
        assert {"id", "name", "specialty", "days", "languages",
                "accepting_new_patients"} <= set(row)
        assert isinstance(row["days"], list) and isinstance(row["languages"], list)


def test_greeting_offers_the_services_and_the_emergency_number(engine: Engine) -> None:
    session = engine.new_session()
    result = engine.start(session)
    assert result.state == "greet"
    assert "book an appointment" in said(result)
    assert "911" in said(result)


# ---- booking ---------------------------------------------------------------------------


def test_full_booking_names_an_available_doctor_and_gives_a_reference(engine: Engine) -> None:
    session, result = chat(engine, *TO_CONFIRMATION)
    assert result.state == "confirm_booking"
    assert "Shall I book it?" in said(result)

    result = engine.handle(session, "yes")

    # The only dermatologist who works on Fridays and takes new patients.
    expected = [d["name"] for d in doctors() if d["specialty"] == "dermatology"
                and "Friday" in d["days"] and d["accepting_new_patients"]]
    assert expected == ["Dr. Anjali Patel"]
    booked = result.texts[0]
    assert "You're booked in with Dr. Anjali Patel on Friday 4 December 2026" in booked
    reference = re.search(r"Your reference is ([A-Z]{2}-\d{4})\.", booked)
    assert reference is not None and reference[1].startswith("DE-")
    assert "jane@example.com" in booked and "5550101234" in booked
    assert "arrive 15 minutes early" in booked  # a new patient
    assert result.state == "anything_else"
    assert result.texts[-1] == "Is there anything else I can help you with?"
    assert result.slots["name"] == "Jane Doe"  # kept for another booking
    assert "date" not in result.slots and "doctor" not in result.slots


def test_booking_intent_picks_up_specialty_and_date_from_the_first_message(
        engine: Engine) -> None:
    _, result = chat(engine, "Can I book a dermatologist for Friday?")
    assert result.intent == "book"
    assert result.slots["specialty"] == "dermatology"
    assert result.slots["date"] == FRIDAY
    assert result.state == "first_visit"


@pytest.mark.parametrize(("answer", "specialty"), [
    ("skin", "dermatology"),
    ("the kids", "pediatrics"),
    ("my daughter", "pediatrics"),
    ("heart doctor", "cardiology"),
    ("GP", "general practice"),
    ("my knee", "orthopedics"),
    ("women's health", "gynecology"),
    ("Dermatology", "dermatology"),
])
def test_everyday_words_are_understood_as_specialties(
        engine: Engine, answer: str, specialty: str) -> None:
    _, result = chat(engine, "I'd like to book an appointment", answer)
    assert result.slots["specialty"] == specialty
    assert result.texts[-1].startswith(DATE_PROMPT)


def test_unknown_specialty_lists_the_ones_we_offer(engine: Engine) -> None:
    _, result = chat(engine, "book an appointment", "ear nose and throat")
    assert "specialty" not in result.slots
    assert "We offer general practice (GP), dermatology (skin)" in said(result)


def test_returning_patient_gets_the_first_available_doctor_by_surname(engine: Engine) -> None:
    _, result = chat(engine, "I need to see a dermatologist", "Friday", "no, I've been before")
    # Novak and Patel both work on Fridays; Novak only sees returning patients.
    assert result.slots["doctor"]["name"] == "Dr. Tomas Novak"
    assert [d["name"] for d in result.slots["available"]] == ["Dr. Tomas Novak",
                                                               "Dr. Anjali Patel"]
    assert "Dr. Tomas Novak (dermatology) can see you on Friday 4 December 2026" in said(result)
    assert [item["title"] for item in result.replies[0].items] == ["Dr. Tomas Novak",
                                                                   "Dr. Anjali Patel"]


def test_a_day_no_doctor_works_suggests_the_days_they_do(engine: Engine) -> None:
    session, result = chat(engine, "I need to see a dermatologist", "Saturday", "yes")
    assert result.state == "pick_date"
    assert "none of our dermatology doctors taking new patients work on Saturdays" in said(result)
    assert "They're in on Monday, Wednesday and Friday." in said(result)
    assert "date" not in result.slots
    assert result.texts[-1] == "Which other day would suit you?"

    result = engine.handle(session, "Wednesday")
    assert result.slots["doctor"]["name"] == "Dr. Anjali Patel"
    assert result.texts[-1] == NAME_PROMPT


def test_new_patients_are_sent_to_the_waiting_list_when_nobody_takes_them(
        engine: Engine) -> None:
    _, result = chat(engine, "I need an orthopedist", "Thursday", "yes, first time")
    assert "none of our orthopedics doctors are taking new patients" in said(result)
    assert "waiting list" in said(result)
    assert result.state == "anything_else"


def test_past_date_is_rejected_and_asked_again(engine: Engine) -> None:
    session, result = chat(engine, "I need to see a dermatologist", "20 November 2026")
    assert "date" not in result.slots
    assert "That date must not be in the past." in said(result)
    assert any(e["type"] == "slot_invalid" and e["slot"] == "date" for e in result.events)

    result = engine.handle(session, "Friday")
    assert result.slots["date"] == FRIDAY
    assert result.state == "first_visit"


def test_a_date_that_is_not_understood_gets_a_plain_reprompt(engine: Engine) -> None:
    _, result = chat(engine, "I need to see a dermatologist", "whenever suits")
    assert "date" not in result.slots
    assert said(result).startswith("Sorry, I didn't catch a date there.")
    assert "not understood" not in said(result)


@pytest.mark.parametrize(("answer", "name"), [
    ("Jane Doe", "Jane Doe"),
    ("My name is Ana María López", "Ana María López"),
    ("Will Smith", "Will Smith"),  # starts like a question, yet is a name
])
def test_the_patient_name_is_taken_from_the_answer(engine: Engine, answer: str, name: str) -> None:
    _, result = chat(engine, *TO_CONFIRMATION[:3], answer)
    assert result.slots["name"] == name
    assert result.texts[-1] == PHONE_PROMPT


def test_a_question_at_the_name_prompt_is_not_taken_as_the_name(engine: Engine) -> None:
    _, result = chat(engine, *TO_CONFIRMATION[:3], "Why do you need my name?")
    assert "name" not in result.slots
    assert result.texts[-1] == NAME_PROMPT


def test_invalid_phone_is_asked_again_then_accepted(engine: Engine) -> None:
    session, result = chat(engine, *TO_CONFIRMATION[:4], "12345")
    assert "phone" not in result.slots
    assert result.texts == ["That doesn't look like a phone number. Please give it with at "
                            "least 7 digits, like 555-010-1234."]

    result = engine.handle(session, "(555) 010-1234")
    assert result.slots["phone"] == "5550101234"
    assert result.texts[-1] == EMAIL_PROMPT


def test_invalid_email_is_asked_again_then_accepted(engine: Engine) -> None:
    session, result = chat(engine, *TO_CONFIRMATION[:5], "jane at example dot com")
    assert "email" not in result.slots
    assert "That doesn't look like an email address." in said(result)
    assert result.state == "contact_details"

    result = engine.handle(session, "it's Jane.Doe@Example.com")
    assert result.slots["email"] == "jane.doe@example.com"
    assert result.state == "confirm_booking"


def test_repeated_invalid_phone_hands_over_to_reception(engine: Engine) -> None:
    _, result = chat(engine, *TO_CONFIRMATION[:4], "12", "34", "56")
    assert result.state == "handoff"
    assert "(555) 010-2000" in said(result)


@pytest.mark.parametrize("answer", ["no", "cancel", "nope, not now"])
def test_declining_at_confirmation_books_nothing(engine: Engine, answer: str) -> None:
    session, _ = chat(engine, *TO_CONFIRMATION)
    result = engine.handle(session, answer)
    assert result.texts == ["No problem, I haven't booked anything.",
                            "Is there anything else I can help you with?"]
    assert result.state == "anything_else"
    assert "booking_ref" not in result.slots


def test_an_unclear_confirmation_answer_is_asked_again(engine: Engine) -> None:
    session, _ = chat(engine, *TO_CONFIRMATION)
    result = engine.handle(session, "hmm, perhaps")
    assert result.state == "confirm_booking"
    assert "Please answer yes to book the appointment with Dr. Anjali Patel" in said(result)


# ---- digressions -------------------------------------------------------------------------


def test_faq_mid_booking_is_answered_then_the_pending_question_is_asked_again(
        engine: Engine) -> None:
    session, result = chat(engine, "I need to see a dermatologist", "Is there parking?")
    assert result.state == "booking"
    assert any(e == {"type": "knowledge", "id": "parking"} for e in result.events)
    assert "Free patient parking" in result.texts[0]
    assert result.texts[-1].startswith(DATE_PROMPT)
    assert "date" not in result.slots

    result = engine.handle(session, "Do you take my insurance?")
    assert "Medicare" in result.texts[0]
    assert result.texts[-1].startswith(DATE_PROMPT)

    result = engine.handle(session, "Friday")
    assert result.slots["date"] == FRIDAY


def test_faq_at_the_confirmation_repeats_the_confirmation_question(engine: Engine) -> None:
    session, _ = chat(engine, *TO_CONFIRMATION)
    result = engine.handle(session, "What should I bring?")
    assert "photo ID" in result.texts[0]
    assert result.texts[-1].endswith("Shall I book it?")
    assert result.state == "confirm_booking"


def test_help_mid_booking_explains_and_asks_again(engine: Engine) -> None:
    _, result = chat(engine, "I need to see a dermatologist", "help")
    assert result.intent == "help"
    assert "reschedule or cancel" in result.texts[0]
    assert result.texts[-1].startswith(DATE_PROMPT)
    assert result.state == "booking"


def test_thanks_with_an_answer_keeps_the_booking_moving(engine: Engine) -> None:
    _, result = chat(engine, "I need to see a dermatologist", "thanks, Friday would be great")
    assert result.texts[0] == "You're welcome!"
    assert result.slots["date"] == FRIDAY
    assert result.state == "first_visit"
    assert result.texts[-1] == "Is this your first visit to Riverside Family Clinic?"


def test_medical_advice_is_declined_and_the_booking_continues(engine: Engine) -> None:
    _, result = chat(engine, "I need to see a dermatologist", "What cream should I use?")
    assert result.intent == "medical_advice"
    assert "I can't give medical advice" in result.texts[0]
    assert result.texts[-1].startswith(DATE_PROMPT)


def test_receptionist_handoff_then_carry_on_where_we_left_off(engine: Engine) -> None:
    session, result = chat(engine, *TO_CONFIRMATION[:4], "can I talk to a receptionist?")
    assert result.state == "handoff"
    assert "call you back" in said(result)

    result = engine.handle(session, "yes")
    assert result.state == "contact_details"
    assert result.texts == [PHONE_PROMPT]


# ---- emergencies --------------------------------------------------------------------------


@pytest.mark.parametrize("message", [
    "I have chest pain",
    "I can't breathe",
    "this is an emergency",
    "my son is bleeding",
])
def test_emergency_mid_booking_says_call_911_at_once(engine: Engine, message: str) -> None:
    _, result = chat(engine, "I need to see a dermatologist", message)
    assert result.intent == "emergency"
    assert result.state == "emergency"
    assert "call 911" in result.texts[0]


def test_after_an_emergency_the_booking_can_carry_on(engine: Engine) -> None:
    session, _ = chat(engine, "I need to see a dermatologist", "I have chest pain")
    result = engine.handle(session, "continue")
    assert result.state == "booking"
    assert result.texts[-1].startswith(DATE_PROMPT)
    assert result.slots["specialty"] == "dermatology"


@pytest.mark.parametrize(("before", "message"), [
    ((), "I need a doctor, I can't breathe"),  # the greeting's own 'book' intent
    (TO_CONFIRMATION, "no wait, I'm bleeding"),  # an answer to the confirmation
    (TO_CONFIRMATION[:2], "yes, and I have chest pains"),  # an answer to 'first visit?'
    (TO_CONFIRMATION[:3], "I'm bleeding"),  # "I'm ..." introduces a name
])
def test_emergency_wins_over_whatever_else_the_message_says(
        engine: Engine, before: tuple[str, ...], message: str) -> None:
    session, _ = chat(engine, *before)
    state = session.state
    result = engine.handle(session, message)
    assert result.state == "emergency"
    assert "call 911" in result.texts[0]

    # Coming back asks the question again instead of taking the yes or no.
    result = engine.handle(session, "continue")
    assert result.state == state
    assert "booking_ref" not in result.slots


# ---- existing appointments -----------------------------------------------------------------


def test_cancel_an_existing_appointment_by_its_reference(engine: Engine) -> None:
    session, result = chat(engine, "I want to cancel my appointment")
    assert result.state == "cancel_existing"
    assert "AB-1234" in said(result)  # the prompt shows the format

    result = engine.handle(session, "it's ab-1234")
    assert result.slots["reference"] == "AB-1234"
    assert result.texts[-1] == "Shall I cancel appointment AB-1234?"

    result = engine.handle(session, "yes")
    assert result.texts[0] == ("Done, appointment AB-1234 is cancelled. "
                               "You'll get a text to confirm it.")
    assert result.state == "anything_else"


def test_reschedule_an_existing_appointment_in_one_message(engine: Engine) -> None:
    session, result = chat(engine, "Please move appointment XY-9876 to Friday")
    assert result.intent == "reschedule"
    assert result.slots["reference"] == "XY-9876"
    assert result.texts[-1] == "Shall I move appointment XY-9876 to Friday 4 December 2026?"

    result = engine.handle(session, "yes")
    assert "moved to Friday 4 December 2026" in result.texts[0]


def test_a_bare_reference_asks_whether_to_reschedule_or_cancel(engine: Engine) -> None:
    session, result = chat(engine, "GH-4321")
    assert result.state == "manage_existing"
    assert result.texts[-1] == "Would you like to reschedule appointment GH-4321, or cancel it?"

    result = engine.handle(session, "cancel")  # here it answers the question
    assert result.state == "confirm_cancel"

    result = engine.handle(session, "no")
    assert result.texts[0] == "OK, I've left appointment GH-4321 as it was."


def test_a_malformed_reference_is_asked_for_again(engine: Engine) -> None:
    _, result = chat(engine, "I want to cancel my appointment", "1234")
    assert "reference" not in result.slots
    assert "two letters, a dash and four digits" in said(result)


# ---- restart and goodbye -------------------------------------------------------------------


def test_restart_mid_booking_forgets_everything(engine: Engine) -> None:
    _, result = chat(engine, *TO_CONFIRMATION[:4], "start over")
    assert result.state == "greet"
    assert result.slots == {}
    assert result.texts[0] == "Sure, let's start over."
    assert "welcome to Riverside Family Clinic" in said(result)


def test_goodbye_ends_the_conversation(engine: Engine) -> None:
    session, result = chat(engine, "I need to see a dermatologist", "bye")
    assert result.state == "goodbye"
    assert result.ended is True
    assert "goodbye" in said(result)

    result = engine.handle(session, "hello")  # a new conversation starts
    assert result.ended is False
    assert result.slots == {}


def test_saying_no_to_anything_else_says_goodbye(engine: Engine) -> None:
    session, _ = chat(engine, *TO_CONFIRMATION, "yes")
    result = engine.handle(session, "no thanks")
    assert result.state == "goodbye"
    assert result.ended is True


def test_a_phone_number_containing_112_is_not_an_emergency(engine: Engine) -> None:
    session = engine.new_session("phone")
    engine.start(session)
    assert engine.handle(session, "911").state == "emergency"
    session = engine.new_session("phone2")
    engine.start(session)
    assert engine.handle(session, "I need to call 112").state == "emergency"
    result = engine.handle(engine.new_session("p3"), "my number is 555 112 3456")
    assert result.state != "emergency"
