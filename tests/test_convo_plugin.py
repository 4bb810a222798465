"""The conversation-test plugin itself, through inner pytest runs (`pytester`): snapshots
written, compared, accepted and cleaned up; cassettes recorded and replayed; inline
expectations, stubs, broken test files, coverage, and the `flowbot test` command.

Each test builds a tiny shop flow in its own folder, so failure messages are short
and exact. Inner runs are in-process (fast); the plugin and syrupy are loaded the way
a user gets them, through their installed pytest11 entry points.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner, Result

from cli import main
from engine.testing.fake_openai import FakeOpenAI, FakeReply

pytest_plugins = ["pytester"]

FLOW = r"""
flow: shop
start: hello
llm: {model: gpt-4o-mini, system: "You are the assistant of a small shop."}
data: {items: data/items.csv}
slots:
  item: {type: enum, values_from: items.name, prompt: "Which item?"}
  day: {type: date, prompt: "Which day?"}
  code: {type: text}
intents:
  price: {patterns: ['\bprice\b'], slots: [item]}
  visit: {patterns: ['\bvisit\b'], slots: [day]}
  bye: {patterns: ['^bye\b']}
states:
  hello:
    say: {text: "Hello! Ask me a price or plan a visit.", buttons: [Prices, Visit]}
    prompt: "The customer has just arrived: find out what they want."
    on: {price: price, visit: visit, bye: goodbye}
  price:
    collect: [item]
    do:
      - {lookup: items, where: "name == slots.item", one: true, as: row}
      - {python: shop_actions.discount}
    say: {text: "The {{ item }} costs {{ row.price }}. Code {{ code }}.", buttons: [Visit]}
    on: {price: price, visit: visit, bye: goodbye}
  visit:
    collect: [day]
    say: "See you on {{ day }}."
    on: {price: price, bye: goodbye}
  goodbye: {say: "Bye!", final: true}
"""

ACTIONS = '''
def discount(slots, data):
    return {"code": "REAL"}
'''

ITEMS = "name,price\npen,2\nbook,12\n"

CONVO = """
flow: shop.yaml
cases:
  prices:
    turns:
      - what is the price of the pen
      - visit tomorrow
  bye:
    turns:
      - bye
