"""r, R and their modal: what the user sees and exactly what the server receives."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from textual.widgets import Log

from ollama_lineage.fake_ollama import FakeOllama
from ollama_lineage.services.lock import lock_path
from ollama_lineage.ui.screens.rebuild import RebuildScreen, plan_warnings
from ollama_lineage.ui.widgets.tick_list import TickList

from .conftest import AppFactory, cursor, names, press_for, ready, row, rows, select, wait_for


def posts(fake: FakeOllama, path: str) -> list[dict[str, object]]:
    return [r.body for r in fake.requests if r.method == "POST" and r.path == path]


async def test_rebuild_sends_one_create_with_the_overrides(
    make_app: AppFactory, fake: FakeOllama
) -> None:
    fake.pull("qwq:latest")  # a rebuild that changes nothing keeps no backup
    async with make_app().run_test(size=(100, 30)) as pilot:
        app = await ready(pilot)
        await select(pilot, "qwq:latest_20K")
        fake.clear_requests()
        modal = await press_for(pilot, "r", RebuildScreen)
        plan = modal.plan
        assert plan is not None and plan.request["from"] == "qwq:latest"
        await pilot.press("enter")
        await wait_for(pilot, lambda: modal.finished)
        assert modal.failures == 0
        creates = posts(fake, "/api/create")
        assert len(creates) == 1
        assert creates[0]["from"] == "qwq:latest"
        assert creates[0]["parameters"] == {"num_ctx": 20000, "num_thread": 16}
        copies = posts(fake, "/api/copy")
        assert copies == [{"source": "qwq:latest_20K", "destination": plan.backup}]
        assert any("success" in line for line in modal.query_one(Log).lines)
        await pilot.press("escape")
        await wait_for(pilot, lambda: plan.backup in names(app))
        assert "fresh" in row(app, "qwq:latest_20K")
        assert "backup" in row(app, plan.backup)


async def test_stale_model_turns_fresh_after_rebuild(make_app: AppFactory) -> None:
    async with make_app().run_test(size=(100, 30)) as pilot:
        app = await ready(pilot)
        await select(pilot, "llama3.2:latest-mario")
        assert "stale" in row(app, "llama3.2:latest-mario")
        await pilot.press("r")
        await wait_for(pilot, lambda: isinstance(app.screen, RebuildScreen))
        await pilot.press("enter")
        await wait_for(pilot, lambda: "fresh" in row(app, "llama3.2:latest-mario"))
        assert cursor(app) == "llama3.2:latest-mario"


async def test_failed_create_keeps_the_old_model_and_says_why(
    make_app: AppFactory, fake: FakeOllama
) -> None:
    async with make_app().run_test(size=(100, 30)) as pilot:
        app = await ready(pilot)
        await select(pilot, "llama3.2:latest-mario")
        digest = fake.digest("llama3.2:latest-mario")
        fake.fail("/api/create", error="no space left on device")
        modal = await press_for(pilot, "r", RebuildScreen)
        await pilot.press("enter")
        await wait_for(pilot, lambda: modal.finished)
        assert modal.failures == 1
        assert any("no space left" in line for line in modal.query_one(Log).lines)
        assert fake.digest("llama3.2:latest-mario") == digest
        await pilot.press("escape")
        await wait_for(pilot, lambda: "failed" in row(app, "llama3.2:latest-mario"))


async def test_rebuild_all_goes_parents_first(make_app: AppFactory, fake: FakeOllama) -> None:
    async with make_app().run_test(size=(100, 30)) as pilot:
        app = await ready(pilot)
        fake.pull("qwq:latest")
        await wait_for(pilot, lambda: "stale upstream" in row(app, "qwq:latest_20K-coder"))
        fake.clear_requests()
        modal = await press_for(pilot, "R", RebuildScreen)
        assert modal.names == ["llama3.2:latest-mario", "qwq:latest_20K", "qwq:latest_20K-coder"]
        await pilot.press("enter")
        await wait_for(pilot, lambda: modal.finished, timeout=10)
        assert [b["model"] for b in posts(fake, "/api/create")] == modal.names
        await pilot.press("escape")
        for name in modal.names:

            def fresh(name: str = name) -> bool:
                return "fresh" in row(app, name)

            await wait_for(pilot, fresh)


async def test_R_before_the_registry_answered_asks_it_and_holds_nothing_back(
    make_app: AppFactory, fake: FakeOllama
) -> None:
    """The lineages taken on trust are asked of the registry at start-up; R pressed while
    those answers are still on their way asks for them itself, as rebuild --all-stale does,
    rather than hold every such model back as one the registry "could not confirm"."""
    for path in (
        "/v2/library/qwq/manifests/latest_20K",
        "/v2/library/llama3.2/manifests/latest-mario",
    ):
        fake.set_latency(2.0, path)
    async with make_app().run_test(size=(100, 30)) as pilot:
        app = await ready(pilot)
        fake.pull("qwq:latest")
        await wait_for(pilot, lambda: "stale upstream" in row(app, "qwq:latest_20K-coder"))
        modal = await press_for(pilot, "R", RebuildScreen)
        assert modal.names == ["llama3.2:latest-mario", "qwq:latest_20K", "qwq:latest_20K-coder"]


async def test_rebuild_all_shows_each_warning_and_skips_unticked(
    make_app: AppFactory, fake: FakeOllama
) -> None:
    async with make_app().run_test(size=(100, 30)) as pilot:
        app = await ready(pilot)
        fake.pull("qwq:latest")
        await wait_for(pilot, lambda: "stale upstream" in row(app, "qwq:latest_20K-coder"))
        modal = await press_for(pilot, "R", RebuildScreen)
        entries = {e.name: e for e in modal.entries}
        coder = entries["qwq:latest_20K-coder"]
        assert coder.plan is not None and coder.plan.stale_base == "qwq:latest_20K"
        assert coder.warnings == plan_warnings(coder.plan, short=True, batch=modal.names)
        assert any("qwq:latest_20K is itself stale" in w for w in coder.warnings)
        picks = modal.query_one(TickList)
        lines = [picks.render_line(y).text for y in range(picks.size.height)]
        shown_text = " ".join(" ".join(lines).split())
        assert "qwq:latest_20K is itself stale" in shown_text
        await pilot.press("space")  # untick the first, llama3.2:latest-mario
        assert modal.names == ["qwq:latest_20K", "qwq:latest_20K-coder"]
        fake.clear_requests()
        await pilot.press("enter")
        await wait_for(pilot, lambda: modal.finished, timeout=10)
        assert [b["model"] for b in posts(fake, "/api/create")] == modal.names
        assert "stale" in row(app, "llama3.2:latest-mario")


async def test_keep_all_deletes_the_backups_of_the_rebuilt_models(
    make_app: AppFactory, fake: FakeOllama
) -> None:
    async with make_app().run_test(size=(100, 30)) as pilot:
        app = await ready(pilot)
        fake.pull("qwq:latest")
        await wait_for(pilot, lambda: "stale upstream" in row(app, "qwq:latest_20K-coder"))
        modal = await press_for(pilot, "R", RebuildScreen)
        await pilot.press("enter")
        await wait_for(pilot, lambda: modal.finished, timeout=10)
        assert len(modal.backups) == 3
        assert all(fake.digest(b) for b in modal.backups)
        await pilot.press("K")
        await wait_for(pilot, lambda: all(fake.digest(b) is None for b in modal.backups))
        assert all(fake.digest(name) for name in modal.names)  # the models themselves stay
        await pilot.press("escape")
        await wait_for(pilot, lambda: "backup" not in " ".join(rows(app)))


async def test_keep_all_never_deletes_the_only_copy(make_app: AppFactory, fake: FakeOllama) -> None:
    async with make_app().run_test(size=(100, 30)) as pilot:
        app = await ready(pilot)
        await select(pilot, "llama3.2:latest-mario")
        modal = await press_for(pilot, "r", RebuildScreen)
        await pilot.press("enter")
        await wait_for(pilot, lambda: modal.finished)
        fake.delete("llama3.2:latest-mario")  # gone elsewhere: the backup is all that is left
        await wait_for(  # it reads missing, with its backup still under it
            pilot, lambda: app.session.syncer.snapshot.nodes["llama3.2:latest-mario"].facts is None
        )
        await pilot.press("K")
        await wait_for(pilot, lambda: modal.kept and "kept" in modal.query_one(Log).lines[-1])
        assert fake.digest(modal.backups[0]) is not None


async def test_a_rebuild_while_another_process_changes_models_names_it_and_sends_nothing(
    make_app: AppFactory, fake: FakeOllama, tmp_path: Path
) -> None:
    """A cron run holds the server's writer lock: r says who, and sends no copy or create."""
    lock = lock_path(tmp_path / "lineage.sqlite3", f"{fake.host}")
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(lock)], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == b"held\n"
        async with make_app().run_test(size=(100, 30)) as pilot:
            await ready(pilot)
            await select(pilot, "llama3.2:latest-mario")
            fake.clear_requests()
            modal = await press_for(pilot, "r", RebuildScreen)
            await pilot.press("enter")
            await wait_for(pilot, lambda: modal.finished)
            said = " ".join(" ".join(modal.query_one(Log).lines).split())  # unwrapped
            assert f"another ollama-lineage is changing models on {fake.host}" in said
            assert f"'rebuild --all-stale --yes' (pid {holder.pid} on " in said
            assert posts(fake, "/api/copy") == posts(fake, "/api/create") == []
    finally:
        holder.communicate(b"")


# Another process holding the lock, as services/lock.py writes it, until its stdin closes.
HOLD_LOCK = """
import fcntl, json, os, socket, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)
fcntl.flock(fd, fcntl.LOCK_EX)
record = {"pid": os.getpid(), "host": socket.gethostname(),
          "command": "rebuild --all-stale --yes", "since": time.time()}
os.pwrite(fd, json.dumps(record).encode(), 1)
print("held", flush=True)
sys.stdin.read()
"""
