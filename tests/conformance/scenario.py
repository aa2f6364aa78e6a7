"""The seed story and the traps, played against any Ollama, every exchange written down.

Run against a real server to record it (the recordings are facts we measured)::

    python -m tests.conformance.scenario --host http://127.0.0.1:11500

and the conformance test plays the same steps against the stand-in and compares.
"""

from __future__ import annotations

import argparse
import json
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from hashlib import sha256
from pathlib import Path
from typing import Any

import httpx

from .tiny_gguf import write_lora, write_model

RECORDINGS = Path(__file__).parent / "recordings"
STREAMING = ("/api/create", "/api/pull", "/api/generate")
KEPT_HEADERS = ("content-type",)

BASE_TEMPLATE = "{{ if .System }}<|system|>{{ .System }}{{ end }}<|user|>{{ .Prompt }}<|assistant|>"
BASE_LICENSE = "TINY MODEL LICENSE\nUse it for tests."
CHILD_TEMPLATE = "[INST] {{ if .System }}{{ .System }} {{ end }}{{ .Prompt }} [/INST]"


@dataclass
class Exchange:
    """One request and what came back, in the form written to a recording."""

    step: str
    method: str
    path: str
    request: Any
    status: int
    headers: dict[str, str]
    body: Any = None
    lines: list[Any] | None = None

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "step": self.step,
            "request": {"method": self.method, "path": self.path, "body": self.request},
            "response": {"status": self.status, "headers": self.headers},
        }
        if self.lines is not None:
            out["response"]["lines"] = self.lines
        else:
            out["response"]["body"] = self.body
        return out


