"""Background work of one server process: provisioning, deletion, resume, redeploy.

A request records what is wanted (a tenant ``PROVISIONING``, ``DELETING``) and hands the rest to
this runner. A sweep — at start and every ``sweep_seconds`` — picks up every unfinished tenant
nobody is working on: the ones a killed server left, and the ones another server or a CLI run
gave up on. Who works on a tenant is decided by its lease only, so two servers on one Postgres
(or a server and ``rcp tenant create``) never act on one tenant at once: the loser of the lease
skips the tenant until the next sweep.

Shutdown sets the shared stop flag: work in flight starts no new Render call, commits, and
releases its lease; the next start (of this or any server) resumes it from the journal.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from rcp.core.models import TenantStatus, iso_z
from rcp.core.provisioning import StopFlag
from rcp.errors import (
    Interrupted,
    LockBusy,
    ProvisioningFailed,
    RcpError,
    RetryLater,
    TenantNotFound,
)

log = logging.getLogger("rcp.serve.jobs")

SWEEP_ACTOR = "rcp-serve"  # audit actor of work the server resumes by itself
MAX_BACKOFF_SECONDS = 600.0


@dataclass
class JobState:
    """What this process knows about background work on one tenant (shown in its status)."""

    kind: str
    state: str = "queued"  # queued | running | retrying | failed | done
    started_at: datetime | None = None
    error: dict[str, Any] | None = None
    next_attempt: float | None = None  # monotonic
    failures: int = 0
    next_attempt_at: datetime | None = field(default=None)

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "state": self.state,
            "started_at": iso_z(self.started_at),
            "error": self.error,
            "next_attempt_at": iso_z(self.next_attempt_at),
        }


Work = Callable[[], None]
# What the sweep runs for an unfinished tenant: (slug, status) → the work resuming it.
Resumer = Callable[[str, TenantStatus], Work]


class JobRunner:
    def __init__(
        self,
        *,
        list_unfinished: Callable[[], list[tuple[str, TenantStatus]]],
        resumer: Resumer,
        workers: int,
        sweep_seconds: float,
        stop: StopFlag,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._list_unfinished = list_unfinished
        self._resumer = resumer
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="rcp-serve-job")
        self._sweep_seconds = sweep_seconds
        self._stop = stop
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._states: dict[str, JobState] = {}
        self._active: dict[str, Future[None]] = {}
        # Slugs a request is recording right now: the sweep leaves them to that request's job
        # (else it could start the work first, under the server's name instead of the token's).
        self._reserved: Counter[str] = Counter()
        self._wake = threading.Event()
        self._closing = threading.Event()
        self._sweeper: threading.Thread | None = None

    # ------------------------------------------------------------------ public

    def start(self) -> None:
        self._sweeper = threading.Thread(target=self._sweep_loop, name="rcp-serve-sweep", daemon=True)
        self._sweeper.start()

    def submit(self, slug: str, kind: str, work: Work) -> bool:
        """Run ``work`` (``kind`` of work on ``slug``) in the background; False when this
        process already works on the tenant."""
        return self._submit(slug, kind, work, None)

    @contextmanager
    def reserving(self, slug: str) -> Iterator[None]:
        """While the block runs, the sweep does not pick ``slug`` up."""
        with self._lock:
            self._reserved[slug] += 1
        try:
            yield
        finally:
            with self._lock:
                self._reserved[slug] -= 1
                if self._reserved[slug] <= 0:
                    del self._reserved[slug]

    def state(self, slug: str) -> JobState | None:
        with self._lock:
            return self._states.get(slug)

    def busy(self) -> int:
        with self._lock:
            return len(self._active)

    def sweep_now(self) -> None:
        self._wake.set()

    def shutdown(self, timeout: float = 30.0) -> None:
        """Stop cleanly: no new Render call after the ones in flight; leases released."""
        self._closing.set()
        self._stop.request(15)  # the engine's stop flag: SIGTERM semantics
        self._wake.set()
        deadline = self._monotonic() + timeout
        self._pool.shutdown(wait=False, cancel_futures=True)
        for future in list(self._active.values()):
            left = deadline - self._monotonic()
            if left <= 0:
                break
            try:
                future.result(timeout=left)
            except Exception:  # reported by _run already
                pass
        if self._sweeper is not None:
            self._sweeper.join(timeout=max(0.0, deadline - self._monotonic()))

    # ------------------------------------------------------------------ internals

    def _sweep_loop(self) -> None:
        while not self._closing.is_set():
            try:
                self.sweep()
            except Exception as exc:  # a database hiccup must not end the sweeping
                log.warning("sweep failed: %s", _describe(exc))
            self._wake.wait(self._sweep_seconds)
            self._wake.clear()

    def sweep(self) -> list[str]:
        """Submit every unfinished tenant not being worked on here and not backing off."""
        submitted: list[str] = []
        now = self._monotonic()
        for slug, status in self._list_unfinished():
            if self._closing.is_set():
                break
            with self._lock:
                state = self._states.get(slug)
                if slug in self._active or slug in self._reserved:
                    continue
                if state is not None and state.next_attempt is not None and now < state.next_attempt:
                    continue
            kind = "delete" if status == TenantStatus.DELETING else "provision"
            if self._submit(slug, kind, self._resumer(slug, status), state):
                submitted.append(slug)
        if submitted:
            log.info("resuming unfinished tenants: %s", ", ".join(submitted))
        return submitted

    def _submit(self, slug: str, kind: str, work: Work, previous: JobState | None) -> bool:
        with self._lock:
            if self._closing.is_set() or slug in self._active:
                return False
            state = JobState(kind=kind, failures=previous.failures if previous else 0)
            self._states[slug] = state
            self._active[slug] = self._pool.submit(self._run, slug, work, state)
        return True

    def _run(self, slug: str, work: Work, state: JobState) -> None:
        kind = state.kind
        state.state = "running"
        state.started_at = datetime.now(UTC)
        try:
            work()
        except LockBusy as exc:
            # Someone else (another server, a CLI run) holds the tenant: theirs to finish. The
            # sweep looks again once their lease is released or expires.
            state.state = "waiting"
            state.error = _error_json(exc)
            log.info("%s: %s skipped: %s", slug, kind, exc.message)
        except Interrupted:
            state.state = "stopped"
        except TenantNotFound:
            state.state = "done"
        except ProvisioningFailed as exc:
            # The tenant is ERROR with its last_error: an operator's turn, not a retry's.
            state.state = "failed"
            state.error = _error_json(exc)
            log.warning("%s: %s failed: %s", slug, kind, exc.message)
        except RetryLater as exc:
            self._backoff(state, exc, at=exc.retry_at)
        except RcpError as exc:
            self._backoff(state, exc, at=None)
        except Exception as exc:
            self._backoff(state, exc, at=None)
            log.exception("%s: %s failed unexpectedly", slug, kind)
        else:
            state.state = "done"
            state.error = None
            state.failures = 0
        finally:
            with self._lock:
                self._active.pop(slug, None)

    def _backoff(self, state: JobState, exc: BaseException, *, at: datetime | None) -> None:
        state.failures += 1
        state.state = "retrying"
        state.error = _error_json(exc)
        if at is not None:
            delay = max(1.0, (at - datetime.now(UTC)).total_seconds())
        else:
            delay = min(MAX_BACKOFF_SECONDS, self._sweep_seconds * 2 ** (state.failures - 1))
        state.next_attempt = self._monotonic() + delay
        state.next_attempt_at = datetime.fromtimestamp(time.time() + delay, UTC)
        log.warning("%s failed (%s); next attempt in %.0f s", state.kind, _describe(exc), delay)


def _error_json(exc: BaseException) -> dict[str, Any]:
    if isinstance(exc, RcpError):
        return {"code": exc.code, "message": exc.message, "hint": exc.hint}
    return {"code": "internal_error", "message": f"internal error ({type(exc).__name__})", "hint": None}


def _describe(exc: BaseException) -> str:
    return exc.message if isinstance(exc, RcpError) else type(exc).__name__
