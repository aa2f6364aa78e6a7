"""Free space first, and a full disk that loses nothing.

The stand-in's `set_disk_free` makes its writes fail as a full disk does; what the app reads
with statvfs is the one fault a loopback server cannot make, so it is patched for its folder.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ollama_lineage.cli import main
from ollama_lineage.fake_ollama import FakeOllama

GB = 10**9
SetFree = Callable[[FakeOllama, int], None]
Capture = pytest.CaptureFixture[str]


@pytest.fixture
def on_disk() -> Iterator[FakeOllama]:
    with FakeOllama(scenario="demo", manifests_on_disk=True) as fake:
        yield fake


@pytest.fixture
def set_free(monkeypatch: pytest.MonkeyPatch) -> SetFree:
    real = os.statvfs

    def set_free(fake: FakeOllama, free: int) -> None:
        folder = os.path.realpath(fake.models_dir)

        def statvfs(path: str | os.PathLike[str]) -> os.statvfs_result:
            got = real(path)
            if os.path.realpath(path) != folder:
                return got
            return os.statvfs_result((got.f_bsize, 1, got.f_blocks, free, free, *list(got)[5:10]))

        monkeypatch.setattr(os, "statvfs", statvfs)
        fake.set_disk_free(free)

    return set_free


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


def sent(fake: FakeOllama, *paths: str) -> list[str]:
    return [r.path for r in fake.requests if r.path in paths]


def test_a_pull_that_does_not_fit_is_refused_with_both_numbers(
    on_disk: FakeOllama, set_free: SetFree, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    on_disk.publish("qwq:latest")
    before = on_disk.digest("qwq:latest")
    set_free(on_disk, 1 * GB)
    on_disk.clear_requests()

    assert run(on_disk, tmp_path / "db", "pull", "qwq:latest") == 2  # refused: nothing sent

    err = capsys.readouterr().err
    assert "not enough free space for pulling qwq:latest: it writes 19.9 GB" in err
    assert "has 1.0 GB free" in err
    assert sent(on_disk, "/api/pull") == []
    assert on_disk.digest("qwq:latest") == before


def test_a_pull_of_what_the_server_already_has_needs_no_room(
    on_disk: FakeOllama, set_free: SetFree, tmp_path: Path
) -> None:
    on_disk.pull("qwq:latest")  # the server has every layer the registry's qwq:latest has
    set_free(on_disk, 10_000)
    assert run(on_disk, tmp_path / "db", "pull", "qwq:latest") == 0
    assert sent(on_disk, "/api/pull") == ["/api/pull"]


def test_a_quantizing_rebuild_that_does_not_fit_is_refused(
    set_free: SetFree, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with FakeOllama(scenario="traps", manifests_on_disk=True) as fake:
        db = tmp_path / "db"
        child, base = "llama3.2:3b-q4", "llama3.2:3b-instruct-fp16"
        assert run(fake, db, "track", child, "--from", base, "--force") == 0
        fake.publish(base)
        fake.pull(base)
        before = fake.digest(child)
        set_free(fake, 1 * GB)
        fake.clear_requests()
        capsys.readouterr()

        assert run(fake, db, "rebuild", child, "--yes") == 2  # refused: nothing sent

        err = capsys.readouterr().err
        assert f"not enough free space for rebuilding {child} (quantized to Q4_K_M)" in err
        assert "has 1.0 GB free" in err
        assert sent(fake, "/api/copy", "/api/create") == []
        assert fake.digest(child) == before


def test_autopilot_skips_a_pull_that_does_not_fit_and_says_why(
    on_disk: FakeOllama, set_free: SetFree, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    on_disk.publish("qwq:latest")
    set_free(on_disk, 1 * GB)
    on_disk.clear_requests()
    checks = tmp_path / "checks.toml"
    checks.write_text("", encoding="utf-8")

    code = run(on_disk, tmp_path / "db", "autopilot", "--checks", str(checks), "--yes", "--json")

    assert code == 1
    report = json.loads(capsys.readouterr().out)
    qwq = next(m for m in report["models"] if m["name"] == "qwq:latest")
    assert qwq["outcome"] == "skipped"
    assert "not enough free space for pulling qwq:latest" in qwq["error"]
    assert sent(on_disk, "/api/pull") == []


def failed_reason(fake: FakeOllama, db: Path, name: str, capsys: Capture) -> tuple[str, str]:
    capsys.readouterr()
    run(fake, db, "status", "--json", folder="none")
    models = {m["name"]: m for m in json.loads(capsys.readouterr().out)["models"]}
    return models[name]["state"], models[name]["reason"]


def test_a_rebuild_whose_new_layer_does_not_fit_keeps_the_old_model_and_says_so(
    on_disk: FakeOllama, tmp_path: Path, capsys: Capture
) -> None:
    """As recorded (disk-full/013): the create's new params layer fails with a 500 before any
    line, naming the temporary file; the old model is untouched."""
    db = tmp_path / "db"
    name = "qwq:latest_20K"
    recipe = tmp_path / "Modelfile"
    recipe.write_text("FROM qwq:latest\nPARAMETER num_ctx 16384\nPARAMETER num_thread 16\n")
    assert run(on_disk, db, "track", name, "--from", "qwq:latest", "-f", str(recipe)) == 0
    before = on_disk.digest(name)
    on_disk.set_disk_free(len(on_disk.manifest_path(name).read_bytes()))  # the backup fits

    assert run(on_disk, db, "rebuild", name, "--yes", folder="none") == 1

    err = capsys.readouterr().err
    assert re.search(r"old model kept: Ollama: write \S+/blobs/sha256-\d+: no space left", err)
    assert on_disk.digest(name) == before
    state, reason = failed_reason(on_disk, db, name, capsys)
    assert state == "failed"
    assert "no space left on device" in reason


def test_a_backup_that_does_not_fit_stops_the_rebuild_and_prune_names_its_leftover(
    on_disk: FakeOllama, tmp_path: Path, capsys: Capture
) -> None:
    """As recorded (disk-full/011, 012, 017): the copy fails and leaves an empty manifest that
    tags skip and Ollama cannot delete; prune refuses and says to remove it by hand."""
    db = tmp_path / "db"
    name = "llama3.2:latest-mario"
    before = on_disk.digest(name)
    on_disk.set_disk_free(0)

    assert run(on_disk, db, "rebuild", name, "--yes", folder="none") == 1

    err = capsys.readouterr().err
    assert "old model kept: Ollama: write " in err
    assert ": copy_file_range: no space left on device" in err
    assert on_disk.digest(name) == before
    assert not [n for n in on_disk.model_names() if ".bak-" in n]
    assert run(on_disk, db, "disk", "--prune-orphans", "--yes") == 2
    err = capsys.readouterr().err
    assert "is empty (a copy or create ran out of disk space there)" in err
    assert "remove the file by hand" in err


def test_a_rebuild_with_almost_no_room_is_refused_before_its_backup(
    on_disk: FakeOllama, set_free: SetFree, tmp_path: Path, capsys: Capture
) -> None:
    """With 0 bytes free a real Ollama's backup copy left an empty manifest it cannot delete;
    when the folder is here a rebuild now needs room for its small files before the copy."""
    db = tmp_path / "db"
    name = "llama3.2:latest-mario"
    before = on_disk.digest(name)
    set_free(on_disk, 4096)
    on_disk.clear_requests()

    assert run(on_disk, db, "rebuild", name, "--yes") == 2

    err = capsys.readouterr().err
    assert f"not enough free space for rebuilding {name} (a backup and a create)" in err
    assert "it writes 1.0 MB" in err and "has 4.1 KB free; nothing was sent" in err
    assert sent(on_disk, "/api/copy", "/api/create") == []
    assert on_disk.digest(name) == before


def test_a_backup_that_runs_out_of_space_removes_the_empty_manifest_it_left(
    on_disk: FakeOllama, tmp_path: Path, capsys: Capture
) -> None:
    """The folder reads as roomy (another writer filled it since): the copy fails as recorded
    (disk-full/011) and leaves an empty manifest; with the folder here the rebuild removes it
    and says so, so nothing is left that `ollama rm` cannot delete."""
    db = tmp_path / "db"
    name = "llama3.2:latest-mario"
    before = on_disk.digest(name)
    on_disk.set_disk_free(0)  # the server's writes fail; statvfs still reads the real disk

    assert run(on_disk, db, "rebuild", name, "--yes") == 1

    err = capsys.readouterr().err
    assert ": copy_file_range: no space left on device; removed the empty manifest" in err
    leftovers = list(Path(on_disk.models_dir, "manifests").rglob("*.bak-*"))
    assert leftovers == []
    assert on_disk.digest(name) == before
    assert run(on_disk, db, "disk", "--prune-orphans", "--yes") == 0


def test_a_quantize_that_runs_out_of_space_keeps_the_old_model(
    tmp_path: Path, capsys: Capture
) -> None:
    """On a server whose folder is not here nothing can be measured first, and Ollama says only
    that llama-quantize failed (disk-full/015)."""
    with FakeOllama(scenario="traps") as fake:
        db = tmp_path / "db"
        child, base = "llama3.2:3b-q4", "llama3.2:3b-instruct-fp16"
        assert run(fake, db, "track", child, "--from", base, "--force", folder="none") == 0
        fake.publish(base)
        fake.pull(base)
        before = fake.digest(child)
        fake.set_disk_free(1 * GB)

        assert run(fake, db, "rebuild", child, "--yes", folder="none") == 1

        assert "old model kept: Ollama: llama-quantize failed: exit status 1" in (
            capsys.readouterr().err
        )
        assert fake.digest(child) == before


def test_a_pull_that_runs_out_of_space_leaves_the_old_version(
    on_disk: FakeOllama, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    on_disk.publish("qwq:latest")
    before = on_disk.digest("qwq:latest")
    on_disk.set_disk_free(1 * GB)

    assert run(on_disk, tmp_path / "db", "pull", "qwq:latest", folder="none") == 1

    assert "no space left on device" in capsys.readouterr().err
    assert on_disk.digest("qwq:latest") == before


def test_the_autopilot_plan_says_what_it_downloads_and_what_backups_will_hold(
    on_disk: FakeOllama, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    on_disk.publish("qwq:latest")
    checks = tmp_path / "checks.toml"
    checks.write_text("", encoding="utf-8")

    run(on_disk, tmp_path / "db", "autopilot", "--checks", str(checks))  # asks: not a tty

    out = capsys.readouterr().out
    # qwq's new weights; then qwq's old weights (its two derivatives) and mario's
    assert "downloads about 19.9 GB; the backups will then hold 21.9 GB of old weights" in out


def test_a_create_whose_manifest_no_longer_fits_gets_the_backup_put_back(
    on_disk: FakeOllama, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Ollama truncates a manifest before writing it: a disk that fills up meanwhile (another
    writer) leaves the model unlisted, and only the backup has it."""
    db = tmp_path / "db"
    on_disk.create("mybase:latest", "phi4:latest")
    on_disk.create("child:latest", "mybase:latest", parameters={"num_ctx": 4096})
    assert run(on_disk, db, "track", "child:latest", "--from", "mybase:latest") == 0
    on_disk.create("mybase:latest", "phi4:latest", system="be brief")  # one layer more
    before = on_disk.digest("child:latest")
    on_disk.set_disk_free(0, on_create=True)
    capsys.readouterr()

    assert run(on_disk, db, "rebuild", "child:latest", "--yes", folder="none") == 1

    err = capsys.readouterr().err
    assert "no space left on device" in err
    assert "old model restored from child:latest.bak-" in err
    assert on_disk.digest("child:latest") == before
