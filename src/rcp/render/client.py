"""Render public REST API client: one ``httpx.Client``, typed results, typed errors, retries.

Retry policy (docs/reliability.md), applied per call with tenacity:

- GET/PUT/PATCH/DELETE are retried on transport errors, 429, 500, 502, 503 and 504.
- POST is retried only when the request provably never left (``ConnectError``,
  ``ConnectTimeout``, ``PoolTimeout``) or on 429 (Render rejected it). A read error, a timeout
  or a 5xx after a POST is raised at once: the create may have happened, so the engine looks
  the resource up by name instead of creating a duplicate.
- Waits: ``Retry-After`` (seconds or HTTP date), else on a 429 ``Ratelimit-Reset`` (seconds
  until reset), else exponential backoff with full jitter capped at 8 s. At most
  ``max_attempts`` attempts.
- A server-requested wait longer than ``max_wait`` raises ``RetryLater`` at once, carrying
  ``retry_at``.
- Retries exhausted: a 429 becomes ``RetryLater`` (we know roughly when to come back); a 5xx or
  transport failure is re-raised as the same typed error (``RenderServerError`` /
  ``RenderTransportError``, both exit 75) with a message saying how many attempts were made and
  to rerun. Keeping the type tells the engine whether the outcome is unknown (``maybe_sent``).

Every retry is logged on ``logging.getLogger("rcp.render")`` at WARNING with method, path
(never the query string), status or exception class, attempt and sleep — never headers or bodies.

Test seams are constructor arguments (``transport``, ``sleep``, ``limiter``, ``timeout``,
``backoff_base``); the test-only environment hooks are parsed in ``rcp.testhooks`` and passed
in by ``rcp.context``, never read here.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
import tenacity
from pydantic import BaseModel, ValidationError

import rcp
from rcp.errors import (
    ConfigError,
    RcpError,
    RenderAPIError,
    RenderRateLimited,
    RenderServerError,
    RenderTransportError,
    RetryLater,
)
from rcp.render.errormap import error_for_response, error_for_transport
from rcp.render.kinds import RenderKind
from rcp.render.models import (
    ConnectionInfo,
    CreatedAnswer,
    Deploy,
    EnvGroup,
    EnvVar,
    LogsPage,
    Owner,
    RenderResource,
    User,
)
from rcp.render.ratelimit import RateLimiter, default_limiter
from rcp.render.waits import describe_retry_time, parse_wait_headers, retry_time

DEFAULT_BASE_URL = "https://api.render.com/v1"
DEFAULT_TIMEOUT = httpx.Timeout(connect=5.0, read=30.0, write=30.0, pool=5.0)
PAGE_SIZE = 100  # Render's maximum `limit`
# Largest answer read (decoded). Render's biggest, a page of 100 services, is well under 1 MiB.
MAX_RESPONSE_BYTES = 16 * 1024 * 1024
BACKOFF_CAP_SECONDS = 8.0
RETRYABLE_STATUSES = frozenset({500, 502, 503, 504})
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "PATCH", "DELETE"})
# When a 429 gives no hint and retries run out: Render's busy buckets reset within a minute.
_DEFAULT_RATE_LIMIT_RETRY_SECONDS = 60.0

log = logging.getLogger("rcp.render")

ModelT = TypeVar("ModelT", bound=BaseModel)


@dataclass(frozen=True)
class Created:
    """A create's answer: the resource (None when Render left it out of a wrapped answer: the
    create happened but its id is unknown) and the deploy the create started, if any."""

    resource: RenderResource | None
    deploy_id: str | None


class _RetryableFailure(Exception):
    """Internal: a failed attempt the policy allows to repeat, with the wait Render asked for."""

    def __init__(self, error: RcpError, server_wait: float | None, outcome: str) -> None:
        super().__init__(error.message)
        self.error = error
        self.server_wait = server_wait
        self.outcome = outcome  # "503" or "ConnectError": what the retry log says happened


def is_retryable(method: str, error: RcpError) -> bool:
    """The retry policy for one failed attempt of ``method``."""
    if isinstance(error, RenderRateLimited):
        return True  # Render refused the request outright: repeating it is safe for any method
    idempotent = method.upper() in IDEMPOTENT_METHODS
    if isinstance(error, RenderTransportError):
        return idempotent or not error.maybe_sent
    if isinstance(error, RenderServerError):
        return idempotent and error.status in RETRYABLE_STATUSES
    return False


# Fields of a request body whose values are secrets (env var values, secret file contents).
_SECRET_BODY_FIELDS = frozenset({"value", "content"})


def _values_sent(body: Any) -> list[str]:
    """The env var values and secret file contents in a request body: an error answer that
    echoes the request back must not print them (docs/reliability.md, secrets)."""
    found: list[str] = []
    if isinstance(body, dict):
        for key, value in body.items():
            if key in _SECRET_BODY_FIELDS and isinstance(value, str) and value:
                found.append(value)
            else:
                found.extend(_values_sent(value))
    elif isinstance(body, list):
        for item in body:
            found.extend(_values_sent(item))
    return found


def _csv(values: str | Sequence[str] | None) -> str | None:
    """Render's array query filters are comma-separated (``style: form, explode: false``)."""
    if values is None:
        return None
    if isinstance(values, str):
        return values
    return ",".join(values) if values else None


