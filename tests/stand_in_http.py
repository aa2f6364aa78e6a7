"""The stand-in driven over HTTP the way `ollama create` drives a real server: real GGUF
bytes uploaded as blobs, then `/api/create`."""

from __future__ import annotations

from hashlib import sha256
from pathlib import Path
from typing import Any

import httpx

from ollama_lineage.fake_ollama import FakeOllama
from tests.conformance.tiny_gguf import write_lora, write_model

BASE_EXTRAS = {
    "template": "{{ if .System }}<|system|>{{ .System }}{{ end }}<|user|>{{ .Prompt }}",
    "parameters": {"stop": ["<|user|>"], "temperature": 0.6},
    "license": "BASE LICENSE",
}


class Server:
    """The stand-in, driven over HTTP as `ollama create` drives a real one."""

    def __init__(self, fake: FakeOllama, files: Path) -> None:
        self.fake = fake
        self.files = files
        self.http = httpx.Client(base_url=fake.url, timeout=30)

    def upload(self, data: bytes) -> str:
        digest = "sha256:" + sha256(data).hexdigest()
        self.http.post(f"/api/blobs/{digest}", content=data).raise_for_status()
        return digest

    def create(self, **request: Any) -> None:
        with self.http.stream("POST", "/api/create", json=request) as response:
            lines = [line for line in response.iter_lines() if line]
        assert response.status_code == 200 and '"error"' not in lines[-1], lines

    def base(self, name: str, *, seed: int, f16: bool = False) -> None:
        gguf = write_model(self.files / f"v{seed}.gguf", seed=seed, f16=f16).read_bytes()
        self.create(model=name, files={f"v{seed}.gguf": self.upload(gguf)}, **BASE_EXTRAS)

    def lora(self) -> str:
        return self.upload(write_lora(self.files / "lora.gguf").read_bytes())
