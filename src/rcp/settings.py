"""Settings resolution: command-line flag > environment variable > config file > default.

Stdlib + platformdirs only, so building settings never loads the heavy stack.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rcp.errors import ConfigError
from rcp.urls import mask_url, url_passwords

DEFAULT_API_URL = "https://api.render.com/v1"
SANDBOX_API_URL = "http://sandbox.rcp/v1"
SANDBOX_API_KEY = "sandbox"  # the simulator accepts any non-empty key
LOG_FORMATS = ("text", "json")
DEFAULT_MAX_WAIT = 60.0

# CI systems and the variable that names who triggered the run, in the order we try them.
CI_ACTOR_VARIABLES = (
    "GITHUB_ACTOR",
    "GITLAB_USER_LOGIN",
    "BUILDKITE_BUILD_CREATOR",
    "CIRCLE_USERNAME",
    "BITBUCKET_STEP_TRIGGERER_UUID",
    "BUILD_REQUESTEDFOR",
)


class Env:
    """Every environment variable rcp reads, in one place."""

    API_KEY = "RENDER_API_KEY"
    API_URL = "RENDER_API_URL"
    OWNER_ID = "RENDER_OWNER_ID"
    DATABASE_URL = "RCP_DATABASE_URL"
    DATABASE_URL_FALLBACK = "DATABASE_URL"
    SANDBOX_DATABASE_URL = "RCP_SANDBOX_DATABASE_URL"
    OUTPUT = "RCP_OUTPUT"
    SANDBOX = "RCP_SANDBOX"
    ACTOR = "RCP_ACTOR"
    CONFIG_DIR = "RCP_CONFIG_DIR"
    DATA_DIR = "RCP_DATA_DIR"
    LOG_FORMAT = "RCP_LOG_FORMAT"
    MAX_WAIT = "RCP_MAX_WAIT"
    DEBUG = "RCP_DEBUG"
    NO_COLOR = "NO_COLOR"
    CI = "CI"


@dataclass(frozen=True)
class GlobalOptions:
    """What the root command line said; None means "not given"."""

    output: str | None = None
    verbose: int = 0
    quiet: bool = False
    sandbox: bool = False
    no_input: bool = False
    log_format: str | None = None


@dataclass(frozen=True)
class Settings:
    config_dir: Path
    data_dir: Path
    output: str  # checked against rcp.output.FORMATS by rcp.context (naming output_source)
    verbose: int
    quiet: bool
    sandbox: bool
    no_input: bool
    log_format: str
    database_url: str
    database_url_source: str  # which setting gave the URL, for error messages
    api_url: str
    api_key: str | None
    owner_id: str | None
    actor: str
    max_wait: float
    debug: bool
    no_color: bool
    config: Mapping[str, Any] = field(default_factory=dict)
    output_source: str = "default"  # which setting gave ``output``, for error messages
    # Why the stored credential could not be used (raised when a Render key is needed).
    credential_problem: ConfigError | None = None
    # Why the API URL must not be used (raised when Render is needed, so commands that only
    # read records still work and `rcp health` can report it as a failed check).
    api_url_problem: ConfigError | None = None
    # Set when the API URL is fine but not Render's: worth one warning per run.
    api_url_notice: str | None = None
    # Set when a database setting was left unused (RCP_DATABASE_URL with the sandbox): said
    # once, when the database is opened.
    database_url_notice: str | None = None

    def checked_api_url(self) -> str:
        """The API base URL, or ConfigError (exit 6) when it would send the key in clear text."""
        if self.api_url_problem is not None:
            raise self.api_url_problem
        return self.api_url

    @property
    def sandbox_dir(self) -> Path:
        return self.data_dir / "sandbox"

    @property
    def sandbox_state_path(self) -> Path:
        """The simulator's world (its own SQLite file)."""
        return self.sandbox_dir / "render.db"

    @property
    def credentials_path(self) -> Path:
        return self.config_dir / "credentials.json"

    @property
    def templates_dir(self) -> Path:
        return self.config_dir / "templates"

    def secrets(self) -> list[str]:
        """Values that must never be printed (for the redacting log filter and messages)."""
        found: list[str] = []
        # The sandbox's placeholder key is no secret (and would mask the word "sandbox").
        if self.api_key and not (self.sandbox and self.api_key == SANDBOX_API_KEY):
            found.append(self.api_key)
        found.extend(url_passwords(self.database_url))
        return found


# Every setting the config file may hold (the other variables have no file form).
CONFIG_KEYS = (
    "api_url",
    "database_url",
    "log_format",
    "max_wait",
    "output",
    "owner_id",
    "sandbox",
    "sandbox_database_url",
)
BOOLEAN_WORDS = {"1": True, "true": True, "yes": True, "0": False, "false": False, "no": False}
RENDER_API_HOST = "api.render.com"
_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain"})


