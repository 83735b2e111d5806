"""SIGINT/SIGTERM: the first asks for a clean stop, the second exits at once."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

from rcp.core.provisioning import StopFlag


@contextmanager
def graceful_stop() -> Iterator[StopFlag]:
    flag = StopFlag()
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return

    def handler(signal_number: int, _frame: FrameType | None) -> None:
        if flag.requested:
            # Second signal: leave now; the journal makes that safe.
            os._exit(128 + signal_number)
        flag.request(signal_number)
        os.write(2, b"stopping after the call in flight (signal again to exit now)\n")

    previous: dict[signal.Signals, Any] = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        previous[sig] = signal.signal(sig, handler)
    try:
        yield flag
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
