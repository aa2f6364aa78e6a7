"""Reading Ollama's models folder instead of `/api/show`, trusting only what tags vouches for."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from ollama_lineage.config import Settings, find_models_dir
from ollama_lineage.fake_ollama import FakeOllama
from ollama_lineage.ollama.client import OllamaClient
from ollama_lineage.ollama.models_dir import ModelsDir
from ollama_lineage.services.session import open_session


@pytest.fixture
def on_disk() -> Iterator[FakeOllama]:
    with FakeOllama(scenario="demo", manifests_on_disk=True) as fake:
        yield fake


def shows(fake: FakeOllama) -> list[str]:
    return [r.body["model"] for r in fake.requests if r.path == "/api/show"]


async def tree(fake: FakeOllama, db: Path, models_dir: Path | None) -> dict[str, tuple[str, str]]:
    settings = Settings(
        host=fake.url, db_path=db, registry=fake.registry_url, models_dir=models_dir
    )
    async with open_session(settings) as session:
        await session.syncer.poll()
        return {n.name: (n.kind.value, n.state.word) for n in session.syncer.snapshot.walk()}


async def test_the_folder_gives_the_same_tree_without_a_single_show(
    on_disk: FakeOllama, tmp_path: Path
) -> None:
    folder = Path(on_disk.models_dir)
    over_http = await tree(on_disk, tmp_path / "http.db", None)
    on_disk.clear_requests()
    from_disk = await tree(on_disk, tmp_path / "disk.db", folder)
    assert from_disk == over_http
    assert shows(on_disk) == []


async def test_a_manifest_that_is_not_the_listed_one_is_asked_over_http(
    on_disk: FakeOllama, tmp_path: Path
) -> None:
    folder = Path(on_disk.models_dir)
    manifest = folder / "manifests" / "registry.ollama.ai" / "library" / "qwq" / "latest_20K"
    manifest.write_bytes(manifest.read_bytes().replace(b'"layers"', b'"layers" '))
    on_disk.clear_requests()
    await tree(on_disk, tmp_path / "disk.db", folder)
    assert shows(on_disk) == ["qwq:latest_20K"]


def test_the_folder_is_found_where_ollama_keeps_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "models" / "manifests").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert find_models_dir({"OLLAMA_MODELS": str(tmp_path / "models")}) == tmp_path / "models"
    assert find_models_dir({"OLLAMA_MODELS": str(tmp_path / "nowhere")}) in (
        None,
        Path("/usr/share/ollama/.ollama/models"),
    )


async def test_every_spec_read_from_the_folder_is_the_one_the_server_shows(
    on_disk: FakeOllama,
) -> None:
    """What a rebuild keeps comes from these specs: the folder must lose nothing a show has,
    long texts (read in several pieces) included."""
    on_disk.create(
        "qwq:everything",
        "qwq:latest",
        system="be brief. " * 12_000,  # ~110 KB
        license=["MIT", "ADDENDUM " * 9_000],
        messages=[{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hey"}],
        parameters={"stop": ["<|a|>", "<|b|>"], "num_ctx": 8192, "temperature": 0.25},
        adapters={"lora.gguf": on_disk.upload_adapter()},
    )
    folder = ModelsDir(Path(on_disk.models_dir))
    client = OllamaClient(on_disk.url)
    try:
        tags = client.parse_tags(await client.tags_body())
        for tag in tags:
            shown = await client.show(tag.name)
            assert folder.read(tag.name, tag.digest) == replace(shown, capabilities=(), shape="")
    finally:
        await client.aclose()
    assert "qwq:everything" in {t.name for t in tags}
