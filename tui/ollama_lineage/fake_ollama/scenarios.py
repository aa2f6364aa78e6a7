"""Starting states, built through the same publish/pull/create/delete operations as the API.

demo: the story the README and screenshots tell; empty: nothing local, two models upstream;
traps: the demo plus every shape a real server has that the app must not damage (adapters,
a quantized child, appended licenses, a Jinja template, renderer/parser, a cloud model, a
publisher's `from`, a lost blob); fleet:N: N models for benchmarks (about N/5 pulled bases,
derivatives up to 3 levels deep), each show as big as a real one.
"""

from __future__ import annotations

import random
import re
import time
from typing import Any

from .catalog import JINJA_TEMPLATE
from .state import State, drain

_MINUTE = 60 * 1_000_000_000
_HOUR = 60 * _MINUTE
_DAY = 24 * _HOUR
DEMO_PULL_SPEED = 6e9  # bytes/s: pulling qwq (19.9 GB) takes about 3 s, long enough to watch


def build(scenario: str, version: str, models_dir: str) -> State:
    state = State(version, models_dir)
    if scenario == "demo":
        _demo(state)
        state.pull_speed = DEMO_PULL_SPEED
    elif scenario == "traps":
        _demo(state)
        _traps(state)
        state.pull_speed = DEMO_PULL_SPEED
    elif scenario == "empty":
        state.publish("qwq:latest")
        state.publish("llama3.2:latest")
    elif match := re.fullmatch(r"fleet:(\d+)", scenario):
        _fleet(state, int(match.group(1)))
    else:
        raise ValueError(f"unknown scenario {scenario!r} (demo, traps, empty or fleet:N)")
    return state


def _pull(state: State, name: str) -> None:
    state.publish(name)
    drain(state.pull(name))


def _create(state: State, name: str, base: str, **request: Any) -> None:
    drain(state.create({"model": name, "from": base, **request}))


def _demo(state: State) -> None:
    _pull(state, "qwq:latest")
    _create(state, "qwq:latest_20K", "qwq:latest", parameters={"num_ctx": 20000, "num_thread": 16})
    _create(
        state,
        "qwq:latest_20K-coder",
        "qwq:latest_20K",
        system="You are a careful coding assistant.",
        parameters={"temperature": 0.2},
    )
    state.publish("qwq:latest")  # update available upstream, not pulled

    _pull(state, "llama3.2:latest")
    _create(
        state,
        "llama3.2:latest-mario",
        "llama3.2:latest",
        system="You are Mario from Super Mario Bros.",
        parameters={"temperature": 0.8},
    )
    _pull(state, "llama3.2:latest")  # v2 pulled: mario is stale

    _pull(state, "mistral:7b")
    _create(state, "mistral:7b-long", "mistral:7b", parameters={"num_ctx": 32768})
    state.delete("mistral:7b")  # orphan

    drain(
        state.create(
            {
                "model": "my-gguf:latest",
                "files": {"model.gguf": state.stand_in_file("model.gguf", vision=True)},
            }
        )
    )
    _pull(state, "phi4:latest")

    now = time.time_ns()
    ages = {
        "qwq:latest": 9 * _DAY,
        "qwq:latest_20K": 8 * _DAY + 3 * _HOUR,
        "qwq:latest_20K-coder": 8 * _DAY,
        "llama3.2:latest": 3 * _HOUR,
        "llama3.2:latest-mario": 12 * _DAY,
        "mistral:7b-long": 30 * _DAY,
        "my-gguf:latest": 5 * _DAY,
        "phi4:latest": 2 * _DAY + 7 * _HOUR,
    }
    for name, age in ages.items():
        state.set_modified(name, now - age)


def _traps(state: State) -> None:
    lora = state.stand_in_file("qwq-lora.gguf", adapter=True)
    _create(state, "qwq:latest-lora", "qwq:latest", adapters={"qwq-lora.gguf": lora})
    _pull(state, "llama3.2:3b-instruct-fp16")
    _create(state, "llama3.2:3b-q4", "llama3.2:3b-instruct-fp16", quantize="q4_K_M")
    _create(state, "phi4:latest-legal", "phi4:latest", license="ADDENDUM: internal use only.")
    state.publish("qwen3:8b", chat_template=JINJA_TEMPLATE)
    drain(state.pull("qwen3:8b"))
    _create(
        state,
        "qwen3:8b-coder",
        "qwen3:8b",
        renderer="qwen3-coder",
        parser="qwen3-coder",
        requires="0.12.0",
    )
    state.add_cloud("gpt-oss:120b-cloud", "gpt-oss:120b", "https://ollama.com:443")
    state.publish("hermes3:8b", publisher_from="llama3.1:8b")
    drain(state.pull("hermes3:8b"))
    _create(state, "phi4:latest-lost", "phi4:latest", system="This blob will go missing.")
    state.damage_blob("phi4:latest-lost", "application/vnd.ollama.image.system")


def _fleet(state: State, count: int) -> None:
    rng = random.Random(count)
    bases = [f"base-{i:03d}:latest" for i in range(max(1, count // 5))]
    order = list(bases)
    for name in bases:
        _pull(state, name)
    parents: list[tuple[str, int]] = [(name, 0) for name in bases]
    children: dict[str, int] = {}
    for _ in range(count - len(bases)):
        parent, depth = rng.choice(parents[: len(bases)] if rng.random() < 0.5 else parents)
        child = f"{parent}-{'dxy'[depth]}{children.get(parent, 0)}"
        children[parent] = children.get(parent, 0) + 1
        request: dict[str, Any] = {"parameters": {"num_ctx": rng.choice([8192, 16384, 32768])}}
        if rng.random() < 0.3:
            request["system"] = f"You are assistant {child}."
        _create(state, child, parent, **request)
        order.append(child)
        if depth < 2:
            parents.append((child, depth + 1))
    start = time.time_ns() - len(order) * 10 * _MINUTE
    for i, name in enumerate(order):
        state.set_modified(name, start + i * 10 * _MINUTE)
    for i, name in enumerate(bases):
        if i % 10 == 3:
            _pull(state, name)  # its derivatives are now stale
        elif i % 10 == 7:
            state.publish(name)  # update available upstream
