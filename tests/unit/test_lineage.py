"""The tree's states, from facts alone (no server, no database)."""

from ollama_lineage.core.lineage import (
    Kind,
    Link,
    ModelFacts,
    Snapshot,
    Upstream,
    build_snapshot,
    model_reference,
)
from ollama_lineage.core.states import State

QWQ = ModelFacts("qwq:latest", "d1" * 32, weights_blob="w1")
QWQ_20K = ModelFacts("qwq:latest_20K", "c1" * 32, parent_model="qwq:latest", weights_blob="w1")
CODER = ModelFacts(
    "qwq:latest_20K-coder", "e1" * 32, parent_model="qwq:latest_20K", weights_blob="w1"
)


def states(snapshot: Snapshot) -> dict[str, State]:
    return {n.name: n.state for n in snapshot.walk()}


def test_derivatives_nest_under_their_base_and_are_fresh_when_weights_match() -> None:
    snap = build_snapshot([QWQ, QWQ_20K, CODER])
    assert snap.roots == ("qwq:latest",)
    assert [n.name for n in snap.walk()] == ["qwq:latest", "qwq:latest_20K", "qwq:latest_20K-coder"]
    assert [n.depth for n in snap.walk()] == [0, 1, 2]
    assert states(snap)["qwq:latest_20K"] is State.FRESH


def test_new_base_weights_make_the_child_stale_and_the_grandchild_stale_upstream() -> None:
    pulled = ModelFacts("qwq:latest", "d2" * 32, weights_blob="w2")
    snap = build_snapshot([pulled, QWQ_20K, CODER])
    assert states(snap)["qwq:latest_20K"] is State.STALE
    assert states(snap)["qwq:latest_20K-coder"] is State.STALE_UPSTREAM
    # Known from parent_model alone: not rebuilt in bulk until the registry says it is local.
    assert snap.stale_in_order() == []
    local = {n: Upstream(local=True) for n in ("qwq:latest_20K", "qwq:latest_20K-coder")}
    snap = build_snapshot([pulled, QWQ_20K, CODER], upstream=local)
    assert snap.stale_in_order() == ["qwq:latest_20K", "qwq:latest_20K-coder"]


def test_recorded_base_digest_wins_over_weights_comparison() -> None:
    # Only the template changed upstream: same weights, new manifest digest.
    retemplated = ModelFacts("qwq:latest", "d3" * 32, weights_blob="w1")
    link = Link("qwq:latest_20K", "qwq:latest", base_digest="d1" * 32, source="recorded")
    snap = build_snapshot([retemplated, QWQ_20K], {"qwq:latest_20K": link})
    assert states(snap)["qwq:latest_20K"] is State.STALE
    assert "d1d1d1d1d1d1" in snap.nodes["qwq:latest_20K"].reason


def test_base_gone_gives_a_missing_root_with_an_orphaned_child() -> None:
    snap = build_snapshot([QWQ_20K])
    assert snap.nodes["qwq:latest"].kind is Kind.MISSING
    assert states(snap) == {"qwq:latest": State.MISSING, "qwq:latest_20K": State.ORPHANED}


def test_a_gone_base_with_a_recorded_recipe_keeps_its_child_in_the_tree() -> None:
    """Found by mutation testing of recipes: apply made mid from qwq and kid from mid, then
    mid was deleted outside. kid is still on the server, so the tree must show it orphaned."""
    kid = ModelFacts("kid:latest", "k1" * 32, parent_model="mid:latest", weights_blob="w1")
    links = {
        "kid:latest": Link("kid:latest", "mid:latest", "m1" * 32, "recorded", guessed=False),
        "mid:latest": Link("mid:latest", "qwq:latest", "d1" * 32, "recorded", guessed=False),
    }
    snap = build_snapshot([QWQ, kid], links)
    assert states(snap) == {
        "qwq:latest": State.CURRENT,
        "mid:latest": State.MISSING,
        "kid:latest": State.ORPHANED,
    }
    assert snap.roots == ("mid:latest", "qwq:latest")


def test_a_model_made_from_a_file_is_untracked() -> None:
    gguf = ModelFacts("my-gguf:latest", "f1" * 32, parent_model="model.gguf", weights_blob="w9")
    snap = build_snapshot([gguf])
    assert states(snap) == {"my-gguf:latest": State.UNTRACKED}


