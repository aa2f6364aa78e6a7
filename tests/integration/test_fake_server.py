"""The stand-in Ollama over real HTTP: formats, status codes, state changes and faults."""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ollama_lineage.fake_ollama import ApiError, FakeOllama
from tests.conformance.tiny_gguf import write_model

HEX64 = re.compile(r"[0-9a-f]{64}")


@pytest.fixture
def http(fake: FakeOllama) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=fake.url, timeout=5) as client:
        yield client


def lines(response: httpx.Response) -> list[dict[str, Any]]:
    return [json.loads(line) for line in response.text.splitlines()]


def statuses(response: httpx.Response) -> list[str]:
    return [line.get("status") or f"error: {line['error']}" for line in lines(response)]


def tags(http: httpx.Client) -> dict[str, dict[str, Any]]:
    return {m["name"]: m for m in http.get("/api/tags").json()["models"]}


def show(http: httpx.Client, model: str) -> dict[str, Any]:
    response = http.post("/api/show", json={"model": model})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def from_blob(modelfile: str) -> str:
    match = re.search(
        r"^FROM /usr/share/ollama/\.ollama/models/blobs/sha256-([0-9a-f]{64})$", modelfile, re.M
    )
    assert match, modelfile
    return match.group(1)


# basics ------------------------------------------------------------------------------------


def test_root_version_and_head(http: httpx.Client) -> None:
    root = http.get("/")
    assert (root.status_code, root.text) == (200, "Ollama is running")
    assert root.headers["content-type"].startswith("text/plain")
    head = http.head("/")
    assert head.status_code == 200 and head.content == b""
    assert http.get("/api/version").json() == {"version": "0.33.1"}
    assert http.head("/api/tags").content == b""


def test_unknown_path_is_plain_404_and_wrong_method_405(http: httpx.Client) -> None:
    missing = http.get("/api/nope")
    assert (missing.status_code, missing.text) == (404, "404 page not found")
    assert missing.headers["content-type"].startswith("text/plain")
    assert http.get("/api/show").status_code == 405
    assert http.post("/api/tags").status_code == 405
    assert http.post("/api/delete", json={"model": "qwq"}).status_code == 405


def test_missing_body_is_400(http: httpx.Client) -> None:
    for method, path in [
        ("POST", "/api/show"),
        ("POST", "/api/create"),
        ("POST", "/api/pull"),
        ("DELETE", "/api/delete"),
    ]:
        response = http.request(method, path)
        assert response.status_code == 400, path
        assert response.json() == {"error": "missing request body"}


def test_keep_alive_requests_are_not_delayed_by_nagle() -> None:
    """Go's net/http sets TCP_NODELAY; without it each kept-alive answer waits ~40 ms for a
    delayed ACK (the benchmarks measure what that costs: no timed test here)."""
    from ollama_lineage.fake_ollama.handler import Handler

    assert Handler.disable_nagle_algorithm is True


# tags ----------------------------------------------------------------------------------------


def test_tags_shape_and_newest_first(http: httpx.Client) -> None:
    models = http.get("/api/tags").json()["models"]
    names = [m["name"] for m in models]
    assert sorted(names) == [
        "llama3.2:latest",
        "llama3.2:latest-mario",
        "mistral:7b-long",
        "my-gguf:latest",
        "phi4:latest",
        "qwq:latest",
        "qwq:latest_20K",
        "qwq:latest_20K-coder",
    ]
    stamps = [m["modified_at"] for m in models]
    assert names[0] == "llama3.2:latest"  # pulled 3 hours ago, the newest
    assert stamps == sorted(stamps, reverse=True)
    for model in models:
        assert model["model"] == model["name"]
        assert HEX64.fullmatch(model["digest"])
        assert model["size"] > 1_000_000_000
        assert set(model["details"]) == {  # as recorded from Ollama 0.33 (conformance/)
            "parent_model",
            "format",
            "family",
            "families",
            "parameter_size",
            "quantization_level",
            "context_length",
            "embedding_length",
        }
        assert model["capabilities"][0] == "completion"
    qwq = next(m for m in models if m["name"] == "qwq:latest")
    assert qwq["details"] == {
        "parent_model": "",
        "format": "gguf",
        "family": "qwen2",
        "families": ["qwen2"],
        "parameter_size": "32.8B",
        "quantization_level": "Q4_K_M",
        "context_length": 40960,
        "embedding_length": 5120,
    }


def test_tags_parent_model_is_the_immediate_parent(http: httpx.Client) -> None:
    parents = {name: m["details"]["parent_model"] for name, m in tags(http).items()}
    assert parents["qwq:latest_20K"] == "qwq:latest"
    assert parents["qwq:latest_20K-coder"] == "qwq:latest_20K"
    assert parents["llama3.2:latest-mario"] == "llama3.2:latest"
    assert parents["mistral:7b-long"] == "mistral:7b"
    assert parents["my-gguf:latest"] == "model.gguf"
    assert parents["qwq:latest"] == parents["phi4:latest"] == ""


def test_before_0_30_tags_hide_parent_model_but_show_has_it() -> None:
    with (
        FakeOllama(scenario="demo", version="0.29.0") as old,
        httpx.Client(base_url=old.url) as http,
    ):
        assert {m["details"]["parent_model"] for m in tags(http).values()} == {""}
        assert show(http, "qwq:latest_20K")["details"]["parent_model"] == "qwq:latest"
        assert http.get("/api/version").json() == {"version": "0.29.0"}


