"""Disk accounting: shared blobs are counted once, and only what no one else names is freed."""

from __future__ import annotations

from ollama_lineage.core.disk import BlobFile, ModelBlobs, account, frees, human_bytes

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


def test_orphans_are_blob_files_no_manifest_names() -> None:
    files = [BlobFile(NEW, 100, 5.0), BlobFile("sha256:loose", 7, 9000.0)]
    report = account(MODELS, blob_files=files)
    assert [o.digest for o in report.orphans] == ["sha256:loose"]
    assert report.orphan_bytes == 7
    assert account(MODELS).orphans == ()  # the folder was not read: none can be told


def test_deleting_a_group_frees_what_only_the_group_names() -> None:
    assert frees(MODELS, {"child:latest-backup"}) == 0
    assert frees(MODELS, {"child:latest-backup", "child:latest"}) == 92


def test_sizes_read_like_ollama_list() -> None:
    assert human_bytes(19_851_337_663) == "19.9 GB"
    assert human_bytes(512) == "512 B"
