"""The transport behind ``RCP_TEST_CONNECT_FAULTS`` (see ``rcp.testhooks``): chosen requests
fail before they leave, as if the connection could not be opened."""

from __future__ import annotations

import threading

import httpx

from rcp.testhooks import ConnectFault


class ConnectFaultTransport(httpx.BaseTransport):
    def __init__(self, inner: httpx.BaseTransport | None, rules: list[ConnectFault]) -> None:
        self._inner = inner if inner is not None else httpx.HTTPTransport()
        self._rules = rules
        self._lock = threading.Lock()  # fleet apply sends from several threads

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        with self._lock:
            for rule in self._rules:
                if (
                    rule.times > 0
                    and rule.method == request.method
                    and request.url.path.endswith(rule.path)
                ):
                    rule.times -= 1
                    if rule.kind == "connect_timeout":
                        raise httpx.ConnectTimeout("injected connect timeout", request=request)
                    raise httpx.ConnectError("injected connect error", request=request)
        return self._inner.handle_request(request)

    def close(self) -> None:
        self._inner.close()
