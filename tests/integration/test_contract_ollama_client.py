"""The official `ollama` Python client parses every stand-in response without complaint."""

from __future__ import annotations

import ollama
import pytest

from ollama_lineage.fake_ollama import FakeOllama


@pytest.fixture
def client(fake: FakeOllama) -> ollama.AsyncClient:
    return ollama.AsyncClient(host=fake.url)


async def test_list(client: ollama.AsyncClient, fake: FakeOllama) -> None:
    listed = await client.list()
    by_name = {m.model: m for m in listed.models}
    assert set(by_name) == set(fake.model_names())
    derived = by_name["qwq:latest_20K"]
    assert derived.digest == fake.digest("qwq:latest_20K")
    assert derived.details is not None and derived.details.parent_model == "qwq:latest"
    assert derived.details.parameter_size == "32.8B" and derived.details.family == "qwen2"
    assert derived.size is not None and derived.size > 19_000_000_000
    assert derived.modified_at is not None and derived.modified_at.tzinfo is not None


async def test_show(client: ollama.AsyncClient) -> None:
    shown = await client.show("qwq:latest_20K-coder")
    assert shown.modelfile is not None and "# FROM qwq:latest_20K-coder\n" in shown.modelfile
    assert (
        shown.parameters is not None and "num_ctx                        20000" in shown.parameters
    )
    assert shown.details is not None and shown.details.parent_model == "qwq:latest_20K"
    assert shown.template is not None and "<|im_start|>" in shown.template
    assert shown.modelinfo is not None and shown.modelinfo["general.architecture"] == "qwen2"
    assert shown.capabilities == ["completion", "tools"]
    assert shown.modified_at is not None
    with pytest.raises(ollama.ResponseError) as missing:
        await client.show("nosuch")
    assert missing.value.status_code == 404
    assert missing.value.error == "model 'nosuch:latest' not found"


async def test_copy_create_delete(client: ollama.AsyncClient, fake: FakeOllama) -> None:
    copied = await client.copy("qwq:latest_20K", "qwq:latest_20K-backup")
    assert copied.status == "success"
    assert fake.digest("qwq:latest_20K-backup") == fake.digest("qwq:latest_20K")

    created = await client.create(
        "mario",
        from_="llama3.2",
        system="You are Mario.",
        parameters={"num_ctx": 4096, "temperature": 0.8},
    )
    assert created.status == "success"
    shown = await client.show("mario")
    assert shown.details is not None and shown.details.parent_model == "llama3.2:latest"
    assert shown.parameters is not None and "temperature                    0.8" in shown.parameters

    progress = [p async for p in await client.create("mario2", from_="mario", stream=True)]
    assert [p.status for p in progress[-2:]] == ["writing manifest", "success"]
    assert all(p.status and p.status.startswith("using existing layer") for p in progress[:-2])

    deleted = await client.delete("mario2")
    assert deleted.status == "success"
    assert "mario2:latest" not in fake.model_names()
    with pytest.raises(ollama.ResponseError) as missing:
        await client.delete("mario2")
    assert missing.value.status_code == 404


async def test_pull(client: ollama.AsyncClient, fake: FakeOllama) -> None:
    progress = [p async for p in await client.pull("qwq:latest", stream=True)]
    assert progress[0].status == "pulling manifest" and progress[-1].status == "success"
    sized = [p for p in progress if p.total]
    assert sized and all(p.digest and p.digest.startswith("sha256:") for p in sized)
    assert any(p.completed == p.total for p in sized)

    assert (await client.pull("llama3.2")).status == "success"
    with pytest.raises(ollama.ResponseError) as missing:
        await client.pull("nosuch")
    assert missing.value.error == "pull model manifest: file does not exist"
    with pytest.raises(ollama.ResponseError):
        [p async for p in await client.pull("nosuch", stream=True)]


async def test_generate_and_ps(client: ollama.AsyncClient) -> None:
    options = {"seed": 42, "temperature": 0}
    parts = [
        p
        async for p in await client.generate(
            "qwq:latest_20K", "Hello?", stream=True, options=options
        )
    ]
    final = parts[-1]
    assert final.done and final.done_reason == "stop"
    assert final.eval_count == len(parts) - 1 and final.eval_duration
    text = "".join(p.response or "" for p in parts)
    whole = await client.generate("qwq:latest_20K", "Hello?", options=options)
    assert whole.response == text and whole.total_duration
    running = await client.ps()
    assert [m.model for m in running.models] == ["qwq:latest_20K"]
    assert running.models[0].context_length == 20000 and running.models[0].expires_at
