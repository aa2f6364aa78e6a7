"""The checks file: what it accepts, and a message naming file, line and key for what not."""

from __future__ import annotations

from pathlib import Path

import pytest

from ollama_lineage.services.checks import (
    ChecksError,
    ChecksFile,
    load_checks,
    parse_checks,
    smoke_check,
)
from ollama_lineage.services.checks import judge as judge_reply

FILE = Path("checks.toml")

GOOD = """\
[[check]]
model = "qwq:latest_20K"
name = "json answer"
prompt = "Reply with a JSON object with a key answer."
options = { temperature = 0, seed = 1, stop = ["<|end|>"] }
contains = "answer"
not_contains = ["I cannot", "As an AI"]
regex = '^\\s*\\{'
json = true
max_seconds = 60

[[check]]
model = "QWQ:latest_20K"
prompt = "Say hi."

[[check]]
model = "llama3.2"
prompt = "Who are you?"
contains = ["Mario"]
"""


def parse(text: str) -> ChecksFile:
    return parse_checks(text, FILE)


def refused(text: str) -> str:
    with pytest.raises(ChecksError) as caught:
        parse(text)
    return str(caught.value)


def test_a_full_file_reads_every_key() -> None:
    checks = parse(GOOD)
    first, second = checks.explicit("qwq:latest_20K")
    assert first.name == "json answer" and first.label == '"json answer"'
    assert dict(first.options) == {"temperature": 0, "seed": 1, "stop": ["<|end|>"]}
    assert first.contains == ("answer",)
    assert first.not_contains == ("I cannot", "As an AI")
    assert first.regex is not None and first.regex.pattern == r"^\s*\{"
    assert first.json is True and first.max_seconds == 60.0
    assert first.where == "checks.toml:1: check 1"
    # Names are matched the way Ollama matches them; unnamed checks go by number and prompt.
    assert second.number == 2 and second.label == '#2 "Say hi."'
    assert [c.model for c in checks.for_model("llama3.2:latest")] == ["llama3.2:latest"]
    assert checks.named() == ["qwq:latest_20K", "QWQ:latest_20K", "llama3.2:latest"]


def test_a_model_with_no_check_gets_the_smoke_check() -> None:
    (check,) = parse(GOOD).for_model("phi4:latest")
    assert check == smoke_check("phi4:latest")
    assert check.smoke and check.label == "smoke" and check.max_seconds
    assert judge_reply(check, "", 0.1) == ["empty reply"]
    assert judge_reply(check, "Ready.", 0.1) == []


def test_a_check_key_follows_its_content_not_its_place() -> None:
    one = parse(GOOD).explicit("qwq:latest_20K")[1]
    moved = parse(
        '[[check]]\nmodel = "x:y"\nprompt = "other"\n'
        '[[check]]\nmodel = "qwq:latest_20K"\nprompt = "Say hi."'
    )
    assert moved.explicit("qwq:latest_20K")[0].key == one.key
    edited = parse('[[check]]\nmodel = "qwq:latest_20K"\nprompt = "Say hello."')
    assert edited.explicit("qwq:latest_20K")[0].key != one.key


def test_judging_names_every_broken_condition() -> None:
    check = parse(GOOD).explicit("qwq:latest_20K")[0]
    assert judge_reply(check, '{"answer": 42}', 1.0) == []
    assert judge_reply(check, "As an AI, I cannot", 61.0) == [
        "reply does not contain 'answer'",
        "reply contains 'I cannot'",
        "reply contains 'As an AI'",
        "reply does not match regex '^\\\\s*\\\\{'",
        "reply is not JSON (Expecting value: line 1 column 1 (char 0))",
        "took 61.0 s, more than 60 s",
    ]


def test_not_toml_names_the_line_and_column() -> None:
    message = refused('[[check]]\nmodel = "qwq"\nprompt = "unterminated\n')
    assert message.startswith("checks.toml:3:")
    assert "not valid TOML" in message


def test_an_unknown_key_names_line_key_and_a_likely_fix() -> None:
    message = refused('[[check]]\nmodel = "qwq"\nprompt = "hi"\n\ncontain = "x"\n')
    assert message.startswith("checks.toml:5: check 1: unknown key 'contain'")
    assert "did you mean 'contains'?" in message


def test_an_unknown_key_in_the_second_check_names_that_check() -> None:
    text = '[[check]]\nmodel = "a"\nprompt = "hi"\n[[check]]\nmodel = "b"\nprompt = "x"\nmax = 1\n'
    assert refused(text).startswith("checks.toml:7: check 2: unknown key 'max'")


def test_a_top_level_key_is_refused() -> None:
    assert "unknown top-level key 'model'" in refused('model = "qwq"\n')


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('max_seconds = "60"', "max_seconds must be a number of seconds, not a string ('60')"),
        ("max_seconds = true", "max_seconds must be a number of seconds, not a boolean (True)"),
        ("max_seconds = 0", "max_seconds must be more than 0, not 0"),
        ('json = "yes"', "json must be true or false, not a string ('yes')"),
        ("contains = 3", "contains must be a non-empty string or a list of them, not 3"),
        ('contains = ["a", 1]', "contains must be a non-empty string or a list of them"),
        ("options = 3", "options must be a table"),
        (
            "options = { temprature = 0 }",
            "unknown option 'temprature'; did you mean 'temperature'?",
        ),
        ("options = { num_ctx = 1.5 }", "option num_ctx must be an integer, not a number (1.5)"),
        ("options = { seed = true }", "option seed must be an integer, not a boolean (True)"),
        ('options = { stop = "x" }', "option stop must be a list of strings"),
    ],
)
def test_a_wrong_type_names_the_key_and_value(line: str, expected: str) -> None:
    message = refused(f'[[check]]\nmodel = "qwq"\nprompt = "hi"\n{line}\n')
    assert message.startswith("checks.toml:4: check 1: ")
    assert expected in message


def test_a_regex_that_does_not_compile_is_refused() -> None:
    message = refused('[[check]]\nmodel = "qwq"\nprompt = "hi"\nregex = \'(unclosed\'\n')
    assert message.startswith("checks.toml:4: check 1: regex '(unclosed' does not compile")


def test_a_check_needs_a_valid_model_and_a_prompt() -> None:
    assert "no model" in refused('[[check]]\nprompt = "hi"\n')
    assert "invalid model name" in refused('[[check]]\nmodel = "bad name!"\nprompt = "hi"\n')
    assert "no prompt" in refused('[[check]]\nmodel = "qwq"\nprompt = "  "\n')


def test_files_missing_or_unreadable(tmp_path: Path) -> None:
    with pytest.raises(ChecksError, match="no such checks file"):
        load_checks(tmp_path / "nope.toml")
    assert load_checks(tmp_path / "nope.toml", required=False).checks == ()
    binary = tmp_path / "bin.toml"
    binary.write_bytes(b"\xff\xfe")
    with pytest.raises(ChecksError, match="not UTF-8"):
        load_checks(binary)


def test_the_default_file_comes_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "mine.toml"
    path.write_text('[[check]]\nmodel = "qwq"\nprompt = "hi"\n')
    monkeypatch.setenv("OLLAMA_LINEAGE_CHECKS", str(path))
    assert load_checks(None).named() == ["qwq:latest"]
    monkeypatch.setenv("OLLAMA_LINEAGE_CHECKS", str(tmp_path / "absent.toml"))
    assert load_checks(None).checks == ()  # no file by default: every model gets the smoke check
