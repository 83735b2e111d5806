"""Client-side rate limiter for Render's API, shared by the whole process, learned from Render.

Render limits per API-key owner (its documented limits and its recorded answers, see
docs/reliability.md):
GET 400/min; creating services, Postgres and Key Value 20 per hour window ending on the clock
hour (``/key-value`` and ``/redis`` on one counter); ``PATCH /services/{id}``, deploys, suspend
and resume 10/min per service; other writes 100/min (every recorded answer; the docs say 30).
Render raises the creation limit on request and may lower any of them, so these numbers are
only the picture *before Render's first answer*; every answer's ``Ratelimit-Limit``,
``-Remaining`` and ``-Reset`` replace it.

The model: one counter per endpoint family (``GET``, ``writes``, ``POST /services``,
``POST /postgres``, ``POST /key-value``, ``service srv-…``), each with fixed windows.

- In a window Render has answered in, the budget is the lowest ``Remaining`` it reported there
  minus our requests still in flight (they may not be counted yet). This is what respects other
  processes using the same key: their calls show up in ``Remaining``. The window ends at the
  reported reset, plus a little slack for clock jitter.
- In a window nobody has answered in yet, the assumed limit (Render's documented one, or the
  ``Limit`` Render reported earlier — a raised quota is used from then on) applies to our own
  requests. Creation windows end on the clock hour. For creation counters only, the first
  request of such a window goes out alone and the others wait for its answer: an hourly budget
  another process may already have spent is worth one round trip, not a burst of 429s.
- A request is never sent when the picture says Render would refuse it: the caller waits for
  the window (within its wait budget) or gets ``RetryLater`` with the time to retry.
- Counters shared between families are learned: when an answer of one creation family shows
  more consumption than our own requests of that family explain, and at least as much as our
  requests to another family that Render had certainly counted before, the two are taken to
  share one counter (honoured from then on); an answer that could not have come from a shared
  counter proves them separate. ``forecast`` plans conservatively meanwhile (creation families
  not yet proven separate are planned as one budget).
"""

from __future__ import annotations

import itertools
import logging
import math
import os
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from rcp.errors import RetryLater
from rcp.render.kinds import KINDS
from rcp.render.waits import (
    describe_retry_time,
    parse_int_header,
    parse_ratelimit_reset,
    retry_time,
)

log = logging.getLogger("rcp.render")


@dataclass(frozen=True)
class BucketLimit:
    """``limit`` requests per ``window`` seconds."""

    limit: int
    window: float

    def __post_init__(self) -> None:
        if self.limit < 1 or self.window <= 0:
            raise ValueError(f"invalid rate limit {self.limit}/{self.window}s")


@dataclass(frozen=True)
class RateLimits:
    """What the limiter assumes before Render's first answer in a window."""

    get: BucketLimit = BucketLimit(400, 60.0)
    write: BucketLimit = BucketLimit(100, 60.0)
    create: BucketLimit = BucketLimit(20, 3600.0)
    per_service: BucketLimit = BucketLimit(10, 60.0)
    # The logs endpoints: their own counter (docs/reliability.md), so their answers' headers
    # never stand for the GET counter of every other read.
    logs: BucketLimit = BucketLimit(30, 60.0)

    def scaled(self, factor: float) -> RateLimits:
        """Every limit multiplied by ``factor`` (at least 1 request per window)."""

        def scale(bucket: BucketLimit) -> BucketLimit:
            return replace(bucket, limit=max(1, int(bucket.limit * factor)))

        return RateLimits(
            get=scale(self.get),
            write=scale(self.write),
            create=scale(self.create),
            per_service=scale(self.per_service),
            logs=scale(self.logs),
        )

    def with_windows_scaled(self, factor: float) -> RateLimits:
        """Every window multiplied by ``factor`` (same counts): matches a sandbox whose clock
        for rate limits runs faster, e.g. ``1/360`` turns 20 creations per hour into 20 per 10 s."""
        if not factor > 0:
            raise ValueError(f"invalid window scale {factor!r}")

        def scale(bucket: BucketLimit) -> BucketLimit:
            return replace(bucket, window=bucket.window * factor)

        return RateLimits(
            get=scale(self.get),
            write=scale(self.write),
            create=scale(self.create),
            per_service=scale(self.per_service),
            logs=scale(self.logs),
        )


WINDOW_SCALE_VARIABLES = ("RCP_RATE_WINDOW_SCALE", "RCP_SANDBOX_RATE_WINDOW_SCALE")