@dataclass
class Player:
    """Sends the scenario's requests and keeps every exchange."""

    http: httpx.Client
    exchanges: list[Exchange] = field(default_factory=list)

    def call(
        self,
        step: str,
        method: str,
        path: str,
        body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> Exchange:
        content = body if isinstance(body, bytes) else None
        payload = None if isinstance(body, bytes) else body
        shown = f"<{len(body)} bytes>" if isinstance(body, bytes) else body
        with self.http.stream(
            method, path, json=payload, content=content, headers=headers
        ) as response:
            raw = response.read()
        headers = {k: response.headers[k] for k in KEPT_HEADERS if k in response.headers}
        exchange = Exchange(step, method, path, shown, response.status_code, headers)
        text = raw.decode("utf-8", "replace")
        if path in STREAMING and "x-ndjson" in headers.get("content-type", ""):
            exchange.lines = [_json_or_text(line) for line in text.splitlines() if line]
        else:
            exchange.body = _json_or_text(text) if text else None
        self.exchanges.append(exchange)
        return exchange

    def upload(self, step: str, data: bytes) -> str:
        digest = "sha256:" + sha256(data).hexdigest()
        self.call(step, "POST", f"/api/blobs/{digest}", data)
        return digest


def _json_or_text(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def play(http: httpx.Client, workdir: Path, *, registry: str | None = None) -> list[Exchange]:
    """The whole story; `registry` is host:port of a registry the server may pull from."""
    p = Player(http)
    base1 = write_model(workdir / "tiny-v1.gguf", seed=1).read_bytes()
    base2 = write_model(workdir / "tiny-v2.gguf", seed=2).read_bytes()
    f16 = write_model(workdir / "tiny-f16.gguf", seed=3, f16=True).read_bytes()
    lora = write_lora(workdir / "tiny-lora.gguf").read_bytes()

    p.call("root", "GET", "/")
    p.call("version", "GET", "/api/version")
    p.call("tags-empty", "GET", "/api/tags")

    # A base made the way a published model looks: weights, template, parameters, license.
    d1 = p.upload("blob-upload-v1", base1)
    p.call("blob-head", "HEAD", f"/api/blobs/{d1}")
    p.call("blob-head-missing", "HEAD", "/api/blobs/sha256:" + "0" * 64)
    base_request = {
        "template": BASE_TEMPLATE,
        "parameters": {"stop": ["<|user|>", "<|end|>"], "temperature": 0.6},
        "license": BASE_LICENSE,
    }
    p.call(
        "create-base",
        "POST",
        "/api/create",
        {
            "model": "qwq:latest",
            "files": {"tiny-v1.gguf": d1},
            **base_request,
        },
    )

    # The seed story: a derivative with two parameters, and one on top of it.
    p.call(
        "create-20k",
        "POST",
        "/api/create",
        {
            "model": "qwq:latest_20K",
            "from": "qwq:latest",
            "parameters": {"num_ctx": 20000, "num_thread": 16},
        },
    )
    p.call(
        "create-second-level",
        "POST",
        "/api/create",
        {
            "model": "qwq:latest_20K-mario",
            "from": "qwq:latest_20K",
            "system": "You are Mario from Super Mario Bros.",
        },
    )

    # A derivative with everything a user can put in a model (and later rebuilt the same way).
    dl = p.upload("blob-upload-lora", lora)
    custom = {
        "model": "qwq:custom",
        "from": "qwq:latest",
        "template": CHILD_TEMPLATE,
        "system": "Answer in one line.\nNever apologise.",
        "parameters": {
            "num_ctx": 8192,
            "stop": ["[INST]"],
            "top_k": 20,
            "use_mmap": False,
            "seed": 42,
            "num_predict": 1000000,
        },
        "messages": [
            {"role": "user", "content": "Who are you?"},
            {"role": "assistant", "content": 'A tiny "model".'},
        ],
        "license": "CHILD ADDENDUM",
        "adapters": {"tiny-lora.gguf": dl},
    }
    p.call(
        "create-everything",
        "POST",
        "/api/create",
        custom,
    )
    p.call(
        "create-renderer",
        "POST",
        "/api/create",
        {
            "model": "qwq:rendered",
            "from": "qwq:latest",
            "renderer": "qwen3-coder",
            "parser": "qwen3-coder",
        },
    )

    # A quantized child of an F16 base.
    d16 = p.upload("blob-upload-f16", f16)
    p.call(
        "create-f16-base",
        "POST",
        "/api/create",
        {
            "model": "tiny16:latest",
            "files": {"tiny-f16.gguf": d16},
        },
    )
    p.call(
        "create-quantized",
        "POST",
        "/api/create",
        {
            "model": "tiny16:q8",
            "from": "tiny16:latest",
            "quantize": "q8_0",
        },
    )

    # ollama cp: an alias shares every layer, and FROM in another case.
    p.call("copy-alias", "POST", "/api/copy", {"source": "qwq:latest", "destination": "qwq:alias"})
    p.call(
        "create-other-case",
        "POST",
        "/api/create",
        {
            "model": "qwq:cased",
            "from": "QwQ",
            "parameters": {"num_ctx": 4096},
        },
    )

    p.call("tags-before-update", "GET", "/api/tags")
    for name in (
        "qwq:latest",
        "qwq:latest_20K",
        "qwq:latest_20K-mario",
        "qwq:custom",
        "qwq:rendered",
        "tiny16:latest",
        "tiny16:q8",
        "qwq:alias",
        "qwq:cased",
    ):
        p.call(f"show {name}", "POST", "/api/show", {"model": name})
    p.call("show-verbose", "POST", "/api/show", {"model": "qwq:latest_20K", "verbose": True})
    p.call("show-other-case", "POST", "/api/show", {"model": "QWQ:Latest_20k"})

    # The update: the base re-created under its name from new weights.
    d2 = p.upload("blob-upload-v2", base2)
    p.call(
        "update-base",
        "POST",
        "/api/create",
        {
            "model": "qwq:latest",
            "files": {"tiny-v2.gguf": d2},
            **base_request,
        },
    )
    p.call("tags-after-update", "GET", "/api/tags")
    p.call("show base after update", "POST", "/api/show", {"model": "qwq:latest"})
    p.call("show 20k after update", "POST", "/api/show", {"model": "qwq:latest_20K"})

    # A rebuild the way the app does it: backup, create from the base's name, then check.
    p.call(
        "backup",
        "POST",
        "/api/copy",
        {"source": "qwq:latest_20K", "destination": "qwq:latest_20K.bak-20261126-000000"},
    )
    p.call(
        "rebuild-20k",
        "POST",
        "/api/create",
        {
            "model": "qwq:latest_20K",
            "from": "qwq:latest",
            "parameters": {"num_ctx": 20000, "num_thread": 16},
        },
    )
    p.call("show 20k after rebuild", "POST", "/api/show", {"model": "qwq:latest_20K"})
    p.call(
        "rebuild-custom",
        "POST",
        "/api/create",
        custom,
    )
    p.call("show custom after rebuild", "POST", "/api/show", {"model": "qwq:custom"})

    # The F16 base moves on too; its quantized child is re-made quantized.
    d16b = p.upload(
        "blob-upload-f16-v2",
        write_model(workdir / "tiny-f16-v2.gguf", seed=4, f16=True).read_bytes(),
    )
    p.call(
        "update-f16-base",
        "POST",
        "/api/create",
        {
            "model": "tiny16:latest",
            "files": {"tiny-f16-v2.gguf": d16b},
        },
    )
    p.call(
        "rebuild-quantized",
        "POST",
        "/api/create",
        {
            "model": "tiny16:q8",
            "from": "tiny16:latest",
            "quantize": "q8_0",
        },
    )
    p.call("show quantized after rebuild", "POST", "/api/show", {"model": "tiny16:q8"})

    p.call(
        "generate",
        "POST",
        "/api/generate",
        {
            "model": "qwq:latest_20K",
            "prompt": "abc",
            "stream": True,
            "options": {"seed": 1, "temperature": 0, "num_predict": 8},
        },
    )
    # No num_predict, on the old weights (the backup). Seen on 0.33: after the model emits a
    # control character (U+0011) the stream just ends, with no `done` line and no timings.
    p.call(
        "generate-ending-without-done",
        "POST",
        "/api/generate",
        {
            "model": "qwq:latest_20K.bak-20261126-000000",
            "prompt": "abc",
            "stream": True,
            "options": {"seed": 42, "temperature": 0},
        },
    )
    p.call("ps", "GET", "/api/ps")
    if registry:
        p.call(
            "pull-insecure",
            "POST",
            "/api/pull",
            {"model": f"{registry}/library/published:latest", "insecure": True},
        )
        p.call(
            "show pulled", "POST", "/api/show", {"model": f"{registry}/library/published:latest"}
        )

    # Bad input, each answered with Ollama's own words.
    p.call("show-unknown", "POST", "/api/show", {"model": "nosuch:model"})
    p.call("show-no-body", "POST", "/api/show")
    p.call("create-bad-name", "POST", "/api/create", {"model": "bad name!", "from": "qwq:latest"})
    p.call("create-nothing", "POST", "/api/create", {"model": "x:y"})
    p.call(
        "create-modelfile-field",
        "POST",
        "/api/create",
        {"model": "x:y", "modelfile": "FROM qwq:latest"},
    )
    p.call(
        "create-bad-template",
        "POST",
        "/api/create",
        {"model": "x:y", "from": "qwq:latest", "template": "{{ .Prompt"},
    )
    p.call(
        "create-bad-param-type",
        "POST",
        "/api/create",
        {"model": "x:badparam", "from": "qwq:latest", "parameters": {"num_ctx": "lots"}},
    )
    p.call("show-bad-param-type", "POST", "/api/show", {"model": "x:badparam"})
    p.call(
        "create-unknown-blob",
        "POST",
        "/api/create",
        {"model": "x:y", "files": {"a.gguf": "sha256:" + "1" * 64}},
    )
    p.call(
        "create-absolute-file",
        "POST",
        "/api/create",
        {"model": "x:y", "files": {"/etc/a.gguf": d1}},
    )
    p.call("copy-missing", "POST", "/api/copy", {"source": "nosuch", "destination": "x:z"})
    p.call("copy-bad-name", "POST", "/api/copy", {"source": "qwq:latest", "destination": "a:b:c"})
    p.call("delete-missing", "DELETE", "/api/delete", {"model": "nosuch"})
    p.call("generate-unknown", "POST", "/api/generate", {"model": "nosuch", "prompt": "x"})
    p.call("wrong-method", "GET", "/api/show")
    p.call("unknown-path", "GET", "/api/nothing")

    for name in ("qwq:alias", "x:badparam", "qwq:latest_20K.bak-20261126-000000"):
        p.call(f"delete {name}", "DELETE", "/api/delete", {"model": name})
    p.call("tags-end", "GET", "/api/tags")
    # Listening on loopback, Ollama refuses a Host header that does not name this machine.
    p.call("version-foreign-host", "GET", "/api/version", headers={"Host": "example.com"})
    return p.exchanges


def write_recording(exchanges: list[Exchange], folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.json"):
        old.unlink()
    for i, exchange in enumerate(exchanges):
        slug = re.sub(r"[^a-z0-9]+", "-", exchange.step.lower()).strip("-")
        text = json.dumps(exchange.as_json(), indent=1, ensure_ascii=False)
        (folder / f"{i:03d}-{slug}.json").write_text(text + "\n")


def read_recording(folder: Path) -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))]


@contextmanager
def _client(host: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=host, timeout=httpx.Timeout(30, read=600)) as http:
        yield http


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", required=True)
    parser.add_argument("--registry", help="host:port the server can pull from (insecure)")
    args = parser.parse_args()
    with _client(args.host) as http, tempfile.TemporaryDirectory() as tmp:
        version = http.get("/api/version").json()["version"]
        exchanges = play(http, Path(tmp), registry=args.registry)
    write_recording(exchanges, RECORDINGS / f"ollama-{version}")
    print(f"{len(exchanges)} exchanges recorded in {RECORDINGS / f'ollama-{version}'}")


if __name__ == "__main__":
    main()
