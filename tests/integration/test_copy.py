"""`copy NAME --to HOST` between two and three stand-ins: what each server was asked, and what
it holds afterwards. Models are made the way a user makes them (tiny real GGUFs uploaded as
blobs, then `/api/create`), so a base sent by its blobs can be compared digest for digest."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from ollama_lineage.cli import main
from ollama_lineage.fake_ollama import FakeOllama
from tests.stand_in_http import Server, interrupted_in_first_create

Capture = pytest.CaptureFixture[str]
BASE, CHILD, GRANDCHILD = "tiny:latest", "tiny:latest_4K", "tiny:latest_4K-terse"


@pytest.fixture
def here(tmp_path: Path) -> Iterator[Server]:
    """The source: its models folder laid out as Ollama's, readable here."""
    with FakeOllama(scenario="empty", version="0.33.0-rc2", manifests_on_disk=True) as fake:
        server = Server(fake, tmp_path / "here")
        server.files.mkdir()
        server.base(BASE, seed=1)
        server.create(model=CHILD, parameters={"num_ctx": 4096}, **{"from": BASE})
        server.create(model=GRANDCHILD, system="Be terse.", **{"from": CHILD})
        yield server


@pytest.fixture
def there(tmp_path: Path) -> Iterator[Server]:
    with FakeOllama(scenario="empty", version="0.33.0-rc2") as fake:
        server = Server(fake, tmp_path / "there")
        server.files.mkdir()
        yield server


def copy(here: Server, there: Server, db: Path, *args: str) -> int:
    where = ["--host", here.fake.host, "--db", str(db), "--registry", here.fake.registry_url]
    return main(
        ["copy", *args, "--to", there.fake.host, *where, "--models-dir", here.fake.models_dir]
    )


def asked(server: Server) -> list[str]:
    """What the server was asked to do, leaving out the reads (tags, show, version)."""
    reads = ("/api/tags", "/api/show", "/api/version")
    return [f"{r.method} {r.path}" for r in server.fake.requests if r.path not in reads]


def weights_of(server: Server, name: str) -> str:
    """The weights layer's digest, as the server's manifest names it."""
    manifest = json.loads(server.fake.manifest_path(name).read_bytes())
    return str(next(x["digest"] for x in manifest["layers"] if x["mediaType"].endswith(".model")))


def digest(server: Server, name: str) -> str:
    found = server.fake.digest(name)
    assert found is not None, name
    return found


def model_names(server: Server) -> list[str]:
    return sorted(server.fake.model_names())


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "db"


def test_a_derivative_whose_base_is_there_costs_one_create(
    here: Server, there: Server, db: Path, capsys: Capture
) -> None:
    there.base(BASE, seed=1)  # the same weights and extras: the same digest
    assert there.fake.digest(BASE) == here.fake.digest(BASE)
    there.fake.clear_requests()

    assert copy(here, there, db, CHILD, "--yes") == 0

    assert asked(there) == ["POST /api/create"]
    assert there.fake.digest(CHILD) == here.fake.digest(CHILD)
    out = capsys.readouterr().out
    assert f"{BASE}: already on {there.fake.host.split('//')[-1]}" in out
    assert f"{CHILD}: created on " in out and ", as on " in out


def test_a_base_made_from_a_file_goes_by_its_blobs_and_comes_out_the_same(
    here: Server, there: Server, db: Path, capsys: Capture
) -> None:
    """As on two real servers (0.33): the weights blob sent with `POST /api/blobs`, the base
    created from it with its template, parameters and license, gives the very same digest."""
    weights = weights_of(here, BASE)

    assert copy(here, there, db, GRANDCHILD, "--yes") == 0

    calls = asked(there)
    assert calls[:2] == [f"HEAD /api/blobs/{weights}", f"POST /api/blobs/{weights}"]
    creates = [r.body for r in there.fake.requests if r.path == "/api/create"]
    assert [c["model"] for c in creates] == [BASE, CHILD, GRANDCHILD]
    assert creates[0]["files"] == {f"{weights.replace(':', '-')}.gguf": weights}
    assert creates[0]["license"] == ["BASE LICENSE"]
    for name in (BASE, CHILD, GRANDCHILD):
        assert there.fake.digest(name) == here.fake.digest(name), name
    out = capsys.readouterr().out
    assert f"{BASE}: created from the blobs sent on " in out

    there.fake.clear_requests()  # again: nothing left to do
    assert copy(here, there, db, GRANDCHILD, "--yes") == 0
    assert asked(there) == []


