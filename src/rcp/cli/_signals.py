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


def failpoint_from_env() -> Any:
    """Test-only failpoints of the fault suite (tests/faults).

    ``RCP_FAILPOINT=create:web:after`` kills the process with SIGKILL at that journal step;
    ``RCP_FAILPOINT=create:web:after=raise`` raises an unexpected ``RuntimeError`` there instead,
    whose text is ``RCP_FAILPOINT_MESSAGE`` (to prove error paths redact secrets);
    ``RCP_FAILPOINT=wait:poll=stop`` stops the process (SIGSTOP) there, for a test to resume
    with SIGCONT once another process took its lease over. Steps: ``create|delete:<key>:
    before|after|committed`` and ``wait:poll`` (each readiness poll round).
    """
    wanted = os.environ.get("RCP_FAILPOINT", "")
    step_wanted, _, action = wanted.partition("=")

    def failpoint(step: str) -> None:
        if not step_wanted or step != step_wanted:
            return
        if action == "raise":
            raise RuntimeError(
                f"injected failure at {step}: {os.environ.get('RCP_FAILPOINT_MESSAGE', '')}"
            )
        if action == "stop":
            os.kill(os.getpid(), signal.SIGSTOP)
            return
        os.kill(os.getpid(), signal.SIGKILL)

    return failpoint
