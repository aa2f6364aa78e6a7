"""The matrix's cells from snapshots and recipes alone."""

from ollama_lineage.core.lineage import Link, ModelFacts, build_snapshot
from ollama_lineage.core.matrix import HostView, matrix

BASE = ModelFacts("qwq:latest", "b1" * 32, weights_blob="w1")
CHILD = ModelFacts("qwq:latest_20K", "c1" * 32, parent_model="qwq:latest", weights_blob="w1")
LINK = {"qwq:latest_20K": Link("qwq:latest_20K", "qwq:latest", "b1" * 32, "recorded")}
RECIPE = "FROM qwq:latest\nPARAMETER num_ctx 20000\n"


def words(hosts: list[HostView]) -> dict[str, list[str]]:
    return {row.name: [c.word for c in row.cells] for row in matrix(hosts)}


def test_missing_differs_and_unreachable_are_told_apart() -> None:
    with_child = build_snapshot([BASE, CHILD], LINK)
    hosts = [
        HostView("gpu", with_child, {"qwq:latest_20K": RECIPE}),
        HostView("laptop", build_snapshot([BASE]), {}),
        HostView("ci", with_child, {"qwq:latest_20K": "FROM qwq:latest\nPARAMETER num_ctx 8\n"}),
        HostView("down", None, {}),
    ]
    assert words(hosts) == {"qwq:latest_20K": ["fresh", "missing", "differs", "unreachable"]}


def test_the_first_server_with_a_recipe_is_the_one_compared_with() -> None:
    """A server that has the model but no recipe for it reads its state, not "differs"."""
    with_child = build_snapshot([BASE, CHILD], LINK)
    hosts = [
        HostView("laptop", build_snapshot([BASE]), {}),
        HostView("gpu", with_child, {}),
        HostView("ci", with_child, {"qwq:latest_20K": RECIPE}),
    ]
    assert words(hosts) == {"qwq:latest_20K": ["missing", "fresh", "fresh"]}


def test_bases_and_backups_have_no_row() -> None:
    assert matrix([HostView("gpu", build_snapshot([BASE]), {})]) == []


def test_each_cell_reads_with_its_symbol_and_the_build_it_holds() -> None:
    """Two servers' "fresh" can be two builds: the digest is in the cell, and the symbol
    reads without colour."""
    with_child = build_snapshot([BASE, CHILD], LINK)
    other_build = ModelFacts("qwq:latest_20K", "d2" * 32, weights_blob="w1")
    hosts = [
        HostView("gpu", with_child, {"qwq:latest_20K": RECIPE}),
        HostView("laptop", build_snapshot([BASE]), {}),
        HostView("ci", build_snapshot([BASE, other_build], LINK), {"qwq:latest_20K": "FROM x\n"}),
        HostView("down", None, {}),
    ]
    (row,) = matrix(hosts)
    assert [c.text for c in row.cells] == [
        "✓ fresh c1c1c1c1",
        "∅ missing",
        "≠ differs d2d2d2d2",
        "⚠ unreachable",
    ]


def test_a_name_that_is_a_base_on_one_server_reads_untracked_there() -> None:
    """Pulled on one server, built from a recipe on another: the same name is no derivative
    there, whatever that server's base state is."""
    pulled = ModelFacts("qwq:latest_20K", "e1" * 32, weights_blob="w9")
    hosts = [
        HostView("gpu", build_snapshot([BASE, CHILD], LINK), {}),
        HostView("laptop", build_snapshot([pulled]), {}),
    ]
    assert words(hosts) == {"qwq:latest_20K": ["fresh", "untracked"]}  # no recipe anywhere
