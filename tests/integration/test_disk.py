"""`disk` on the stand-in's real models folder: what models, backups and orphans hold, and a
prune that deletes orphans only."""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ollama_lineage.cli import main
from ollama_lineage.config import Settings
from ollama_lineage.fake_ollama import FakeOllama
from ollama_lineage.services.disk import find_orphans, prune
from ollama_lineage.services.session import open_session

HOUR = 3600


@pytest.fixture
def on_disk() -> Iterator[FakeOllama]:
    with FakeOllama(scenario="demo", manifests_on_disk=True) as fake:
        yield fake


def run(fake: FakeOllama, db: Path, *args: str, folder: str | None = None) -> int:
    return main(
        [
            *args,
            "--host",
            fake.host,
            "--db",
            str(db),
            "--registry",
            fake.registry_url,
            "--models-dir",
            folder or fake.models_dir,
        ]
    )


def disk_json(fake: FakeOllama, db: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    capsys.readouterr()
    assert run(fake, db, "disk", "--json") == 0
    return dict(json.loads(capsys.readouterr().out))


def blob(fake: FakeOllama, name: str) -> Path:
    return Path(fake.models_dir) / "blobs" / name


def plant(fake: FakeOllama, char: str, size: int, age: float, suffix: str = "") -> Path:
    path = blob(fake, f"sha256-{char * 64}{suffix}")
    path.write_bytes(b"\0" * size)
    then = time.time() - age
    os.utime(path, (then, then))
    return path


def weights(fake: FakeOllama, name: str) -> tuple[str, int]:
    manifest = json.loads(fake.manifest_path(name).read_bytes())
    layer = next(x for x in manifest["layers"] if x["mediaType"].endswith(".model"))
    return layer["digest"], layer["size"]


def named_blobs(fake: FakeOllama) -> set[Path]:
    found = set()
    for name in fake.model_names():
        manifest = json.loads(fake.manifest_path(name).read_bytes())
        for layer in [manifest["config"], *manifest["layers"]]:
            found.add(blob(fake, layer["digest"].replace(":", "-")))
    return found


def test_models_backups_stale_and_orphans_are_accounted(
    on_disk: FakeOllama, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "db"
    old_weights, old_size = weights(on_disk, "qwq:latest")
    on_disk.publish("qwq:latest")
    on_disk.pull("qwq:latest")  # qwq:latest_20K (and its child) now hold the old weights alone
    mario_weights, mario_size = weights(on_disk, "llama3.2:latest-mario")
    assert run(on_disk, db, "rebuild", "llama3.2:latest-mario", "--yes") == 0
    plant(on_disk, "e", 5000, 3 * HOUR)

    report = disk_json(on_disk, db, capsys)

    assert set(report) == {
        "models",
        "held_by_backups_only",
        "held_by_stale_only",
        "orphans",
        "orphan_bytes",
        "free_bytes",
        "approximate",
    }
    models = {m["name"]: m for m in report["models"]}
    assert set(models["qwq:latest"]) == {"name", "bytes", "unique_bytes"}
    backup = next(
        n for n in models if n.startswith("llama3.2:latest-mario") and n != "llama3.2:latest-mario"
    )
    # the backup alone keeps mario's old weights (its base had moved on)
    assert models[backup]["unique_bytes"] >= mario_size
    assert report["held_by_backups_only"] >= mario_size
    assert report["held_by_backups_only"] < mario_size + 10_000
    # the stale qwq derivatives alone keep qwq's old weights
    assert report["held_by_stale_only"] >= old_size
    assert report["held_by_stale_only"] < old_size + 10_000
    assert models["qwq:latest_20K"]["unique_bytes"] < 1000  # shared with its child
    assert report["orphans"] == [{"digest": "sha256:" + "e" * 64, "bytes": 5000}]
    assert report["orphan_bytes"] == 5000
    assert report["free_bytes"] > 0
    assert report["approximate"] is False
    assert old_weights != mario_weights


def test_a_derivative_whose_rebuild_failed_is_counted_with_the_stale(
    on_disk: FakeOllama, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Seen on a real Ollama with a full disk: qwq:latest_20K's rebuild failed, so it still
    holds the old qwq weights, with its child and its backup, and `disk` counted them nowhere."""
    db = tmp_path / "db"
    old_weights, old_size = weights(on_disk, "qwq:latest")
    on_disk.publish("qwq:latest")
    on_disk.pull("qwq:latest")
    stale = disk_json(on_disk, db, capsys)["held_by_stale_only"]
    assert stale >= old_size  # while qwq:latest_20K reads stale
    on_disk.fail("/api/create", status=500, error="no space left on device")
    assert run(on_disk, db, "rebuild", "qwq:latest_20K", "--yes") == 1
    capsys.readouterr()
    assert run(on_disk, db, "status", "--json") == 1
    states = {m["name"]: m["state"] for m in json.loads(capsys.readouterr().out)["models"]}
    assert states["qwq:latest_20K"] == "failed"

    assert disk_json(on_disk, db, capsys)["held_by_stale_only"] == stale
    assert weights(on_disk, "qwq:latest_20K")[0] == old_weights


def test_without_the_folder_sizes_are_said_to_be_approximate(
    on_disk: FakeOllama, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(on_disk, tmp_path / "db", "disk", folder="none") == 0
    out = capsys.readouterr().out
    assert "sizes are approximate" in out
    assert "orphans: unknown" in out
    capsys.readouterr()
    assert run(on_disk, tmp_path / "db", "disk", "--json", folder="none") == 0
    report = json.loads(capsys.readouterr().out)
    assert report["approximate"] is True
    assert report["free_bytes"] is None
    assert {m["name"] for m in report["models"]} == set(on_disk.model_names())


def test_prune_deletes_old_orphans_only(
    on_disk: FakeOllama, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "db"
    assert run(on_disk, db, "rebuild", "llama3.2:latest-mario", "--yes") == 0
    old = plant(on_disk, "a", 7000, 2 * HOUR)
    young = plant(on_disk, "b", 9000, 60)  # a pull writes blobs before its manifest
    partial = plant(on_disk, "c", 4000, 5 * HOUR, "-partial")
    part = plant(on_disk, "c", 4000, 5 * HOUR, "-partial-0")
    named = named_blobs(on_disk)
    listed = on_disk.model_names()
    capsys.readouterr()

    assert run(on_disk, db, "disk", "--prune-orphans", "--yes") == 0

    out = capsys.readouterr().out
    assert "freed 7.0 KB (1 blobs)" in out
    assert not old.exists()
    assert young.exists() and partial.exists() and part.exists()
    assert all(path.exists() for path in named)
    assert on_disk.model_names() == listed
    assert run(on_disk, db, "status") in (0, 1)


def test_prune_asks_first(
    on_disk: FakeOllama, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old = plant(on_disk, "a", 7000, 2 * HOUR)
    assert run(on_disk, tmp_path / "db", "disk", "--prune-orphans") == 2  # no one to ask
    assert "pass --yes" in capsys.readouterr().err
    assert old.exists()


def _unparsable_manifest(fake: FakeOllama, other: FakeOllama) -> str:
    fake.manifest_path("phi4:latest").write_bytes(b"{not json")
    return "does not parse"


def _foreign_blob(fake: FakeOllama, other: FakeOllama) -> str:
    (blob(fake, "notes.txt")).write_text("mine")
    return "is not a blob Ollama writes"


def _unreadable_blob(fake: FakeOllama, other: FakeOllama) -> str:
    blob(fake, "sha256-" + "d" * 64).symlink_to("/nonexistent/blob")
    return "cannot read the blob"


def _unreadable_folder(fake: FakeOllama, other: FakeOllama) -> str:
    # blobs/ made a file: the folder cannot be listed (root reads any mode, so no chmod)
    for path in blob(fake, "x").parent.iterdir():
        path.unlink()
    blob(fake, "x").parent.rmdir()
    blob(fake, "x").parent.write_text("")
    return "cannot read"


def _another_servers_folder(fake: FakeOllama, other: FakeOllama) -> str:
    fake.models_dir = other.models_dir
    return "is not the folder of"


@pytest.mark.parametrize(
    "spoil",
    [
        _unparsable_manifest,
        _foreign_blob,
        _unreadable_blob,
        _unreadable_folder,
        _another_servers_folder,
    ],
)
def test_bad_input_is_said_and_nothing_is_deleted(
    spoil: Any, on_disk: FakeOllama, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with FakeOllama(scenario="demo", manifests_on_disk=True) as other:
        other.create("extra:latest", "phi4:latest")
        old = plant(on_disk, "a", 7000, 2 * HOUR)
        other_old = plant(other, "a", 7000, 2 * HOUR)
        said = spoil(on_disk, other)
        capsys.readouterr()
        assert run(on_disk, tmp_path / "db", "disk", "--prune-orphans", "--yes") == 2
        err = capsys.readouterr().err
        assert said in err
        assert "nothing deleted" in err
        assert other_old.exists()
        assert old.exists() or said == "cannot read"


def test_another_servers_folder_is_not_read_as_this_ones(
    on_disk: FakeOllama, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with FakeOllama(scenario="demo", manifests_on_disk=True) as other:
        other.create("extra:latest", "phi4:latest")
        plant(other, "a", 7000, 2 * HOUR)
        capsys.readouterr()
        assert run(on_disk, tmp_path / "db", "disk", folder=other.models_dir) == 0
    out = capsys.readouterr().out
    assert "sizes are approximate, from /api/tags: extra:latest is in" in out
    assert "orphans: unknown" in out


async def test_a_blob_a_model_names_after_the_list_was_made_is_not_deleted(
    on_disk: FakeOllama, tmp_path: Path
) -> None:
    """Every manifest is read again right before deleting: a create that took an orphan's
    content in between keeps it."""
    template = "{{ .Prompt }} said late"
    path = blob(on_disk, "sha256-" + hashlib.sha256(template.encode()).hexdigest())
    path.write_text(template)
    os.utime(path, (time.time() - 2 * HOUR,) * 2)
    settings = Settings(
        host=on_disk.url,
        db_path=tmp_path / "db",
        registry=on_disk.registry_url,
        models_dir=Path(on_disk.models_dir),
    )
    async with open_session(settings) as session:
        await session.syncer.poll()
        planned = await find_orphans(session)
        assert [b.digest.removeprefix("sha256:") for b in planned.delete] == [path.name[7:]]
        on_disk.create("late:latest", "phi4:latest", template=template)
        freed = await prune(session, planned)
    assert freed == []
    assert path.exists()
