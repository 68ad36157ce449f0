"""``python -m tests.replicas.worker_process worker`` — the real ``offerbot`` command line
(:func:`bot.cli.main`) with one extra job kind, :data:`tests.replicas.probe.PROBE_KIND`, whose
runs the replica test counts. Everything else is the unchanged ``offerbot worker``."""

from __future__ import annotations

from bot.cli import main
from bot.runtime import scheduler
from tests.replicas.probe import PROBE_KIND

scheduler.HANDLERS[PROBE_KIND] = "tests.replicas.probe:run_probe"

if __name__ == "__main__":
    main()