def test_a_base_there_under_another_digest_is_never_overwritten(
    here: Server, there: Server, db: Path, capsys: Capture
) -> None:
    there.base(BASE, seed=2)
    before = digest(there, BASE)
    there.fake.clear_requests()

    assert copy(here, there, db, CHILD, "--yes") == 2

    err = capsys.readouterr().err
    assert f"has {BASE} as {before[:12]}, not {digest(here, BASE)[:12]}" in err
    assert "a base is never overwritten" in err
    assert asked(there) == []
    assert there.fake.digest(BASE) == before


def test_a_model_of_that_name_from_another_recipe_is_backed_up_first(
    here: Server, there: Server, db: Path, capsys: Capture
) -> None:
    there.base(BASE, seed=1)
    there.create(model=CHILD, parameters={"num_ctx": 2048}, **{"from": BASE})
    theirs = digest(there, CHILD)

    assert copy(here, there, db, CHILD, "--yes") == 0

    out = capsys.readouterr().out
    assert f"{CHILD}: create on " in out and f"has it as {theirs[:12]}, from another recipe" in out
    assert there.fake.digest(CHILD) == here.fake.digest(CHILD)
    backups = [n for n in model_names(there) if n.startswith(f"{CHILD}.bak-")]
    assert len(backups) == 1 and there.fake.digest(backups[0]) == theirs
    assert f"what was there is {backups[0]}" in out


def test_an_upload_cut_midway_creates_nothing_and_says_how_far_it_got(
    here: Server, there: Server, db: Path, capsys: Capture
) -> None:
    weights = weights_of(here, BASE)
    there.fake.fail(f"/api/blobs/{weights}", nth=2, mode="drop")  # the HEAD, then the POST

    assert copy(here, there, db, CHILD, "--yes") == 1

    captured = capsys.readouterr()
    assert f"{BASE}: sending {weights[:19]} (" in captured.err
    assert "nothing was created there" in captured.err
    assert "copy stopped: 1 built on it not copied" in captured.out
    assert model_names(there) == []
    assert not there.fake.state.has_blob(weights)


def test_with_children_copies_the_subtree_bases_first(
    here: Server, there: Server, db: Path, capsys: Capture
) -> None:
    assert copy(here, there, db, BASE, "--with-children", "--yes") == 0
    creates = [r.body["model"] for r in there.fake.requests if r.path == "/api/create"]
    assert creates == [BASE, CHILD, GRANDCHILD]
    assert model_names(there) == sorted([BASE, CHILD, GRANDCHILD])


def test_without_yes_on_a_pipe_it_shows_the_plan_and_sends_nothing(
    here: Server, there: Server, db: Path, capsys: Capture
) -> None:
    assert copy(here, there, db, CHILD) == 2
    captured = capsys.readouterr()
    target = there.fake.host.split("//")[-1]
    here_is = here.fake.host.split("//")[-1]
    assert captured.out.splitlines() == [
        f"{BASE}: send its blobs to {target}, then create it there from them"
        f" (made on {here_is}; no registry has it)",
        f"{CHILD}: create on {target} from its recipe",
    ]
    assert "pass --yes to copy" in captured.err
    assert asked(there) == []


def test_the_copy_is_in_the_target_s_history_and_its_tree(
    here: Server, there: Server, db: Path, capsys: Capture
) -> None:
    assert copy(here, there, db, CHILD, "--yes") == 0
    capsys.readouterr()
    where = ["--host", there.fake.host, "--db", str(db), "--models-dir", "none"]
    assert main(["status", "--json", *where, "--registry", there.fake.registry_url]) == 0
    models = {m["name"]: m for m in json.loads(capsys.readouterr().out)["models"]}
    assert (models[CHILD]["kind"], models[CHILD]["state"]) == ("derivative", "fresh")
    assert main(["history", CHILD, "--json", *where]) == 0
    (event,) = json.loads(capsys.readouterr().out)
    assert (event["kind"], event["status"]) == ("create", "success")


def test_a_base_from_the_registry_is_pulled_there_then_its_derivative_made(
    there: Server, tmp_path: Path, capsys: Capture
) -> None:
    with FakeOllama(scenario="demo") as demo:
        where = ["--host", demo.host, "--db", str(tmp_path / "db"), "--models-dir", "none"]
        to = ["--to", there.fake.host, "--registry", demo.registry_url, "--yes"]
        assert main(["copy", "qwq:latest_20K", *to, *where]) == 0
        assert asked(there) == ["POST /api/pull", "POST /api/create"]
        for name in ("qwq:latest", "qwq:latest_20K"):
            assert there.fake.digest(name) == demo.digest(name), name
    assert "qwq:latest: pulled on " in capsys.readouterr().out


