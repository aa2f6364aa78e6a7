"""The stand-in driven over HTTP the way `ollama create` drives a real server: real GGUF
bytes uploaded as blobs, then `/api/create`."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from hashlib import sha256
from pathlib import Path
from typing import Any

import httpx

from ollama_lineage.fake_ollama import FakeOllama
from tests.conformance.tiny_gguf import write_lora, write_model

CLI = [sys.executable, "-m", "ollama_lineage.cli"]
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

    def base(self, name: str, *, seed: int, f16: bool = False, **instead: Any) -> None:
        """``name`` from the GGUF of ``seed``, with the base's template, parameters and
        license, or ``instead`` of any of them."""
        gguf = write_model(self.files / f"v{seed}.gguf", seed=seed, f16=f16).read_bytes()
        extras = {**BASE_EXTRAS, **instead}
        self.create(model=name, files={f"v{seed}.gguf": self.upload(gguf)}, **extras)

    def lora(self) -> str:
        return self.upload(write_lora(self.files / "lora.gguf").read_bytes())


def interrupted_in_first_create(fake: FakeOllama, args: list[str]) -> tuple[str, str]:
    """Run the CLI, Ctrl-C it once its first create is under way (creates take a second),
    and return its stdout and stderr; it must exit 130 as a shell reports Ctrl-C."""
    fake.set_latency(1.0, "/api/create")
    fake.clear_requests()
    run = subprocess.Popen([*CLI, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    while not any(r.path == "/api/create" for r in fake.requests):
        assert run.poll() is None, run.communicate()
        time.sleep(0.01)
    run.send_signal(signal.SIGINT)
    out, err = run.communicate(timeout=60)
    assert run.returncode == 130, (out, err)
    return out, err
