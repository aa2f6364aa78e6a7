from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ollama_lineage.core.diff import (
    DiffRow,
    DiffSummary,
    Fold,
    ParamRow,
    changed_spans,
    format_value,
    hunks,
    parameter_table,
    side_by_side,
    summarize,
)
from ollama_lineage.core.modelfile import ParamValue


def test_identical_texts_are_all_same() -> None:
    text = "FROM qwq:latest\nPARAMETER num_ctx 20000\n"
    assert side_by_side(text, text) == [
        DiffRow(1, "FROM qwq:latest", 1, "FROM qwq:latest", "same"),
        DiffRow(2, "PARAMETER num_ctx 20000", 2, "PARAMETER num_ctx 20000", "same"),
    ]
    assert str(summarize(side_by_side(text, text))) == "no changes"


def test_empty_texts() -> None:
    assert side_by_side("", "") == []
    assert side_by_side("", "a\n") == [DiffRow(None, "", 1, "a", "added")]


def test_pure_insert_keeps_line_numbers_on_both_sides() -> None:
    rows = side_by_side("a\nb\nc", "a\nb\nnew\nc")
    assert rows == [
        DiffRow(1, "a", 1, "a", "same"),
        DiffRow(2, "b", 2, "b", "same"),
        DiffRow(None, "", 3, "new", "added"),
        DiffRow(3, "c", 4, "c", "same"),
    ]


def test_pure_delete() -> None:
    rows = side_by_side("a\ngone\nb", "a\nb")
    assert rows[1] == DiffRow(2, "gone", None, "", "removed")
    assert rows[2] == DiffRow(3, "b", 2, "b", "same")


def test_replace_blocks_pair_line_by_line_and_spill_over() -> None:
    left = "FROM qwq\nPARAMETER num_ctx 2048\nPARAMETER top_k 40\nSYSTEM x"
    right = "FROM qwq\nPARAMETER num_ctx 20000\nSYSTEM x"
    assert side_by_side(left, right) == [
        DiffRow(1, "FROM qwq", 1, "FROM qwq", "same"),
        DiffRow(2, "PARAMETER num_ctx 2048", 2, "PARAMETER num_ctx 20000", "changed"),
        DiffRow(3, "PARAMETER top_k 40", None, "", "removed"),
        DiffRow(4, "SYSTEM x", 3, "SYSTEM x", "same"),
    ]
    assert side_by_side("x\n1", "x\n2\n3\n4")[1:] == [
        DiffRow(2, "1", 2, "2", "changed"),
        DiffRow(None, "", 3, "3", "added"),
        DiffRow(None, "", 4, "4", "added"),
    ]


def test_trailing_newline_is_not_an_extra_line() -> None:
    assert side_by_side("a\n", "a") == [DiffRow(1, "a", 1, "a", "same")]
    assert side_by_side("a\n\n", "a\n")[-1] == DiffRow(2, "", None, "", "removed")


@given(st.lists(st.sampled_from("abc"), max_size=8), st.lists(st.sampled_from("abc"), max_size=8))
def test_rows_rebuild_both_sides_in_order(left: list[str], right: list[str]) -> None:
    rows = side_by_side("\n".join(left), "\n".join(right))
    assert [r.left for r in rows if r.left_no is not None] == left
    assert [r.right for r in rows if r.right_no is not None] == right
    assert [r.left_no for r in rows if r.left_no is not None] == list(range(1, len(left) + 1))
    assert [r.right_no for r in rows if r.right_no is not None] == list(range(1, len(right) + 1))
    sides = {"same": (True, True), "changed": (True, True), "removed": (True, False)}
    for row in rows:
        assert (row.left_no is not None, row.right_no is not None) == sides.get(
            row.kind, (False, True)
        )
        assert (row.left == row.right) == (row.kind == "same")


def test_summary_counts_and_wording() -> None:
    rows = side_by_side("a\nb\nc\nd", "a\nB\nC\nd\ne")
    assert summarize(rows) == DiffSummary(added=1, removed=0, changed=2)
    assert str(summarize(rows)) == "2 changed, 1 added"
    assert str(DiffSummary(added=0, removed=3, changed=0)) == "3 removed"
    assert str(DiffSummary(added=1, removed=1, changed=1)) == "1 changed, 1 added, 1 removed"
    assert str(summarize(side_by_side("a\nb\nc", "a\nc"))) == "1 removed"


def test_a_long_text_of_repeated_lines_shows_only_the_edited_line() -> None:
    # Past 200 lines difflib's autojunk would treat lines that repeat often as junk and match
    # nothing around them: every line of the template would show as changed.
    lines = ["{{ end }}", ""] * 60 + ["{{ .System }}"] + ["{{ end }}", ""] * 60
    edited = ["{{ .Prompt }}" if line == "{{ .System }}" else line for line in lines]
    rows = side_by_side("\n".join(lines), "\n".join(edited))
    assert [row for row in rows if row.kind != "same"] == [
        DiffRow(121, "{{ .System }}", 121, "{{ .Prompt }}", "changed")
    ]


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, ""),
        (20000, "20000"),
        (20000.0, "20000"),
        (0.7, "0.7"),
        (True, "true"),
        ("<|eot_id|>", "<|eot_id|>"),
        (["<|eot_id|>", "User:"], "<|eot_id|>, User:"),
    ],
)
def test_format_value(value: ParamValue | None, text: str) -> None:
    assert format_value(value) == text


