"""The installed package alone (no checkout on the path) starts and finds its styles.

In CI the package under test is the wheel `pip install '.[test]'` put in site-packages.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

import ollama_lineage
from ollama_lineage.fake_ollama import FakeOllama

HEADLESS_START = """
import asyncio, sys
from pathlib import Path
import ollama_lineage
from ollama_lineage.ui.app import LineageApp, styles_dir
from ollama_lineage.config import Settings
from ollama_lineage.fake_ollama import FakeOllama

async def main():
    with FakeOllama(scenario="demo") as fake:
        settings = Settings(host=fake.url, db_path=Path(sys.argv[1]), registry=fake.url)
        app = LineageApp(settings)
        async with app.run_test(size=(80, 24)) as pilot:
            for _ in range(200):
                if not app.main.lineage.loading:
                    break
                await pilot.pause(0.05)
            print(app.main.lineage.snapshot.nodes["qwq:latest_20K"].state.word)
            print(any("-wide-detail" in rule.selectors for rule in app.stylesheet.rules))

asyncio.run(main())
print(ollama_lineage.__file__)
print(styles_dir())
"""


def clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["NO_COLOR"] = "1"
    return env


def test_the_installed_package_starts_headless_and_finds_its_styles(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", HEADLESS_START, str(tmp_path / "db.sqlite3")],
        cwd=tmp_path,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    state, our_rule_loaded, package_file, styles = done.stdout.strip().splitlines()[-4:]
    assert state == "fresh"
    assert our_rule_loaded == "True"  # a rule only styles/app.tcss has
    styles_path = Path(styles)
    for name in ("states.tcss", "app.tcss", "dialogs.tcss"):
        assert (styles_path / name).is_file()
    if "site-packages" in package_file:  # a real install: the styles travel in the wheel
        assert styles_path == Path(package_file).parent / "styles"


def test_the_console_script_is_installed() -> None:
    script = shutil.which("ollama-lineage", path=str(Path(sys.executable).parent))
    assert script is not None
    done = subprocess.run([script, "--version"], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == f"ollama-lineage {ollama_lineage.__version__}"


def test_the_console_script_prints_the_whole_listing_and_its_exit_code(tmp_path: Path) -> None:
    """The script ends by freezing what the run made (a quicker exit); the output must still
    arrive whole and the exit code be the command's."""
    script = shutil.which("ollama-lineage", path=str(Path(sys.executable).parent))
    assert script is not None
    with FakeOllama(scenario="demo", manifests_on_disk=True) as fake:
        with urllib.request.urlopen(f"{fake.url}/api/tags") as answer:
            names = {m["name"] for m in json.load(answer)["models"]}
        command = [script, "status", "--json", "--host", fake.url, "--db", str(tmp_path / "db")]
        done = subprocess.run(
            [*command, "--models-dir", str(fake.models_dir)],
            capture_output=True,
            text=True,
            timeout=60,
            env={k: v for k, v in clean_env().items() if k != "PYTHONUNBUFFERED"},
        )
    assert done.returncode == 1, done.stderr  # the demo has stale models
    listed = json.loads(done.stdout)["models"]
    assert names <= {m["name"] for m in listed}  # and bases that are gone
