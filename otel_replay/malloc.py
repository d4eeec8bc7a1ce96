"""glibc's malloc tuned for a replay (the command line and its workers)."""

from __future__ import annotations

import ctypes
import os
import sys

#: glibc's malloc maps each allocation over 128 KiB afresh from the kernel and unmaps it
#: when it is freed, and gives back what is free at the top of its heap past 128 KiB. A
#: replay makes and drops a document's bytes, its decoded records and its push bodies (up
#: to megabytes each) over and over: the kernel's work of mapping, faulting in and
#: unmapping their pages was half the system time of a replay of logs. Kept and reused:
#: an allocation up to this size comes from the heap, and up to TRIM_THRESHOLD of free
#: memory stays at the top of each of its heaps.
MMAP_THRESHOLD = 16 << 20  # more than a document read whole (jsondoc.WHOLE_DOCUMENT_BYTES)
TRIM_THRESHOLD = 8 << 20
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # malloc.h


def keep_freed_memory() -> bool:
    """Tune glibc's malloc as :data:`MMAP_THRESHOLD` says, in this process and the ones it
    forks; whether it was (not without glibc, nor when ``MALLOC_MMAP_THRESHOLD_``,
    ``MALLOC_TRIM_THRESHOLD_`` or a ``glibc.malloc`` tunable in ``GLIBC_TUNABLES`` says
    otherwise)."""
    if not sys.platform.startswith("linux") or "glibc.malloc." in os.environ.get("GLIBC_TUNABLES", ""):
        return False
    if "MALLOC_MMAP_THRESHOLD_" in os.environ or "MALLOC_TRIM_THRESHOLD_" in os.environ:
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD) and mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))