def test_one_recipe_on_three_servers_reads_the_same_everywhere(
    here: Server, there: Server, tmp_path: Path, capsys: Capture
) -> None:
    db = tmp_path / "db"
    with FakeOllama(scenario="empty", version="0.33.0-rc2") as third:
        assert copy(here, there, db, CHILD, "--yes") == 0
        assert copy(here, Server(third, tmp_path), db, CHILD, "--yes") == 0
        capsys.readouterr()
        hosts = [w for f in (here.fake, there.fake, third) for w in ("--host", f.host)]
        where = ["--db", str(db), "--registry", here.fake.registry_url, "--models-dir", "none"]
        assert main(["status", "--json", *hosts, *where]) == 0
        listing = json.loads(capsys.readouterr().out)["hosts"]
        children = [next(m for m in h["models"] if m["name"] == CHILD) for h in listing]
        assert {(m["state"], m["digest"]) for m in children} == {("fresh", digest(here, CHILD))}


def test_copy_to_the_server_it_is_on_is_refused(here: Server, db: Path, capsys: Capture) -> None:
    here.fake.clear_requests()
    assert copy(here, here, db, CHILD, "--yes") == 2
    assert f"is the server {CHILD} is on" in capsys.readouterr().err
    assert asked(here) == []


def test_ctrl_c_during_a_copy_finishes_the_model_in_flight_and_stops(
    here: Server, there: Server, db: Path
) -> None:
    where = ["--host", here.fake.host, "--db", str(db), "--registry", here.fake.registry_url]
    args = ["copy", GRANDCHILD, "--to", there.fake.host, "--yes", *where]
    out, _ = interrupted_in_first_create(there.fake, [*args, "--models-dir", here.fake.models_dir])
    assert "stopped after 1 of 3; run again to continue" in out
    assert model_names(there) == [BASE]
    assert there.fake.digest(BASE) == here.fake.digest(BASE)


def test_the_matrix_says_which_servers_still_run_the_old_one(
    here: Server, there: Server, tmp_path: Path, capsys: Capture
) -> None:
    """The seed story across two servers: copy the child over, update the base here, look."""
    db = tmp_path / "db"
    assert copy(here, there, db, CHILD, "--yes") == 0
    here.base(BASE, seed=2)  # the base moves on here only
    capsys.readouterr()
    hosts = ["--host", here.fake.host, "--host", there.fake.host]
    where = ["--db", str(db), "--registry", here.fake.registry_url, "--models-dir", "none"]
    assert main(["status", "--matrix", *hosts, *where]) == 1
    a, b = (s.fake.host.split("//")[-1] for s in (here, there))
    lines = [line.split() for line in capsys.readouterr().out.splitlines()]
    built = digest(here, CHILD)[:8]  # the same build on both: the copy
    assert lines == [
        ["model", a, b],
        [CHILD, "!", "stale", built, "✓", "fresh", built],
        [GRANDCHILD, "~", "stale", "upstream", digest(here, GRANDCHILD)[:8], "∅", "missing"],
    ]
    assert main(["status", "--matrix", "--json", *hosts, *where]) == 1
    found = json.loads(capsys.readouterr().out)
    assert found["hosts"] == [a, b]
    child = next(m for m in found["models"] if m["name"] == CHILD)
    assert {h: c["state"] for h, c in child["on"].items()} == {a: "stale", b: "fresh"}


def test_blobs_the_other_folder_has_no_room_for_are_refused_before_a_byte_moves(
    here: Server, tmp_path: Path, capsys: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Free space first (issue 24) for a copy too: the other server's folder named in the
    hosts file, with 4 KB free, is not sent a 5 KB weights blob."""
    with FakeOllama(scenario="empty", version="0.33.0-rc2", manifests_on_disk=True) as target:
        folder = os.path.realpath(target.models_dir)
        real = os.statvfs

        def statvfs(path: str | os.PathLike[str]) -> os.statvfs_result:
            got = real(path)
            if os.path.realpath(path) != folder:
                return got
            return os.statvfs_result((got.f_bsize, 1, got.f_blocks, 4096, 4096, *list(got)[5:10]))

        monkeypatch.setattr(os, "statvfs", statvfs)
        target.create_from_file("seed:latest")  # a listed model: its folder provably its own
        hosts = tmp_path / "hosts.toml"
        hosts.write_text(
            f'[[host]]\nname = "laptop"\nurl = "{target.host}"\nmodels_dir = "{folder}"\n',
            encoding="utf-8",
        )
        where = ["--host", here.fake.host, "--db", str(tmp_path / "db")]
        more = ["--registry", here.fake.registry_url, "--models-dir", here.fake.models_dir]
        target.clear_requests()
        code = main(
            ["copy", CHILD, "--to", "laptop", "--hosts", str(hosts), "--yes", *where, *more]
        )
        assert code == 2
        err = capsys.readouterr().err
        assert "not enough free space for sending 1 blob(s) to laptop" in err
        assert "has 4.1 KB free; nothing was sent" in err
        assert [r.path for r in target.requests if r.method == "POST"] == []
