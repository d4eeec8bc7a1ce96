"""Asking a backend again until it serves everything or the time is up: Tempo and Loki
serve what they stored a little later (an ingester, a block), so a read-back polls."""

from __future__ import annotations

import time
from collections.abc import Callable

#: Seconds between two rounds of questions to a backend.
POLL_INTERVAL_S = 1.0
#: Questions asked of a backend at once.
CONCURRENCY = 8


class Rounds:
    """One read-back's rounds of questions: the first asks about everything (however long
    a large run takes to ask), then what is still missing is asked again for up to
    ``deadline_s`` seconds. The wait is said once (``waiting_for(n)`` names the ``n``
    things still missing)."""

    def __init__(self, deadline_s: float, notify: Callable[[str], None], waiting_for: Callable[[int], str]) -> None:
        self._deadline_s = deadline_s
        self._deadline: float | None = None  # set when the first round ends
        self._notify = notify
        self._waiting_for = waiting_for
        self._told = False

    def again(self, missing: int) -> bool:
        """After a round that left ``missing`` things unserved: waits for the next round and
        says True, or says False when nothing is missing or the time is up."""
        if self._deadline is None:
            self._deadline = time.monotonic() + self._deadline_s
        left = self._deadline - time.monotonic()
        if not missing or left <= 0:
            return False
        if not self._told:
            self._notify(f"verify: waiting up to {self._deadline_s:g} s for {self._waiting_for(missing)}")
            self._told = True
        time.sleep(min(POLL_INTERVAL_S, left))  # polling the backend, not synchronisation
        return True