def test_size_is_layers_plus_config(fake: FakeOllama, http: httpx.Client) -> None:
    manifest = fake.state.find("qwq:latest")
    assert manifest is not None
    layers = manifest.manifest["layers"]
    expected = manifest.manifest["config"]["size"] + sum(layer["size"] for layer in layers)
    assert tags(http)["qwq:latest"]["size"] == expected


# show ----------------------------------------------------------------------------------------


def test_show_modelfile_format(http: httpx.Client) -> None:
    body = show(http, "qwq:latest_20K-coder")
    modelfile = body["modelfile"]
    assert modelfile.startswith(
        '# Modelfile generated by "ollama show"\n'
        "# To build a new Modelfile based on this, replace FROM with:\n"
        "# FROM qwq:latest_20K-coder\n\nFROM /usr/share/ollama/.ollama/models/blobs/sha256-"
    )
    assert modelfile.endswith("\n")
    assert 'TEMPLATE """{{- if or .System .Tools }}<|im_start|>system\n' in modelfile
    assert "\nSYSTEM You are a careful coding assistant.\n" in modelfile
    assert "\nPARAMETER num_ctx 20000\n" in modelfile
    assert "\nPARAMETER num_thread 16\n" in modelfile
    assert "\nPARAMETER temperature 0.2\n" in modelfile
    assert "\nPARAMETER stop <|im_start|>\n" in modelfile  # unquoted, as quote() does
    assert '\nLICENSE """Apache License\n' not in modelfile  # no quote inside: plain "..."
    assert '\nLICENSE "Apache License\n' in modelfile
    order = [
        modelfile.index(word)
        for word in ("\nFROM ", "\nTEMPLATE ", "\nSYSTEM ", "\nPARAMETER ", "\nLICENSE ")
    ]
    assert order == sorted(order)


def test_show_parameters_string(http: httpx.Client) -> None:
    parameters = show(http, "qwq:latest_20K")["parameters"]
    assert not parameters.endswith("\n")
    assert sorted(parameters.split("\n")) == [
        "num_ctx                        20000",
        "num_thread                     16",
        "repeat_penalty                 1",
        'stop                           "<|im_end|>"',
        'stop                           "<|im_start|>"',
        "temperature                    0.6",
        "top_k                          40",
        "top_p                          0.95",
    ]


def test_show_fields_and_go_html_escaping(http: httpx.Client) -> None:
    response = http.post("/api/show", json={"model": "qwq:latest_20K"})
    assert "\\u003c|im_start|\\u003e" in response.text  # Go's json escapes < and >
    body = response.json()
    assert body["details"]["parent_model"] == "qwq:latest"
    assert body["template"].startswith("{{- if or .System .Tools }}")
    assert "system" not in body  # omitempty
    assert body["model_info"]["general.architecture"] == "qwen2"
    assert body["capabilities"] == ["completion", "tools"]
    assert body["license"].startswith("Apache License")
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)", body["modified_at"]
    )


def test_show_default_template_and_file_parent(http: httpx.Client) -> None:
    body = show(http, "my-gguf")
    assert body["template"] == "{{ .Prompt }}"
    assert "\nTEMPLATE {{ .Prompt }}\n" in body["modelfile"]
    assert body["details"]["parent_model"] == "model.gguf"
    assert "parameters" not in body


def test_show_lookup_is_case_insensitive_and_accepts_name_alias(http: httpx.Client) -> None:
    body = show(http, "QWQ:LATEST_20k")
    assert "# FROM qwq:latest_20K\n" in body["modelfile"]
    alias = http.post("/api/show", json={"name": "qwq:latest_20K"})
    assert alias.status_code == 200


def test_show_errors(http: httpx.Client) -> None:
    missing = http.post("/api/show", json={"model": "mario"})
    assert (missing.status_code, missing.json()) == (
        404,
        {"error": "model 'mario:latest' not found"},
    )
    invalid = http.post("/api/show", json={"model": "a/:b"})
    assert (invalid.status_code, invalid.json()) == (400, {"error": "invalid model name"})


def test_derivative_shares_the_weights_blob_it_was_built_from(http: httpx.Client) -> None:
    qwq = from_blob(show(http, "qwq:latest")["modelfile"])
    assert from_blob(show(http, "qwq:latest_20K")["modelfile"]) == qwq
    assert from_blob(show(http, "qwq:latest_20K-coder")["modelfile"]) == qwq
    llama = from_blob(show(http, "llama3.2:latest")["modelfile"])
    assert from_blob(show(http, "llama3.2:latest-mario")["modelfile"]) != llama  # stale


# create --------------------------------------------------------------------------------------


