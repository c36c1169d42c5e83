"""Python's cyclic garbage collector, paused for a burst of allocation.

Loading thousands of ORM objects (the pipeline the finder judges, the marketplace's gaps)
allocates hundreds of thousands of long-lived objects; each allocation threshold passed starts
a collection, and the oldest generation's collections walk the whole heap again and again. On
the 20,000-project registry that was more than half the time of matching one funding source
(bench/RESULTS.md, "Funding finder"). Reference counting still frees everything that is not
in a cycle while the collector waits; it runs again, once, when the last burst ends.

Process-wide (the collector is one per process): a depth count under a lock, so that
overlapping bursts in a threaded server pause it once and the last one to end resumes it,
and only if it was running before the first began.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_depth = 0
_resume = False


@contextmanager
def collector_paused() -> Iterator[None]:
    """Run the block with the cyclic garbage collector paused (see the module's text)."""
    global _depth, _resume
    with _lock:
        if _depth == 0:
            _resume = gc.isenabled()
            gc.disable()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _resume:
                gc.enable()