def test_parameter_table_flags() -> None:
    base: dict[str, ParamValue] = {"num_ctx": 2048, "stop": ["<|eot_id|>"], "temperature": 0.6}
    derived: dict[str, ParamValue] = {**base, "num_ctx": 20000, "num_thread": 16}
    after: dict[str, ParamValue] = {**derived, "stop": ["<|eot_id|>", "<|end|>"]}
    assert parameter_table(base, derived, after) == [
        ParamRow("num_ctx", "2048", "20000", "20000", overridden=True, changes_on_rebuild=False),
        ParamRow("num_thread", "", "16", "16", overridden=True, changes_on_rebuild=False),
        ParamRow(
            "stop",
            "<|eot_id|>",
            "<|eot_id|>",
            "<|eot_id|>, <|end|>",
            overridden=False,
            changes_on_rebuild=True,
        ),
        ParamRow("temperature", "0.6", "0.6", "0.6", overridden=False, changes_on_rebuild=False),
    ]


def test_parameter_table_param_dropped_by_rebuild() -> None:
    [row] = parameter_table({}, {"top_k": 40}, {})
    assert row == ParamRow("top_k", "", "40", "", overridden=True, changes_on_rebuild=True)


def test_hunks_keep_context_and_fold_the_rest() -> None:
    left = "\n".join("abcdefghij")
    right = left.replace("e", "E")
    assert hunks(side_by_side(left, right), context=2) == [
        Fold(2),
        DiffRow(3, "c", 3, "c", "same"),
        DiffRow(4, "d", 4, "d", "same"),
        DiffRow(5, "e", 5, "E", "changed"),
        DiffRow(6, "f", 6, "f", "same"),
        DiffRow(7, "g", 7, "g", "same"),
        Fold(3),
    ]
    assert str(Fold(3)) == "… 3 unchanged lines" and str(Fold(1)) == "… 1 unchanged line"


def test_hunks_show_a_lone_unchanged_line_instead_of_folding_it() -> None:
    rows = side_by_side("x\na\nb\nc\ny", "X\na\nb\nc\nY")
    assert hunks(rows, context=1) == rows  # the one hidden line "b" is shown, not folded
    assert hunks(side_by_side("a\nb\nc", "a\nb\nc")) == [Fold(3)]
    assert hunks([]) == []


@given(st.lists(st.sampled_from("abc"), max_size=12), st.lists(st.sampled_from("abc"), max_size=12))
def test_hunks_hide_only_unchanged_lines_and_count_them(left: list[str], right: list[str]) -> None:
    rows = side_by_side("\n".join(left), "\n".join(right))
    shown = hunks(rows)
    assert sum(item.count if isinstance(item, Fold) else 1 for item in shown) == len(rows)
    assert [r for r in rows if r.kind != "same"] == [
        item for item in shown if isinstance(item, DiffRow) and item.kind != "same"
    ]
    assert all(item.count > 1 for item in shown if isinstance(item, Fold))


def test_changed_spans_mark_the_edited_value_whole() -> None:
    old, new = "PARAMETER temperature 0.3", "PARAMETER temperature 0.8"
    assert changed_spans(old, new) == ([(22, 25)], [(22, 25)])
    old, new = "PARAMETER num_ctx 2048", "PARAMETER num_ctx 20000"
    (left,), (right,) = changed_spans(old, new)
    assert old[slice(*left)] == "2048" and new[slice(*right)] == "20000"
    assert changed_spans("", "abc") == ([], [(0, 3)])
    assert changed_spans("same", "same") == ([], [])


def test_changed_spans_of_a_long_line_of_repeated_words_mark_only_the_edit() -> None:
    # Past 200 words autojunk would drop the repeated words and highlight the rest of the line.
    old = "SYSTEM " + "yes no " * 60 + "maybe" + " yes no" * 60
    new = old.replace("maybe", "never")
    at = old.index("maybe")
    assert changed_spans(old, new) == ([(at, at + 5)], [(at, at + 5)])


@given(st.text(max_size=30), st.text(max_size=30))
def test_changed_spans_cover_exactly_what_differs(left: str, right: str) -> None:
    lspans, rspans = changed_spans(left, right)
    kept_left = "".join(ch for i, ch in enumerate(left) if not any(a <= i < b for a, b in lspans))
    kept_right = "".join(ch for i, ch in enumerate(right) if not any(a <= i < b for a, b in rspans))
    assert kept_left == kept_right  # outside the spans both sides read the same
    for a, b in lspans + rspans:
        assert a < b
