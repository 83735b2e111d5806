"""Fixtures of the Render client tests (helpers live in ``render_helpers``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from render_helpers import Handler, Recorder, SleepLog, make_client

from rcp.render.client import RenderClient


@pytest.fixture
def sleeps() -> SleepLog:
    return SleepLog()


@pytest.fixture
def client_factory() -> Iterator[Callable[..., tuple[RenderClient, Recorder]]]:
    made: list[RenderClient] = []

    def factory(handler: Handler, **kwargs: Any) -> tuple[RenderClient, Recorder]:
        client, recorder = make_client(handler, **kwargs)
        made.append(client)
        return client, recorder

    yield factory
    for client in made:
        client.close()
