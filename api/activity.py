"""The API's activity mark: a file touched while it answers queries, so batch work can yield to people.

``entgraph worker`` writes smaller batches while the mark is fresh (loaders/intake.py): on FalkorDB a read
waits for the write in progress. Touched at most once a second, from the request's thread, and only for
GraphQL queries (the people's traffic), not for upload polling.
"""

from __future__ import annotations

import os
import time
from pathlib import Path


class ActivityMark:
    def __init__(self, path: Path, interval_seconds: float = 1.0) -> None:
        self.path = path
        self.interval = interval_seconds
        self._last = 0.0

    def touch(self) -> None:
        now = time.monotonic()
        if now - self._last < self.interval:
            return
        self._last = now
        try:
            os.utime(self.path)
        except FileNotFoundError:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self.path.touch()
            except OSError:  # a read-only home: the worker then just writes its usual batches
                pass
        except OSError:
            pass