def test_create_streams_layers_then_writes_manifest(http: httpx.Client) -> None:
    response = http.post(
        "/api/create",
        json={
            "model": "mario",
            "from": "llama3.2",
            "system": "You are Mario.",
            "parameters": {"num_ctx": 4096},
            "unknown_field": True,
        },
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/x-ndjson"
    got = statuses(response)
    assert got[-2:] == ["writing manifest", "success"]
    layer_lines = got[:-2]
    assert all(
        re.fullmatch(r"(using existing|creating new) layer sha256:[0-9a-f]{64}", s)
        for s in layer_lines
    )
    assert layer_lines[0].startswith("using existing layer")  # the weights
    assert sum(s.startswith("creating new") for s in layer_lines) == 2  # system and params
    body = show(http, "mario")
    assert body["details"]["parent_model"] == "llama3.2:latest"
    assert "num_ctx                        4096" in body["parameters"].split("\n")
    assert 'stop                           "<|eot_id|>"' in body["parameters"].split("\n")
    assert body["system"] == "You are Mario."


def test_create_merges_request_parameters_over_the_base(http: httpx.Client) -> None:
    response = http.post(
        "/api/create",
        json={
            "model": "qwq:x",
            "from": "qwq:latest_20K",
            "parameters": {"num_ctx": 8192},
            "stream": False,
        },
    )
    assert (response.status_code, response.json()) == (200, {"status": "success"})
    params = show(http, "qwq:x")["parameters"].split("\n")
    assert "num_ctx                        8192" in params
    assert "num_thread                     16" in params


def test_create_digest_changes_exactly_when_content_changes(
    fake: FakeOllama, http: httpx.Client
) -> None:
    def build(num_ctx: int) -> str:
        http.post(
            "/api/create",
            json={
                "model": "d",
                "from": "phi4",
                "stream": False,
                "parameters": {"num_ctx": num_ctx},
            },
        )
        digest: str = tags(http)["d:latest"]["digest"]
        return digest

    first = build(4096)
    assert build(4096) == first
    assert build(8192) != first
    upstream = http.get("/v2/library/phi4/manifests/latest").headers["ollama-content-digest"]
    assert first != upstream and fake.digest("phi4") == upstream


def test_created_manifest_is_go_encoded_with_from_on_copied_layers(fake: FakeOllama) -> None:
    local = fake.state.find("qwq:latest_20K")
    assert local is not None
    assert local.raw.endswith(b"}\n") and b'": ' not in local.raw
    froms = [layer.get("from") for layer in local.manifest["layers"]]
    assert froms[0] == "qwq:latest"
    assert froms[-1] is None  # the re-created params layer is new


def test_create_errors(http: httpx.Client) -> None:
    cases = [
        ({"model": "a/:b", "from": "qwq"}, "invalid model name"),
        ({"model": "x"}, "neither 'from' or 'files' was specified"),
        ({"model": "x", "modelfile": "FROM qwq"}, "neither 'from' or 'files' was specified"),
        ({"model": "x", "from": "qwq", "template": "{{ .Prompt"}, None),
    ]
    for request, error in cases:
        response = http.post("/api/create", json=request)
        assert response.status_code == 400, request
        assert error is None or response.json() == {"error": error}
    assert "x:latest" not in tags(http)


def test_create_from_unknown_model_fails_inside_the_stream(http: httpx.Client) -> None:
    response = http.post("/api/create", json={"model": "x", "from": "nosuch"})
    assert response.status_code == 200
    assert statuses(response) == [
        "pulling manifest",
        "error: pull model manifest: file does not exist",
    ]
    blocking = http.post("/api/create", json={"model": "x", "from": "nosuch", "stream": False})
    assert blocking.status_code == 500
    assert blocking.json() == {"error": "pull model manifest: file does not exist"}


def test_create_from_upstream_only_pulls_first(fake_empty: FakeOllama) -> None:
    with httpx.Client(base_url=fake_empty.url) as http:
        assert http.get("/api/tags").json() == {"models": []}
        got = statuses(
            http.post(
                "/api/create",
                json={"model": "q20", "from": "qwq", "parameters": {"num_ctx": 20000}},
            )
        )
        assert got[0] == "pulling manifest"
        assert got.count("success") == 2  # the pull's own success, then the create's
        assert got.index("success") < got.index("writing manifest", got.index("success"))
        assert set(tags(http)) == {"qwq:latest", "q20:latest"}


def test_create_from_uploaded_blob(http: httpx.Client, tmp_path: Path) -> None:
    data = write_model(tmp_path / "t.gguf").read_bytes()
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    assert http.head(f"/api/blobs/{digest}").status_code == 404
    wrong = http.post(f"/api/blobs/sha256:{'0' * 64}", content=data)
    assert wrong.status_code == 400
    chunked = iter([data[:5], data[5:]])  # the ollama client streams uploads (chunked)
    assert http.post(f"/api/blobs/{digest}", content=chunked).status_code == 201
    assert http.head(f"/api/blobs/{digest}").status_code == 200
    assert http.head("/api/blobs/sha256:zz").status_code == 400
    response = http.post("/api/create", json={"model": "tiny", "files": {"t.gguf": digest}})
    assert statuses(response)[:2] == ["parsing GGUF", "verifying conversion"]
    details = tags(http)["tiny:latest"]["details"]
    assert details["parent_model"] == ""  # rewritten by llama-quantize, as recorded
    assert (details["family"], details["parameter_size"]) == ("llama", "31K")  # read from the file
    not_gguf = b"not a model"
    http.post(f"/api/blobs/sha256:{hashlib.sha256(not_gguf).hexdigest()}", content=not_gguf)
    files = {"x.gguf": f"sha256:{hashlib.sha256(not_gguf).hexdigest()}"}
    refused = http.post("/api/create", json={"model": "t3", "files": files})
    assert statuses(refused) == ["parsing GGUF", "error: supplied file was not in GGUF format"]
    bad = http.post("/api/create", json={"model": "t2", "files": {"/abs.gguf": digest}})
    assert (bad.status_code, bad.json()) == (400, {"error": "file path must be relative"})


def test_names_with_host_and_port(http: httpx.Client) -> None:
    response = http.post(
        "/api/create", json={"model": "myhost:5000/ns/m:tag", "from": "phi4", "stream": False}
    )
    assert response.status_code == 200
    assert "myhost:5000/ns/m:tag" in tags(http)


# copy / delete -------------------------------------------------------------------------------


def test_copy(http: httpx.Client) -> None:
    response = http.post("/api/copy", json={"source": "qwq:latest_20K", "destination": "backup"})
    assert (response.status_code, response.content) == (200, b"")
    current = tags(http)
    assert current["backup:latest"]["digest"] == current["qwq:latest_20K"]["digest"]
    missing = http.post("/api/copy", json={"source": "llama3", "destination": "b"})
    assert (missing.status_code, missing.json()) == (404, {"error": 'model "llama3" not found'})
    invalid = http.post("/api/copy", json={"source": "qwq", "destination": "a/:b"})
    assert (invalid.status_code, invalid.json()) == (
        400,
        {"error": 'destination "a/:b" is invalid'},
    )


def test_delete(http: httpx.Client) -> None:
    response = http.request("DELETE", "/api/delete", json={"model": "qwq:latest_20K-coder"})
    assert (response.status_code, response.content) == (200, b"")
    assert "qwq:latest_20K-coder" not in tags(http)
    again = http.request("DELETE", "/api/delete", json={"name": "llama3:13b"})
    assert (again.status_code, again.json()) == (404, {"error": "model 'llama3:13b' not found"})


# pull and registry ---------------------------------------------------------------------------


def test_pull_updates_base_to_upstream_bytes(fake: FakeOllama, http: httpx.Client) -> None:
    registry = http.get("/v2/library/qwq/manifests/latest")
    upstream = hashlib.sha256(registry.content).hexdigest()
    assert registry.headers["ollama-content-digest"] == upstream
    before = fake.digest("qwq:latest")
    assert before != upstream  # the demo's "update available"
    old_weights = from_blob(show(http, "qwq:latest")["modelfile"])

    response = http.post("/api/pull", json={"model": "qwq"})
    objects = lines(response)
    got = [o["status"] for o in objects]
    assert got[0] == "pulling manifest"
    assert got[-4:] == [
        "verifying sha256 digest",
        "writing manifest",
        "removing unused layers",
        "success",
    ]
    weights = json.loads(registry.content)["layers"][0]
    progress = [o for o in objects if o.get("digest") == weights["digest"]]
    assert progress[0] == {
        "status": f"pulling {weights['digest'][7:19]}",
        "digest": weights["digest"],
        "total": weights["size"],
    }
    assert len(progress) >= 3 and progress[-1]["completed"] == weights["size"]
    assert [p["completed"] for p in progress[1:]] == sorted(p["completed"] for p in progress[1:])

    assert fake.digest("qwq:latest") == upstream == tags(http)["qwq:latest"]["digest"]
    assert from_blob(show(http, "qwq:latest")["modelfile"]) != old_weights
    assert from_blob(show(http, "qwq:latest_20K")["modelfile"]) == old_weights  # now stale
    again = statuses(http.post("/api/pull", json={"name": "qwq:latest"}))
    assert "removing unused layers" not in again and again[-1] == "success"


def test_pull_unknown_model(http: httpx.Client) -> None:
    streamed = http.post("/api/pull", json={"model": "nosuch"})
    assert streamed.status_code == 200
    assert lines(streamed) == [
        {"status": "pulling manifest"},
        {"error": "pull model manifest: file does not exist"},
    ]
    blocking = http.post("/api/pull", json={"model": "nosuch", "stream": False})
    assert blocking.status_code == 500
    assert blocking.json() == {"error": "pull model manifest: file does not exist"}
    ok = http.post("/api/pull", json={"model": "phi4", "stream": False})
    assert (ok.status_code, ok.json()) == (200, {"status": "success"})


def test_registry_head_and_get(fake: FakeOllama, http: httpx.Client) -> None:
    head = http.head("/v2/library/phi4/manifests/latest")
    assert head.status_code == 200 and head.content == b""
    digest = head.headers["ollama-content-digest"]
    assert head.headers["docker-content-digest"] == f"sha256:{digest}"
    assert digest == fake.digest("phi4:latest")  # pulled: manifest bytes verbatim
    body = http.get("/v2/library/phi4/manifests/latest")
    manifest = body.json()
    assert manifest["schemaVersion"] == 2
    assert manifest["mediaType"] == "application/vnd.docker.distribution.manifest.v2+json"
    assert [layer["mediaType"].rsplit(".", 1)[1] for layer in manifest["layers"]] == [
        "model",
        "template",
        "license",
        "params",
    ]
    assert http.get("/v2/library/nosuch/manifests/latest").status_code == 404
    assert http.head("/v2/library/qwq/manifests/v9").status_code == 404
    assert fake.registry_url == fake.url


def test_publish_through_control_route(fake: FakeOllama, http: httpx.Client) -> None:
    before_local = fake.digest("phi4")
    before = http.head("/v2/library/phi4/manifests/latest").headers["ollama-content-digest"]
    assert http.post("/_fake/publish", json={"model": "phi4"}).status_code == 200
    after = http.head("/v2/library/phi4/manifests/latest").headers["ollama-content-digest"]
    assert after != before
    assert fake.digest("phi4") == before_local  # not pulled yet
    fake.pull("phi4")
    assert fake.digest("phi4") == after


# generate and ps -----------------------------------------------------------------------------


def test_generate_stream_is_deterministic_per_model(http: httpx.Client) -> None:
    request = {
        "model": "qwq:latest_20K",
        "prompt": "Why is the sky blue?",
        "options": {"seed": 42, "temperature": 0},
    }
    objects = lines(http.post("/api/generate", json=request))
    pieces, final = objects[:-1], objects[-1]
    assert pieces and all(p["done"] is False and p["model"] == "qwq:latest_20K" for p in pieces)
    assert final["done"] is True and final["done_reason"] == "stop"
    assert final["eval_count"] == len(pieces)
    for key in (
        "total_duration",
        "load_duration",
        "prompt_eval_count",
        "prompt_eval_duration",
        "eval_duration",
    ):
        assert final[key] > 0
    text = "".join(p["response"] for p in pieces)
    blocking = http.post("/api/generate", json={**request, "stream": False}).json()
    assert blocking["response"] == text and blocking["done"] is True
    other = http.post("/api/generate", json={**request, "model": "qwq:latest", "stream": False})
    assert other.json()["response"] != text
    hotter = {**request, "options": {"seed": 42, "temperature": 0.9}, "stream": False}
    assert http.post("/api/generate", json=hotter).json()["response"] != text


def test_generate_unknown_model_and_ps(http: httpx.Client) -> None:
    missing = http.post("/api/generate", json={"model": "nosuch", "prompt": "hi"})
    assert (missing.status_code, missing.json()) == (404, {"error": "model 'nosuch' not found"})
    assert http.get("/api/ps").json() == {"models": []}
    http.post("/api/generate", json={"model": "qwq:latest_20K", "prompt": "hi", "stream": False})
    [running] = http.get("/api/ps").json()["models"]
    assert running["name"] == "qwq:latest_20K" and running["context_length"] == 20000
    assert running["details"]["parent_model"] == ""


def test_token_delay_slows_the_stream(fake: FakeOllama, http: httpx.Client) -> None:
    fake.set_token_delay(0.01)
    started = time.perf_counter()
    response = http.post(
        "/api/generate", json={"model": "phi4", "prompt": "hi", "options": {"num_predict": 10}}
    )
    assert len(lines(response)) == 11
    assert time.perf_counter() - started >= 0.1


# faults --------------------------------------------------------------------------------------


def test_fail_nth_call_with_status(fake: FakeOllama, http: httpx.Client) -> None:
    fake.fail("/api/tags", nth=2, status=503, error="busy")
    assert http.get("/api/tags").status_code == 200
    failed = http.get("/api/tags")
    assert (failed.status_code, failed.json()) == (503, {"error": "busy"})
    assert http.get("/api/tags").status_code == 200


def test_fail_over_http_control_route(http: httpx.Client) -> None:
    control = http.post("/_fake/fail", json={"route": "/api/show", "status": 500, "error": "boom"})
    assert control.status_code == 200
    assert http.post("/api/show", json={"model": "qwq"}).json() == {"error": "boom"}
    assert http.post("/api/show", json={"model": "qwq"}).status_code == 200
    bad = http.post("/_fake/fail", json={"route": "/api/show", "mode": "explode"})
    assert bad.status_code == 400


def test_drop_closes_without_response(fake: FakeOllama, http: httpx.Client) -> None:
    fake.fail("/api/tags", mode="drop")
    with pytest.raises(httpx.RemoteProtocolError):
        http.get("/api/tags")
    assert http.get("/api/tags").status_code == 200


def test_drop_mid_stream_leaves_state_unchanged(fake: FakeOllama, http: httpx.Client) -> None:
    before = fake.digest("qwq")
    fake.fail("/api/pull", mode="drop")
    received: list[str] = []
    with (
        pytest.raises(httpx.RemoteProtocolError),
        http.stream("POST", "/api/pull", json={"model": "qwq"}) as response,
    ):
        received.extend(response.iter_lines())
    assert received[:1] == ['{"status":"pulling manifest"}']
    assert fake.digest("qwq") == before


def test_midstream_error_after_progress(fake: FakeOllama, http: httpx.Client) -> None:
    fake.fail("/api/create", mode="midstream", error="disk full")
    response = http.post("/api/create", json={"model": "x", "from": "qwq:latest_20K"})
    objects = lines(response)
    assert response.status_code == 200
    assert len(objects) == 3 and "status" in objects[0]
    assert objects[-1] == {"error": "disk full"}
    assert fake.digest("x") is None


def test_malformed_bodies(fake: FakeOllama, http: httpx.Client) -> None:
    good = http.get("/api/tags").text
    fake.malformed("/api/tags", kind="garbage")
    garbage = http.get("/api/tags")
    assert garbage.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        garbage.json()
    http.post("/_fake/malformed", json={"route": "/api/tags", "kind": "truncated", "times": 2})
    for _ in range(2):
        truncated = http.get("/api/tags").text
        assert good.startswith(truncated) and len(truncated) == len(good) // 2
    assert http.get("/api/tags").json()["models"]


def test_latency_per_route(fake: FakeOllama, http: httpx.Client) -> None:
    http.post("/_fake/latency", json={"seconds": 0.2, "route": "/api/show"})
    started = time.perf_counter()
    show(http, "qwq")
    assert time.perf_counter() - started >= 0.2
    started = time.perf_counter()
    http.get("/api/tags")
    assert time.perf_counter() - started < 0.15


def test_requests_are_recorded_without_control_routes(fake: FakeOllama, http: httpx.Client) -> None:
    http.post("/api/show", json={"model": "qwq"})
    http.get("/api/tags")
    recorded = [(r.method, r.path, r.body) for r in fake.requests]
    assert recorded == [("POST", "/api/show", {"model": "qwq"}), ("GET", "/api/tags", None)]
    over_http = http.get("/_fake/requests").json()["requests"]
    assert [r["path"] for r in over_http] == ["/api/show", "/api/tags"]
    fake.clear_requests()
    assert fake.requests == []


def test_reset_restores_the_scenario(fake: FakeOllama, http: httpx.Client) -> None:
    http.request("DELETE", "/api/delete", json={"model": "phi4"})
    fake.fail("/api/tags")
    assert http.post("/_fake/reset").status_code == 200
    assert "phi4:latest" in tags(http)
    assert [(r.method, r.path) for r in fake.requests] == [("GET", "/api/tags")]


# lifecycle and scenarios ---------------------------------------------------------------------


def test_stop_and_start_on_the_same_port(fake: FakeOllama, http: httpx.Client) -> None:
    url = fake.url
    assert http.get("/api/version").status_code == 200
    fake.stop()
    with pytest.raises(httpx.TransportError):
        http.get("/api/version")
    fake.start()
    assert fake.url == url
    assert http.get("/api/version").status_code == 200


def test_python_api_mirrors_http(fake: FakeOllama) -> None:
    fake.create(
        "py",
        from_="llama3.2",
        parameters={"num_ctx": 2048},
        system="Be brief.",
        messages=[{"role": "user", "content": "hi"}],
        license="MIT",
    )
    fake.copy("py", "py-copy")
    assert fake.digest("py") == fake.digest("py-copy") and fake.digest("PY") is not None
    fake.delete("py")
    assert "py:latest" not in fake.model_names() and "py-copy:latest" in fake.model_names()
    fake.create_from_file("file-model", filename="weights.gguf")
    fake.create_from_file("vision-model", filename="vision.gguf", vision=True)
    with pytest.raises(ApiError) as missing:
        fake.pull("nosuch")
    assert missing.value.status == 500
    with httpx.Client(base_url=fake.url) as http:
        modelfile = show(http, "py-copy")["modelfile"]
        assert "\nMESSAGE user hi\n" in modelfile and "\nLICENSE MIT\n" in modelfile
        listed = tags(http)
        # 0.33 rewrites a text-only GGUF into a new blob (recorded); a vision one is kept
        assert listed["file-model:latest"]["details"]["parent_model"] == ""
        assert listed["vision-model:latest"]["details"]["parent_model"] == "vision.gguf"
        assert "vision" in listed["vision-model:latest"]["capabilities"]


def test_demo_story(fake: FakeOllama) -> None:
    registry = {
        name: fake.state.registry_manifest("library", *name.split(":"))
        for name in ("qwq:latest", "llama3.2:latest", "phi4:latest")
    }
    digests = {name: hashlib.sha256(up.raw).hexdigest() for name, up in registry.items() if up}
    assert fake.digest("qwq:latest") != digests["qwq:latest"]  # update available
    assert fake.digest("llama3.2:latest") == digests["llama3.2:latest"]
    assert fake.digest("phi4:latest") == digests["phi4:latest"]
    assert fake.digest("mistral:7b") is None and fake.digest("mistral:7b-long")


def test_fleet_is_deep_and_deterministic() -> None:
    """How fast it builds is the benchmark's to say (run.py: "stand-in builds")."""
    fleet = FakeOllama(scenario="fleet:1000")
    names = fleet.model_names()
    assert len(names) == 1000
    assert sum(":latest-" not in name for name in names) == 200  # the bases
    assert any(re.search(r"-d\d+-x\d+-y\d+$", name) for name in names)
    assert not any(name.count("-") > 4 for name in names)
    assert fleet.state.registry_manifest("library", "base-007", "latest") is not None
    assert FakeOllama(scenario="fleet:1000").model_names() == names  # deterministic


def test_unknown_scenario() -> None:
    with pytest.raises(ValueError):
        FakeOllama(scenario="nope")


# shapes of real servers the app must survive ("Never damage a model") --------------------


@pytest.fixture
def traps() -> Iterator[FakeOllama]:
    with FakeOllama(scenario="traps") as server:
        server.set_pull_speed(None)
        yield server


@pytest.fixture
def traps_http(traps: FakeOllama) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=traps.url, timeout=5) as client:
        yield client