def parse_window_scale(text: str) -> float:
    """``0.5``, ``1/360`` → a positive factor; ValueError otherwise."""
    numerator, _, denominator = text.strip().partition("/")
    value = float(numerator) / float(denominator) if denominator else float(numerator)
    if not value > 0 or value != value or value == float("inf"):
        raise ValueError(f"not a positive number: {text!r}")
    return value


# Render seconds per real second of a sandbox on a scaled clock (``--time-scale``).
TIME_SCALE_VARIABLES = ("RCP_RENDER_TIME_SCALE", "RCP_SANDBOX_TIME_SCALE")


def _scale_from_env(environ: Mapping[str, str], names: tuple[str, ...]) -> float:
    for name in names:
        raw = environ.get(name, "").strip()
        if not raw:
            continue
        try:
            return parse_window_scale(raw)
        except (ValueError, ZeroDivisionError):
            log.warning("ignoring %s=%r: not a positive number", name, raw)
    return 1.0


def time_scale_from_env(environ: Mapping[str, str]) -> float:
    """Render seconds per real second: ``RCP_RENDER_TIME_SCALE`` (else the in-process sandbox's
    ``RCP_SANDBOX_TIME_SCALE``, so client and simulator agree); 1 on Render itself. A
    malformed value is ignored with a warning."""
    return _scale_from_env(environ, TIME_SCALE_VARIABLES)


def limits_from_env(environ: Mapping[str, str]) -> RateLimits:
    """Render's limits, with windows scaled by ``RCP_RATE_WINDOW_SCALE`` (else by the in-process
    sandbox's ``RCP_SANDBOX_RATE_WINDOW_SCALE``, so client and simulator agree) and run on the
    scaled clock (divided by ``time_scale_from_env``). A malformed value is ignored with a
    warning."""
    scale = _scale_from_env(environ, WINDOW_SCALE_VARIABLES) / time_scale_from_env(environ)
    if scale == 1.0:
        return RateLimits()
    return RateLimits().with_windows_scaled(scale)


# ---- which counter a request draws on -------------------------------------------------------

# Create path (and its aliases) → the family key of its creation counter.
_CREATE_FAMILIES: dict[str, str] = {}
for _entry in KINDS.values():
    if _entry.creation_limited:
        for _path in (_entry.path, *_entry.create_aliases):
            _CREATE_FAMILIES[_path] = f"POST {_entry.path}"
_SERVICE_ONLY = re.compile(r"^/services/([^/]+)$")
_SERVICE_ACTION = re.compile(r"^/services/([^/]+)/(?:deploys|rollback|suspend|resume|scale)$")


def normalise_path(path: str) -> str:
    path = path.split("?", 1)[0].rstrip("/") or "/"
    if path == "/v1" or path.startswith("/v1/"):
        path = path[3:] or "/"
    return path


def bucket_for(method: str, path: str) -> tuple[str, str]:
    """``(family key, limit field)`` of a request; the field names a ``RateLimits`` entry."""
    verb = method.upper()
    path = normalise_path(path)
    if path == "/logs" or path.startswith("/logs/"):
        return "logs", "logs"
    if verb in ("GET", "HEAD"):
        return "GET", "get"
    if verb == "POST" and path in _CREATE_FAMILIES:
        return _CREATE_FAMILIES[path], "create"
    service = _SERVICE_ONLY.match(path) if verb == "PATCH" else None
    if service is None and verb == "POST":
        service = _SERVICE_ACTION.match(path)
    if service is not None:
        return f"service {service.group(1)}", "per_service"
    return "writes", "write"


# ---- state -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class BucketSnapshot:
    """One counter as the limiter sees it now (for `rcp health` and benchmarks)."""

    bucket: str  # family keys joined with "+" when Render showed them to share a counter
    limit: int
    window: float
    used: int  # our requests counted in the current window
    server_remaining: int | None
    server_reset_in: float | None


@dataclass
class Ticket:
    """One granted request; hand it back with ``observe`` (answered) or ``release`` (not)."""

    family: str
    sent_at: float
    # Answers of this counter in the current window before this request went out.
    own_answered: int
    # The lowest Remaining known when it went out (None: unknown window), and that window's end.
    remaining_at_send: int | None
    window_at_send: float | None
    # Other creation counters: family key → (answers in their window, that window's reset).
    others: dict[str, tuple[int, float | None]] = field(default_factory=dict)
    done: bool = False


_ids = itertools.count(1)