"""

OPEN_QUESTION = "do you sell umbrellas"
RECORD_HINT = "flowbot test shop.convo.yaml --record"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def shop(pytester: pytest.Pytester, convo: str = CONVO,
         name: str = "shop.convo.yaml") -> Path:
    """The shop flow, its action module and data table, and one conversation test file."""
    root = pytester.path
    write(root / "shop.yaml", FLOW)
    write(root / "shop_actions.py", ACTIONS)
    write(root / "data" / "items.csv", ITEMS)
    return write(root / name, convo)


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_inprocess("-p", "no:cacheprovider", *args)


def output(result: pytest.RunResult) -> str:
    return result.stdout.str() + result.stderr.str()


def snapshots(pytester: pytest.Pytester) -> dict[str, str]:
    """Every stored snapshot, as `STEM/CASE.yaml` -> text."""
    folder = pytester.path / "__snapshots__"
    return {str(p.relative_to(folder)): p.read_text("utf-8")
            for p in sorted(folder.rglob("*.yaml"))} if folder.exists() else {}


def accepted(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    """Run with --snapshot-update and insist that it passed."""
    result = run(pytester, "--snapshot-update", *args)
    assert result.ret == 0, output(result)
    return result


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text("utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")


# ---- snapshots --------------------------------------------------------------------------

def test_a_new_case_fails_until_snapshot_update_writes_its_snapshot(
        pytester: pytest.Pytester) -> None:
    shop(pytester)

    first = run(pytester)
    assert first.ret == 1
    text = output(first)
    assert ("shop.convo.yaml::prices: there is no snapshot of this case yet "
            "(__snapshots__/shop.convo/prices.yaml)") in text
    assert "differs" not in text
    assert "write it with flowbot test --update" in text
    assert "--snapshot-update" in text

    accepted(pytester)
    stored = pytester.path / "__snapshots__" / "shop.convo" / "prices.yaml"
    transcript = yaml.safe_load(stored.read_text("utf-8"))
    assert transcript["case"] == "prices" and transcript["flow"] == "shop"
    assert [turn["turn"] for turn in transcript["turns"]] == [0, 1, 2]
    assert transcript["turns"][1]["user"] == "what is the price of the pen"
    assert transcript["turns"][1]["bot"] == [{"text": "The pen costs 2. Code REAL.",
                                              "buttons": ["Visit"]}]
    assert transcript["turns"][2]["bot"] == ["See you on 2026-01-06."]
    assert set(snapshots(pytester)) == {"shop.convo/prices.yaml", "shop.convo/bye.yaml"}

    again = run(pytester)
    assert again.ret == 0, output(again)
    again.assert_outcomes(passed=2)


@pytest.fixture
def changed_reply(pytester: pytest.Pytester) -> Path:
    """Snapshots written, then one reply of the flow changed."""
    shop(pytester)
    accepted(pytester)
    edit(pytester.path / "shop.yaml", "See you on", "We expect you on")
    return pytester.path / "shop.yaml"


def test_a_changed_reply_fails_naming_the_file_case_turn_and_both_versions(
        pytester: pytest.Pytester, changed_reply: Path) -> None:
    result = run(pytester)
    assert result.ret == 1
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines([
        "shop.convo.yaml::prices: the conversation differs from its snapshot "
        "__snapshots__/shop.convo/prices.yaml",
        "turn 2 'visit tomorrow', line 6:",
        "  bot[0]:",
        "    - See you on 2026-01-06.",
        "    + We expect you on 2026-01-06.",
        "If the new behaviour is right, accept it with: flowbot test --update "
        "(pytest: --snapshot-update)",
    ], consecutive=True)
    assert "Traceback" not in output(result)


def test_snapshot_update_accepts_a_changed_reply(pytester: pytest.Pytester,
                                                 changed_reply: Path) -> None:
    accepted(pytester)
    stored = snapshots(pytester)["shop.convo/prices.yaml"]
    assert "We expect you on 2026-01-06." in stored and "See you on" not in stored
    again = run(pytester)
    assert again.ret == 0, output(again)
    again.assert_outcomes(passed=2)


def test_a_removed_case_leaves_an_unused_snapshot_that_update_deletes(
        pytester: pytest.Pytester) -> None:
    convo = shop(pytester)
    accepted(pytester)
    edit(convo, "  bye:\n    turns:\n      - bye\n", "")

    result = run(pytester, "--snapshot-details")
    assert result.ret == 1
    result.assert_outcomes(passed=1)
    text = output(result)
    assert "1 snapshot unused" in text
    assert "Unused bye (__snapshots__/shop.convo/bye.yaml)" in text  # --snapshot-details

    before = snapshots(pytester)
    accepted(pytester)
    after = snapshots(pytester)
    assert set(before) - set(after) == {"shop.convo/bye.yaml"}
    assert after == {name: before[name] for name in after}


OTHER = """
flow: shop.yaml
cases:
  elsewhere:
    turns:
      - what is the price of the book
