"""The server's own settings. Stdlib only.

``rcp serve`` builds a ``ServeConfig`` from its flags and hands it to every worker process through
environment variables (``RCP_SERVE_*``): with ``--workers N`` uvicorn starts the application in
fresh processes, which can only be told how to build it by the environment they inherit.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from rcp.errors import ConfigError
from rcp.settings import parse_bool

DEFAULT_MAX_BODY_BYTES = 64 * 1024
DEFAULT_SWEEP_SECONDS = 15.0
DEFAULT_PROVISION_TIMEOUT = 1800.0
DEFAULT_JOB_WORKERS = 4


class ServeEnv:
    """Every variable the server reads beyond rcp's own settings."""

    MAX_BODY_BYTES = "RCP_SERVE_MAX_BODY_BYTES"
    CORS_ORIGINS = "RCP_SERVE_CORS_ORIGINS"  # comma-separated
    SWEEP_SECONDS = "RCP_SERVE_SWEEP_SECONDS"
    PROVISION_TIMEOUT = "RCP_SERVE_PROVISION_TIMEOUT"
    JOB_WORKERS = "RCP_SERVE_JOB_WORKERS"
    SANDBOX = "RCP_SANDBOX"


@dataclass(frozen=True)
class ServeConfig:
    # Largest request body accepted (413 beyond); the API's bodies are a few hundred bytes.
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    # Origins allowed to call the API from a browser; none = no CORS headers at all.
    cors_origins: tuple[str, ...] = ()
    # How often unfinished tenants (PROVISIONING, DELETING) nobody works on are picked up.
    sweep_seconds: float = DEFAULT_SWEEP_SECONDS
    # How long one background provisioning waits for its resources before giving up (it is
    # picked up again by the next sweep).
    provision_timeout: float = DEFAULT_PROVISION_TIMEOUT
    # Background operations run at once in one server process.
    job_workers: int = DEFAULT_JOB_WORKERS
    sandbox: bool = False

    def to_env(self) -> dict[str, str]:
        env = {
            ServeEnv.MAX_BODY_BYTES: str(self.max_body_bytes),
            ServeEnv.CORS_ORIGINS: ",".join(self.cors_origins),
            ServeEnv.SWEEP_SECONDS: repr(self.sweep_seconds),
            ServeEnv.PROVISION_TIMEOUT: repr(self.provision_timeout),
            ServeEnv.JOB_WORKERS: str(self.job_workers),
        }
        if self.sandbox:
            env[ServeEnv.SANDBOX] = "1"
        return env

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ServeConfig:
        env = os.environ if environ is None else environ
        origins = tuple(
            origin.strip()
            for origin in env.get(ServeEnv.CORS_ORIGINS, "").split(",")
            if origin.strip()
        )
        return cls(
            max_body_bytes=int(
                _number(env, ServeEnv.MAX_BODY_BYTES, DEFAULT_MAX_BODY_BYTES, minimum=1)
            ),
            cors_origins=origins,
            sweep_seconds=_number(env, ServeEnv.SWEEP_SECONDS, DEFAULT_SWEEP_SECONDS, minimum=0.1),
            provision_timeout=_number(
                env, ServeEnv.PROVISION_TIMEOUT, DEFAULT_PROVISION_TIMEOUT, minimum=1
            ),
            job_workers=int(_number(env, ServeEnv.JOB_WORKERS, DEFAULT_JOB_WORKERS, minimum=1)),
            # The same words as every other boolean setting (a typo is refused, not "off").
            sandbox=parse_bool(env.get(ServeEnv.SANDBOX) or False, ServeEnv.SANDBOX),
        )


def _number(env: Mapping[str, str], name: str, default: float, *, minimum: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, not {raw!r}") from None
    if not value >= minimum:
        raise ConfigError(f"{name} must be at least {minimum:g}")
    return value
