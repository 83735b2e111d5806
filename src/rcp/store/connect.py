"""``open_store``: from a database URL to a ready ``SqlStore`` (reachable, schema at head)."""

from __future__ import annotations

import math
import os
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from rcp.errors import StoreError
from rcp.store import migrate
from rcp.store.engine import build_engine, scrub
from rcp.store.repository import SqlStore
from rcp.store.urls import mask_url, normalise_url, sqlite_path


def open_store(
    url: str,
    *,
    setting: str = "RCP_DATABASE_URL",
    auto_upgrade: bool = True,
    **store_options: Any,
) -> SqlStore:
    """Open the control-plane database at ``url``.

    Accepts ``sqlite:///path`` (file and parent directory created, file mode 0600),
    ``postgresql://…`` and ``postgres://…``. Checks the database answers, then, unless
    ``auto_upgrade`` is False, migrates it to head under a cross-process lock.

    Raises ``StoreError`` (exit 6) naming ``setting``, password masked, for a malformed or
    unreachable URL, and for a schema newer than this rcp. ``store_options`` go to ``SqlStore``
    (clock, sleep, lease_seconds, … for tests).
    """
    test_lease = _test_lease_seconds()
    if test_lease is not None and "lease_seconds" not in store_options:
        store_options = {
            **store_options,
            "lease_seconds": test_lease,
            "heartbeat_seconds": test_lease / 3,
        }
    normalised = normalise_url(url, setting=setting)
    sqlite_file = sqlite_path(normalised) if normalised.startswith("sqlite") else None
    engine = build_engine(normalised, url, setting=setting)
    store = SqlStore(engine, url=url, sqlite_file=sqlite_file, **store_options)
    try:
        _check_reachable(store, url, setting=setting)
        if auto_upgrade:
            try:
                migrate.ensure_schema(engine, sqlite_file=sqlite_file)
            except SQLAlchemyError as exc:
                raise StoreError(
                    f"could not migrate the database of {setting} ({mask_url(url)}): "
                    f"{_first_line(scrub(str(getattr(exc, 'orig', None) or exc), url))}"
                ) from None
    except BaseException:
        store.close()
        raise
    return store


TEST_LEASE_SECONDS_ENV = "RCP_TEST_LEASE_SECONDS"


def _test_lease_seconds() -> float | None:
    """Test-only: ``RCP_TEST_LEASE_SECONDS`` shortens the lease (heartbeat a third of it) so
    the fault suite can pause a holder past its lease in seconds. Not a user setting."""
    raw = os.environ.get(TEST_LEASE_SECONDS_ENV, "").strip()
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise StoreError(f"{TEST_LEASE_SECONDS_ENV} must be a number of seconds, not {raw!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise StoreError(f"{TEST_LEASE_SECONDS_ENV} must be a positive number of seconds")
    return value


def _check_reachable(store: SqlStore, url: str, *, setting: str) -> None:
    try:
        with store.engine.connect() as connection:
            connection.exec_driver_sql("SELECT 1")
    except SQLAlchemyError as exc:
        reason = _first_line(scrub(str(getattr(exc, "orig", None) or exc), url))
        raise StoreError(
            f"cannot connect to the database of {setting} ({mask_url(url)}): {reason}",
            hint=f"check {setting} and that the database server is running",
        ) from None


def _first_line(text: str) -> str:
    stripped = text.strip()
    return stripped.splitlines()[0] if stripped else "unknown error"