"""

SELECTIONS = {
    "keyword": ["-k", "prices"],
    "deselect": ["--deselect", "shop.convo.yaml::bye"],
    "one_file": ["shop.convo.yaml"],
    "ignore": ["--ignore", "other.convo.yaml"],
}


@pytest.mark.parametrize("selection", SELECTIONS.values(), ids=SELECTIONS.keys())
def test_update_keeps_the_snapshots_of_cases_and_files_not_run(
        pytester: pytest.Pytester, selection: list[str]) -> None:
    shop(pytester)
    write(pytester.path / "other.convo.yaml", OTHER)
    accepted(pytester)
    before = snapshots(pytester)
    assert set(before) == {"shop.convo/prices.yaml", "shop.convo/bye.yaml",
                           "other.convo/elsewhere.yaml"}

    accepted(pytester, *selection)
    assert snapshots(pytester) == before


# ---- the model: cassettes -----------------------------------------------------------------

def test_a_turn_without_a_recorded_answer_fails_and_keeps_the_old_snapshot(
        pytester: pytest.Pytester) -> None:
    convo = shop(pytester)
    accepted(pytester)
    before = snapshots(pytester)
    edit(convo, "      - visit tomorrow\n", f"      - {OPEN_QUESTION}\n")
    with convo.open("a", encoding="utf-8") as file:  # and a new case, never run before
        file.write(f"  brand_new:\n    turns: ['{OPEN_QUESTION}']\n")

    for update in ([], ["--snapshot-update"]):
        result = run(pytester, *update)
        assert result.ret == 1
        result.assert_outcomes(passed=1, failed=2)
        text = output(result)
        assert "shop.convo.yaml::prices failed" in text
        assert (f"shop.convo.yaml:6: case 'prices', turn 2 ('{OPEN_QUESTION}'): "
                "the turn could not run: no recorded answer") in text
        assert (f"shop.convo.yaml:11: case 'brand_new', turn 1 ('{OPEN_QUESTION}'): "
                "the turn could not run: no recorded answer") in text
        failures = text.split("short test summary info")[0]  # (CI=true repeats them)
        assert failures.count(RECORD_HINT) == 2
        assert "Traceback" not in text
        assert snapshots(pytester) == before, update  # nothing deleted, rewritten or cut short


def test_record_writes_the_cassette_and_a_plain_run_replays_it(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    shop(pytester, CONVO.replace("visit tomorrow", OPEN_QUESTION))
    cassette = pytester.path / "cassettes" / "shop.llm.yaml"
    with FakeOpenAI(default=FakeReply(text="Sorry, no umbrellas here.")) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        accepted(pytester, "--flowbot-record")
        assert len(server.chat_requests) == 1
    monkeypatch.delenv("OPENAI_BASE_URL")
    assert cassette.is_file()
    assert "Sorry, no umbrellas here." in snapshots(pytester)["shop.convo/prices.yaml"]

    replayed = run(pytester)
    assert replayed.ret == 0, output(replayed)
    replayed.assert_outcomes(passed=2)


def test_record_without_a_model_stops_once_before_any_case_runs(
        pytester: pytest.Pytester) -> None:
    shop(pytester)
    result = run(pytester, "--flowbot-record")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    text = output(result)
    assert text.count("--record needs a model: set OPENAI_API_KEY (or OPENAI_BASE_URL") == 1
    assert "Traceback" not in text
    assert not (pytester.path / "cassettes").exists()


# ---- inline expectations ------------------------------------------------------------------

def test_a_wrong_expected_state_names_the_file_line_case_and_turn(
        pytester: pytest.Pytester) -> None:
    shop(pytester, """
        flow: shop.yaml
        cases:
          wrong_state:
            turns:
              - user: what is the price of the pen
                expect: {state: visit}
        """)
    result = run(pytester, "--snapshot-update")
    assert result.ret == 1
    result.stdout.fnmatch_lines([
        "shop.convo.yaml:5: case 'wrong_state', turn 1 ('what is the price of the pen'): "
        "expected state 'visit', got 'price'"])


EXPECTATIONS = {
    "says": ("{says: costs 3}", "expected the reply to say 'costs 3'; "
                                "it said 'The pen costs 2. Code REAL.'"),
    "not_says": ("{not_says: PEN}", "expected the reply not to say 'PEN'"),
    "matches": (r"{matches: 'costs \d\d'}", r"expected the reply to match /costs \d\d/"),
    "slots": ("{slots: {item: book, day: null}}", "expected slot 'item' = 'book', got 'pen'"),
    "buttons": ("{buttons: [Visit, Checkout]}",
                "expected buttons ['Checkout']; offered ['Visit']"),
    "intent": ("{intent: visit}", "expected intent 'visit', got 'price'"),
    "no_intent": ("{intent: null}", "expected intent null, got 'price'"),
    "route": ("{route: llm}", "expected route 'llm', got 'rule'"),
    "llm": ("{llm: true}", "expected the model to be asked"),
    "ended": ("{ended: true}", "expected the conversation to end"),
}


@pytest.mark.parametrize(("expect", "message"), EXPECTATIONS.values(), ids=EXPECTATIONS.keys())
def test_each_kind_of_expectation_reports_what_did_not_hold(
        pytester: pytest.Pytester, expect: str, message: str) -> None:
    shop(pytester, f"""
        flow: shop.yaml
        cases:
          wrong:
            turns:
              - user: what is the price of the pen
                expect: {expect}
          right:
            turns:
              - user: what is the price of the pen
                expect: {{state: price, intent: price, route: rule, slots: {{item: pen}},
                          says: [pen, COSTS 2], not_says: book, matches: 'Code [A-Z]+',
                          buttons: [Visit], llm: false, ended: false}}
              - user: bye
                expect: {{state: goodbye, ended: true}}
        """)
    result = run(pytester, "--snapshot-update")
    assert result.ret == 1
    result.assert_outcomes(passed=1, failed=1)
    where = "shop.convo.yaml:5: case 'wrong', turn 1 ('what is the price of the pen'): "
    reported = [line for line in output(result).splitlines() if line.startswith(where)]
    assert len(reported) == 1 and reported[0].startswith(where + message), reported


# ---- broken test files ----------------------------------------------------------------------

BROKEN = {
    "unknown_key": ("""
        flow: shop.yaml
        cases:
          one:
            turns: [hello]
            expct: {state: hello}
        """, "shop.convo.yaml:5:5: error: unknown key 'expct' in cases.one"),
    "unknown_state": ("""
        flow: shop.yaml
        cases:
          one:
            turns:
              - user: hello
                expect: {state: helo}
        """, "shop.convo.yaml:6:25: error: the flow has no state 'helo' (did you mean 'hello'?)"),
    "bad_flow_path": ("""
        flow: nowhere.yaml
        cases:
          one:
            turns: [hello]
        """, "shop.convo.yaml:1:7: error: the flow does not load: "
            "nowhere.yaml:1:1: error: no such file"),
    "yaml_syntax": ("""
        flow: shop.yaml
        cases:
          one:
            turns: [hello
        """, "shop.convo.yaml:5:1: error: YAML syntax: did not find expected ',' or ']'"),
}


@pytest.mark.parametrize(("convo", "message"), BROKEN.values(), ids=BROKEN.keys())
def test_a_broken_test_file_is_a_collection_error_without_a_traceback(
        pytester: pytest.Pytester, convo: str, message: str) -> None:
    shop(pytester, convo)
    result = run(pytester)
    assert result.ret == pytest.ExitCode.INTERRUPTED
    text = output(result)
    assert message in text
    assert "ERROR collecting shop.convo.yaml" in text
    assert "Traceback" not in text and ".py:" not in text


# ---- where a case starts, stubs and the date --------------------------------------------

def test_start_begins_mid_flow_with_what_that_state_says_on_arrival(
        pytester: pytest.Pytester) -> None:
    shop(pytester, """
        flow: shop.yaml
        cases:
          mid:
            start: {state: price, slots: {item: book}}
            turns:
              - user: bye
                expect: {state: goodbye, ended: true}
        """)
    accepted(pytester)
    transcript = yaml.safe_load(snapshots(pytester)["shop.convo/mid.yaml"])
    assert transcript["start"] == {"state": "price", "slots": {"item": "book"}}
    arrival = transcript["turns"][0]
    assert arrival["turn"] == 0 and arrival["state"] == "price" and "user" not in arrival
    assert arrival["bot"] == [{"text": "The book costs 12. Code REAL.", "buttons": ["Visit"]}]


def test_an_action_stub_returns_its_slot_values_instead_of_the_python_action(
        pytester: pytest.Pytester) -> None:
    shop(pytester, """
        flow: shop.yaml
        actions:
          shop_actions.discount: {returns: {code: STUB}}
        cases:
          stubbed:
            turns:
              - user: what is the price of the pen
                expect: {slots: {code: STUB}, says: Code STUB, not_says: REAL}
        """)
    accepted(pytester)


def test_inline_data_rows_replace_the_flows_table(pytester: pytest.Pytester) -> None:
    shop(pytester, """
        flow: shop.yaml
        data:
          items: [{name: pen, price: 99}]
        cases:
          pricier:
            turns:
              - user: what is the price of the pen
                expect: {says: The pen costs 99.}
        """)
    accepted(pytester)


def test_inline_data_rows_also_give_the_values_of_enum_slots_drawn_from_the_table(
        pytester: pytest.Pytester) -> None:
    shop(pytester, """
        flow: shop.yaml
        data:
          items: [{name: lamp, price: 40}]
        cases:
          new_item:
            turns:
              - user: what is the price of the lamp
                expect: {slots: {item: lamp}, says: The lamp costs 40.}
        """)
    accepted(pytester)


def test_today_freezes_the_date_for_the_file_and_for_one_case(
        pytester: pytest.Pytester) -> None:
    shop(pytester, """
        flow: shop.yaml
        today: "2026-03-10"
        cases:
          file_date:
            turns:
              - user: visit tomorrow
                expect: {slots: {day: "2026-03-11"}, says: See you on 2026-03-11.}
          new_year:
            today: "2026-12-31"
            turns:
              - user: visit tomorrow
                expect: {slots: {day: "2027-01-01"}}
        """)
    accepted(pytester)


# ---- coverage ---------------------------------------------------------------------------

def test_coverage_prints_a_table_and_writes_json(pytester: pytest.Pytester) -> None:
    shop(pytester)
    result = accepted(pytester, "--flowbot-coverage=cov.json")
    result.stdout.fnmatch_lines([
        "*= flowbot coverage =*",
        "flow  states*transitions*intents*slots*total",
        "shop  4/4 (100.0%)*",
        "  not covered:",
        "coverage written to cov.json",
    ])
    report = json.loads((pytester.path / "cov.json").read_text("utf-8"))
    (flow,) = report["flows"]
    assert flow["name"] == "shop" and flow["path"] == "shop.yaml"
    assert flow["states"] == {"covered": 4, "total": 4, "percent": 100.0, "missing": []}
    assert "hello --visit--> visit" in flow["transitions"]["missing"]
    assert 0 < flow["total_percent"] < 100


def test_min_coverage_fails_a_run_whose_tests_all_passed(pytester: pytest.Pytester) -> None:
    shop(pytester)
    accepted(pytester)
    result = run(pytester, "--flowbot-min-coverage", "100")
    assert result.ret == 1
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["FAIL: coverage of shop (shop.yaml): *% < 100%"])
    assert not (pytester.path / "flowbot-coverage.json").exists()  # no JSON unless asked

    enough = run(pytester, "--flowbot-min-coverage", "10")
    assert enough.ret == 0, output(enough)
    assert "FAIL: coverage" not in output(enough)


# ---- snapshots kept when a case cannot run at all -----------------------------------------

@pytest.mark.parametrize("breakage", ["record_without_a_model", "unreadable_cassette"])
def test_update_keeps_the_snapshots_when_the_model_cannot_be_set_up(
        pytester: pytest.Pytester, breakage: str) -> None:
    shop(pytester)
    accepted(pytester)
    before = snapshots(pytester)
    if breakage == "record_without_a_model":
        result = run(pytester, "--snapshot-update", "--flowbot-record")
    else:
        write(pytester.path / "cassettes" / "shop.llm.yaml", "{{{ not yaml\n")
        result = run(pytester, "--snapshot-update")
    assert result.ret != 0
    assert snapshots(pytester) == before


def test_update_with_exitfirst_keeps_the_snapshots_of_cases_not_reached(
        pytester: pytest.Pytester) -> None:
    convo = shop(pytester)
    accepted(pytester)
    before = snapshots(pytester)
    edit(convo, "      - what is the price of the pen\n",
         "      - {user: what is the price of the pen, expect: {state: visit}}\n")
    result = run(pytester, "--snapshot-update", "-x")
    assert result.ret == 1
    assert set(snapshots(pytester)) == set(before)


# ---- the `flowbot test` command ---------------------------------------------------------

def flowbot_test(*args: str) -> Result:
    """`flowbot test ARGS` in the current folder (pytester's); its pytest is a child
    process, whose output reaches the file descriptors (capfd), not the runner."""
    return CliRunner().invoke(main, ["test", *args])


def test_flowbot_test_without_convo_files_exits_5_and_says_so(
        pytester: pytest.Pytester) -> None:
    write(pytester.path / "shop.yaml", FLOW)
    result = flowbot_test()
    assert result.exit_code == 5
    assert "no *.convo.yaml conversation test files under this folder" in result.output


def test_flowbot_test_with_a_missing_path_exits_4(pytester: pytest.Pytester) -> None:
    shop(pytester)
    result = flowbot_test("shop.convo.yaml", "nowhere")
    assert result.exit_code == 4
    assert "flowbot test: no such file or folder: nowhere" in result.output


def test_flowbot_test_refuses_a_file_that_is_not_a_conversation_test(
        pytester: pytest.Pytester) -> None:
    shop(pytester)
    result = flowbot_test("shop.yaml")
    assert result.exit_code == 4
    assert "not a conversation test file (*.convo.yaml): shop.yaml" in result.output


def test_flowbot_test_update_writes_the_snapshots_then_a_plain_run_passes(
        pytester: pytest.Pytester, capfd: pytest.CaptureFixture[str]) -> None:
    shop(pytester)
    assert flowbot_test("--update").exit_code == 0
    assert "2 snapshots generated." in capfd.readouterr().out
    assert set(snapshots(pytester)) == {"shop.convo/prices.yaml", "shop.convo/bye.yaml"}

    assert flowbot_test().exit_code == 0
    out = capfd.readouterr().out
    assert "2 snapshots passed." in out and "2 passed" in out


def test_flowbot_test_k_runs_only_the_matching_cases(
        pytester: pytest.Pytester, capfd: pytest.CaptureFixture[str]) -> None:
    shop(pytester)
    accepted(pytester)
    edit(pytester.path / "shop.yaml", "See you on", "We expect you on")  # `prices` now fails
    capfd.readouterr()

    result = flowbot_test("-k", "bye", "-v")
    out = capfd.readouterr().out
    assert result.exit_code == 0, out
    assert "shop.convo.yaml::bye PASSED" in out
    assert "1 passed, 1 deselected" in out and "prices" not in out


# ---- parallel runs and markers --------------------------------------------------------------

def test_parallel_runs_write_the_same_snapshots_and_report_the_whole_coverage(
        pytester: pytest.Pytester) -> None:
    shop(pytester)
    shop(pytester, CONVO.replace("prices:", "more_prices:").replace("bye:", "bye_again:"),
         name="other.convo.yaml")
    accepted(pytester, "-n", "2")
    written = snapshots(pytester)
    assert len(written) == 4
    parallel = run(pytester, "-n", "2", "--flowbot-coverage=parallel.json")
    serial = run(pytester, "--flowbot-coverage=serial.json")
    assert parallel.ret == serial.ret == 0, output(parallel)
    both = [json.loads((pytester.path / f"{n}.json").read_text("utf-8"))
            for n in ("parallel", "serial")]
    assert both[0] == both[1]
    assert both[0]["flows"][0]["states"]["covered"] == 4  # hello, price, visit, goodbye
    assert snapshots(pytester) == written


def test_recording_refuses_to_run_in_parallel(pytester: pytest.Pytester) -> None:
    shop(pytester)
    result = run(pytester, "-n", "2", "--flowbot-record")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "--flowbot-record cannot run with pytest-xdist" in output(result)


def test_cases_carry_the_flowbot_marker_and_their_own_marks(
        pytester: pytest.Pytester) -> None:
    shop(pytester, CONVO.replace("  bye:\n", "  bye:\n    marks: [smoke]\n"))
    write(pytester.path / "pytest.ini", "[pytest]\nmarkers =\n    smoke: quick checks\n")
    accepted(pytester)
    smoke = run(pytester, "-m", "smoke", "--strict-markers")
    smoke.assert_outcomes(passed=1, deselected=1)
    run(pytester, "-m", "not flowbot").assert_outcomes(deselected=2)


def test_with_syrupy_disabled_python_tests_still_run_and_convo_files_say_why_not(
        pytester: pytest.Pytester) -> None:
    shop(pytester)
    write(pytester.path / "test_plain.py", "def test_ok():\n    assert True\n")
    run(pytester, "-p", "no:syrupy", "test_plain.py").assert_outcomes(passed=1)
    result = run(pytester, "-p", "no:syrupy")
    result.assert_outcomes(errors=1)
    text = output(result)
    assert "conversation tests need the syrupy pytest plugin" in text
    assert "INTERNALERROR" not in text and "Traceback" not in text


def test_a_stored_snapshot_that_is_not_a_transcript_is_said_so(
        pytester: pytest.Pytester) -> None:
    shop(pytester)
    accepted(pytester)
    write(pytester.path / "__snapshots__" / "shop.convo" / "bye.yaml", "- just\n- a list\n")
    result = run(pytester, "-k", "bye")
    assert result.ret == 1
    assert "the stored snapshot is not a conversation transcript" in output(result)
