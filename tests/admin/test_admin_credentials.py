"""rcp.credentials: the stored key's file handling, masking and refusals."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from rcp.credentials import (
    delete_credential,
    mask_key,
    read_credential,
    stored_api_key,
    write_credential,
)
from rcp.errors import ConfigError


def test_written_private_whatever_the_umask(tmp_path: Path) -> None:
    config_dir = tmp_path / "new" / "config"
    previous = os.umask(0)
    try:
        path = write_credential(config_dir, " rnd_key_with_spaces_around \n")
    finally:
        os.umask(previous)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    # Directories it creates are 0700 (issue 11: an existing one is never changed, see
    # tests/hardening/test_hardening_settings.py).
    assert stat.S_IMODE(config_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE(config_dir.parent.stat().st_mode) == 0o700
    document = json.loads(path.read_text())
    assert document["api_key"] == "rnd_key_with_spaces_around"
    assert document["saved_at"].endswith("Z")
    assert stored_api_key(config_dir) == "rnd_key_with_spaces_around"
    # Replacing keeps it private and leaves no temporary file behind.
    write_credential(config_dir, "rnd_second_key_0000000")
    assert stored_api_key(config_dir) == "rnd_second_key_0000000"
    assert sorted(p.name for p in config_dir.iterdir()) == ["credentials.json"]


def test_no_file_means_no_key(tmp_path: Path) -> None:
    assert read_credential(tmp_path) is None
    assert delete_credential(tmp_path) is False


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o620, 0o660, 0o666])
def test_shared_modes_are_refused(tmp_path: Path, mode: int) -> None:
    path = write_credential(tmp_path, "rnd_key_0123456789abcdef")
    os.chmod(path, mode)
    with pytest.raises(ConfigError) as caught:
        read_credential(tmp_path)
    assert caught.value.exit_code == 6
    assert caught.value.code == "insecure_credentials"
    assert f"chmod 600 {path}" in (caught.value.hint or "")
    assert "rnd_key_0123456789abcdef" not in caught.value.message


@pytest.mark.parametrize(
    "content", ["not json rnd_secret_in_file", "[]", '{"api_key": ""}', '{"api_key": 5}']
)
def test_malformed_files_are_configuration_errors(tmp_path: Path, content: str) -> None:
    path = tmp_path / "credentials.json"
    path.write_text(content)
    os.chmod(path, 0o600)
    with pytest.raises(ConfigError) as caught:
        read_credential(tmp_path)
    assert caught.value.code == "invalid_credentials"
    assert "rnd_secret_in_file" not in caught.value.message


@pytest.mark.parametrize(
    ("key", "shown"),
    [
        ("rnd_abcdefghijklmnopqrstuvwxyz0123", "rnd_…0123"),
        ("abcdefghijklmnopqrstuvwxyz", "…wxyz"),
        ("rnd_short", "***"),
        ("", "***"),
        (None, None),
    ],
)
def test_mask_key(key: str | None, shown: str | None) -> None:
    assert mask_key(key) == shown
