"""Sizes as the tree shows them: tiny models too (seen on a real Ollama with test models)."""

import pytest

from ollama_lineage.ui.widgets.format import size


@pytest.mark.parametrize(
    ("num_bytes", "shown"),
    [(0, ""), (500, "1KB"), (31_000, "31KB"), (4_000_000, "4MB"), (19_900_000_000, "19.9GB")],
)
def test_sizes_never_read_zero_for_a_model_that_has_bytes(num_bytes: int, shown: str) -> None:
    assert size(num_bytes) == shown
