"""The baseline: what a user's shell loop does, list then show each model one by one.

Usage: python tests/benchmarks/naive_list_show.py SERVER_URL
"""

from __future__ import annotations

import sys
import time

import httpx


def naive_script(url: str) -> float:
    started = time.perf_counter()
    with httpx.Client(base_url=url, timeout=60) as http:
        names = [m["name"] for m in http.get("/api/tags").json()["models"]]
        for name in names:
            http.post("/api/show", json={"model": name}).raise_for_status()
    return time.perf_counter() - started


if __name__ == "__main__":
    print(f"{naive_script(sys.argv[1]):.3f} s")
