"""Retry policy, waits, error mapping, pagination and request basics of RenderClient."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest
from render_helpers import (
    API_KEY,
    Recorder,
    SleepLog,
    json_response,
    make_client,
    service_json,
)

import rcp
from rcp.errors import (
    AuthError,
    ConfigError,
    RenderBadRequest,
    RenderNotFound,
    RenderServerError,
    RenderTransportError,
    RetryLater,
)
from rcp.render.client import RenderClient
from rcp.render.kinds import SERVICE

SERVICE_ID = "srv-d0000000000000000002"
CREATE_BODY = {
    "type": "web_service",
    "name": "acme-web",
    "ownerId": "tea-x",
    "serviceDetails": {"runtime": "node"},
}


def scripted(*answers: httpx.Response | Exception) -> Callable[[httpx.Request], httpx.Response]:
    """A handler that gives the answers in order (an exception is raised as a transport error)."""
    remaining: Iterator[httpx.Response | Exception] = iter(answers)

    def handler(request: httpx.Request) -> httpx.Response:
        answer = next(remaining)
        if isinstance(answer, Exception):
            raise answer
        return answer

    return handler


def created() -> httpx.Response:
    return json_response(
        201, {"service": service_json(SERVICE_ID), "deployId": "dep-d0000000000000000001"}
    )


def ok_service() -> httpx.Response:
    return json_response(200, service_json(SERVICE_ID))


@pytest.fixture
def client_with(sleeps: SleepLog) -> Iterator[Callable[..., tuple[RenderClient, Recorder]]]:
    clients: list[RenderClient] = []

    def build(
        *answers: httpx.Response | Exception, **kwargs: object
    ) -> tuple[RenderClient, Recorder]:
        client, recorder = make_client(scripted(*answers), sleep=sleeps, **kwargs)  # type: ignore[arg-type]
        clients.append(client)
        return client, recorder

    yield build
    for client in clients:
        client.close()


# -- request basics ----------------------------------------------------------------------


def test_requests_carry_bearer_key_user_agent_and_timeouts(
    client_with: Callable[..., tuple[RenderClient, Recorder]],
) -> None:
    client, recorder = client_with(ok_service())
    client.get_resource(SERVICE, SERVICE_ID)
    request = recorder.requests[0]
    assert request.headers["Authorization"] == f"Bearer {API_KEY}"
    assert request.headers["User-Agent"] == f"rcp/{rcp.__version__}"
    assert str(request.url) == f"https://api.render.test/v1/services/{SERVICE_ID}"
    timeout = request.extensions["timeout"]
    assert timeout == {"connect": 5.0, "read": 30.0, "write": 30.0, "pool": 5.0}
    assert API_KEY not in repr(client)


def test_an_empty_api_key_is_a_configuration_error() -> None:
    with pytest.raises(ConfigError, match="API key"):
        RenderClient("  ")


def test_path_segments_are_escaped(
    client_with: Callable[..., tuple[RenderClient, Recorder]],
) -> None:
    client, recorder = client_with(json_response(204))
    client.delete_env_var(SERVICE_ID, "A/../B")
    assert (
        recorder.requests[0].url.raw_path.decode()
        == f"/v1/services/{SERVICE_ID}/env-vars/A%2F..%2FB"
    )


# -- 429 ---------------------------------------------------------------------------------


def test_429_with_retry_after_waits_that_long(
    client_with: Callable[..., tuple[RenderClient, Recorder]], sleeps: SleepLog
) -> None:
    client, recorder = client_with(
        json_response(
            429, {"message": "rate limit"}, {"Retry-After": "7", "Ratelimit-Reset": "50"}
        ),
        ok_service(),
    )
    assert client.get_resource(SERVICE, SERVICE_ID).id == SERVICE_ID
    assert len(recorder.requests) == 2
    assert sleeps.calls == [7.0]


def test_429_with_http_date_retry_after(
    client_with: Callable[..., tuple[RenderClient, Recorder]], sleeps: SleepLog
) -> None:
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=20), usegmt=True)
    client, _ = client_with(
        json_response(429, {"message": "slow down"}, {"Retry-After": when}), ok_service()
    )
    client.get_resource(SERVICE, SERVICE_ID)
    assert len(sleeps.calls) == 1 and 17.0 <= sleeps.calls[0] <= 20.0


def test_429_without_retry_after_uses_ratelimit_reset(
    client_with: Callable[..., tuple[RenderClient, Recorder]], sleeps: SleepLog
) -> None:
    client, recorder = client_with(
        json_response(
            429,
            {"message": "rate limit"},
            {"Ratelimit-Limit": "400", "Ratelimit-Remaining": "0", "Ratelimit-Reset": "12"},
        ),
        ok_service(),
    )
    client.get_resource(SERVICE, SERVICE_ID)
    assert len(recorder.requests) == 2
    # 12 s from the 429; the limiter, told "0 remaining, reset in 12 s", may add a sliver.
    assert sleeps.calls[0] == 12.0


def test_429_without_any_hint_backs_off_with_jitter(
    client_with: Callable[..., tuple[RenderClient, Recorder]], sleeps: SleepLog
) -> None:
    client, recorder = client_with(json_response(429, {"message": "rate limit"}), ok_service())
    client.get_resource(SERVICE, SERVICE_ID)
    assert len(recorder.requests) == 2
    assert len(sleeps.calls) == 1 and 0.0 <= sleeps.calls[0] <= 1.0


def test_429_on_post_is_retried(client_with: Callable[..., tuple[RenderClient, Recorder]]) -> None:
    client, recorder = client_with(
        json_response(429, {"message": "rate limit"}, {"Retry-After": "1"}), created()
    )
    assert client.create(SERVICE, CREATE_BODY).deploy_id == "dep-d0000000000000000001"
    assert [r.method for r in recorder.requests] == ["POST", "POST"]


def test_server_wait_beyond_budget_raises_retry_later_at_once(
    client_with: Callable[..., tuple[RenderClient, Recorder]], sleeps: SleepLog
) -> None:
    client, recorder = client_with(
        json_response(
            429,
            {"message": "rate limit"},
            {"Ratelimit-Limit": "20", "Ratelimit-Remaining": "0", "Ratelimit-Reset": "2144"},
        ),
        max_wait=60.0,
    )
    before = datetime.now(UTC)
    with pytest.raises(RetryLater) as caught:
        client.create(SERVICE, CREATE_BODY)
    assert len(recorder.requests) == 1 and sleeps.calls == []
    assert caught.value.retry_at is not None
    assert (
        before + timedelta(seconds=2140)
        <= caught.value.retry_at
        <= datetime.now(UTC) + timedelta(seconds=2145)
    )
    assert "retry after" in caught.value.message and caught.value.exit_code == 75


def test_retry_after_on_503_beyond_budget_raises_retry_later(
    client_with: Callable[..., tuple[RenderClient, Recorder]],
) -> None:
    client, recorder = client_with(
        json_response(503, {"message": "maintenance"}, {"Retry-After": "600"}), max_wait=30.0
    )
    with pytest.raises(RetryLater):
        client.get_resource(SERVICE, SERVICE_ID)
    assert len(recorder.requests) == 1


def test_rate_limit_exhausted_becomes_retry_later(
    client_with: Callable[..., tuple[RenderClient, Recorder]], sleeps: SleepLog
) -> None:
    client, recorder = client_with(
        *[json_response(429, {"message": "rate limit"}, {"Retry-After": "2"})] * 3, max_attempts=3
    )
    with pytest.raises(RetryLater) as caught:
        client.get_resource(SERVICE, SERVICE_ID)
    assert len(recorder.requests) == 3 and sleeps.calls == [2.0, 2.0]
    assert caught.value.retry_at is not None and "after 3 attempts" in caught.value.message


# -- 5xx ---------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_on_get_is_retried(
    client_with: Callable[..., tuple[RenderClient, Recorder]], status: int
) -> None:
    client, recorder = client_with(
        json_response(status, {"message": "oops"}), json_response(status), ok_service()
    )
    assert client.get_resource(SERVICE, SERVICE_ID).id == SERVICE_ID
    assert len(recorder.requests) == 3


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
def test_5xx_on_idempotent_writes_is_retried(
    client_with: Callable[..., tuple[RenderClient, Recorder]], method: str
) -> None:
    client, recorder = client_with(
        json_response(502), json_response(200, {"key": "A", "value": "1"})
    )
    client.request(method, f"/services/{SERVICE_ID}/env-vars/A", json_body={"value": "1"})
    assert len(recorder.requests) == 2


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_on_post_is_never_repeated(
    client_with: Callable[..., tuple[RenderClient, Recorder]], sleeps: SleepLog, status: int
) -> None:
    client, recorder = client_with(json_response(status, {"message": "oops"}), created())
    with pytest.raises(RenderServerError) as caught:
        client.create(SERVICE, CREATE_BODY)
    assert len(recorder.requests) == 1 and sleeps.calls == []
    assert caught.value.status == status and caught.value.exit_code == 75


def test_5xx_exhausted_raises_server_error_saying_to_rerun(
    client_with: Callable[..., tuple[RenderClient, Recorder]], sleeps: SleepLog
) -> None:
    client, recorder = client_with(*[json_response(503)] * 5)
    with pytest.raises(RenderServerError) as caught:
        client.get_resource(SERVICE, SERVICE_ID)
    assert len(recorder.requests) == 5 and len(sleeps.calls) == 4
    assert caught.value.message == (
        f"Render unavailable (503) after 5 attempts on GET /services/{SERVICE_ID}; rerun to resume"
    )
    assert caught.value.exit_code == 75


def test_backoff_is_full_jitter_capped_at_8_seconds(
    client_with: Callable[..., tuple[RenderClient, Recorder]], sleeps: SleepLog
) -> None:
    client, _ = client_with(*[json_response(500)] * 12, max_attempts=12)
    with pytest.raises(RenderServerError):
        client.get_resource(SERVICE, SERVICE_ID)
    assert len(sleeps.calls) == 11
    assert all(0.0 <= s <= 8.0 for s in sleeps.calls)
    # Full jitter: the bound doubles per attempt (1, 2, 4, 8, 8, …).
    assert all(s <= 2.0**i for i, s in enumerate(sleeps.calls[:4]))


# -- transport errors --------------------------------------------------------------------


@pytest.mark.parametrize(
    "error",
    [httpx.ConnectError("refused"), httpx.ConnectTimeout("slow"), httpx.PoolTimeout("busy")],
)
def test_not_sent_errors_are_retried_even_for_post(
    client_with: Callable[..., tuple[RenderClient, Recorder]], error: Exception
) -> None:
    client, recorder = client_with(error, created())
    assert client.create(SERVICE, CREATE_BODY).resource is not None
    assert len(recorder.requests) == 2


@pytest.mark.parametrize(
    "error", [httpx.ReadTimeout("slow"), httpx.ReadError("reset"), httpx.RemoteProtocolError("eof")]
)
def test_maybe_sent_errors_on_post_are_not_retried(
    client_with: Callable[..., tuple[RenderClient, Recorder]], error: Exception
) -> None:
    client, recorder = client_with(error, created())
    with pytest.raises(RenderTransportError) as caught:
        client.create(SERVICE, CREATE_BODY)
    assert len(recorder.requests) == 1
    assert caught.value.maybe_sent is True and caught.value.exit_code == 75


def test_read_timeout_on_get_is_retried(
    client_with: Callable[..., tuple[RenderClient, Recorder]],
) -> None:
    client, recorder = client_with(httpx.ReadTimeout("slow"), ok_service())
    client.get_resource(SERVICE, SERVICE_ID)
    assert len(recorder.requests) == 2


def test_connect_errors_exhausted_keep_maybe_sent_false(
    client_with: Callable[..., tuple[RenderClient, Recorder]],
) -> None:
    client, recorder = client_with(*[httpx.ConnectError("refused")] * 5)
    with pytest.raises(RenderTransportError) as caught:
        client.create(SERVICE, CREATE_BODY)
    assert len(recorder.requests) == 5
    assert caught.value.maybe_sent is False
    assert "after 5 attempts" in caught.value.message and "ConnectError" in caught.value.message


# -- 4xx ---------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [400, 402, 409, 422])
def test_4xx_is_never_retried_and_carries_render_message(
    client_with: Callable[..., tuple[RenderClient, Recorder]], status: int
) -> None:
    client, recorder = client_with(
        json_response(status, {"id": "x", "message": "name already in use"})
    )
    with pytest.raises(RenderBadRequest) as caught:
        client.create(SERVICE, CREATE_BODY)
    assert len(recorder.requests) == 1
    assert "name already in use" in caught.value.message and caught.value.status == status


@pytest.mark.parametrize("status", [401, 403])
def test_auth_failures_hint_at_the_api_key(
    client_with: Callable[..., tuple[RenderClient, Recorder]], status: int
) -> None:
    client, _ = client_with(json_response(status, {"message": "unauthorized"}))
    with pytest.raises(AuthError) as caught:
        client.list_owners()
    assert caught.value.exit_code == 6 and "RENDER_API_KEY" in (caught.value.hint or "")


def test_404_is_render_not_found(client_with: Callable[..., tuple[RenderClient, Recorder]]) -> None:
    client, recorder = client_with(json_response(404, {"message": f"not found: {SERVICE_ID}"}))
    with pytest.raises(RenderNotFound, match="not found: srv-"):
        client.get_resource(SERVICE, SERVICE_ID)
    assert len(recorder.requests) == 1


# -- pagination and deploy triggers -------------------------------------------------------


def test_lists_follow_cursors_to_the_empty_page(
    client_factory: Callable[..., tuple[RenderClient, Recorder]],
) -> None:
    pages = {
        None: [
            {"cursor": f"c{i}", "service": service_json(f"srv-{i:020d}", f"svc-{i}")}
            for i in range(100)
        ],
        "c99": [
            {"cursor": f"c{i}", "service": service_json(f"srv-{i:020d}", f"svc-{i}")}
            for i in range(100, 200)
        ],
        "c199": [{"cursor": "c200", "service": service_json(f"srv-{200:020d}", "svc-200")}],
        "c200": [],
    }

    def handler(request: httpx.Request) -> httpx.Response:
        return json_response(200, pages[request.url.params.get("cursor")])

    client, recorder = client_factory(handler)
    services = client.list_resources(
        SERVICE, name=["a", "b"], service_type="web_service", owner_id="tea-x"
    )
    assert [s.name for s in services] == [f"svc-{i}" for i in range(201)]
    assert [r.url.params.get("cursor") for r in recorder.requests] == [None, "c99", "c199", "c200"]
    first = recorder.requests[0].url.params
    assert (first["limit"], first["name"], first["type"], first["ownerId"]) == (
        "100",
        "a,b",
        "web_service",
        "tea-x",
    )


def test_a_repeated_cursor_ends_paging(
    client_factory: Callable[..., tuple[RenderClient, Recorder]],
) -> None:
    page = [{"cursor": "same", "envVar": {"key": "A", "value": "1"}}]
    client, recorder = client_factory(lambda request: json_response(200, page))
    assert [v.key for v in client.list_env_vars(SERVICE_ID)] == ["A", "A"]
    assert len(recorder.requests) == 2


def test_deploy_trigger_accepts_201_with_body_and_202_empty(
    client_with: Callable[..., tuple[RenderClient, Recorder]],
) -> None:
    client, recorder = client_with(
        json_response(
            201,
            {
                "id": "dep-d0000000000000000003",
                "status": "build_in_progress",
                "commit": None,
                "finishedAt": None,
            },
        ),
        httpx.Response(202),
    )
    deploy = client.trigger_deploy(SERVICE_ID)
    assert deploy is not None and deploy.id == "dep-d0000000000000000003" and deploy.commit is None
    assert client.trigger_deploy(SERVICE_ID) is None
    assert len(recorder.requests) == 2


def test_unexpected_response_shape_is_a_render_error_without_values(
    client_with: Callable[..., tuple[RenderClient, Recorder]],
) -> None:
    from rcp.errors import RenderAPIError

    client, _ = client_with(json_response(200, {"name": "secret-looking-value"}))
    with pytest.raises(RenderAPIError) as caught:
        client.get_resource(SERVICE, SERVICE_ID)
    assert "id" in caught.value.message and "secret-looking-value" not in caught.value.message


# -- logging -----------------------------------------------------------------------------


def test_every_retry_is_logged_without_headers_bodies_or_query(
    client_factory: Callable[..., tuple[RenderClient, Recorder]], caplog: pytest.LogCaptureFixture
) -> None:
    answers = iter(
        [
            json_response(503, {"message": "echo DATABASE_URL=postgres://u:pw@h/db"}),
            json_response(200, []),
        ]
    )
    client, _ = client_factory(lambda request: next(answers))
    with caplog.at_level(logging.WARNING, logger="rcp.render"):
        client.list_resources(SERVICE, name="acme-web", owner_id="tea-secretowner")
    records = [r for r in caplog.records if r.name == "rcp.render"]
    assert len(records) == 1
    record = records[0]
    assert record.levelno == logging.WARNING
    text = record.getMessage()
    assert "GET /services" in text and "503" in text and "attempt 1/5" in text
    assert record.__dict__["http_method"] == "GET" and record.__dict__["attempt"] == 1
    for forbidden in (API_KEY, "tea-secretowner", "acme-web", "postgres://", "Bearer"):
        assert forbidden not in text


def test_a_query_string_in_the_path_never_reaches_logs_or_errors(
    client_factory: Callable[..., tuple[RenderClient, Recorder]], caplog: pytest.LogCaptureFixture
) -> None:
    client, recorder = client_factory(lambda request: json_response(503))
    with (
        caplog.at_level(logging.WARNING, logger="rcp.render"),
        pytest.raises(RenderServerError) as caught,
    ):
        client.request("GET", "/services?ownerId=tea-secretowner")
    assert recorder.requests[0].url.params["ownerId"] == "tea-secretowner"  # it was sent
    assert "tea-secretowner" not in caught.value.message and caught.value.path == "/services"
    assert len(caplog.records) == 4
    assert all("tea-secretowner" not in r.getMessage() for r in caplog.records)