class _Counter:
    """One of Render's counters as we know it (possibly shared by several families)."""

    def __init__(self, family: str, limit: BucketLimit, *, creation: bool) -> None:
        self.id = next(_ids)
        self.families = {family}
        self.limit = limit.limit
        self.window = limit.window
        self.creation = creation
        # Creation windows end on the clock hour (recordings: Date + Reset = hh:00:00).
        self.aligned = creation
        self.probe = creation
        self.learned_shared = False
        # The window our counting applies to: its end (None: not started yet).
        self.window_end: float | None = None
        self.sent = 0  # our requests in that window
        self.in_flight_by_family: dict[str, int] = {}
        # Callers waiting in ``acquire``: not counted by Render yet, but ahead of any plan.
        self.queued_by_family: dict[str, int] = {}
        self.probe_started: float | None = None  # real time the lone probe went out
        # What Render said about that window (None: no answer in it yet).
        self.remaining: int | None = None
        self.answered = 0
        self.headerless = False

    @property
    def name(self) -> str:
        return "+".join(sorted(self.families))

    @property
    def slack(self) -> float:
        """Extra wait after a reset (Render's Reset is whole seconds; clocks jitter)."""
        return min(1.0, 0.02 * self.window)

    @property
    def observed(self) -> bool:
        return self.remaining is not None

    @property
    def in_flight(self) -> int:
        return sum(self.in_flight_by_family.values())

    @property
    def queued(self) -> int:
        return sum(self.queued_by_family.values())

    def queue(self, family: str, delta: int) -> None:
        count = self.queued_by_family.get(family, 0) + delta
        self.queued_by_family[family] = max(0, count)

    def landed(self, family: str) -> None:
        """One of ``family``'s requests is no longer in flight."""
        count = self.in_flight_by_family.get(family, 0)
        if count > 0:
            self.in_flight_by_family[family] = count - 1

    def roll(self, now: float, epoch_now: float) -> None:
        """Move to the window that contains ``now`` when the current one is over."""
        if self.window_end is None:
            self.window_end = self._first_end(now, epoch_now)
            return
        if now < self.window_end:
            return
        passed = math.floor((now - self.window_end) / self.window) + 1
        self.window_end += passed * self.window
        self.remaining = None
        self.answered = 0
        # Requests still in flight may be counted in the new window.
        self.sent = self.in_flight

    def _first_end(self, now: float, epoch_now: float) -> float:
        if self.aligned:
            into = epoch_now % self.window
            return now + (self.window - into) + self.slack
        return now + self.window

    def available(self) -> int:
        if self.remaining is not None:
            return self.remaining - self.in_flight
        return self.limit - self.sent

    def take(self, family: str) -> None:
        self.sent += 1
        self.in_flight_by_family[family] = self.in_flight_by_family.get(family, 0) + 1
        if self.probe and not self.observed:
            self.probe_started = time.monotonic()


