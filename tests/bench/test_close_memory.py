"""``bench/close.py`` counts the memory of the whole close — the command and the render workers
it forks — not only the command's own process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from bench.close import TreeMemory

# A parent that starts a child holding 64 MiB, touched so it is resident, then both wait to
# be read; the parent itself holds little.
_FAMILY = """
import subprocess, sys
child = subprocess.Popen([sys.executable, "-c",
    "import sys; b = bytearray(64 << 20); b[::4096] = b'x' * len(b[::4096]); "
    "print('ready', flush=True); sys.stdin.read()"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
child.stdout.readline()
print("ready", flush=True)
sys.stdin.read()
child.stdin.close(); child.wait()
"""


def _children(pid: int) -> set[int]:
    tasks = Path(f"/proc/{pid}/task")
    return {
        int(child) for task in tasks.iterdir() for child in (task / "children").read_text().split()
    }


def test_the_tree_includes_the_children_and_their_memory() -> None:
    family = subprocess.Popen(
        [sys.executable, "-c", _FAMILY], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    assert family.stdout is not None and family.stdin is not None
    assert family.stdout.readline().strip() == b"ready"  # the child is resident by now
    memory = TreeMemory(family.pid, every=3600)  # no timed sample: read it here, once
    try:
        assert memory.tree() == {family.pid, *_children(family.pid)} and len(memory.tree()) == 2
        memory.sample()
    finally:
        memory.stop()
        family.stdin.close()
        family.wait()
    assert memory.pss_kib >= 64 * 1024  # the child's 64 MiB counted
    assert memory.rss_kib >= memory.pss_kib
