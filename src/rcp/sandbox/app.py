"""The simulator behind both front ends: faults, auth, rate limits, the world, the request log.

``SandboxApp.handle`` turns one HTTP request into a ``SandboxOutcome``: a response to send,
or an instruction to drop the connection / hang / time out. The in-process transport and
the HTTP server only translate that outcome into what a real client would experience.

A request whose ``Host`` is a service's public host (``<name>.onrender.com``) goes to that
service's app instead (``rcp.sandbox.public``: health checks of rollouts). Order of processing
for ``/v1/…``: fault rules (they model the network and Render's
front door, so they come first) → latency and ``delay`` → ``Authorization: Bearer`` →
rate-limit bucket → the endpoint. ``/__sandbox/…`` (also under ``/v1``) is the control
API: no auth, no faults, no rate limits, not logged.
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from rcp.sandbox.api import (
    ApiError,
    ApiRequest,
    ApiResult,
    WorldContext,
    dispatch,
    dump_world,
)
from rcp.sandbox.faults import (
    FaultRule,
    FaultRuleError,
    load_rules_file,
    parse_rule,
    parse_rules,
)
from rcp.sandbox.ids import request_id as new_request_id
from rcp.sandbox.public import find_public_service, public_answer, public_host
from rcp.sandbox.ratelimit import (
    Bucket,
    BucketState,
    RateLimitConfig,
    bucket_for,
    consume,
    peek,
)
from rcp.sandbox.settings import SandboxSettings
from rcp.sandbox.store import SandboxStore

Disposition = Literal["respond", "drop", "hang", "timeout"]
# Fault actions that let the request through and change how the world handles it.
MODIFYING_ACTIONS = frozenset({"delay", "fail_deploy", "datastore_status", "defer_deploy"})

API_PREFIX = "/v1"
CONTROL_PREFIX = "/__sandbox"
_BEARER = re.compile(r"^Bearer\s+\S+", re.IGNORECASE)

STATIC_HEADERS: tuple[tuple[str, str], ...] = (
    ("Vary", "Origin"),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("X-Xss-Protection", "1; mode=block"),
    ("Referrer-Policy", "same-origin"),
)


@dataclass(frozen=True)
class SandboxRequest:
    method: str
    path: str
    """The URL path as sent (``/v1/services``), percent-encoded, without the query."""
    query: tuple[tuple[str, str], ...] = ()
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        for key, value in self.headers:
            if key.lower() == lowered:
                return value
        return None


@dataclass(frozen=True)
class SandboxResponse:
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


@dataclass(frozen=True)
class SandboxOutcome:
    disposition: Disposition
    response: SandboxResponse | None = None
    """What Render answered (also for ``drop`` after acting: the answer that got lost)."""
    hang_seconds: float | None = None
    """For ``hang``: how long the rule lets the server hang (None: until the client gives up)."""
    acted: bool = False
    """Whether the world handled the request (False for short-circuiting faults)."""


@dataclass
class _FaultDecision:
    delay_seconds: float = 0.0
    fail_deploys: str | None = None
    datastore_status: str | None = None
    deploy_delay: float = 0.0
    terminal: FaultRule | None = None
    drop_after: bool = False
    fired_names: list[str] = field(default_factory=list)


def _body_name(request: SandboxRequest) -> str | None:
    """The ``name`` a create/update asked for (for spotting duplicate creates in the log);
    nothing else of the body is kept, since bodies carry secrets."""
    if request.method.upper() not in ("POST", "PATCH", "PUT") or not request.body:
        return None
    try:
        body = json.loads(request.body)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    name = body.get("name") if isinstance(body, dict) else None
    return name if isinstance(name, str) else None


# API paths that name one resource by id: /services/srv-…, /postgres/dpg-…/…, /key-value/red-…
_RESOURCE_PATH = re.compile(
    r"^/(?:services|postgres|key-value|env-groups|projects|environments)/([^/]+)(?:/|$)"
)


def _concerned_name(
    connection: sqlite3.Connection, request: SandboxRequest, api_path: str
) -> str | None:
    """The Render name of the resource an API request concerns (fault rules' ``name``): the
    one whose id is in the path, else the name a create asks for."""
    match = _RESOURCE_PATH.match(api_path)
    if match is not None:
        row = connection.execute(
            "SELECT name FROM resources WHERE id = ?", (match.group(1),)
        ).fetchone()
        if row is not None:
            return str(row["name"])
    return _body_name(request)


def _json_bytes(value: Any) -> bytes:
    return (json.dumps(value, separators=(",", ":")) + "\n").encode()


class SandboxApp:
    def __init__(
        self,
        state_path: Path,
        settings: SandboxSettings,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.store = SandboxStore(state_path, owners=settings.owners)
        self.settings = settings
        self.clock = clock
        self.sleep = sleep
        self._file_rules: list[tuple[str, FaultRule]] = []
        self._file_prefix = ""
        if settings.faults_file is not None:
            text, rules = load_rules_file(settings.faults_file)
            # Identity = the file's path and content: every process started with the same
            # file shares one set of rules (and counters); an edited file replaces its rules.
            self._file_prefix = f"file:{settings.faults_file.resolve()}:"
            digest = hashlib.sha256(text.encode()).hexdigest()[:16]
            self._file_rules = [
                (f"{self._file_prefix}{digest}:{index}", rule) for index, rule in enumerate(rules)
            ]
        self._install_file_rules()

    # -- fault rules -------------------------------------------------------------------------

    def _install_file_rules(self) -> None:
        """Insert the file's rules once per world (other processes may already have)."""
        if not self._file_prefix:
            return
        with self.store.transaction() as connection:
            keys = [key for key, _ in self._file_rules]
            stale = connection.execute(
                "SELECT seq, source_key FROM faults WHERE substr(source_key, 1, ?) = ?",
                (len(self._file_prefix), self._file_prefix),
            ).fetchall()
            for row in stale:
                if row["source_key"] not in keys:
                    connection.execute("DELETE FROM faults WHERE seq = ?", (row["seq"],))
            for key, rule in self._file_rules:
                connection.execute(
                    "INSERT OR IGNORE INTO faults (source_key, rule) VALUES (?, ?)",
                    (key, json.dumps(rule.to_json())),
                )

    def add_faults(self, rules: Sequence[FaultRule]) -> list[dict[str, Any]]:
        added = []
        with self.store.transaction() as connection:
            for rule in rules:
                cursor = connection.execute(
                    "INSERT INTO faults (source_key, rule) VALUES (?, ?)",
                    (f"api:{new_request_id()}", json.dumps(rule.to_json())),
                )
                added.append(
                    {"id": cursor.lastrowid, "rule": rule.to_json(), "matched": 0, "fired": 0}
                )
        return added

    def list_faults(self) -> list[dict[str, Any]]:
        with self.store.transaction() as connection:
            rows = connection.execute("SELECT * FROM faults ORDER BY seq").fetchall()
        return [
            {
                "id": int(row["seq"]),
                "rule": json.loads(row["rule"]),
                "matched": int(row["matched"]),
                "fired": int(row["fired"]),
            }
            for row in rows
        ]

    def clear_faults(self, fault_id: int | None = None) -> bool:
        with self.store.transaction() as connection:
            if fault_id is None:
                connection.execute("DELETE FROM faults")
                return True
            cursor = connection.execute("DELETE FROM faults WHERE seq = ?", (fault_id,))
            return cursor.rowcount > 0

    def reset(self) -> None:
        self.store.wipe()
        self._install_file_rules()

    def dump(self) -> dict[str, Any]:
        with self.store.transaction() as connection:
            return dump_world(WorldContext(connection, self.clock(), self.settings))

    def _decide_faults(
        self,
        connection: sqlite3.Connection,
        method: str,
        path: str,
        *,
        concerned: Callable[[], str | None],
        public: bool = False,
    ) -> _FaultDecision:
        """``concerned`` gives the name of the resource the request concerns (looked up only
        when a rule has a ``name``); ``public``: a request to a service's public URL."""
        decision = _FaultDecision()
        name: list[str | None] = []  # looked up once, on the first rule that asks
        for row in connection.execute(
            "SELECT seq, rule, matched, fired FROM faults ORDER BY seq"
        ).fetchall():
            rule = parse_rule(json.loads(row["rule"]))
            if rule.public != public or not rule.matches(method, path):
                continue
            if rule.name is not None:
                if not name:
                    name.append(concerned())
                if not rule.matches_name(name[0]):
                    continue
            occurrence = int(row["matched"]) + 1
            applies = rule.fires_on(occurrence)
            if applies and rule.action in MODIFYING_ACTIONS:
                if rule.action == "delay":
                    decision.delay_seconds += 1.0 if rule.seconds is None else rule.seconds
                elif rule.action == "defer_deploy":
                    decision.deploy_delay += 1.0 if rule.seconds is None else rule.seconds
                elif rule.action == "fail_deploy":
                    decision.fail_deploys = rule.state
                else:
                    decision.datastore_status = rule.state
            elif applies and decision.terminal is None and not decision.drop_after:
                if rule.action == "drop_after":
                    decision.drop_after = True
                else:
                    decision.terminal = rule
            else:
                applies = False
            if applies:
                decision.fired_names.append(rule.action)
            connection.execute(
                "UPDATE faults SET matched = ?, fired = fired + ? WHERE seq = ?",
                (occurrence, 1 if applies else 0, row["seq"]),
            )
        return decision

    # -- responses ---------------------------------------------------------------------------

    def _headers(
        self,
        state: BucketState,
        request_id: str,
        *,
        has_body: bool,
        extra: Sequence[tuple[str, str]] = (),
    ) -> tuple[tuple[str, str], ...]:
        headers: list[tuple[str, str]] = []
        if has_body:
            headers.append(("Content-Type", "application/json; charset=utf-8"))
        headers.extend(
            [
                ("Ratelimit-Limit", str(state.limit)),
                ("Ratelimit-Remaining", str(state.remaining)),
                ("Ratelimit-Reset", state.reset_header),
                ("Render-Request-Id", request_id),
            ]
        )
        headers.extend(STATIC_HEADERS)
        headers.extend(extra)
        return tuple(headers)

    def _response(
        self,
        status: int,
        body: Any,
        state: BucketState,
        request_id: str,
        *,
        empty: bool = False,
        extra: Sequence[tuple[str, str]] = (),
    ) -> SandboxResponse:
        payload = b"" if empty else _json_bytes(body)
        return SandboxResponse(
            status, self._headers(state, request_id, has_body=not empty, extra=extra), payload
        )

    @staticmethod
    def _log(
        connection: sqlite3.Connection,
        now: float,
        request: SandboxRequest,
        status: int | None,
        fault: str | None,
        request_id: str,
    ) -> None:
        query = "&".join(f"{key}={value}" for key, value in request.query)
        connection.execute(
            "INSERT INTO requests (at, method, path, query, status, fault, request_id, name)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                now,
                request.method,
                request.path,
                query,
                status,
                fault,
                request_id,
                _body_name(request),
            ),
        )

    # -- the entry point ---------------------------------------------------------------------

    def handle(
        self, request: SandboxRequest, *, read_timeout: float | None = None
    ) -> SandboxOutcome:
        host = public_host(request.header("Host"))
        if host is not None:
            return SandboxOutcome("respond", self._handle_public(request, host), acted=True)
        path = request.path
        if path.startswith(API_PREFIX + CONTROL_PREFIX):
            path = path[len(API_PREFIX) :]
        if path == CONTROL_PREFIX or path.startswith(CONTROL_PREFIX + "/"):
            return SandboxOutcome("respond", self._control(request, path))
        if not (path == API_PREFIX or path.startswith(API_PREFIX + "/")):
            return SandboxOutcome(
                "respond",
                SandboxResponse(
                    404,
                    (("Content-Type", "application/json; charset=utf-8"), *STATIC_HEADERS),
                    _json_bytes({"message": "not found"}),
                ),
            )
        return self._handle_api(request, read_timeout)

    def _handle_api(self, request: SandboxRequest, read_timeout: float | None) -> SandboxOutcome:
        method = request.method.upper()
        api_path = request.path[len(API_PREFIX) :] or "/"
        request_id = new_request_id()
        bucket = bucket_for(
            method,
            api_path,
            RateLimitConfig(
                window_scale=self.settings.window_scale,
                create_limit=self.settings.create_limit,
                create_counters=self.settings.create_counters,
            ),
        )

        delay = self.settings.latency_ms / 1000.0
        response: SandboxResponse | None = None
        with self.store.transaction() as connection:
            now = self.clock()
            decision = self._decide_faults(
                connection,
                method,
                request.path,
                concerned=lambda: _concerned_name(connection, request, api_path),
            )
            if decision.terminal is not None:
                return self._short_circuit(
                    connection, request, decision.terminal, bucket, now, request_id
                )
            delay += decision.delay_seconds
            if delay <= 0:
                response = self._act(
                    connection, request, method, api_path, bucket, now, request_id, decision
                )
        timed_out = False
        if response is None:
            # Sleep outside the write transaction, then act in a new one.
            if read_timeout is not None and delay > read_timeout:
                # The client gives up after its read timeout; the server still goes on to act.
                timed_out = True
            self.sleep(delay)
            with self.store.transaction() as connection:
                response = self._act(
                    connection,
                    request,
                    method,
                    api_path,
                    bucket,
                    self.clock(),
                    request_id,
                    decision,
                )
        if decision.drop_after:
            return SandboxOutcome("drop", response, acted=True)
        if timed_out:
            return SandboxOutcome("timeout", response, acted=True)
        return SandboxOutcome("respond", response, acted=True)

    def _handle_public(self, request: SandboxRequest, host: str) -> SandboxResponse:
        """A request to a web service's public URL (``rcp.sandbox.public``): the app's answer,
        or a ``health_status`` fault's. Not Render's API: no auth, no rate limit, not in the
        request log (which counts API calls)."""
        with self.store.transaction() as connection:
            now = self.clock()
            ctx = WorldContext(connection, now, self.settings)
            found = find_public_service(ctx, host)
            decision = self._decide_faults(
                connection,
                request.method.upper(),
                request.path,
                concerned=lambda: found["name"] if found is not None else None,
                public=True,
            )
            if decision.terminal is not None and found is not None:
                rule = decision.terminal
                status = rule.status
                body: Any = {"status": "unhealthy"} if rule.body is None else rule.body
            else:
                status, body = public_answer(ctx, found)
        request_id = new_request_id()
        headers = (
            ("Content-Type", "application/json; charset=utf-8"),
            ("X-Request-Id", request_id),
            *(decision.terminal.headers.items() if decision.terminal is not None else ()),
        )
        return SandboxResponse(status, headers, _json_bytes(body))

    def _short_circuit(
        self,
        connection: sqlite3.Connection,
        request: SandboxRequest,
        rule: FaultRule,
        bucket: Bucket,
        now: float,
        request_id: str,
    ) -> SandboxOutcome:
        """A fault that answers (or not) in Render's place; the world is not touched."""
        if rule.action == "status":
            body = rule.body
            if body is None:
                body = {"message": f"sandbox fault: injected {rule.status}"}
            response = self._response(
                rule.status,
                body,
                peek(connection, bucket, now),
                request_id,
                extra=tuple(rule.headers.items()),
            )
            self._log(connection, now, request, rule.status, rule.action, request_id)
            return SandboxOutcome("respond", response)
        if rule.action == "rate_limit":
            retry_after = 30.0 if rule.seconds is None else rule.seconds
            exhausted = BucketState(False, bucket.limit, 0, int(retry_after))
            response = self._response(
                429,
                {"message": "rate limit exceeded"},
                exhausted,
                request_id,
                extra=(("Retry-After", str(int(retry_after))), *rule.headers.items()),
            )
            self._log(connection, now, request, 429, rule.action, request_id)
            return SandboxOutcome("respond", response)
        self._log(connection, now, request, None, rule.action, request_id)
        if rule.action == "drop_before":
            return SandboxOutcome("drop")
        return SandboxOutcome("hang", hang_seconds=rule.seconds)

    def _act(
        self,
        connection: sqlite3.Connection,
        request: SandboxRequest,
        method: str,
        api_path: str,
        bucket: Bucket,
        now: float,
        request_id: str,
        decision: _FaultDecision,
    ) -> SandboxResponse:
        """Answer as Render would and log the request, in the caller's transaction."""
        response = self._answer(
            connection, request, method, api_path, bucket, now, request_id, decision
        )
        fired = ",".join(decision.fired_names) or None
        self._log(connection, now, request, response.status, fired, request_id)
        return response

    def _answer(
        self,
        connection: sqlite3.Connection,
        request: SandboxRequest,
        method: str,
        api_path: str,
        bucket: Bucket,
        now: float,
        request_id: str,
        decision: _FaultDecision,
    ) -> SandboxResponse:
        authorization = request.header("Authorization") or ""
        if not _BEARER.match(authorization.strip()):
            return self._response(
                401, {"message": "unauthorized"}, peek(connection, bucket, now), request_id
            )
        state = consume(connection, bucket, now, enforce=self.settings.rate_limits == "render")
        if not state.allowed:
            return self._response(429, {"message": "rate limit exceeded"}, state, request_id)
        ctx = WorldContext(
            connection,
            now,
            self.settings,
            fail_deploys=decision.fail_deploys,
            datastore_status=decision.datastore_status,
            deploy_delay=decision.deploy_delay,
        )
        api_request = ApiRequest(method, api_path, request.query, request.body)
        connection.execute("SAVEPOINT endpoint")
        try:
            result: ApiResult = dispatch(ctx, api_request)
        except ApiError as error:
            connection.execute("ROLLBACK TO SAVEPOINT endpoint")
            connection.execute("RELEASE SAVEPOINT endpoint")
            return self._response(error.status, {"message": error.message}, state, request_id)
        connection.execute("RELEASE SAVEPOINT endpoint")
        return self._response(result.status, result.body, state, request_id, empty=result.empty)

    # -- control API -------------------------------------------------------------------------

    def _control(self, request: SandboxRequest, path: str) -> SandboxResponse:
        method = request.method.upper()
        request_id = new_request_id()

        def answer(status: int, body: Any = None) -> SandboxResponse:
            empty = body is None
            headers: list[tuple[str, str]] = []
            if not empty:
                headers.append(("Content-Type", "application/json; charset=utf-8"))
            headers.append(("Render-Request-Id", request_id))
            return SandboxResponse(status, tuple(headers), b"" if empty else _json_bytes(body))

        sub = path[len(CONTROL_PREFIX) :]
        if sub == "/state" and method == "GET":
            return answer(200, self.dump())
        if sub == "/reset" and method == "POST":
            self.reset()
            return answer(204)
        if sub == "/faults":
            if method == "GET":
                return answer(200, self.list_faults())
            if method == "DELETE":
                self.clear_faults()
                return answer(204)
            if method == "POST":
                try:
                    rules = parse_rules(json.loads(request.body or b"null"))
                except (json.JSONDecodeError, UnicodeDecodeError):
                    return answer(400, {"message": "body must be a JSON rule or list of rules"})
                except FaultRuleError as exc:
                    return answer(400, {"message": str(exc)})
                return answer(201, self.add_faults(rules))
        match = re.fullmatch(r"/faults/(\d+)", sub)
        if match and method == "DELETE":
            if self.clear_faults(int(match.group(1))):
                return answer(204)
            return answer(404, {"message": f"not found: fault {match.group(1)}"})
        return answer(404, {"message": "not found"})