def test_adapter_is_an_adapter_line_and_a_layer(fake: FakeOllama, http: httpx.Client) -> None:
    digest = fake.upload_adapter("mario-lora.gguf")
    response = http.post(
        "/api/create",
        json={"model": "mario-lora", "from": "qwq:latest", "adapters": {"lora.gguf": digest}},
    )
    assert statuses(response)[0] == "parsing GGUF"
    body = show(http, "mario-lora")
    line = f"ADAPTER /usr/share/ollama/.ollama/models/blobs/{digest.replace(':', '-')}\n"
    assert line in body["modelfile"]
    assert "adapters" not in body  # show has no field for it: the modelfile is all there is
    local = fake.state.find("mario-lora")
    assert local is not None
    kinds = [layer["mediaType"] for layer in local.manifest["layers"]]
    assert kinds[0] == "application/vnd.ollama.image.model"
    assert kinds.count("application/vnd.ollama.image.adapter") == 1


def test_quantized_child_has_its_own_weights_and_no_parent(traps_http: httpx.Client) -> None:
    base, child = show(traps_http, "llama3.2:3b-instruct-fp16"), show(traps_http, "llama3.2:3b-q4")
    assert from_blob(base["modelfile"]) != from_blob(child["modelfile"])
    assert (base["details"]["quantization_level"], child["details"]["quantization_level"]) == (
        "F16",
        "Q4_K_M",
    )
    assert child["details"]["parent_model"] == ""
    assert {t["type"] for t in child["tensors"]} == {"Q4_K", "F32"}
    stream = traps_http.post(
        "/api/create",
        json={"model": "again-q8", "from": "llama3.2:3b-instruct-fp16", "quantize": "q8_0"},
    )
    said = statuses(stream)
    assert said[0] == "quantizing F16 model to Q8_0" and "verifying conversion" in said
    assert lines(stream)[0]["digest"] == "0000000000000000000"
    q8 = tags(traps_http)["again-q8:latest"]
    assert q8["details"]["quantization_level"] == "Q8_0"
    assert q8["size"] < tags(traps_http)["llama3.2:3b-instruct-fp16"]["size"]
    refused = traps_http.post(
        "/api/create", json={"model": "x", "from": "llama3.2:3b-q4", "quantize": "q8_0"}
    )
    assert (refused.status_code, refused.json()) == (
        500,
        {"error": "quantization is only supported for F16, BF16 and F32 models"},
    )