class RateLimiter:
    """Thread-safe limiter over Render's counters; ``acquire`` before a call, then ``observe``
    its answer (or ``release`` when there was none)."""

    def __init__(
        self,
        limits: RateLimits | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        max_wait: float = 60.0,
        wall_clock: Callable[[], datetime] | None = None,
        epoch: Callable[[], float] = time.time,
        probe_timeout: float = 60.0,
    ) -> None:
        self.limits = limits or RateLimits()
        self._clock = clock
        self._sleep = sleep
        self.max_wait = max_wait
        self._wall_clock = wall_clock or (lambda: datetime.now(UTC))
        self._epoch = epoch
        self.probe_timeout = probe_timeout
        self._cond = threading.Condition()
        self._counters: dict[str, _Counter] = {}
        # Pairs of creation families proven to count separately.
        self._separate: set[frozenset[str]] = set()

    # -- counters ------------------------------------------------------------------------

    def _counter(self, family: str, field_name: str) -> _Counter:
        counter = self._counters.get(family)
        if counter is None:
            counter = _Counter(
                family, getattr(self.limits, field_name), creation=field_name == "create"
            )
            self._counters[family] = counter
        return counter

    def _all(self) -> list[_Counter]:
        unique: dict[int, _Counter] = {}
        for counter in self._counters.values():
            unique[counter.id] = counter
        return list(unique.values())

    # -- acquiring -----------------------------------------------------------------------

    def acquire(
        self,
        method: str,
        path: str,
        *,
        max_wait: float | None = None,
        sleep: Callable[[float], None] | None = None,
    ) -> Ticket:
        """Wait until Render would accept this request; return its ticket.

        Raises ``RetryLater`` (taking nothing) when that is more than ``max_wait`` seconds away.
        ``max_wait``/``sleep`` override the limiter's own for this call, so one process-wide
        limiter serves clients with different budgets and injected sleeps.
        """
        budget = self.max_wait if max_wait is None else max_wait
        do_sleep = sleep or self._sleep
        family, field_name = bucket_for(method, path)
        started = self._clock()
        with self._cond:
            self._counter(family, field_name).queue(family, +1)
        try:
            while True:
                with self._cond:
                    now = self._clock()
                    counter = self._counter(family, field_name)
                    counter.roll(now, self._epoch())
                    wait_until = self._decide(counter)
                    if wait_until is None:
                        counter.queue(family, -1)
                        counter.take(family)
                        return self._ticket(family, counter, now)
                    if wait_until == math.inf:
                        # A lone probe of this window is out: its answer tells us the budget.
                        self._cond.wait(timeout=0.05)
                        continue
                    wait = wait_until - now
                    if (now - started) + wait > budget:
                        at = retry_time(wait, self._wall_clock())
                        raise RetryLater(
                            f"Render rate limit for {counter.name} ({counter.limit} per "
                            f"{counter.window:g} s) is used up; retry after "
                            f"{describe_retry_time(at)} (in {wait:.0f} s)",
                            retry_at=at,
                            hint="rerun the same command then; it resumes where it stopped",
                        )
                if wait >= 1.0:
                    log.info("waiting %.1f s for Render's %s rate limit", wait, family)
                do_sleep(wait)
        except BaseException:
            with self._cond:
                self._counters[family].queue(family, -1)
            raise

    def _decide(self, counter: _Counter) -> float | None:
        """None: go now; ``inf``: wait for an answer in flight; else the moment to retry."""
        assert counter.window_end is not None
        if counter.available() > 0:
            if (
                counter.probe
                and not counter.observed
                and not counter.headerless
                and counter.in_flight > 0
                and not self._probe_lost(counter)
            ):
                return math.inf
            return None
        if counter.observed and counter.in_flight > 0 and (counter.remaining or 0) > 0:
            # Budget left once in-flight requests are answered (one may fail, or be counted
            # already): wait for answers, or for the window's end, whichever comes first.
            return math.inf
        return counter.window_end

    def _probe_lost(self, counter: _Counter) -> bool:
        """A probe unanswered for this long (a caller that never reported back) stops holding
        the others: they go on with the assumed limit."""
        started = counter.probe_started
        return started is not None and time.monotonic() - started > self.probe_timeout

    def _ticket(self, family: str, counter: _Counter, now: float) -> Ticket:
        others: dict[str, tuple[int, float | None]] = {}
        if counter.creation:
            for other in self._all():
                if other is counter or not other.creation:
                    continue
                for name in other.families:
                    others[name] = (
                        other.answered if other.observed else 0,
                        other.window_end,
                    )
        return Ticket(
            family=family,
            sent_at=now,
            own_answered=counter.answered if counter.observed else 0,
            remaining_at_send=counter.remaining,
            window_at_send=counter.window_end,
            others=others,
        )

    # -- answers -------------------------------------------------------------------------

    def release(self, ticket: Ticket) -> None:
        """The request got no answer (transport failure): it no longer holds a place in flight.
        If Render did act on it, its next answer's Remaining says so."""
        with self._cond:
            if ticket.done:
                return
            ticket.done = True
            counter = self._counters.get(ticket.family)
            if counter is not None:
                counter.landed(ticket.family)
            self._cond.notify_all()

    def observe(self, ticket: Ticket, status: int, headers: Mapping[str, str]) -> None:
        """Learn from the answer to ``ticket``'s request (its status and ``Ratelimit-*``)."""
        limit = parse_int_header(headers, "Ratelimit-Limit")
        remaining = parse_int_header(headers, "Ratelimit-Remaining")
        reset = parse_ratelimit_reset(headers)
        with self._cond:
            counter = self._counters.get(ticket.family)
            if counter is None:
                return
            if not ticket.done:
                ticket.done = True
                counter.landed(ticket.family)
            try:
                if limit is None and remaining is None and reset is None:
                    if not counter.observed:
                        counter.headerless = True
                    return
                counter.headerless = False
                if limit is not None and limit >= 1:
                    counter.limit = limit
                if remaining is None or reset is None:
                    return
                now = self._clock()
                counter.roll(now, self._epoch())
                reset_at = now + reset + counter.slack
                self._record(counter, ticket, status, remaining, reset_at)
            finally:
                self._cond.notify_all()

    def _record(
        self, counter: _Counter, ticket: Ticket, status: int, remaining: int, reset_at: float
    ) -> None:
        assert counter.window_end is not None
        tolerance = counter.window / 2
        if not counter.observed:
            # The first answer of a window: Render's reset says where the window really ends.
            counter.window_end = reset_at
        elif reset_at < counter.window_end - tolerance:
            return  # an answer from a window that is already over
        elif reset_at > counter.window_end + tolerance:
            # Render's next window has started: what it says now is what counts.
            counter.window_end = reset_at
            counter.remaining = None
            counter.answered = 0
            counter.sent = counter.in_flight + 1
        else:
            # Reset is rounded and the answer took time: the later end is the safe one.
            counter.window_end = max(counter.window_end, reset_at)
        same_window = (
            ticket.window_at_send is not None
            and abs(ticket.window_at_send - counter.window_end) < tolerance
        )
        if (
            counter.learned_shared
            and same_window
            and self._contradicts_sharing(ticket, status, remaining)
        ):
            self._split(counter, ticket.family)
            counter = self._counters[ticket.family]
        counter.remaining = (
            remaining if counter.remaining is None else min(counter.remaining, remaining)
        )
        counter.answered += 1
        if counter.creation:
            self._learn_sharing(counter, ticket, status, remaining)

    # -- shared counters -----------------------------------------------------------------

    @staticmethod
    def _contradicts_sharing(ticket: Ticket, status: int, remaining: int) -> bool:
        """On one counter Remaining only falls: a request sent after an answer reporting R and
        counted must report less than R."""
        return (
            status != 429
            and ticket.remaining_at_send is not None
            and remaining >= ticket.remaining_at_send
        )

    def _learn_sharing(
        self, counter: _Counter, ticket: Ticket, status: int, remaining: int
    ) -> None:
        used = counter.limit - remaining
        counted = 0 if status == 429 else 1
        own_certain = ticket.own_answered + counted  # answered before it went out, plus itself
        own_most = counter.sent  # every request of ours in this window
        assert counter.window_end is not None
        for other in self._all():
            if other is counter or not other.creation:
                continue
            pair = frozenset(counter.families | other.families)
            if pair in self._separate:
                continue
            certain = 0
            for name in other.families:
                answered, window_end = ticket.others.get(name, (0, None))
                if window_end is not None and abs(window_end - counter.window_end) < (
                    counter.window / 2
                ):
                    certain += answered
            if certain < 1:
                continue
            if used < own_certain + certain:
                # Render had counted those requests of the other family, yet this counter
                # does not include them: two counters.
                self._separate.add(pair)
                continue
            if used > own_most:
                log.info(
                    "Render's %s and %s creation limits share one counter (learned from "
                    "Ratelimit-Remaining)",
                    counter.name,
                    other.name,
                )
                self._merge(counter, other)
                return

    def _merge(self, keep: _Counter, other: _Counter) -> None:
        keep.families |= other.families
        keep.limit = min(keep.limit, other.limit)
        keep.sent += other.sent
        for name, count in other.in_flight_by_family.items():
            keep.in_flight_by_family[name] = keep.in_flight_by_family.get(name, 0) + count
        for name, count in other.queued_by_family.items():
            keep.queued_by_family[name] = keep.queued_by_family.get(name, 0) + count
        keep.answered += other.answered
        if other.remaining is not None:
            keep.remaining = (
                other.remaining if keep.remaining is None else min(keep.remaining, other.remaining)
            )
        keep.learned_shared = True
        for name in other.families:
            self._counters[name] = keep

    def _split(self, counter: _Counter, family: str) -> None:
        """A learned sharing turned out wrong: ``family`` gets its own counter again."""
        log.info("Render's %s creation limit counts separately after all", family)
        alone = _Counter(family, BucketLimit(counter.limit, counter.window), creation=True)
        alone.window_end = counter.window_end
        alone.in_flight_by_family[family] = counter.in_flight_by_family.pop(family, 0)
        alone.queued_by_family[family] = counter.queued_by_family.pop(family, 0)
        counter.families.discard(family)
        counter.learned_shared = len(counter.families) > 1
        for name in counter.families:
            self._separate.add(frozenset({family, name}))
        self._counters[family] = alone

    # -- planning ------------------------------------------------------------------------

    def forecast(self, requests: Sequence[tuple[str, str]]) -> list[float]:
        """Seconds from now until each of ``requests`` (``(method, path)``, sent in this order)
        could go out, taking nothing. Creation families of the list not yet proven separate
        are planned as one budget, so a plan made before Render has told holds either way."""
        with self._cond:
            now = self._clock()
            epoch_now = self._epoch()
            touched: dict[str, _Counter] = {}
            for method, path in requests:
                family, field_name = bucket_for(method, path)
                counter = self._counter(family, field_name)
                counter.roll(now, epoch_now)
                touched[family] = counter
            # Creation counters the list does not touch still count when they are not proven
            # separate: what Render told about Postgres creates bounds the service creates that
            # may share its counter.
            planned = {c.id: c for c in touched.values()}
            for counter in self._all():
                if counter.creation and counter.id not in planned:
                    counter.roll(now, epoch_now)
                    planned[counter.id] = counter
            groups = self._planning_groups(list(planned.values()))
            plans: dict[int, _Plan] = {}
            waits: list[float] = []
            for method, path in requests:
                counter = touched[bucket_for(method, path)[0]]
                members = groups.get(counter.id, [counter])
                key = min(member.id for member in members)
                plan = plans.get(key)
                if plan is None:
                    plan = plans[key] = _Plan.of(members)
                waits.append(max(0.0, plan.next_slot() - now))
        return waits

    def _planning_groups(self, counters: list[_Counter]) -> dict[int, list[_Counter]]:
        creation = [c for c in counters if c.creation]
        groups: dict[int, list[_Counter]] = {}
        for counter in creation:
            groups[counter.id] = [
                other
                for other in creation
                if other is counter
                or frozenset(counter.families | other.families) not in self._separate
            ]
        return groups

    def snapshot(self) -> list[BucketSnapshot]:
        with self._cond:
            now = self._clock()
            out = []
            for counter in sorted(self._all(), key=lambda c: c.name):
                counter.roll(now, self._epoch())
                end = counter.window_end
                out.append(
                    BucketSnapshot(
                        bucket=counter.name,
                        limit=counter.limit,
                        window=counter.window,
                        used=counter.sent,
                        server_remaining=counter.remaining,
                        server_reset_in=(
                            max(0.0, end - now) if end is not None and counter.observed else None
                        ),
                    )
                )
            return out

    def learned(self) -> dict[str, object]:
        """What Render's answers have taught so far (for benchmarks and `-v` diagnostics)."""
        with self._cond:
            return {
                "limits": {c.name: c.limit for c in self._all()},
                "shared": sorted(c.name for c in self._all() if len(c.families) > 1),
                "separate": sorted("+".join(sorted(pair)) for pair in self._separate),
            }