def parse_bool(value: object, setting: str) -> bool:
    """A boolean setting: TOML true/false, or 1/0/true/false/yes/no in any case. Anything else
    is a ConfigError (exit 6) naming the setting: a typo must not silently pick a world."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in BOOLEAN_WORDS:
        return BOOLEAN_WORDS[value.strip().lower()]
    raise ConfigError(
        f"invalid {setting} value {value!r}: expected 1, 0, true, false, yes or no"
    )


def _check_config_keys(config: Mapping[str, Any], path: Path) -> None:
    import difflib

    for key in config:
        if key in CONFIG_KEYS:
            continue
        close = difflib.get_close_matches(str(key), CONFIG_KEYS, n=1)
        suggestion = f"did you mean {close[0]!r}? " if close else ""
        raise ConfigError(
            f"unknown setting {key!r} in {path}",
            hint=f"{suggestion}known settings: {', '.join(CONFIG_KEYS)}",
            code="unknown_setting",
        )


def is_loopback_host(host: str) -> bool:
    """``localhost`` or a loopback address (127.0.0.0/8, ::1): traffic that never leaves the
    machine."""
    import ipaddress

    name = host.strip("[]").lower().rstrip(".")
    if name in _LOOPBACK_NAMES or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def check_api_url(url: str, setting: str) -> tuple[ConfigError | None, str | None]:
    """(problem, notice) for an API base URL. Plain http is refused unless the host is
    loopback (the API key would cross the network in clear text); a host that is not
    Render's gets a notice, since every request carries the key there."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        return ConfigError(f"invalid {setting} value {mask_url(url)!r}: not a URL"), None
    if parts.scheme not in ("https", "http") or not host:
        return (
            ConfigError(
                f"invalid {setting} value {mask_url(url)!r}: expected https://HOST/…",
                hint=f"the default is {DEFAULT_API_URL}",
            ),
            None,
        )
    if parts.scheme == "http" and not is_loopback_host(host):
        return (
            ConfigError(
                f"refusing {setting} {mask_url(url)!r}: plain http would send the Render API key "
                "unencrypted",
                hint="use https:// (plain http is allowed only for localhost, e.g. `rcp sandbox serve`)",
                code="insecure_api_url",
            ),
            None,
        )
    if host == RENDER_API_HOST:
        return None, None
    return None, f"using the Render API at {host} ({setting}), not {RENDER_API_HOST}"


def default_actor(environ: Mapping[str, str]) -> str:
    import getpass
    import socket

    explicit = environ.get(Env.ACTOR)
    if explicit:
        return explicit
    for variable in CI_ACTOR_VARIABLES:
        if environ.get(variable):
            return environ[variable]
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


def _user_dirs(environ: Mapping[str, str]) -> tuple[Path, Path]:
    config_dir = environ.get(Env.CONFIG_DIR)
    data_dir = environ.get(Env.DATA_DIR)
    if config_dir and data_dir:
        return Path(config_dir), Path(data_dir)
    import platformdirs

    return (
        Path(config_dir) if config_dir else Path(platformdirs.user_config_dir("rcp")),
        Path(data_dir) if data_dir else Path(platformdirs.user_data_dir("rcp")),
    )