def test_licenses_are_appended_never_replaced(traps_http: httpx.Client) -> None:
    base, child = show(traps_http, "phi4:latest"), show(traps_http, "phi4:latest-legal")
    assert child["license"] == base["license"] + "\nADDENDUM: internal use only."
    assert child["modelfile"].count("\nLICENSE ") == 2


def test_show_template_can_be_the_gguf_jinja_while_the_modelfile_keeps_go(
    traps_http: httpx.Client,
) -> None:
    body = show(traps_http, "qwen3:8b")
    assert body["template"].startswith("{%- if tools %}")
    assert '\nTEMPLATE """{{- if or .System .Tools }}' in body["modelfile"]
    assert "tools" in body["capabilities"]
    # with a renderer and parser the model is rendered by Ollama: show gives the Go one
    assert show(traps_http, "qwen3:8b-coder")["template"].startswith("{{- if or .System")


def test_renderer_parser_and_requires_are_inherited(traps_http: httpx.Client) -> None:
    body = show(traps_http, "qwen3:8b-coder")
    assert "\nRENDERER qwen3-coder\nPARSER qwen3-coder\n" in body["modelfile"]
    assert body["requires"] == "0.12.0"
    assert "renderer" not in body and "REQUIRES" not in body["modelfile"]
    traps_http.post("/api/create", json={"model": "grandchild", "from": "qwen3:8b-coder"})
    child = show(traps_http, "grandchild")
    assert "\nRENDERER qwen3-coder\nPARSER qwen3-coder\n" in child["modelfile"]
    assert child["requires"] == "0.12.0"