@dataclass
class _Plan:
    """A copy of one budget for ``forecast``: what is left now, then whole windows."""

    available: int
    end: float
    limit: int
    window: float
    at: float = -math.inf  # when the window being filled opens

    @classmethod
    def of(cls, members: list[_Counter]) -> _Plan:
        first = members[0]
        assert first.window_end is not None
        if len(members) == 1:
            left = first.available() - first.queued
            return cls(max(0, left), first.window_end, first.limit, first.window)
        # Not proven separate: plan as one counter that all of them have drawn on, whose limit
        # is what Render reported for it (an assumption only where it has not answered).
        observed = [member.limit for member in members if member.observed]
        limit = min(observed) if observed else min(member.limit for member in members)
        spent = sum(
            (max(0, member.limit - member.available()) if member.observed else member.sent)
            + member.queued
            for member in members
        )
        ends = [member.window_end for member in members if member.window_end is not None]
        return cls(max(0, limit - spent), min(ends), limit, first.window)

    def next_slot(self) -> float:
        """When the next request fits (``-inf``: in the current window, i.e. now)."""
        if self.available <= 0:
            self.at = self.end
            self.end += self.window
            self.available = self.limit
        self.available -= 1
        return self.at


_default_limiter: RateLimiter | None = None
_default_lock = threading.Lock()


def default_limiter() -> RateLimiter:
    """The process-wide limiter (created on first use) that every client shares by default."""
    global _default_limiter
    with _default_lock:
        if _default_limiter is None:
            _default_limiter = RateLimiter(limits_from_env(os.environ))
        return _default_limiter


def reset_default_limiter(replacement: RateLimiter | None = None) -> None:
    """Replace the process-wide limiter (``None``: a fresh one on next use).

    For test suites that run many commands in one process: without a reset, the 20-per-hour
    create buckets fill up across tests exactly as they would in one long-running process.
    """
    global _default_limiter
    with _default_lock:
        _default_limiter = replacement
