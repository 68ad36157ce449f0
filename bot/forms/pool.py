"""Render many documents at once on every core: ``offerbot hr close``'s letters.

Rendering a Promise to Grant is ~2 ms of CPU, two thirds of the close's cost per tender
(bench/RESULTS.md); at 20,000 tenders that is 40 s on one core while the other idles. A
:class:`PdfPool` renders each batch's letters in worker processes, in order, and gives the
bytes back; the close writes them, queues them and commits as before, so resuming and "never
twice" are unchanged (the bytes are the same wherever a document is rendered).

The workers are *forked*, and only from :meth:`PdfPool.__enter__`, which the CLI calls before it
starts its event loop or opens the database: a fork copies only the calling thread, so it must
happen while there is no other thread (aiosqlite's, Rich's progress bar) whose locks the copy
could inherit held. Forked workers also start at once and share the parent's already imported
fpdf. Where fork is not the safe default (not Linux) or there is one core, documents are
rendered in-process, as before.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import multiprocessing
import os
import signal
import sys
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor, wait
from types import TracebackType

from bot.forms.document import FormDocument
from bot.forms.pdf import render_pdf

__all__ = ["PdfPool", "render_in_process"]


def render_in_process(documents: Sequence[FormDocument]) -> list[bytes]:
    """One after another in this process (tests, one core, no fork)."""
    return [render_pdf(doc) for doc in documents]


def _die_with_parent(parent: int) -> None:
    """In a worker: end with the close. A ``kill -9`` of the close must not leave workers
    behind holding its output pipes open (Linux ``PR_SET_PDEATHSIG``)."""
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before the line above
        os._exit(1)


_PR_SET_PDEATHSIG = 1


class PdfPool:
    """``with PdfPool() as render: render(documents) -> [pdf bytes, …]`` in the same order."""

    def __init__(self, workers: int | None = None) -> None:
        cores = os.cpu_count() or 1
        self.workers = max(1, workers if workers is not None else cores)
        self._executor: ProcessPoolExecutor | None = None

    def __enter__(self) -> PdfPool:
        if self.workers > 1 and sys.platform == "linux":
            executor = ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=multiprocessing.get_context("fork"),
                initializer=_die_with_parent,
                initargs=(os.getpid(),),
            )
            # The first submit forks every worker (fork: all at once, before the executor's
            # own manager thread starts); wait for them so none is forked later.
            wait([executor.submit(os.getpid) for _ in range(self.workers)])
            self._executor = executor
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None

    @property
    def parallel(self) -> bool:
        return self._executor is not None

    def __call__(self, documents: Sequence[FormDocument]) -> list[bytes]:
        if self._executor is None or len(documents) < 2:
            return render_in_process(documents)
        # A few chunks per worker: pickling a document costs far less than rendering it, and
        # small chunks keep both workers busy to the end of the batch.
        chunk = max(1, len(documents) // (4 * self.workers))
        return list(self._executor.map(render_pdf, documents, chunksize=chunk))
