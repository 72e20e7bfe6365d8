"""Progress reporting and cancellation for long work (download, convert, generate).

Compute code takes a `Progress` object rather than a callback zoo, the way
Orange3's `TaskState` works: it reports fractions and asks "should I stop?".
The desktop worker subclasses nothing; it passes a callback and a cancel flag.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from model_core.errors import Cancelled

ProgressCallback = Callable[[str, float], None]  # (message, fraction in [0, 1] or -1 = unknown)


@dataclass
class Progress:
    """Reports progress and carries a cancel flag; safe to share across threads."""

    callback: ProgressCallback | None = None
    should_stop: Callable[[], bool] | None = None  # another reason to stop (the work was superseded)
    _cancel: threading.Event = field(default_factory=threading.Event)

    def report(self, message: str, fraction: float = -1.0) -> None:
        """Tell the user where we are, then stop if they asked us to."""
        self.check()
        if self.callback is not None:
            self.callback(message, fraction)

    def cancel(self) -> None:
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set() or (self.should_stop is not None and self.should_stop())

    def check(self) -> None:
        """Raise `Cancelled` if cancellation was requested."""
        if self.cancelled:
            raise Cancelled()


def silent() -> Progress:
    """A progress object that reports nowhere (tests, command line without --verbose)."""
    return Progress()