def _segment(value: str) -> str:
    """One URL path segment (ids, env var keys), escaped so it cannot change the path."""
    if not value:
        raise RenderAPIError("empty id in a Render API path")
    return quote(value, safe="")


class RenderClient:
    """Render API client. Use as a context manager or call ``close()``."""

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str = DEFAULT_BASE_URL,
        transport: httpx.BaseTransport | None = None,
        max_wait: float = 60.0,
        max_attempts: int = 5,
        sleep: Callable[[float], None] = time.sleep,
        limiter: RateLimiter | None = None,
        timeout: httpx.Timeout | None = None,
        backoff_base: float | None = None,
    ) -> None:
        api_key = (api_key or "").strip()
        if not api_key:
            raise ConfigError(
                "no Render API key", hint="set RENDER_API_KEY or run `rcp auth login`"
            )
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self._api_key = api_key
        self.base_url = base_url.rstrip("/")
        self.max_wait = max_wait
        self.max_attempts = max_attempts
        self._sleep = sleep
        self._limiter = limiter if limiter is not None else default_limiter()
        if backoff_base is None:
            backoff_base = 1.0
        self._backoff = tenacity.wait_random_exponential(
            multiplier=backoff_base, max=BACKOFF_CAP_SECONDS * backoff_base
        )
        self._http = httpx.Client(
            base_url=self.base_url,
            headers={
                "Authorization": f"Bearer {api_key}",
                "Accept": "application/json",
                "User-Agent": f"rcp/{rcp.__version__}",
            },
            transport=transport,
            timeout=timeout or DEFAULT_TIMEOUT,
            follow_redirects=False,
        )

    # -- lifecycle -------------------------------------------------------------------------

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> RenderClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:  # never shows the key
        return f"RenderClient(base_url={self.base_url!r})"

    @property
    def limiter(self) -> RateLimiter:
        return self._limiter

    @property
    def read_timeout(self) -> float | None:
        """Longest wait for an answer: a request may be acted on by Render this long after it
        left (the engine waits this long for a create of a killed run to show up)."""
        return self._http.timeout.read

    # -- the one request path --------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str | int] | None = None,
        json_body: Any = None,
    ) -> httpx.Response:
        """Send one logical call (with limiter and retries); the 2xx response or a typed error.

        ``path`` is relative to the base URL (``/services/srv-…``) and carries no query string;
        query parameters go in ``params`` so they never reach logs or error messages.
        """
        method = method.upper()
        # What logs and messages show: never a query string, even if a caller put one in.
        shown_path = path.split("?", 1)[0]

        def attempt() -> httpx.Response:
            ticket = self._limiter.acquire(method, path, max_wait=self.max_wait, sleep=self._sleep)
            try:
                response = self._send_bounded(method, path, params=params, json_body=json_body)
            except httpx.TransportError as exc:
                error = error_for_transport(exc, method=method, path=shown_path)
                if is_retryable(method, error):
                    raise _RetryableFailure(error, None, type(exc).__name__) from exc
                raise error from exc
            else:
                self._limiter.observe(ticket, response.status_code, response.headers)
            finally:
                # No answer (or an interrupt): the request no longer holds a place in flight.
                self._limiter.release(ticket)
            if response.is_success:
                return response
            failure = error_for_response(
                response,
                method=method,
                path=shown_path,
                secrets=(self._api_key, *_values_sent(json_body)),
            )
            if not is_retryable(method, failure):
                raise failure
            if isinstance(failure, RenderRateLimited):
                server_wait = failure.wait_seconds
            else:
                # On a 5xx only Retry-After means "come back then"; Ratelimit-Reset there
                # describes the rate window, not the outage.
                server_wait = parse_wait_headers(response.headers, use_ratelimit_reset=False)
            if server_wait is not None and server_wait > self.max_wait:
                at = retry_time(server_wait)
                raise RetryLater(
                    f"Render asked to wait {server_wait:.0f} s on {method} {shown_path} "
                    f"({response.status_code}), more than the wait budget of "
                    f"{self.max_wait:g} s; retry after {describe_retry_time(at)}",
                    retry_at=at,
                    hint="rerun the same command then (or raise --max-wait); it resumes where it stopped",
                ) from failure
            raise _RetryableFailure(failure, server_wait, str(response.status_code))

        def wait(state: tenacity.RetryCallState) -> float:
            failure = _failure_of(state)
            if failure is not None and failure.server_wait is not None:
                return failure.server_wait
            return float(self._backoff(state))

        def log_retry(state: tenacity.RetryCallState) -> None:
            failure = _failure_of(state)
            outcome = failure.outcome if failure is not None else "error"
            sleep_for = state.next_action.sleep if state.next_action is not None else 0.0
            log.warning(
                "Render %s %s failed (%s) on attempt %d/%d; retrying in %.2f s",
                method,
                shown_path,
                outcome,
                state.attempt_number,
                self.max_attempts,
                sleep_for,
                extra={
                    "http_method": method,
                    "http_path": shown_path,
                    "http_outcome": outcome,
                    "attempt": state.attempt_number,
                    "sleep_seconds": sleep_for,
                },
            )

        def give_up(state: tenacity.RetryCallState) -> httpx.Response:
            failure = _failure_of(state)
            assert failure is not None  # only retryable failures reach the stop condition
            raise self._exhausted(method, shown_path, failure) from failure.error

        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self.max_attempts),
            wait=wait,
            retry=tenacity.retry_if_exception_type(_RetryableFailure),
            sleep=self._sleep,
            before_sleep=log_retry,
            retry_error_callback=give_up,
        )
        result: httpx.Response = retrying(attempt)
        return result

    def _send_bounded(
        self, method: str, path: str, *, params: dict[str, str | int] | None, json_body: Any
    ) -> httpx.Response:
        """Send and read the answer, refusing one larger than ``MAX_RESPONSE_BYTES`` while it
        streams in (decoded size), so a runaway or hostile server cannot exhaust memory."""
        request = self._http.build_request(method, path, params=params, json=json_body)
        streamed = self._http.send(request, stream=True)
        try:
            declared = streamed.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > MAX_RESPONSE_BYTES:
                raise _too_large(method, path.split("?", 1)[0], streamed.status_code)
            chunks: list[bytes] = []
            received = 0
            for chunk in streamed.iter_bytes():
                received += len(chunk)
                if received > MAX_RESPONSE_BYTES:
                    raise _too_large(method, path.split("?", 1)[0], streamed.status_code)
                chunks.append(chunk)
        finally:
            streamed.close()
        # The body is decoded already: drop the headers that describe the encoded form.
        headers = [
            (name, value)
            for name, value in streamed.headers.multi_items()
            if name.lower() not in _ENCODING_HEADERS
        ]
        return httpx.Response(
            streamed.status_code,
            headers=headers,
            content=b"".join(chunks),
            request=request,
            extensions=streamed.extensions,
        )

    def _exhausted(self, method: str, path: str, failure: _RetryableFailure) -> RcpError:
        where = f"{method} {path}"
        attempts = f"after {self.max_attempts} attempt{'s' if self.max_attempts != 1 else ''}"
        error = failure.error
        if isinstance(error, RenderRateLimited):
            wait = (
                failure.server_wait
                if failure.server_wait is not None
                else _DEFAULT_RATE_LIMIT_RETRY_SECONDS
            )
            at = retry_time(wait)
            return RetryLater(
                f"Render is still rate limiting {where} {attempts}; retry after {describe_retry_time(at)}",
                retry_at=at,
                hint="rerun the same command then; it resumes where it stopped",
            )
        if isinstance(error, RenderServerError):
            return RenderServerError(
                f"Render unavailable ({error.status}) {attempts} on {where}; rerun to resume",
                status=error.status,
                method=method,
                path=path,
                hint="rerun the same command later; it resumes where it stopped",
            )
        if isinstance(error, RenderTransportError):
            return RenderTransportError(
                f"Render unreachable ({failure.outcome}) {attempts} on {where}; rerun to resume",
                maybe_sent=error.maybe_sent,
                method=method,
                path=path,
                hint="check the network / RENDER_API_URL, then rerun the same command to resume",
            )
        return error

    # -- parsing ---------------------------------------------------------------------------

    @staticmethod
    def _json(response: httpx.Response) -> Any:
        try:
            return json.loads(response.content)
        except (ValueError, UnicodeDecodeError):
            request = response.request
            raise RenderAPIError(
                f"Render answered {request.method} {request.url.path} with a body that is not JSON",
                status=response.status_code,
                method=request.method,
                path=request.url.path,
            ) from None

    @staticmethod
    def _model(model: type[ModelT], data: Any, what: str) -> ModelT:
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            # Locations only: pydantic's own text quotes the input, which may hold secrets.
            fields = sorted(
                {".".join(str(part) for part in err["loc"]) or "(root)" for err in exc.errors()}
            )
            raise RenderAPIError(
                f"unexpected {what} from Render (fields: {', '.join(fields)})"
            ) from None

    def _get_one(self, model: type[ModelT], path: str) -> ModelT:
        return self._model(model, self._json(self.request("GET", path)), f"answer to GET {path}")

    def _send_one(self, model: type[ModelT], method: str, path: str, body: Any) -> ModelT:
        response = self.request(method, path, json_body=body)
        return self._model(model, self._json(response), f"answer to {method} {path}")

    def _list_all(
        self,
        path: str,
        wrapper: str,
        model: type[ModelT],
        params: dict[str, str | None] | None = None,
    ) -> list[ModelT]:
        """Every item of a cursor-paginated list (``[{"cursor", <wrapper>: {…}}]``).

        Pages are requested with ``limit=100`` and the cursor of the previous page's last item
        until Render returns an empty page; a cursor seen twice also ends the loop, so a
        misbehaving server cannot keep us paging forever.
        """
        items: list[ModelT] = []
        seen: set[str] = set()
        cursor: str | None = None
        while True:
            page, cursor = self._list_page(path, wrapper, model, params, cursor)
            items.extend(page)
            if not page or cursor is None or cursor in seen:
                return items
            seen.add(cursor)

    def _list_page(
        self,
        path: str,
        wrapper: str,
        model: type[ModelT],
        params: dict[str, str | None] | None,
        cursor: str | None,
    ) -> tuple[list[ModelT], str | None]:
        """One page (``limit=100``) from ``cursor`` on: its items and its last item's cursor."""
        query: dict[str, str | int] = {k: v for k, v in (params or {}).items() if v is not None}
        query["limit"] = PAGE_SIZE
        if cursor is not None:
            query["cursor"] = cursor
        page = self._json(self.request("GET", path, params=query))
        if not isinstance(page, list):
            raise RenderAPIError(f"unexpected answer to GET {path} from Render: not a list")
        items: list[ModelT] = []
        for entry in page:
            inner = (
                entry
                if not wrapper
                else entry.get(wrapper)
                if isinstance(entry, dict)
                else None
            )
            items.append(self._model(model, inner, f"item of GET {path}"))
        last = page[-1].get("cursor") if page and isinstance(page[-1], dict) else None
        return items, last if isinstance(last, str) and last else None

    def find_resources(
        self, kind: RenderKind, wanted: Mapping[str, str], *, owner_id: str
    ) -> dict[str, RenderResource]:
        """Resources of ``kind`` by id, looked up by name in as few requests as Render allows:
        ``GET {path}?name=a,b,…&ownerId=…&limit=100`` for up to ``PAGE_SIZE`` names, a further
        page only when a full page still lacks some of them. ``wanted`` maps id → name; ids
        Render did not list are absent from the result."""
        found: dict[str, RenderResource] = {}
        names = sorted(set(wanted.values()))
        for start in range(0, len(names), PAGE_SIZE):
            chunk = names[start : start + PAGE_SIZE]
            params = {"name": _csv(chunk), "ownerId": owner_id}
            cursor: str | None = None
            seen: set[str] = set()
            while True:
                page, cursor = self._list_page(
                    kind.path, kind.list_wrapper, kind.model, params, cursor
                )
                for item in page:
                    if item.id in wanted:
                        found[item.id] = item
                missing = any(rid not in found for rid, name in wanted.items() if name in chunk)
                # A short page is the last one; a full one may hide the rest.
                if not missing or len(page) < PAGE_SIZE or cursor is None or cursor in seen:
                    break
                seen.add(cursor)
        return found

    # -- workspaces and user ---------------------------------------------------------------

    def list_owners(self) -> list[Owner]:
        return self._list_all("/owners", "owner", Owner)

    def get_user(self) -> User:
        return self._get_one(User, "/users")

    # -- resources of every kind (rcp.render.kinds) ----------------------------------------

    def create(self, kind: RenderKind, body: dict[str, Any]) -> Created:
        """``POST {path}`` (body with ``ownerId``) → the created resource (and, for kinds whose
        create starts a deploy, its id)."""
        response = self.request("POST", kind.path, json_body=body)
        data = self._json(response)
        what = f"answer to POST {kind.path}"
        if kind.created_wrapper is None:
            return Created(self._model(kind.model, data, what), None)
        answer = self._model(CreatedAnswer, data, what)
        inner = answer.model_extra.get(kind.created_wrapper) if answer.model_extra else None
        resource = None if inner is None else self._model(kind.model, inner, what)
        return Created(resource, answer.deploy_id)

    def list_resources(
        self,
        kind: RenderKind,
        *,
        name: str | Sequence[str] | None = None,
        owner_id: str | Sequence[str] | None = None,
        **filters: str | Sequence[str] | None,
    ) -> list[RenderResource]:
        """Every resource of ``kind`` matching the filters (``filters``: the kind's
        ``list_filters``, e.g. ``service_type`` for services)."""
        params = {"name": _csv(name), "ownerId": _csv(owner_id)}
        for keyword, value in filters.items():
            if keyword not in kind.list_filters:
                raise TypeError(f"{kind.path} cannot be filtered by {keyword!r}")
            params[kind.list_filters[keyword]] = _csv(value)
        return self._list_all(kind.path, kind.list_wrapper, kind.model, params)

    def get_resource(self, kind: RenderKind, render_id: str) -> RenderResource:
        return self._get_one(kind.model, kind.item_path(_segment(render_id)))

    def update_resource(
        self, kind: RenderKind, render_id: str, body: dict[str, Any]
    ) -> RenderResource:
        """``PATCH {path}/{id}`` → the full resource."""
        if not kind.updatable:
            raise ValueError(f"{kind.path} resources cannot be updated")
        return self._send_one(kind.model, "PATCH", kind.item_path(_segment(render_id)), body)

    def delete_resource(self, kind: RenderKind, render_id: str) -> None:
        self.request("DELETE", kind.item_path(_segment(render_id)))

    # -- env groups and environments (issue 14) ---------------------------------------------

    def link_env_group(self, group_id: str, service_id: str) -> EnvGroup:
        """``POST /env-groups/{id}/services/{serviceId}``: links one service, every other link
        stays (never the group-wide replace that detached other services)."""
        path = f"/env-groups/{_segment(group_id)}/services/{_segment(service_id)}"
        return self._send_one(EnvGroup, "POST", path, None)

    def unlink_env_group(self, group_id: str, service_id: str) -> None:
        self.request("DELETE", f"/env-groups/{_segment(group_id)}/services/{_segment(service_id)}")

    def set_env_group_var(self, group_id: str, key: str, value: str) -> None:
        self.request(
            "PUT",
            f"/env-groups/{_segment(group_id)}/env-vars/{_segment(key)}",
            json_body={"value": value},
        )

    def delete_env_group_var(self, group_id: str, key: str) -> None:
        self.request("DELETE", f"/env-groups/{_segment(group_id)}/env-vars/{_segment(key)}")

    def add_environment_resources(self, environment_id: str, resource_ids: list[str]) -> None:
        self.request(
            "POST",
            f"/environments/{_segment(environment_id)}/resources",
            json_body={"resourceIds": list(resource_ids)},
        )

    def remove_environment_resources(self, environment_id: str, resource_ids: list[str]) -> None:
        self.request(
            "DELETE",
            f"/environments/{_segment(environment_id)}/resources",
            params={"resourceIds": ",".join(resource_ids)},
        )

    def suspend(self, kind: RenderKind, render_id: str) -> None:
        if not kind.suspendable:
            raise ValueError(f"{kind.path} resources cannot be suspended")
        self.request("POST", f"{kind.item_path(_segment(render_id))}/suspend")

    def resume(self, kind: RenderKind, render_id: str) -> None:
        if not kind.suspendable:
            raise ValueError(f"{kind.path} resources cannot be resumed")
        self.request("POST", f"{kind.item_path(_segment(render_id))}/resume")

    def connection_info(self, kind: RenderKind, render_id: str) -> ConnectionInfo:
        """``GET {path}/{id}/connection-info``. Secrets: never log or print the values."""
        if kind.connection_info is None:
            raise ValueError(f"{kind.path} resources have no connection info")
        return self._get_one(
            kind.connection_info, f"{kind.item_path(_segment(render_id))}/connection-info"
        )

    # -- env vars --------------------------------------------------------------------------

    def list_env_vars(self, service_id: str) -> list[EnvVar]:
        return self._list_all(f"/services/{_segment(service_id)}/env-vars", "envVar", EnvVar)

    def replace_env_vars(self, service_id: str, env_vars: list[dict[str, Any]]) -> list[EnvVar]:
        """``PUT /services/{id}/env-vars``: replaces ALL vars (keys not listed are deleted).

        ``env_vars`` items are ``{"key", "value"}`` or ``{"key", "generateValue": True}``.
        Returns the new full set (as much of it as the answer carries).
        """
        path = f"/services/{_segment(service_id)}/env-vars"
        page = self._json(self.request("PUT", path, json_body=env_vars))
        if not isinstance(page, list):
            raise RenderAPIError(f"unexpected answer to PUT {path} from Render: not a list")
        return [
            self._model(
                EnvVar,
                entry.get("envVar") if isinstance(entry, dict) else None,
                f"item of PUT {path}",
            )
            for entry in page
        ]

    def put_env_var(
        self, service_id: str, key: str, value: str | None = None, *, generate: bool = False
    ) -> EnvVar:
        """Add or update one var: ``{"value"}``, or ``{"generateValue": true}`` with ``generate``."""
        if generate == (value is not None):
            raise ValueError("give exactly one of value or generate=True")
        body: dict[str, Any] = {"generateValue": True} if generate else {"value": value}
        path = f"/services/{_segment(service_id)}/env-vars/{_segment(key)}"
        return self._send_one(EnvVar, "PUT", path, body)

    def delete_env_var(self, service_id: str, key: str) -> None:
        self.request("DELETE", f"/services/{_segment(service_id)}/env-vars/{_segment(key)}")

    # -- deploys ---------------------------------------------------------------------------

    def trigger_deploy(self, service_id: str, *, clear_cache: bool = False) -> Deploy | None:
        """Start a deploy: 201 with the deploy, or 202 "queued" with an empty body → ``None``."""
        path = f"/services/{_segment(service_id)}/deploys"
        body = {"clearCache": "clear" if clear_cache else "do_not_clear"}
        response = self.request("POST", path, json_body=body)
        if not response.content.strip():
            return None
        data = self._json(response)
        if response.status_code == 202 and not (isinstance(data, dict) and data.get("id")):
            return None
        return self._model(Deploy, data, f"answer to POST {path}")

    def rollback_deploy(self, service_id: str, deploy_id: str) -> Deploy:
        """``POST /services/{id}/rollback``: a new deploy running the build of ``deploy_id`` (an
        earlier deploy of the service); Render answers 201 with it."""
        path = f"/services/{_segment(service_id)}/rollback"
        response = self.request("POST", path, json_body={"deployId": deploy_id})
        return self._model(Deploy, self._json(response), f"answer to POST {path}")

    def list_deploys(self, service_id: str, *, limit: int | None = 20) -> list[Deploy]:
        """Newest first. ``limit`` (1–100) returns one page of that size; ``None`` pages to the end."""
        path = f"/services/{_segment(service_id)}/deploys"
        if limit is None:
            return self._list_all(path, "deploy", Deploy)
        page = self._json(
            self.request("GET", path, params={"limit": max(1, min(limit, PAGE_SIZE))})
        )
        if not isinstance(page, list):
            raise RenderAPIError(f"unexpected answer to GET {path} from Render: not a list")
        return [
            self._model(
                Deploy,
                entry.get("deploy") if isinstance(entry, dict) else None,
                f"item of GET {path}",
            )
            for entry in page
        ]

    # -- logs ------------------------------------------------------------------------------

    def list_logs(
        self,
        owner_id: str,
        resources: Sequence[str],
        *,
        start_time: str | None = None,
        end_time: str | None = None,
        direction: str = "backward",
        limit: int = PAGE_SIZE,
    ) -> LogsPage:
        """``GET /logs``: one page of the resources' lines in the window (Render's defaults: the
        last hour up to now), newest first (``backward``) or oldest first (``forward``). The
        window of the next page is in the answer; the resources must share owner and region."""
        params: dict[str, str | int] = {
            "ownerId": owner_id,
            "resource": _csv(resources) or "",
            "direction": direction,
            "limit": max(1, min(limit, PAGE_SIZE)),
        }
        if start_time is not None:
            params["startTime"] = start_time
        if end_time is not None:
            params["endTime"] = end_time
        return self._model(
            LogsPage, self._json(self.request("GET", "/logs", params=params)), "answer to GET /logs"
        )

    def get_deploy(self, service_id: str, deploy_id: str) -> Deploy:
        return self._get_one(
            Deploy, f"/services/{_segment(service_id)}/deploys/{_segment(deploy_id)}"
        )


_ENCODING_HEADERS = frozenset({"content-encoding", "content-length", "transfer-encoding"})


def _too_large(method: str, path: str, status: int) -> RenderAPIError:
    return RenderAPIError(
        f"Render's answer to {method} {path} is larger than "
        f"{MAX_RESPONSE_BYTES // (1024 * 1024)} MiB; refused (status {status})",
        status=status,
        method=method,
        path=path,
        hint="check RENDER_API_URL points at Render's API",
    )


def _failure_of(state: tenacity.RetryCallState) -> _RetryableFailure | None:
    if state.outcome is None or not state.outcome.failed:
        return None
    exc = state.outcome.exception()
    return exc if isinstance(exc, _RetryableFailure) else None
