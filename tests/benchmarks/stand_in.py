"""The stand-in Ollama for the benchmark, in a process of its own so its CPU is not the app's.

Usage (run.py drives it): python tests/benchmarks/stand_in.py MODELS
It serves scenario ``fleet:MODELS`` with its manifests laid out on disk the way Ollama does,
prints one JSON line ``{"url": …, "models_dir": …, "build_s": …}`` once it listens, then reads
commands on stdin, one a line, answering each with one JSON line on stdout:

    latency SECONDS   sleep that long in every request from now on
    count             requests received since the last count, by path (then forgotten),
                      and "cpu_s": this process's CPU seconds since the last count
    quit              stop

Commands travel on a pipe rather than through the server's /_fake/ routes so that reading
the request log does not add requests, nor ship a 10,000-entry log as JSON.
"""

from __future__ import annotations

import json
import resource
import socket
import sys
import time
from collections import Counter

from ollama_lineage.fake_ollama import server

# Ollama (Go) listens with the system's backlog; socketserver's default of 5 drops SYNs when a
# client opens more than a handful of connections at once, and each drop costs a 1 s retry.
if hasattr(server, "_HTTPServer"):
    server._HTTPServer.request_queue_size = socket.SOMAXCONN


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def reply(value: object) -> None:
    sys.stdout.write(json.dumps(value) + "\n")
    sys.stdout.flush()


def main() -> None:
    models = int(sys.argv[1])
    started = time.perf_counter()
    fake = server.FakeOllama(scenario=f"fleet:{models}", manifests_on_disk=True)
    build = time.perf_counter() - started
    cpu = cpu_seconds()
    with fake:
        reply({"url": fake.url, "models_dir": str(fake.models_dir), "build_s": round(build, 2)})
        for line in sys.stdin:
            command, _, argument = line.strip().partition(" ")
            if command == "latency":
                fake.set_latency(float(argument))
                reply({"ok": True})
            elif command == "count":
                seen = fake.requests
                fake.clear_requests()
                counts: dict[str, float] = dict(Counter(f"{r.method} {r.path}" for r in seen))
                now = cpu_seconds()
                counts["cpu_s"], cpu = round(now - cpu, 3), now
                reply(counts)
            elif command == "quit":
                break
            else:
                reply({"error": f"unknown command {command!r}"})


if __name__ == "__main__":
    main()