def _read_config_file(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    import tomllib

    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except (OSError, ValueError) as exc:  # TOMLDecodeError is a ValueError
        raise ConfigError(
            f"config file {path} is unreadable or malformed: {exc}",
            hint="fix or remove the file",
        ) from None


def _database_url(
    env: Mapping[str, str],
    config: Mapping[str, Any],
    config_path: Path,
    data_dir: Path,
    *,
    sandbox: bool,
) -> tuple[str, str, str | None]:
    """(URL, the setting that gave it, a notice to show) of the control-plane database.

    The sandbox is a world of its own and keeps its own records: RCP_DATABASE_URL,
    DATABASE_URL and the config file's ``database_url`` never apply to it (a real tenant's
    record must not be "deleted" by a simulator that answers 404 for its ids). Its records
    live in ``<data dir>/sandbox/rcp.db`` unless RCP_SANDBOX_DATABASE_URL (or
    ``sandbox_database_url``) names another database.
    """
    if sandbox:
        candidates = [
            (env.get(Env.SANDBOX_DATABASE_URL), Env.SANDBOX_DATABASE_URL),
            (config.get("sandbox_database_url"), f"{config_path}:sandbox_database_url"),
        ]
        default_file = data_dir / "sandbox" / "rcp.db"
    else:
        candidates = [
            (env.get(Env.DATABASE_URL), Env.DATABASE_URL),
            (env.get(Env.DATABASE_URL_FALLBACK), Env.DATABASE_URL_FALLBACK),
            (config.get("database_url"), f"{config_path}:database_url"),
        ]
        default_file = data_dir / "rcp.db"
    url, source = next(
        ((str(value), name) for value, name in candidates if value), (None, "default")
    )
    notice = None
    if sandbox and url is None and env.get(Env.DATABASE_URL):
        notice = (
            f"{Env.DATABASE_URL} is not used with the sandbox: its records live in "
            f"{default_file} (set {Env.SANDBOX_DATABASE_URL} for another database)"
        )
    if url is None:
        return f"sqlite:///{default_file}", source, notice
    if not (
        url.startswith("sqlite:") or url.startswith("postgresql") or url.startswith("postgres://")
    ):
        raise ConfigError(
            f"invalid {source} value {mask_url(url)!r}: expected sqlite:///PATH or postgresql://…"
        )
    return url, source, notice


def parse_max_wait(value: str, setting: str) -> float:
    from rcp.core.durations import parse_duration
    from rcp.errors import UsageError

    try:
        return parse_duration(value)
    except UsageError as exc:
        raise ConfigError(f"invalid {setting} value {value!r}: {exc.message}") from None


def load_settings(
    options: GlobalOptions,
    environ: Mapping[str, str] | None = None,
    *,
    read_credentials: bool = True,
) -> Settings:
    """Resolve every setting. Raises ConfigError (exit 6) naming the offending setting.

    ``read_credentials=False`` skips the stored key (``rcp auth`` inspects that file itself, so
    it can still report or remove one that is refused).
    """
    env = os.environ if environ is None else environ
    config_dir, data_dir = _user_dirs(env)
    config_path = config_dir / "config.toml"
    config = _read_config_file(config_path)
    _check_config_keys(config, config_path)

    def pick(flag: Any, env_name: str, config_key: str, default: Any) -> tuple[Any, str]:
        if flag is not None:
            return flag, f"--{config_key.replace('_', '-')}"
        if env.get(env_name):
            return env[env_name], env_name
        if config_key in config:
            return config[config_key], f"{config_path}:{config_key}"
        return default, "default"

    output, output_source = pick(options.output, Env.OUTPUT, "output", "human")
    # The formats are the output layer's to know: rcp.context checks ``output`` against them.
    log_format, log_source = pick(options.log_format, Env.LOG_FORMAT, "log_format", "text")
    if log_format not in LOG_FORMATS:
        raise ConfigError(f"invalid {log_source} value {log_format!r}: expected text or json")

    sandbox_raw, sandbox_source = pick(True if options.sandbox else None, Env.SANDBOX, "sandbox", False)
    sandbox = parse_bool(sandbox_raw, sandbox_source)
    debug = parse_bool(env.get(Env.DEBUG) or False, Env.DEBUG)

    database_url, database_source, database_url_notice = _database_url(
        env, config, config_path, data_dir, sandbox=sandbox
    )

    max_wait_raw, max_wait_source = pick(None, Env.MAX_WAIT, "max_wait", None)
    max_wait = (
        DEFAULT_MAX_WAIT
        if max_wait_raw is None
        else parse_max_wait(str(max_wait_raw), max_wait_source)
    )

    api_url_raw, api_url_source = pick(None, Env.API_URL, "api_url", DEFAULT_API_URL)
    api_url = str(api_url_raw)
    api_key = env.get(Env.API_KEY) or None
    credential_problem: ConfigError | None = None
    if api_key is None and read_credentials and not sandbox:
        from rcp.credentials import stored_api_key

        # `rcp auth login` stores it; RENDER_API_KEY wins. A file others may read is refused
        # (exit 6) — but only by commands that need the key, so `tenant list` still works.
        try:
            api_key = stored_api_key(config_dir)
        except ConfigError as exc:
            credential_problem = exc
    api_url_problem: ConfigError | None = None
    api_url_notice: str | None = None
    if sandbox:
        # In process: requests never reach a network, whatever RENDER_API_URL says.
        api_url = SANDBOX_API_URL
        api_key = api_key or SANDBOX_API_KEY
    else:
        api_url_problem, api_url_notice = check_api_url(api_url, api_url_source)

    no_input = options.no_input or bool(env.get(Env.CI))
    return Settings(
        config_dir=config_dir,
        data_dir=data_dir,
        output=str(output),
        output_source=output_source,
        verbose=options.verbose,
        quiet=options.quiet,
        sandbox=sandbox,
        no_input=no_input,
        log_format=str(log_format),
        database_url=database_url,
        database_url_source=database_source,
        api_url=api_url.rstrip("/"),
        api_key=api_key,
        owner_id=env.get(Env.OWNER_ID) or config.get("owner_id"),
        actor=default_actor(env),
        max_wait=max_wait,
        debug=debug,
        credential_problem=credential_problem,
        api_url_problem=api_url_problem,
        api_url_notice=api_url_notice,
        database_url_notice=database_url_notice,
        no_color=bool(env.get(Env.NO_COLOR)),
        config=config,
    )