def test_a_shared_weights_blob_alone_never_makes_a_derivative() -> None:
    """Two tags of one upstream model share weights; neither was built from the other."""
    latest = ModelFacts("qwen3:latest", "d1" * 32, modified_at="2025-01-01", weights_blob="w1")
    tagged = ModelFacts("qwen3:8b", "d2" * 32, modified_at="2025-02-01", weights_blob="w1")
    snap = build_snapshot([latest, tagged])
    assert {n.name: n.kind for n in snap.walk()} == {
        "qwen3:latest": Kind.BASE,
        "qwen3:8b": Kind.BASE,
    }


def test_upstream_digest_marks_update_available_and_errors_read_not_checked() -> None:
    ahead = build_snapshot([QWQ], upstream={"qwq:latest": Upstream(digest="ab" * 32)})
    assert states(ahead)["qwq:latest"] is State.UPDATE_AVAILABLE
    same = build_snapshot([QWQ], upstream={"qwq:latest": Upstream(digest=QWQ.digest)})
    assert states(same)["qwq:latest"] is State.CURRENT
    offline = build_snapshot([QWQ], upstream={"qwq:latest": Upstream(error="registry unreachable")})
    assert states(offline)["qwq:latest"] is State.CURRENT
    assert "not checked" in offline.nodes["qwq:latest"].reason


def test_backups_nest_under_their_model_and_building_and_failed_show() -> None:
    backup = ModelFacts("qwq:latest_20K.bak-20261125-120000", "c1" * 32, parent_model="qwq:latest")
    snap = build_snapshot(
        [QWQ, QWQ_20K, backup, CODER],
        backups={backup.name: QWQ_20K.name},
        building=frozenset({"qwq:latest_20K"}),
    )
    assert snap.nodes[backup.name].kind is Kind.BACKUP
    assert backup.name in snap.nodes["qwq:latest_20K"].children
    assert states(snap)["qwq:latest_20K"] is State.BUILDING
    failed = build_snapshot([QWQ, QWQ_20K], failed={"qwq:latest_20K": "boom"})
    assert states(failed)["qwq:latest_20K"] is State.FAILED


def test_a_recorded_cycle_does_not_hang_and_still_lists_every_model() -> None:
    a = ModelFacts("a:latest", "a" * 64)
    b = ModelFacts("b:latest", "b" * 64)
    links = {"a:latest": Link("a:latest", "b:latest"), "b:latest": Link("b:latest", "a:latest")}
    snap = build_snapshot([a, b], links)
    assert {n.name for n in snap.walk()} == {"a:latest", "b:latest"}


def test_every_state_reads_without_colour() -> None:
    words = [s.word for s in State]
    symbols = [s.symbol for s in State]
    assert len(set(symbols)) == len(symbols)
    assert all(words)


def test_a_base_the_registry_has_never_heard_of_was_made_here() -> None:
    local = build_snapshot([QWQ], upstream={"qwq:latest": Upstream(error="404", local=True)})
    node = local.nodes["qwq:latest"]
    assert node.state is State.CURRENT and "made on this server" in node.reason


def test_parent_model_in_another_case_finds_its_base() -> None:
    """`FROM QwQ` is recorded as typed; Ollama matches names case-insensitively."""
    child = ModelFacts("qwq:mine", "e1" * 32, parent_model="QwQ:Latest", weights_blob="w1")
    snap = build_snapshot([QWQ, child])
    assert snap.nodes["qwq:mine"].base == "qwq:latest"
    assert "QwQ:Latest" not in snap.nodes  # no phantom missing base


def test_a_pulled_model_carrying_its_publishers_from_is_a_base() -> None:
    """The registry's digest equals its own: pulled, never rebuilt over the registry's copy."""
    pulled = ModelFacts("hermes:8b", "f1" * 32, parent_model="qwq:latest", weights_blob="w7")
    confirmed = {"hermes:8b": Upstream(digest="f1" * 32)}
    snap = build_snapshot([QWQ, pulled], upstream=confirmed)
    assert snap.nodes["hermes:8b"].kind is Kind.BASE
    assert snap.stale_in_order() == []
    path_from = ModelFacts(
        "emb:latest", "a9" * 32, parent_model="/Users/x/.ollama/models/blobs/sha256-" + "0" * 64
    )
    assert (
        build_snapshot([path_from], upstream={"emb:latest": Upstream(digest="a9" * 32)})
        .nodes["emb:latest"]
        .state
        is State.CURRENT
    )


