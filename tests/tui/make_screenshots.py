"""Write screenshots/*.svg from the real app on the demo scenario.

Run: python tests/tui/make_screenshots.py  (from the repository root)
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

from ollama_lineage.config import Settings
from ollama_lineage.fake_ollama import FakeOllama
from ollama_lineage.ui.app import LineageApp
from ollama_lineage.ui.screens.rebuild import RebuildScreen

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.tui.conftest import ready, row, select, wait_for  # noqa: E402


async def main() -> None:
    out = ROOT / "screenshots"
    out.mkdir(exist_ok=True)
    with FakeOllama(scenario="demo") as fake, tempfile.TemporaryDirectory() as tmp:
        fake.set_pull_speed(None)
        settings = Settings(
            host=fake.url,
            db_path=Path(tmp) / "demo.sqlite3",
            registry=fake.registry_url,
            poll_seconds=0.2,
        )
        app = LineageApp(settings)
        async with app.run_test(size=(120, 36)) as pilot:
            await ready(pilot)
            await wait_for(pilot, lambda: "update available" in row(app, "qwq:latest"))
            await select(pilot, "llama3.2:latest-mario")
            app.save_screenshot("main-tree.svg", str(out))
            fake.pull("qwq:latest")
            await wait_for(pilot, lambda: "stale" in row(app, "qwq:latest_20K"))
            await select(pilot, "qwq:latest_20K")
            await wait_for(pilot, lambda: app.main.detail.detail.plan is not None)  # type: ignore[union-attr]
            await pilot.press("d")
            await pilot.pause(0.3)
            app.save_screenshot("modelfile-diff.svg", str(out))
            await pilot.press("r")
            await wait_for(pilot, lambda: isinstance(app.screen, RebuildScreen))
            await pilot.pause(0.3)
            app.save_screenshot("rebuild-plan.svg", str(out))
            await pilot.press("enter")
            modal = app.screen
            assert isinstance(modal, RebuildScreen)
            await wait_for(pilot, lambda: modal.finished)
            app.save_screenshot("rebuild-done.svg", str(out))
    await several_servers(out)
    print(f"wrote {out}")


async def several_servers(out: Path) -> None:
    """Two servers: the laptop never got the coder model and never pulled the new qwq."""
    with (
        FakeOllama(scenario="demo") as gpu,
        FakeOllama(scenario="demo") as laptop,
        tempfile.TemporaryDirectory() as tmp,
    ):
        laptop.delete("qwq:latest_20K-coder")
        gpu.publish("qwq:latest")
        gpu.pull("qwq:latest")
        common = {"db_path": Path(tmp) / "demo.sqlite3", "poll_seconds": 0.2}
        first = Settings(host=gpu.url, registry=gpu.registry_url, name="gpu", **common)  # type: ignore[arg-type]
        second = Settings(host=laptop.url, registry=gpu.registry_url, name="laptop", **common)  # type: ignore[arg-type]
        app = LineageApp(first, others=[second])
        async with app.run_test(size=(120, 36)) as pilot:
            await wait_for(pilot, lambda: "stale" in row(app, "gpu\tqwq:latest_20K"))
            await wait_for(pilot, lambda: "fresh" in row(app, "laptop\tqwq:latest_20K"))
            app.save_screenshot("several-servers.svg", str(out))
            await pilot.press("m")
            await wait_for(pilot, lambda: getattr(app.screen, "rows", None))
            await pilot.pause(0.3)
            app.save_screenshot("servers-view.svg", str(out))


if __name__ == "__main__":
    asyncio.run(main())
