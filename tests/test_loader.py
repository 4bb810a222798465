"""The loader through the Python API: every kind of bad flow is reported, at the right
line and column, with a message a flow author understands, and never as a traceback.

Each fixture in tests/fixtures/bad/ carries its own expectations as comments:
`# expect: LINE:COL error|warning MESSAGE-PREFIX`, one per problem it must produce.
"""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

import jsonschema
import pytest

from engine import Diagnostic, FlowError, check_flow, load_flow, loader, schema, yamlsrc
from engine.data import DataFileError, read_table
from engine.loader import flow_schema, schema_path
from engine.yamlsrc import Position, YamlSyntaxError, load_yaml

ROOT = Path(__file__).parent.parent
FIXTURES = Path(__file__).parent / "fixtures"
BAD = sorted((FIXTURES / "bad").glob("*.yaml"))
GOOD = sorted((FIXTURES / "good").glob("*.yaml"))
SHIPPED = sorted(p for p in (ROOT / "flows").glob("*.yaml") if not p.name.endswith(".convo.yaml"))
EXPECT = re.compile(r"^# expect: (\d+):(\d+) (error|warning) (.+)$", re.MULTILINE)


@dataclass(frozen=True)
class Expected:
    line: int
    column: int
    severity: str
    message: str  # the start of the diagnostic's message


def expectations(path: Path) -> list[Expected]:
    found = [Expected(int(line), int(col), severity, message.strip())
             for line, col, severity, message in EXPECT.findall(path.read_text("utf-8"))]
    assert found, f"{path.name} has no '# expect:' comment"
    return found


def matches(diagnostic: Diagnostic, expected: Expected) -> bool:
    return ((diagnostic.line, diagnostic.column, diagnostic.severity)
            == (expected.line, expected.column, expected.severity)
            and diagnostic.message.startswith(expected.message))