def test_a_building_or_failed_parent_makes_its_children_stale_upstream() -> None:
    for parent in ({"building": frozenset({QWQ_20K.name})}, {"failed": {QWQ_20K.name: "boom"}}):
        snap = build_snapshot([QWQ, QWQ_20K, CODER], **parent)
        assert snap.nodes[CODER.name].state is State.STALE_UPSTREAM


def test_stale_upstream_reaches_every_level_below_a_stale_model() -> None:
    """base → a → b → c: a is stale, b is stale upstream, and c, whose parent is only stale
    upstream, is so too."""
    base = ModelFacts("base:latest", "d2" * 32, weights_blob="w2")
    chain = [
        ModelFacts("a:latest", "a1" * 32, parent_model="base:latest", weights_blob="w1"),
        ModelFacts("b:latest", "b1" * 32, parent_model="a:latest", weights_blob="w1"),
        ModelFacts("c:latest", "c1" * 32, parent_model="b:latest", weights_blob="w1"),
    ]
    got = states(build_snapshot([base, *chain]))
    assert [got[n] for n in ("a:latest", "b:latest", "c:latest")] == [
        State.STALE,
        State.STALE_UPSTREAM,
        State.STALE_UPSTREAM,
    ]


def test_a_cloud_model_listed_first_does_not_stop_the_links_after_it() -> None:
    cloud = ModelFacts("cloud:latest", "f1" * 32, remote_host="https://ollama.com:443")
    snap = build_snapshot([QWQ, cloud, QWQ_20K])
    assert snap.nodes["qwq:latest_20K"].kind is Kind.DERIVATIVE


def test_a_parent_model_with_a_port_but_no_tag_is_no_model() -> None:
    assert model_reference("reg.local:5000/ns/m") is None
    assert model_reference("reg.local:5000/ns/m:v1") == "reg.local:5000/ns/m:v1"


HEX = "0123456789abcdef" * 4  # digests whose 12th and 13th characters differ


def digest(prefix: str) -> str:
    return (prefix + HEX)[:64]


