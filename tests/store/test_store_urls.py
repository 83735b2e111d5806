"""URL normalisation and masking (no database needed)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from rcp.errors import StoreError
from rcp.store import open_store
from rcp.urls import mask_url, normalise_url


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("postgresql://rcp:s3cret@db.example:5432/rcp", "postgresql://rcp:***@db.example:5432/rcp"),
        (
            "postgres://rcp:p%40ss@db/rcp?sslmode=require",
            "postgres://rcp:***@db/rcp?sslmode=require",
        ),
        ("postgresql://rcp@db/rcp", "postgresql://rcp@db/rcp"),
        ("postgresql://db/rcp?user=x&password=hunter2", "postgresql://db/rcp?user=x&password=***"),
        ("sqlite:////var/lib/rcp/rcp.db", "sqlite:////var/lib/rcp/rcp.db"),
        # Unparseable port: masked by pattern, never echoed.
        ("postgresql://u:topsecret@host:notaport/db", "postgresql://u:***@host:notaport/db"),
    ],
)
def test_mask_url_hides_passwords(url: str, masked: str) -> None:
    assert mask_url(url) == masked


@pytest.mark.parametrize(
    ("url", "normalised"),
    [
        ("postgres://u:p@h/db", "postgresql+psycopg://u:p@h/db"),
        ("postgresql://u:p@h:5433/db", "postgresql+psycopg://u:p@h:5433/db"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
        ("sqlite:////abs/rcp.db", "sqlite:////abs/rcp.db"),
        ("sqlite:///rel/rcp.db", "sqlite:///rel/rcp.db"),
        ("  sqlite:///rcp.db  ", "sqlite:///rcp.db"),
    ],
)
def test_normalise_url_uses_psycopg3_driver(url: str, normalised: str) -> None:
    assert normalise_url(url) == normalised


@pytest.mark.parametrize(
    "url",
    [
        "mysql://u:hunter2@h/db",
        "not a url",
        "postgresql://u:hunter2@h:port/db",
        "sqlite:relative.db",
        "postgresql://",
    ],
)
def test_malformed_url_is_a_store_error_naming_the_setting(url: str) -> None:
    with pytest.raises(StoreError) as caught:
        open_store(url, setting="DATABASE_URL")
    error = caught.value
    assert error.exit_code == 6
    assert "DATABASE_URL" in error.message
    assert "hunter2" not in error.message
    assert "hunter2" not in (error.hint or "")


def test_unreachable_postgres_is_a_store_error_with_password_masked() -> None:
    # Port 1 on loopback: refused at once, nothing leaves the machine.
    url = "postgresql://rcp:hunter2@127.0.0.1:1/rcp"
    with pytest.raises(StoreError) as caught:
        open_store(url)
    message = caught.value.message
    assert "RCP_DATABASE_URL" in message
    assert "postgresql://rcp:***@127.0.0.1:1/rcp" in message
    assert "hunter2" not in message
    assert caught.value.exit_code == 6


def test_sqlite_file_and_parent_dir_are_created_private(tmp_path: Path) -> None:
    db_file = tmp_path / "nested" / "dir" / "rcp.db"
    old_umask = os.umask(0o022)  # a typical permissive umask must not widen the file mode
    try:
        store = open_store(f"sqlite:///{db_file}")
    finally:
        os.umask(old_umask)
    try:
        assert db_file.is_file()
        assert stat.S_IMODE(db_file.stat().st_mode) == 0o600
        assert store.schema_status()["at_head"] is True
    finally:
        store.close()


def test_unwritable_sqlite_location_is_a_store_error(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    with pytest.raises(StoreError) as caught:
        open_store(f"sqlite:///{blocker}/rcp.db")
    assert "RCP_DATABASE_URL" in caught.value.message


def test_store_package_import_does_not_load_sqlalchemy() -> None:
    import subprocess
    import sys

    code = (
        "import sys, rcp.store; from rcp.urls import mask_url; "
        "mask_url('postgresql://a:b@c/d'); "
        "print('sqlalchemy' in sys.modules, 'alembic' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