def write(tmp_path: Path, text: str, name: str = "flow.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


MINIMAL = "flow: demo\nstart: hello\nstates:\n  hello: {say: Hi!, final: true}\n"


# --- every fixture: exactly its expected problems --------------------------------------


@pytest.mark.parametrize("fixture", BAD, ids=lambda p: p.stem)
def test_bad_fixture_reports_exactly_its_expected_problems(fixture: Path) -> None:
    expected = expectations(fixture)
    report = check_flow(fixture)
    assert len(report.diagnostics) == len(expected), "\n".join(
        d.format() for d in report.diagnostics)
    for want in expected:
        assert any(matches(d, want) for d in report.diagnostics), (
            f"expected {want}, got:\n" + "\n".join(d.format() for d in report.diagnostics))


@pytest.mark.parametrize("fixture", BAD, ids=lambda p: p.stem)
def test_load_flow_raises_flow_error_for_a_fixture_with_errors(fixture: Path) -> None:
    expected = expectations(fixture)
    if all(e.severity == "warning" for e in expected):
        assert load_flow(fixture).name == "demo"  # warnings alone do not stop a load
        return
    with pytest.raises(FlowError) as caught:
        load_flow(fixture)
    assert len(caught.value.errors) == sum(e.severity == "error" for e in expected)
    assert all(line.startswith(f"{fixture}:") for line in caught.value.format().splitlines())


@pytest.mark.parametrize("fixture", BAD + GOOD, ids=lambda p: p.stem)
def test_every_fixture_declares_the_flow_schema_for_editors(fixture: Path) -> None:
    first = fixture.read_text("utf-8").splitlines()[0]
    assert first == "# yaml-language-server: $schema=../../../schemas/flow.schema.json"
    assert (fixture.parent / "../../../schemas/flow.schema.json").resolve() == schema_path()


@pytest.mark.parametrize("flow", GOOD + SHIPPED, ids=lambda p: p.stem)
def test_good_and_shipped_flows_load_without_any_diagnostic(flow: Path) -> None:
    report = check_flow(flow)
    assert report.diagnostics == []
    assert report.flow is not None


def test_every_semantic_problem_is_reported_not_just_the_first() -> None:
    report = check_flow(FIXTURES / "bad" / "multiple_errors.yaml")
    assert [(d.line, d.message.split(" (")[0]) for d in report.errors] == [
        (12, "unknown state 'don'"),
        (13, "unknown intent 'byee'"),
        (15, "unknown slot 'nam'"),
    ]


def test_diagnostics_come_sorted_by_position() -> None:
    report = check_flow(FIXTURES / "bad" / "schema_bad_transition.yaml")
    positions = [(d.line, d.column) for d in report.diagnostics]
    assert positions == sorted(positions)


# --- YAML: JSON's data model, positions, no surprises --------------------------------


def test_yes_no_on_off_stay_strings_and_only_true_false_are_booleans() -> None:
    data, _ = load_yaml("on: yes\nno: off\nyes: [y, n, True, false]\n")
    assert data == {"on": "yes", "no": "off", "yes": ["y", "n", True, False]}


def test_flow_with_intents_named_yes_and_no_keeps_them_as_strings() -> None:
    flow = load_flow(FIXTURES / "good" / "yaml11_words.yaml")
    assert list(flow.intents) == ["yes", "no", "on", "off"]
    assert [t.intent for t in flow.states["ask"].transitions] == ["yes", "no", "on", "off"]
    assert flow.slots["answer"].parser.values == ("yes", "no", "maybe")


def test_dates_and_numeric_keys_stay_as_written() -> None:
    data, _ = load_yaml("when: 2024-01-01\n1: one\n0x1: hex\n")
    assert data == {"when": "2024-01-01", "1": "one", "0x1": "hex"}


def test_duplicate_keys_are_rejected_with_both_lines() -> None:
    with pytest.raises(YamlSyntaxError) as caught:
        load_yaml("a: 1\nb:\n  c: 2\n  c: 3\na: 4\n")
    assert [(p.position.line, p.message) for p in caught.value.problems] == [
        (4, "duplicate key 'c' (first defined at line 3)"),
        (5, "duplicate key 'a' (first defined at line 1)"),
    ]


def test_keys_are_duplicates_when_they_are_the_same_string() -> None:
    data, _ = load_yaml("on: 1\nOn: 2\n")
    assert data == {"on": 1, "On": 2}
    with pytest.raises(YamlSyntaxError, match="duplicate key 'on'"):
        load_yaml("on: 1\n'on': 2\n")


def test_source_map_knows_where_keys_and_values_are() -> None:
    _, sources = load_yaml("states:\n  hello:\n    say: [Hi, 'Hello there']\n")
    assert sources.key(("states", "hello")) == Position(2, 3)
    assert sources.value(("states", "hello", "say", 1)) == Position(3, 15)
    assert sources.value(("states", "hello", "nothing", "here")) == Position(3, 5)


@pytest.mark.parametrize(
    ("text", "offset", "expected"),
    [
        ("x: price < 5\n", 8, Position(1, 12)),  # plain
        ("x: 'price < 5'\n", 8, Position(1, 13)),  # quoted: one more for the quote
        ("x: >-\n  price < 5\n  and size > 2\n", 10, Position(3, 3)),  # folded, line 2
        ("x: |\n  a\n  b {{ c\n", 4, Position(3, 5)),  # literal
        ("x: 'it''s < 5'\n", 8, Position(1, 4)),  # escapes: the value's start
        ("x: abc\n", 3, Position(1, 7)),  # just past the end
    ],
)
def test_a_character_inside_a_scalar_maps_to_its_line_and_column(
    text: str, offset: int, expected: Position
) -> None:
    data, sources = load_yaml(text)
    assert sources.within(("x",), data["x"], offset) == expected


def test_an_alias_cycle_is_an_error_not_a_recursion_crash() -> None:
    with pytest.raises(YamlSyntaxError, match="cycle"):
        load_yaml("a: &a [*a]\n")


def test_an_alias_bomb_is_stopped_before_it_expands(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(yamlsrc, "MAX_NODES", 10_000)  # the real limit takes a second
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    with pytest.raises(YamlSyntaxError, match="more than 10000 values"):
        load_yaml("\n".join(lines) + "\n")


def test_merge_keys_still_work() -> None:
    data, _ = load_yaml("base: &b {say: Hi}\nstate: {<<: *b, final: true}\n")
    assert data["state"] == {"say": "Hi", "final": True}


# --- files that are not flows -------------------------------------------------------


def only(path: Path) -> Diagnostic:
    report = check_flow(path)
    assert report.flow is None
    assert len(report.diagnostics) == 1, report.diagnostics
    return report.diagnostics[0]


def test_missing_path_is_one_clear_error(tmp_path: Path) -> None:
    found = only(tmp_path / "nowhere.yaml")
    assert (found.line, found.column, found.message) == (1, 1, "no such file")


def test_directory_is_one_clear_error(tmp_path: Path) -> None:
    assert only(tmp_path).message == "is a directory, not a flow file"


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_a_device_is_not_read_forever() -> None:
    assert only(Path("/dev/zero")).message == "not a regular file"


def test_a_file_too_large_is_refused_before_parsing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(loader, "MAX_FLOW_BYTES", 100)
    assert only(write(tmp_path, MINIMAL * 5)).message == (
        "file is too large (the limit is 100 bytes)")


def test_binary_file_is_one_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "binary.yaml"
    path.write_bytes(b"flow: demo\n\x00\x01\x02\xff")
    assert only(path).message.startswith("binary file")


def test_non_utf8_file_points_at_the_line_of_the_bad_byte(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("flow: demo\nstart: caf\xe9\n".encode("latin-1"))
    found = only(path)
    assert (found.line, found.message) == (2, "not UTF-8 text: a flow must be UTF-8 YAML")


@pytest.mark.parametrize("text", ["", "   \n\n", "# only a comment\n", "---\n"])
def test_empty_file_is_one_clear_error(tmp_path: Path, text: str) -> None:
    assert only(write(tmp_path, text)).message.startswith("empty file")


def test_several_yaml_documents_are_rejected(tmp_path: Path) -> None:
    found = only(write(tmp_path, MINIMAL + "---\n" + MINIMAL))
    assert found.message == ("YAML syntax: expected a single document in the stream, "
                             "but found another document")
    assert found.line == 5


def test_utf8_bom_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "bom.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + MINIMAL.encode())
    assert check_flow(path).diagnostics == []


def test_windows_line_endings_keep_lines_and_columns_right(tmp_path: Path) -> None:
    text = MINIMAL.replace("{say: Hi!, final: true}",
                           "\n    final: true\n    say: |\n      Hi\n      {{ nme }}\n")
    unix = check_flow(write(tmp_path, text, "unix.yaml")).diagnostics
    path = tmp_path / "windows.yaml"
    path.write_bytes(text.replace("\n", "\r\n").encode())
    windows = check_flow(path).diagnostics
    assert [(d.line, d.column) for d in windows] == [(d.line, d.column) for d in unix] == [
        (8, 10)]


# --- schema messages a human understands --------------------------------------------


@pytest.mark.parametrize(
    ("state", "message"),
    [
        ("{say: Hi, final: 1}", "states.hello.final: expected true or false, got the number 1"),
        ("{say: {text: [Hi, 2]}, final: true}",
         "states.hello.say.text[1]: expected a string, got the number 2"),
        ("{say: {text: Hi, buttons: [{titel: x}]}, final: true}",
         "unknown key 'titel' in states.hello.say.buttons[0] (did you mean 'title'?)"),
        ("{say: [], final: true}", "states.hello.say: must not be empty"),
        ("{say: true, final: true}",
         "states.hello.say: expected a text, a list of texts or a mapping with 'text', "
         "got true"),
        ("{say: Hi, final: true, do: [{clear: some}]}",
         "states.hello.do[0].clear: expected 'all' or a list of names, got the string 'some'"),
        ("{say: Hi, final: true, do: [{lookup: t}]}",
         "missing required key 'as' in states.hello.do[0]"),
        ("{say: Hi, next: [{goto: hello, wen: x}]}",
         "unknown key 'wen' in states.hello.next[0] (did you mean 'when'?)"),
        ("{say: Hi, final: true, bogus: 1}",
         "unknown key 'bogus' in states.hello; expected 'description', 'intro'"),
    ],
)
def test_schema_errors_name_the_place_and_the_problem_in_words(
    tmp_path: Path, state: str, message: str
) -> None:
    found = only(write(tmp_path, MINIMAL.replace("{say: Hi!, final: true}", state)))
    assert found.message.startswith(message)


def test_unknown_key_points_at_the_key_itself_not_its_parent(tmp_path: Path) -> None:
    text = "flow: demo\nstart: hello\nstates:\n  hello:\n    say: Hi\n    final: true\n" \
           "    colour: red\n    size: 3\n"
    report = check_flow(write(tmp_path, text))
    assert [(d.line, d.column, d.message.split(" in ")[0]) for d in report.diagnostics] == [
        (7, 5, "unknown key 'colour'"), (8, 5, "unknown key 'size'")]


def test_enum_errors_suggest_the_closest_value(tmp_path: Path) -> None:
    text = MINIMAL + "slots:\n  age: {type: nubmer}\n"
    found = only(write(tmp_path, text))
    assert (found.line, found.column) == (6, 15)
    assert found.message.endswith("(did you mean 'number'?)")


def test_a_mistyped_required_key_is_reported_once_as_a_typo(tmp_path: Path) -> None:
    report = check_flow(write(tmp_path, MINIMAL + "slots:\n  age: {tpye: number}\n"))
    assert [d.message for d in report.diagnostics] == [
        "unknown key 'tpye' in slots.age (did you mean 'type'?)"]


def test_the_schema_is_a_valid_draft_2020_12_schema() -> None:
    schema = json.loads(schema_path().read_text("utf-8"))
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)
    assert flow_schema() == schema


def test_the_schema_is_found_in_the_source_tree_when_not_packaged() -> None:
    assert schema_path() == ROOT / "schemas" / "flow.schema.json"


def test_the_schema_inside_the_package_is_preferred(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    packaged = tmp_path / "schemas" / "flow.schema.json"
    packaged.parent.mkdir()
    packaged.write_text("{}")
    monkeypatch.setattr(schema.resources, "files", lambda package: tmp_path)
    assert schema_path() == packaged


def test_the_wheel_puts_the_schema_where_the_package_looks_for_it() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
    force_include = pyproject["tool"]["hatch"]["build"]["targets"]["wheel"]["force-include"]
    assert force_include["schemas/flow.schema.json"] == "engine/schemas/flow.schema.json"


# --- meaning -------------------------------------------------------------------------


def test_a_condition_may_name_a_slot_a_python_action_sets_with_a_warning(tmp_path: Path) -> None:
    (tmp_path / "acts.py").write_text("def fill(slots, data):\n    return {'x': 1}\n")
    text = ("flow: demo\nstart: hello\nintents:\n  go: {patterns: [go]}\nstates:\n"
            "  hello:\n    do: [{python: acts.fill}]\n"
            "    on: {go: {when: 'slots.x == 1', goto: hello}}\n")
    report = check_flow(write(tmp_path, text))
    assert [(d.severity, d.line, d.column) for d in report.diagnostics] == [("warning", 8, 22)]
    assert report.flow is not None


def test_a_python_action_whose_module_fails_to_import_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "broken.py").write_text("raise RuntimeError('boom')\n")
    text = MINIMAL.replace("{say: Hi!, final: true}", "{do: [{python: broken.x}], final: true}")
    found = only(write(tmp_path, text))
    assert "importing broken.py failed: RuntimeError: boom" in found.message


def test_a_template_error_on_a_later_line_points_at_that_line(tmp_path: Path) -> None:
    text = MINIMAL.replace("{say: Hi!, final: true}",
                           "\n    final: true\n    say: |\n      Hi\n      there {{ 1 + }}\n")
    found = only(write(tmp_path, text))
    assert (found.line, found.column) == (8, 7)
    assert found.message.startswith("template syntax:")


def test_an_unknown_filter_is_a_template_error(tmp_path: Path) -> None:
    text = MINIMAL.replace("Hi!", "'{{ 5|monye }}'")
    assert only(write(tmp_path, text)).message.startswith("unknown filter 'monye'")


def test_state_intent_and_slot_names_may_be_any_identifier(tmp_path: Path) -> None:
    text = MINIMAL.replace("hello", "_Hello2")
    assert check_flow(write(tmp_path, text)).diagnostics == []


# --- data tables ---------------------------------------------------------------------


def test_data_tables_read_csv_json_and_yaml_alike(tmp_path: Path) -> None:
    (tmp_path / "t.csv").write_text("name,price\nA,5\nB,\n")
    (tmp_path / "t.json").write_text('[{"name": "A", "price": 5}, {"name": "B", "price": null}]')
    (tmp_path / "t.yaml").write_text("- {name: A, price: 5}\n- {name: B, price: null}\n")
    tables = [read_table(tmp_path / f"t.{suffix}") for suffix in ("csv", "json", "yaml")]
    assert tables[0] == tables[1] == tables[2] == ({"name": "A", "price": 5},
                                                   {"name": "B", "price": None})


def test_yaml_data_keeps_yes_and_dates_as_strings(tmp_path: Path) -> None:
    (tmp_path / "t.yaml").write_text("- {answer: yes, day: 2024-01-01}\n")
    assert read_table(tmp_path / "t.yaml") == ({"answer": "yes", "day": "2024-01-01"},)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("t.csv", "", "malformed data file 't.csv': the CSV file is empty"),
        ("t.csv", "a,a\n1,2\n", "malformed data file 't.csv': the CSV header needs unique"),
        ("t.json", '{"a": 1}', "malformed data file 't.json': the file must hold a list"),
        ("t.yaml", "- a: [1\n", "malformed YAML in 't.yaml' at line 2, column 1:"),
        ("t.csv", b"a\n\xff\n", "data file 't.csv' is not UTF-8 text"),
    ],
)
def test_malformed_data_files_give_one_line_reasons(
    tmp_path: Path, name: str, content: str | bytes, message: str
) -> None:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    with pytest.raises(DataFileError) as caught:
        read_table(path, name)
    assert str(caught.value).startswith(message)
    assert "\n" not in str(caught.value)


def test_a_data_path_that_is_a_directory_is_an_error_at_its_entry(tmp_path: Path) -> None:
    (tmp_path / "dir.csv").mkdir()
    text = MINIMAL + "data:\n  t: dir.csv\n"
    found = only(write(tmp_path, text))
    assert (found.line, found.column, found.message) == (
        6, 6, "data file 'dir.csv' is a directory")


def test_a_header_only_csv_still_knows_its_columns(tmp_path: Path) -> None:
    (tmp_path / "t.csv").write_text("name,price\n")
    text = MINIMAL.replace("{say: Hi!, final: true}",
                           "{do: [{lookup: t, as: x, where: 'prce < 5'}], final: true}")
    found = only(write(tmp_path, text + "data:\n  t: t.csv\n"))
    assert found.message.endswith("(did you mean 'price'?)")
