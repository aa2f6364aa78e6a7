"""`status --matrix`: each derivative by name × each host, as text or JSON."""

from __future__ import annotations

import json
from collections.abc import Sequence

from ..core.matrix import HostView, matrix


def print_matrix(hosts: Sequence[HostView], *, as_json: bool = False) -> None:
    rows = matrix(hosts)
    if as_json:
        models = [
            {
                "name": row.name,
                "on": {
                    h.name: {"state": c.word, "digest": c.digest or None}
                    for h, c in zip(hosts, row.cells, strict=True)
                },
            }
            for row in rows
        ]
        print(json.dumps({"hosts": [h.name for h in hosts], "models": models}, indent=1))
        return
    head = ["model", *(h.name for h in hosts)]
    table = [head, *([row.name, *(c.text for c in row.cells)] for row in rows)]
    widths = [max(len(line[i]) for line in table) for i in range(len(head))]
    for line in table:
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        )
    if not rows:
        print("(no derivatives on any host)")