def test_every_reason_reads_word_for_word() -> None:
    """The reason is the one line that tells a user why a row has its colour and what to do:
    each state's words, and digests cut at 12 characters."""
    base = ModelFacts("b:1", digest("b1"), weights_blob="w1")
    fresh = ModelFacts("fresh:1", digest("f1"), weights_blob="w1")
    recorded = {
        "fresh:1": Link("fresh:1", "b:1", digest("b1"), "recorded"),
        "moved:1": Link("moved:1", "b:1", digest("b0"), "recorded"),
        "under:1": Link("under:1", "moved:1", digest("m1"), "recorded"),
        "edited:1": Link("edited:1", "b:1", digest("b1"), "recorded", edited=True),
        "drift:1": Link("drift:1", "b:1", digest("b1"), "recorded"),
        "build:1": Link("build:1", "b:1", digest("b1"), "recorded"),
        "fail:1": Link("fail:1", "b:1", digest("b1"), "recorded"),
        "orphan:1": Link("orphan:1", "gone:1", digest("g1"), "recorded"),
        "back:1": Link("back:1", "b:1", digest("b1"), "recorded"),
    }
    models = [
        base,
        fresh,
        ModelFacts("moved:1", digest("m1"), weights_blob="w1"),
        ModelFacts("under:1", digest("u1"), weights_blob="w1"),
        ModelFacts("edited:1", digest("e1"), weights_blob="w1"),
        ModelFacts("drift:1", digest("d2"), weights_blob="w1"),
        ModelFacts("build:1", digest("c1"), weights_blob="w1"),
        ModelFacts("fail:1", digest("a1"), weights_blob="w1"),
        ModelFacts("orphan:1", digest("o1"), weights_blob="w1"),
        ModelFacts("back:1", digest("k1"), weights_blob="w1"),
        ModelFacts("weights:1", digest("9a"), parent_model="b:1", weights_blob="w0"),
        ModelFacts("b:1.bak-20261207-010203", digest("b0"), weights_blob="w0"),
        ModelFacts("file:1", digest("fa"), parent_model="m.gguf", weights_blob="w7"),
        ModelFacts("cloud:1", digest("c0"), remote_host="https://ollama.com:443"),
        ModelFacts("broken:1", digest("0b"), problem="500 boom"),
        ModelFacts("fresh-base:1", digest("fb")),
        ModelFacts("old-base:1", digest("ob")),
        ModelFacts("mine:1", digest("mi")),
        ModelFacts("offline:1", digest("of")),
    ]
    snap = build_snapshot(
        models,
        recorded,
        backups={"b:1.bak-20261207-010203": "b:1"},
        upstream={
            "fresh-base:1": Upstream(digest("fb")),
            "old-base:1": Upstream(digest("n0")),
            "mine:1": Upstream(local=True),
            "offline:1": Upstream(error="registry unreachable"),
        },
        building=frozenset({"build:1"}),
        failed={"fail:1": "create failed: no space"},
        known={"drift:1": digest("d1")},
        rolled_back=frozenset({"back:1"}),
    )
    reasons = {n.name: (n.state, n.reason) for n in snap.walk()}
    assert reasons == {
        "b:1": (State.CURRENT, "a base; upstream not checked yet"),
        "fresh:1": (State.FRESH, "built from the current b:1 b10123456789"),
        "moved:1": (State.STALE, "built from b:1 b00123456789, which is now b10123456789"),
        "under:1": (State.STALE_UPSTREAM, "its base moved:1 is itself out of date"),
        "edited:1": (
            State.EDITED,
            "its recipe was edited since it was built: r rebuilds it from it",
        ),
        "drift:1": (
            State.DRIFTED,
            "changed outside ollama-lineage (was d10123456789, now d20123456789):"
            " d shows how; r rebuilds it from the recipe, t adopts the server's version",
        ),
        "build:1": (State.BUILDING, "rebuilding from b:1"),
        "fail:1": (State.FAILED, "last rebuild failed, old model kept: create failed: no space"),
        "gone:1": (State.MISSING, "a recipe names it but the server does not have it"),
        "orphan:1": (State.ORPHANED, "its base gone:1 is gone from the server"),
        "back:1": (
            State.ROLLED_BACK,
            "rolled back to a backup, so it is not what its recipe builds: rebuild it with r"
            " to go forward again, or keep this version as its recipe (t, track)",
        ),
        "weights:1": (State.STALE, "b:1 has new weights since this was built"),
        "b:1.bak-20261207-010203": (
            State.BACKUP,
            "backup of b:1, kept until you keep or roll back",
        ),
        "file:1": (
            State.UNTRACKED,
            "made from 'm.gguf', not a model; adopt it under a base (t, track)",
        ),
        "cloud:1": (State.REMOTE, "a cloud model served by https://ollama.com:443"),
        "broken:1": (State.UNREADABLE, "Ollama cannot show it (500 boom); retrying"),
        "fresh-base:1": (State.CURRENT, "same as the registry"),
        "old-base:1": (
            State.UPDATE_AVAILABLE,
            "registry has n00123456789, you have ob0123456789; press p to pull",
        ),
        "mine:1": (
            State.CURRENT,
            "made on this server (the registry has no such model); if it was built from"
            " a base, adopt it under that base (t, track)",
        ),
        "offline:1": (State.CURRENT, "upstream not checked: registry unreachable"),
    }


def test_a_backup_of_a_base_without_derivatives_sits_under_it() -> None:
    backup = ModelFacts("qwq:latest.bak-20261207-010203", "b0" * 32, weights_blob="w0")
    snap = build_snapshot([QWQ, backup], backups={backup.name: "qwq:latest"})
    assert snap.nodes["qwq:latest"].children == (backup.name,)
    assert snap.nodes[backup.name].depth == 1


