"""Disk accounting: shared blobs are counted once, and only what no one else names is freed."""

from __future__ import annotations

from ollama_lineage.core.disk import (
    BlobFile,
    ModelBlobs,
    account,
    backups_will_hold,
    frees,
    human_age,
    human_bytes,
    kept_by_backups,
)
from ollama_lineage.core.lineage import Link, ModelFacts, build_snapshot

OLD, NEW, SMALL, CHILD = "sha256:old", "sha256:new", "sha256:small", "sha256:child"
MODELS = [
    ModelBlobs("base:latest", {NEW: 100, SMALL: 1}),
    ModelBlobs("child:latest", {OLD: 90, CHILD: 2}),  # stale: still on the old weights
    ModelBlobs("child:latest-backup", {OLD: 90, CHILD: 2}),
    ModelBlobs("other:latest", {NEW: 100, SMALL: 1}),  # a second tag of the base
    ModelBlobs("gone:latest-backup", {"sha256:lost": 40}),  # only a backup keeps it
]


def test_unique_bytes_are_what_no_other_model_names() -> None:
    report = account(MODELS, backups={"child:latest-backup", "gone:latest-backup"})
    uses = {m.name: (m.bytes, m.unique_bytes) for m in report.models}
    assert uses["base:latest"] == (101, 0)
    assert uses["child:latest"] == (92, 0)
    assert uses["gone:latest-backup"] == (40, 40)
    assert report.total_bytes == 101 + 92 + 40


def test_backups_only_and_stale_only_do_not_overlap() -> None:
    report = account(
        MODELS,
        backups={"child:latest-backup", "gone:latest-backup"},
        stale={"child:latest"},
    )
    assert report.held_by_backups_only == 40
    assert report.held_by_stale_only == 92  # the old weights, once child is rebuilt
    # Held by exactly the stale model and its backup, nothing else: still counted.
    only_its_backup = account(MODELS, backups={"child:latest-backup"}, stale={"child:latest"})
    assert only_its_backup.held_by_stale_only == 92


def test_orphans_are_blob_files_no_manifest_names() -> None:
    files = [BlobFile(NEW, 100, 5.0), BlobFile("sha256:loose", 7, 9000.0)]
    report = account(MODELS, blob_files=files)
    assert [o.digest for o in report.orphans] == ["sha256:loose"]
    assert report.orphan_bytes == 7
    assert account(MODELS).orphans == ()  # the folder was not read: none can be told


def test_the_report_lists_orphans_biggest_first_and_passes_the_rest_through() -> None:
    loose = [BlobFile("sha256:b", 7, 1.0), BlobFile("sha256:c", 9, 1.0), BlobFile("sha256:a", 7, 1)]
    partial = [BlobFile("sha256:new-partial", 3, 1.0)]
    report = account(MODELS, blob_files=loose, partial=partial, free_bytes=5, problems=["x"])
    assert [o.digest for o in report.orphans] == ["sha256:c", "sha256:a", "sha256:b"]
    assert report.partial == tuple(partial) and report.problems == ("x",)
    assert report.free_bytes == 5 and report.approximate is False
    assert account(MODELS, approximate=True).approximate is True


def test_deleting_a_group_frees_what_only_the_group_names() -> None:
    assert frees(MODELS, {"child:latest-backup"}) == 0
    assert frees(MODELS, {"child:latest-backup", "child:latest"}) == 92


def test_sizes_read_like_ollama_list() -> None:
    assert human_bytes(19_851_337_663) == "19.9 GB"
    assert human_bytes(512) == "512 B"


# From the listing alone (what the status line and the plans show): each model as its weights.
LISTED = build_snapshot(
    [
        ModelFacts("qwq:latest", "d2" * 32, size=100, weights_blob="w2"),  # pulled: new weights
        ModelFacts("qwq:20k", "c1" * 32, size=90, parent_model="qwq:latest", weights_blob="w1"),
        ModelFacts("qwq:20k-backup", "c0" * 32, size=90, weights_blob="w1"),
        ModelFacts("gone:latest-backup", "b0" * 32, size=40, weights_blob="w0"),
        ModelFacts("llama:latest", "a1" * 32, size=50, weights_blob="w5"),
        ModelFacts("llama:x", "a2" * 32, size=50, parent_model="llama:latest", weights_blob="w5"),
        ModelFacts("orphan:x", "f1" * 32, size=7, parent_model="deleted:latest", weights_blob="w9"),
    ],
    {"orphan:x": Link("orphan:x", "deleted:latest", "9" * 64)},  # its base: a missing node
    backups={"qwq:20k-backup": "qwq:20k", "gone:latest-backup": "gone:latest"},
)


def test_backups_keep_only_what_no_listed_model_names() -> None:
    assert kept_by_backups(LISTED) == 40  # qwq:20k still names w1
    assert kept_by_backups(build_snapshot([ModelFacts("a:latest", "1" * 64, size=9)])) == 0


def test_what_backups_will_hold_after_rebuilds_and_pulls() -> None:
    assert backups_will_hold(LISTED, ["qwq:20k"]) == 90  # its old weights, held by its backup
    assert backups_will_hold(LISTED, ["llama:x"]) == 0  # its base still names them
    assert backups_will_hold(LISTED, ["llama:x"], pulls=["llama:latest"]) == 50


def test_sizes_and_ages_switch_unit_at_the_unit() -> None:
    sizes = [10**12, 10**9, 10**6, 1000, 999]
    assert [human_bytes(n) for n in sizes] == ["1.0 TB", "1.0 GB", "1.0 MB", "1.0 KB", "999 B"]
    ages = [86400, 86399, 3600, 3599, 60, 59.9, 0.4, -3]
    assert [human_age(s) for s in ages] == ["1d", "23h", "1h", "59m", "1m", "59s", "0s", "0s"]