def test_cloud_models_are_listed_but_their_show_fails(
    traps: FakeOllama, traps_http: httpx.Client
) -> None:
    cloud = tags(traps_http)["gpt-oss:120b-cloud"]
    assert (cloud["remote_model"], cloud["remote_host"]) == (
        "gpt-oss:120b",
        "https://ollama.com:443",
    )
    offline = traps_http.post("/api/show", json={"model": "gpt-oss:120b-cloud"})
    assert offline.status_code == 502 and "no such host" in offline.json()["error"]
    traps.set_cloud_disabled()
    disabled = traps_http.post("/api/show", json={"model": "gpt-oss:120b-cloud"})
    assert (disabled.status_code, disabled.json()) == (
        403,
        {"error": "ollama cloud is disabled: remote model details are unavailable"},
    )


def test_damaged_blobs_fail_show_while_tags_lists_the_model(
    traps: FakeOllama, traps_http: httpx.Client
) -> None:
    assert "phi4:latest-lost:latest" not in tags(traps_http)
    assert "phi4:latest-lost" in tags(traps_http)
    lost = traps_http.post("/api/show", json={"model": "phi4:latest-lost"})
    # measured on Ollama 0.33: a missing blob is ENOENT, which show reports as not found
    assert (lost.status_code, lost.json()) == (404, {"error": "model 'phi4:latest-lost' not found"})
    traps.damage_blob("mistral:7b-long", how="corrupt")
    corrupt = traps_http.post("/api/show", json={"model": "mistral:7b-long"})
    assert (corrupt.status_code, corrupt.json()) == (500, {"error": "invalid file magic"})


