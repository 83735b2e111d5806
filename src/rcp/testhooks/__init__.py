"""Test-only hooks: every ``RCP_FAILPOINT`` / ``RCP_TEST_*`` variable is read here, and only here.

The fault suite (tests/faults) uses them to run in minutes and to fail on purpose at chosen
points; they are not part of the user contract (docs/configuration.md lists the user's
variables). The composition root (``rcp.context.AppContext``) parses them once with ``TestHooks.from_env`` and
injects the values into the adapters it builds — the store, the Render client, the operator —
which take them as plain constructor arguments and read no environment themselves.

- ``RCP_FAILPOINT=create:web:after`` kills the process with SIGKILL at that journal step;
  ``…=raise`` raises an unexpected ``RuntimeError`` there instead, whose text is
  ``RCP_FAILPOINT_MESSAGE`` (to prove error paths redact secrets); ``wait:poll=stop`` stops the
  process (SIGSTOP) there, for a test to resume with SIGCONT once another process took its
  lease over. Steps: ``create|delete:<key>:before|after|committed``,
  ``link|deploy|unlink:<service key>:before|after`` (environment groups),
  ``gather|empty:environment:before|after`` (moving resources into and out of a tenant's
  environment) and ``wait:poll`` (each readiness poll round).
- ``RCP_TEST_LEASE_SECONDS``: the tenant lease (heartbeat a third of it), so a test can pause a
  holder past its lease in seconds.
- ``RCP_TEST_BACKOFF_BASE``: seconds of the Render client's first backoff step (default 1; the
  cap of 8 s is scaled by the same factor).
- ``RCP_TEST_HTTP_TIMEOUT``: seconds for each of the connect/read/write/pool timeouts.
- ``RCP_TEST_CONNECT_FAULTS``: a JSON list of ``{"method", "path", "times", "kind"}`` (``kind``
  ``connect_error`` or ``connect_timeout``): the first ``times`` requests of this process with
  that method and a path ending in ``path`` fail as if the connection could not be opened (the
  request never leaves). Real connect failures cannot be produced on demand on loopback while
  the server is listening; ``rcp.testhooks.transport`` is their stand-in.

Stdlib only: parsing must not load httpx (``rcp tenant --help`` builds the context).
"""

from __future__ import annotations

import json
import math
import os
import signal
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rcp.errors import ConfigError

if TYPE_CHECKING:
    import httpx

FAILPOINT = "RCP_FAILPOINT"
FAILPOINT_MESSAGE = "RCP_FAILPOINT_MESSAGE"
LEASE_SECONDS = "RCP_TEST_LEASE_SECONDS"
BACKOFF_BASE = "RCP_TEST_BACKOFF_BASE"
HTTP_TIMEOUT = "RCP_TEST_HTTP_TIMEOUT"
CONNECT_FAULTS = "RCP_TEST_CONNECT_FAULTS"

# Every variable this module reads (tests/conftest.py clears them around each test).
VARIABLES = (FAILPOINT, FAILPOINT_MESSAGE, LEASE_SECONDS, BACKOFF_BASE, HTTP_TIMEOUT, CONNECT_FAULTS)

CONNECT_FAULT_KINDS = ("connect_error", "connect_timeout")


@dataclass
class ConnectFault:
    """Fail the next ``times`` requests of ``method`` to a path ending in ``path``."""

    method: str
    path: str
    times: int
    kind: str  # one of CONNECT_FAULT_KINDS


@dataclass(frozen=True)
class TestHooks:
    """The parsed hooks; the defaults (``TestHooks()``) change nothing."""

    __test__ = False  # not a pytest test class, despite the name

    failpoint: str = ""
    failpoint_message: str = ""
    lease_seconds: float | None = None
    backoff_base: float | None = None
    http_timeout: float | None = None
    connect_faults: tuple[ConnectFault, ...] = ()

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> TestHooks:
        """Parse the variables; ConfigError (exit 6) naming the variable when one is malformed."""
        env = os.environ if environ is None else environ
        return cls(
            failpoint=env.get(FAILPOINT, "").strip(),
            failpoint_message=env.get(FAILPOINT_MESSAGE, ""),
            lease_seconds=_positive_seconds(env, LEASE_SECONDS),
            backoff_base=_positive_seconds(env, BACKOFF_BASE),
            http_timeout=_positive_seconds(env, HTTP_TIMEOUT),
            connect_faults=_connect_faults(env),
        )

    def failpoint_hook(self) -> Callable[[str], None]:
        """The engine's ``failpoint(step)`` callback for ``RCP_FAILPOINT`` (a no-op without)."""
        wanted, _, action = self.failpoint.partition("=")
        message = self.failpoint_message

        def failpoint(step: str) -> None:
            if not wanted or step != wanted:
                return
            if action == "raise":
                raise RuntimeError(f"injected failure at {step}: {message}")
            if action == "stop":
                os.kill(os.getpid(), signal.SIGSTOP)
                return
            os.kill(os.getpid(), signal.SIGKILL)

        return failpoint

    def wrap_transport(self, inner: httpx.BaseTransport | None) -> httpx.BaseTransport | None:
        """``inner`` behind the connect faults of ``RCP_TEST_CONNECT_FAULTS`` (if any)."""
        if not self.connect_faults:
            return inner
        from rcp.testhooks.transport import ConnectFaultTransport

        # Copies: the counters run down per client, the parsed hooks stay as parsed.
        rules = [
            ConnectFault(rule.method, rule.path, rule.times, rule.kind)
            for rule in self.connect_faults
        ]
        return ConnectFaultTransport(inner, rules)


def _positive_seconds(env: Mapping[str, str], name: str) -> float | None:
    raw = env.get(name, "").strip()
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number of seconds, not {raw!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise ConfigError(f"{name} must be a positive number of seconds, not {raw!r}")
    return value


def _connect_faults(env: Mapping[str, str]) -> tuple[ConnectFault, ...]:
    raw = env.get(CONNECT_FAULTS, "").strip()
    if not raw:
        return ()
    try:
        rules = json.loads(raw)
        parsed = tuple(
            ConnectFault(
                method=str(rule["method"]).upper(),
                path=str(rule["path"]),
                times=int(rule.get("times", 1)),
                kind=str(rule.get("kind", "connect_error")),
            )
            for rule in rules
        )
    except (ValueError, TypeError, KeyError, AttributeError):
        raise ConfigError(f"{CONNECT_FAULTS} must be a JSON list of rules") from None
    for rule in parsed:
        if rule.kind not in CONNECT_FAULT_KINDS:
            raise ConfigError(
                f"{CONNECT_FAULTS}: kind must be one of {', '.join(CONNECT_FAULT_KINDS)}, "
                f"not {rule.kind!r}"
            )
    return parsed
