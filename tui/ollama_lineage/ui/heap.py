"""The TUI lives for days and reads, at each poll, a listing of ~4 MB at 10,000 models."""

from __future__ import annotations

M_MMAP_THRESHOLD = -3  # glibc's malloc.h


def hand_big_blocks_back() -> bool:
    """Fix glibc's mmap threshold at its default, 128 KiB: left free, it rises to the size of
    each big block freed, so after the first poll the listing's bytes and text come from the
    heap, and the holes they leave keep the process ~6 MB bigger at 10,000 models
    (tests/benchmarks/README.md). Elsewhere than glibc there is nothing to do: False."""
    import ctypes

    try:
        return bool(ctypes.CDLL(None).mallopt(M_MMAP_THRESHOLD, 128 * 1024))
    except (AttributeError, OSError, TypeError):  # no mallopt: macOS, Windows
        return False