def test_models_folder_with_a_space_gives_unquoted_from_lines() -> None:
    folder = "/Volumes/My Drive/ollama/models"
    with (
        FakeOllama(scenario="demo", models_dir=folder) as fake,
        httpx.Client(base_url=fake.url) as http,
    ):
        modelfile = show(http, "qwq:latest_20K")["modelfile"]
    assert re.search(rf"^FROM {re.escape(folder)}/blobs/sha256-[0-9a-f]{{64}}$", modelfile, re.M)


def test_a_publishers_from_survives_the_pull(traps: FakeOllama, traps_http: httpx.Client) -> None:
    assert tags(traps_http)["hermes3:8b"]["details"]["parent_model"] == "llama3.1:8b"
    path = "/Users/builder/.ollama/models/blobs/sha256-" + "ab" * 32
    traps.publish("granite-embedding:latest", publisher_from=path)
    traps.pull("granite-embedding:latest")
    listed = tags(traps_http)["granite-embedding:latest"]
    assert listed["details"]["parent_model"] == path
    upstream = traps.state.registry_manifest("library", "granite-embedding", "latest")
    assert upstream is not None and listed["digest"] == hashlib.sha256(upstream.raw).hexdigest()


def test_registry_head_can_refuse_or_omit_the_digest(fake: FakeOllama, http: httpx.Client) -> None:
    route = "/v2/library/qwq/manifests/latest"
    fake.set_registry_head("405")
    assert http.head(route).status_code == 405
    get = http.get(route)
    assert get.status_code == 200 and get.headers["ollama-content-digest"]
    fake.set_registry_head("no-digest")
    head = http.head(route)
    assert head.status_code == 200 and "ollama-content-digest" not in head.headers
    assert "ollama-content-digest" not in http.get(route).headers
    with pytest.raises(ValueError):
        fake.set_registry_head("teapot")


