"""The stored Render API key: ``<config dir>/credentials.json``, mode 0600 in a 0700 directory.

Stdlib only: settings resolution reads it on every command. ``RENDER_API_KEY`` always wins over
the file (that precedence lives in ``rcp.settings``). A file that anyone but its owner can access
is refused with a ``ConfigError`` (exit 6) saying how to fix it, never silently used: a key that
others could read must be treated as leaked, and silently tightening the mode would hide that.

The document is ``{"api_key": "...", "saved_at": "...Z"}``; unknown fields are ignored so a later
rcp may add some.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from rcp.errors import ConfigError

CREDENTIALS_FILE = "credentials.json"
FILE_MODE = 0o600
DIRECTORY_MODE = 0o700
# Permission bits for "group" and "others": any of them set means someone else may read or
# replace the key.
_SHARED_BITS = stat.S_IRWXG | stat.S_IRWXO
_MASK_SHOWN_CHARS = 4
_MASK_MIN_LENGTH = 16  # shorter keys are shown fully masked: 4 characters would be too many
_RENDER_KEY_PREFIX = "rnd_"


@dataclass(frozen=True)
class StoredCredential:
    api_key: str
    path: Path
    saved_at: str | None


def credentials_path(config_dir: Path) -> Path:
    return config_dir / CREDENTIALS_FILE


def _enforces_modes() -> bool:
    # POSIX permission bits mean nothing on Windows (ACLs decide there).
    return os.name == "posix"


def check_permissions(path: Path) -> None:
    """Refuse (exit 6) a credentials file that its group or others may access."""
    if not _enforces_modes():
        return
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & _SHARED_BITS:
        raise ConfigError(
            f"refusing to use {path}: its mode is {mode:04o}, so other users may read the "
            "Render API key",
            hint=f"fix it with `chmod 600 {path}` (and rotate the key if others could have read it)",
            code="insecure_credentials",
        )


def read_credential(config_dir: Path) -> StoredCredential | None:
    """The stored key, or None when there is no credentials file.

    Raises ConfigError (exit 6) for a file with group/other permissions, an unreadable file or
    one that is not a credentials document.
    """
    path = credentials_path(config_dir)
    if not path.exists():
        return None
    check_permissions(path)
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        # The exception text may quote file content (the key): name only its kind.
        raise ConfigError(
            f"credentials file {path} is unreadable or malformed ({type(exc).__name__})",
            hint="run `rcp auth logout` and `rcp auth login` again",
            code="invalid_credentials",
        ) from None
    api_key = document.get("api_key") if isinstance(document, dict) else None
    if not isinstance(api_key, str) or not api_key.strip():
        raise ConfigError(
            f"credentials file {path} holds no API key",
            hint="run `rcp auth logout` and `rcp auth login` again",
            code="invalid_credentials",
        )
    saved_at = document.get("saved_at")
    return StoredCredential(
        api_key=api_key.strip(),
        path=path,
        saved_at=saved_at if isinstance(saved_at, str) else None,
    )


def stored_api_key(config_dir: Path) -> str | None:
    credential = read_credential(config_dir)
    return None if credential is None else credential.api_key


def write_credential(config_dir: Path, api_key: str, *, now: datetime | None = None) -> Path:
    """Store ``api_key`` atomically: a 0600 file in ``config_dir`` (created 0700 if missing).

    The temporary file is created 0600 from the start (``O_EXCL``), so the key is never on disk
    with a wider mode, and is renamed over the old file so a crash leaves either the old or the
    new credential, never half of one.
    """
    key = api_key.strip()
    if not key:
        raise ValueError("an empty API key cannot be stored")
    make_private_dirs(config_dir)
    path = credentials_path(config_dir)
    moment = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    document = {"api_key": key, "saved_at": moment.isoformat().replace("+00:00", "Z")}
    temporary = path.with_name(f".{CREDENTIALS_FILE}.{os.getpid()}.tmp")
    with contextlib.suppress(FileNotFoundError):
        temporary.unlink()
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            json.dump(document, handle)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        if _enforces_modes():
            os.chmod(temporary, FILE_MODE)  # the umask cannot widen it, but be explicit
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
        raise
    return path


def make_private_dirs(directory: Path) -> None:
    """Create ``directory`` and any missing parents, each 0700. Existing directories are left
    exactly as they are: their mode is the user's choice (a shared or managed config folder), and
    the credentials file inside is 0600 whatever the folder's mode."""
    missing: list[Path] = []
    current = directory
    while not current.exists():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=DIRECTORY_MODE)
        except FileExistsError:
            continue  # created meanwhile by someone else: theirs, not ours to change
        if _enforces_modes():
            # mkdir's mode is narrowed by the umask; only a folder created here is set.
            os.chmod(folder, DIRECTORY_MODE)


def delete_credential(config_dir: Path) -> bool:
    """Remove the stored key; False when there was none. Works whatever the file's mode."""
    try:
        credentials_path(config_dir).unlink()
    except FileNotFoundError:
        return False
    return True


def mask_key(api_key: str | None) -> str | None:
    """A key as it may be shown: ``rnd_…abcd`` (the last four characters at most), or ``***``
    for a key too short to show any of it."""
    if api_key is None:
        return None
    key = api_key.strip()
    if len(key) < _MASK_MIN_LENGTH:
        return "***"
    prefix = _RENDER_KEY_PREFIX if key.startswith(_RENDER_KEY_PREFIX) else ""
    return f"{prefix}…{key[-_MASK_SHOWN_CHARS:]}"
