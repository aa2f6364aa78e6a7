"""The TUI's one setting of the C allocator, seen in a fresh process's resident memory."""

import platform
import subprocess
import sys

import pytest

# A big block freed, then a slightly smaller one made and freed, as two polls' listings are.
AFTER_TWO_LISTINGS = """
import sys
from ollama_lineage.ui.heap import hand_big_blocks_back
if sys.argv[1] == "fixed":
    assert hand_big_blocks_back()
def resident():
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * 4096
listing = bytearray(8 << 20)
del listing
before = resident()
listing = bytearray(7 << 20)
del listing
print((resident() - before) >> 20)
"""


def kept_mib(threshold: str) -> int:
    run = [sys.executable, "-c", AFTER_TWO_LISTINGS, threshold]
    return int(subprocess.run(run, capture_output=True, text=True, check=True).stdout)


@pytest.mark.skipif(
    platform.libc_ver()[0] != "glibc", reason="mallopt and its threshold are glibc's"
)
def test_a_freed_listing_goes_back_to_the_system() -> None:
    assert kept_mib("glibc's own") >= 6  # what the TUI would keep without the setting
    assert kept_mib("fixed") <= 1