def test_silent_stream_phases(fake: FakeOllama, http: httpx.Client) -> None:
    fake.set_silences(verify_seconds=0.3, load_seconds=0.3)
    fake.publish("qwq:latest")
    seen: list[tuple[float, str]] = []
    with http.stream("POST", "/api/pull", json={"model": "qwq:latest"}) as response:
        for line in response.iter_lines():
            seen.append((time.monotonic(), json.loads(line)["status"]))
    said = [status for _, status in seen]
    at = said.index("verifying sha256 digest")
    assert said[at + 1] == "writing manifest"
    assert seen[at + 1][0] - seen[at][0] >= 0.25  # nothing at all while it "hashes"
    started = time.monotonic()
    with http.stream("POST", "/api/generate", json={"model": "qwq:latest", "prompt": "hi"}) as g:
        next(g.iter_lines())
    assert time.monotonic() - started >= 0.25


def test_offline_server_cannot_pull(fake_empty: FakeOllama) -> None:
    fake_empty.set_offline()
    with httpx.Client(base_url=fake_empty.url) as http:
        response = http.post("/api/pull", json={"model": "qwq"})
    assert statuses(response)[0] == "pulling manifest"
    assert statuses(response)[1].startswith(
        'error: pull model manifest: Get "https://registry.ollama.ai/v2/library/qwq/manifests/'
    )


def test_traps_scenario_holds_every_shape(traps_http: httpx.Client) -> None:
    listed = tags(traps_http)
    for name in (
        "qwq:latest-lora",
        "llama3.2:3b-q4",
        "phi4:latest-legal",
        "qwen3:8b",
        "qwen3:8b-coder",
        "gpt-oss:120b-cloud",
        "hermes3:8b",
        "phi4:latest-lost",
    ):
        assert name in listed, name
    assert "\nADAPTER " in show(traps_http, "qwq:latest-lora")["modelfile"]


def test_fleet_shows_are_real_sized_and_share_their_tensor_lists() -> None:
    fleet = FakeOllama(scenario="fleet:40")
    names = fleet.model_names()
    with fleet, httpx.Client(base_url=fleet.url) as http:
        response = http.post("/api/show", json={"model": names[0]})
        body = response.json()
    assert len(response.content) > 20_000
    assert len(body["tensors"]) > 250 and {"name", "type", "shape"} == set(body["tensors"][0])
    assert len(body["license"]) > 8_000
    assert body["model_info"]["tokenizer.ggml.tokens"] is None  # unread, as non-verbose
    locals_ = [fleet.state.find(name) for name in names]
    headers = [fleet.state.view(local).header for local in locals_ if local]
    assert len({id(h.tensors) for h in headers if h}) <= 3  # one list per recipe


def test_manifests_on_disk_follow_every_change() -> None:
    with (
        FakeOllama(scenario="demo", manifests_on_disk=True) as fake,
        httpx.Client(base_url=fake.url) as http,
    ):
        fake.set_pull_speed(None)
        root = Path(fake.models_dir)

        def on_disk() -> dict[str, str]:
            return {
                str(p.relative_to(root / "manifests")): hashlib.sha256(p.read_bytes()).hexdigest()
                for p in (root / "manifests").rglob("*")
                if p.is_file()
            }

        def expected() -> dict[str, str]:
            return {
                str(fake.manifest_path(name).relative_to(root / "manifests")): m["digest"]
                for name, m in tags(http).items()
            }

        assert on_disk() == expected()
        assert "registry.ollama.ai/library/qwq/latest_20K" in on_disk()
        for relative in on_disk():
            manifest = json.loads((root / "manifests" / relative).read_bytes())
            config = root / "blobs" / manifest["config"]["digest"].replace(":", "-")
            assert json.loads(config.read_bytes())["model_format"] == "gguf"
        http.post("/api/create", json={"model": "myhost:5000/team/tool:v1", "from": "qwq:latest"})
        http.post("/api/copy", json={"source": "qwq:latest", "destination": "qwq:backup"})
        http.request("DELETE", "/api/delete", json={"model": "llama3.2:latest-mario"})
        http.post("/api/pull", json={"model": "qwq:latest"})
        assert on_disk() == expected()
        assert "myhost:5000/team/tool/v1" in on_disk()
        assert not (root / "manifests/registry.ollama.ai/library/llama3.2/latest-mario").exists()
        stamp = (root / "manifests/registry.ollama.ai/library/qwq/backup").stat().st_mtime_ns
        assert tags(http)["qwq:backup"]["modified_at"].startswith(
            time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(stamp // 1_000_000_000))
        )


# What Ollama 0.33.0-rc2 on 127.0.0.1 answered to these Host headers (asked by hand; the
# conformance recording keeps the example.com one).
@pytest.mark.parametrize(
    ("host", "status"),
    [
        ("LOCALHOST:1", 200),
        ("[::1]:5", 200),
        ("foo.internal", 200),
        ("10.1.2.3", 200),
        ("example.com", 403),
        ("8.8.8.8:80", 403),
    ],
)
def test_on_loopback_only_hosts_naming_the_machine_are_answered(
    http: httpx.Client, host: str, status: int
) -> None:
    assert http.get("/api/version", headers={"Host": host}).status_code == status