def test_a_chain_into_a_cycle_ends_and_only_the_cycle_stands_at_the_top() -> None:
    """x is built on a, and a and b name each other (a recipe edited into a loop): x is not
    in the cycle, and finding that out must end."""
    models = [ModelFacts(n, n[0] * 64, weights_blob="w") for n in ("x:1", "a:1", "b:1")]
    links = {
        "x:1": Link("x:1", "a:1", "a" * 64, "recorded"),
        "a:1": Link("a:1", "b:1", "b" * 64, "recorded"),
        "b:1": Link("b:1", "a:1", "a" * 64, "recorded"),
    }
    snap = build_snapshot(models, links)
    assert snap.roots == ("a:1", "b:1")
    assert set(snap.nodes) == {"x:1", "a:1", "b:1"}


def test_descendants_are_everything_built_on_a_model_parents_first() -> None:
    other = ModelFacts("qwq:latest_8K", "c2" * 32, parent_model="qwq:latest", weights_blob="w1")
    snap = build_snapshot([QWQ, QWQ_20K, CODER, other])
    assert [n.name for n in snap.descendants("qwq:latest")] == [
        "qwq:latest_20K",
        "qwq:latest_20K-coder",
        "qwq:latest_8K",
    ]
    assert [n.name for n in snap.descendants("qwq:latest_20K")] == ["qwq:latest_20K-coder"]
    assert snap.descendants("qwq:latest_8K") == []
    assert snap.descendants("not-listed:latest") == []


def test_a_guessed_recipe_is_marked_and_held_from_bulk_rebuilds_a_recorded_one_is_not() -> None:
    pulled = ModelFacts("qwq:latest", "d2" * 32, weights_blob="w2")
    kid = ModelFacts("kid:latest", "k1" * 32, weights_blob="w1")
    links = {
        "qwq:latest_20K": Link("qwq:latest_20K", "qwq:latest", None, "recorded", guessed=True),
        "kid:latest": Link("kid:latest", "qwq:latest", "d1" * 32, "recorded"),
    }
    snap = build_snapshot([pulled, QWQ_20K, kid], links)
    assert [(n.name, n.guessed, n.unproven) for n in snap.walk()] == [
        ("qwq:latest", False, False),
        ("kid:latest", False, False),
        ("qwq:latest_20K", True, True),
    ]
    assert snap.stale_in_order() == ["kid:latest"]


def test_a_pulled_model_drops_only_a_parent_model_link_and_a_backup_drops_any() -> None:
    """A model the registry has as it is was pulled, whatever its publisher's FROM says; a
    link this app recorded (a build here) stands; a backup is never anyone's derivative."""
    mine = ModelFacts("mine:latest", "m1" * 32, parent_model="qwq:latest", weights_blob="w1")
    backup = ModelFacts("qwq:latest_20K.bak-20261207-010203", "b1" * 32, weights_blob="w1")
    recorded = {
        "qwq:latest_20K": Link("qwq:latest_20K", "qwq:latest"),  # parent_model only
        "mine:latest": Link("mine:latest", "qwq:latest", "d1" * 32, "recorded"),
        backup.name: Link(backup.name, "qwq:latest", "d1" * 32, "recorded"),
    }
    registry_has_them = {
        "qwq:latest_20K": Upstream(QWQ_20K.digest),
        "mine:latest": Upstream(mine.digest),
    }
    snap = build_snapshot(
        [QWQ, QWQ_20K, mine, backup],
        recorded,
        backups={backup.name: "qwq:latest_20K"},
        upstream=registry_has_them,
    )
    assert snap.nodes["qwq:latest_20K"].kind is Kind.BASE
    assert snap.nodes["mine:latest"].base == "qwq:latest"
    assert snap.nodes[backup.name].base == "qwq:latest_20K"
    assert snap.nodes[backup.name].state is State.BACKUP


def test_a_build_leaves_nothing_for_the_cyclic_collector() -> None:
    # The app freezes what survives its first load (gc.freeze): a build that made reference
    # cycles would keep every model's facts of that first tree for the life of the process.
    import gc

    facts = [QWQ, QWQ_20K, CODER, ModelFacts("llama3:8b", "f1" * 32, weights_blob="w9")]
    gc.collect()
    gc.disable()
    try:
        snap = build_snapshot(facts, {"qwq:latest_20K": Link("qwq:latest_20K", "qwq:latest")})
        assert len(snap.nodes) == 4
        del snap
        assert gc.collect() == 0
    finally:
        gc.enable()
