"""AppContext: the composition root — settings plus lazily built adapters.

The one place that wires adapters: the store (``store``, ``open_database``, ``backup_store``,
``copy_database``), the Render client and gateway (``render_client``, ``gateway``), the sandbox
transport behind ``--sandbox``, the output, and the test-only hooks of ``rcp.testhooks``.
Commands ask it for what they need and never import ``rcp.store``, ``rcp.render`` or
``rcp.sandbox`` themselves.

Built by the root command from the global options; nothing heavy is imported until a command
asks for it, so ``rcp --help`` stays fast.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from rcp.errors import ConfigError, RcpError
from rcp.output import FORMATS, Output, check_format
from rcp.settings import GlobalOptions, Settings, load_settings

if TYPE_CHECKING:
    import httpx

    from rcp.core.models import LockHolder, ResourceKind
    from rcp.core.ports import RenderGateway
    from rcp.render.client import RenderClient
    from rcp.render.gateway import Gateway
    from rcp.render.probe import HttpHealthProbe
    from rcp.store import SqlStore
    from rcp.store.rollouts import SqlRolloutStore
    from rcp.store.tokens import SqlTokenStore
    from rcp.store.transfer import CopyReport, SnapshotStore
    from rcp.testhooks import TestHooks


class AppContext:
    def __init__(self, options: GlobalOptions, argv: list[str] | None = None) -> None:
        self.options = options
        self.argv = list(argv or [])
        self.started = time.monotonic()
        self._settings: Settings | None = None
        self._hooks: TestHooks | None = None
        self._output: Output | None = None
        self._store: SqlStore | None = None
        self._gateway: Gateway | None = None
        self._client: RenderClient | None = None
        self._api_url_noticed = False
        self._database_noticed = False
        self._probe: HttpHealthProbe | None = None
        # Set once a mutating command has passed its preconditions: (command, tenant slug).
        self.audit_subject: tuple[str, str | None] | None = None
        # --max-wait given to the command itself wins over RCP_MAX_WAIT and the config file.
        self.max_wait_override: float | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            settings = load_settings(self.options)
            check_format(settings.output, settings.output_source)
            self._settings = settings
        return self._settings

    @property
    def hooks(self) -> TestHooks:
        """The test-only hooks (``rcp.testhooks``), parsed on first use: a malformed one is a
        ConfigError of the command that needs it, never of ``--help``."""
        if self._hooks is None:
            from rcp.testhooks import TestHooks

            self._hooks = TestHooks.from_env(os.environ)
        return self._hooks

    @property
    def output(self) -> Output:
        if self._output is None:
            try:
                settings = self.settings
            except RcpError:
                # A broken setting must still be reported, in the mode the user asked for.
                mode = self.options.output or os.environ.get("RCP_OUTPUT", "human")
                log_format = self.options.log_format or os.environ.get("RCP_LOG_FORMAT", "text")
                self._output = Output(
                    mode if mode in FORMATS else "human",
                    quiet=self.options.quiet,
                    log_format="json" if log_format == "json" else "text",
                )
                return self._output
            self._output = Output(
                settings.output,
                quiet=settings.quiet,
                no_color=settings.no_color,
                secrets=settings.secrets(),
                log_format=settings.log_format,
            )
        return self._output

    # -- the control-plane database ----------------------------------------------------------

    def store(self) -> SqlStore:
        """The database of this run (RCP_DATABASE_URL; with the sandbox its own,
        RCP_SANDBOX_DATABASE_URL or ``<data dir>/sandbox/rcp.db``), migrated to head; closed
        with the context."""
        if self._store is None:
            self._store = self.open_database()
        return self._store

    def token_store(self) -> SqlTokenStore:
        """The API tokens of ``rcp serve``, in this run's database."""
        from rcp.store.tokens import SqlTokenStore

        return SqlTokenStore(self.store())

    def rollout_store(self) -> SqlRolloutStore:
        """Rollouts and their tenant steps, in this run's database."""
        from rcp.store.rollouts import SqlRolloutStore

        return SqlRolloutStore(self.store())

    def health_probe(self) -> HttpHealthProbe:
        """Health checks of services' public URLs (the sandbox's apps with --sandbox or a
        sandbox API URL); closed with the context."""
        if self._probe is None:
            from rcp.render.probe import HttpHealthProbe

            self._probe = HttpHealthProbe(
                api_url=self.checked_api_url(), transport=self._sandbox_transport()
            )
        return self._probe

    def open_database(
        self, url: str | None = None, *, setting: str | None = None, auto_upgrade: bool = True
    ) -> SqlStore:
        """A new store the caller closes: this run's database (default) or ``url`` (named
        ``setting`` in messages); ``auto_upgrade=False`` leaves the schema as it is."""
        from rcp.store import open_store

        if url is None:
            url = self.settings.database_url
            setting = setting or self.settings.database_url_source
            if self.settings.database_url_notice and not self._database_noticed:
                self._database_noticed = True
                self.output.warn(self.settings.database_url_notice)
        return open_store(
            url,
            setting=setting or "RCP_DATABASE_URL",
            auto_upgrade=auto_upgrade,
            lease_seconds=self.hooks.lease_seconds,
        )

    def backup_store(self) -> SnapshotStore:
        """``rcp.core.backup.BackupStore`` over this run's database."""
        from rcp.store.transfer import SnapshotStore

        return SnapshotStore(self.store())

    def copy_database(
        self, to_url: str, *, setting: str, on_ready: Callable[[], None] | None = None
    ) -> CopyReport:
        """Copy this run's database into the (empty) one at ``to_url``, migrated first."""
        from rcp.store.transfer import copy_database

        source = self.store()
        with self.open_database(to_url, setting=setting) as target:
            return copy_database(source, target, target_url=to_url, on_ready=on_ready)

    # -- Render ------------------------------------------------------------------------------

    def render_client(self, *, api_key: str | None = None) -> RenderClient:
        """The one Render client of this process (sandbox transport with --sandbox).

        With ``api_key``: a separate client for that key (``rcp auth`` checks a key before
        storing it), which the caller closes.
        """
        if api_key is not None:
            return self._build_client(api_key)
        if self._client is None:
            settings = self.settings
            if not settings.api_key and settings.credential_problem is not None:
                raise settings.credential_problem
            if not settings.api_key:
                raise ConfigError(
                    "no Render API key: set RENDER_API_KEY or run `rcp auth login`",
                    hint="or try rcp with --sandbox, which needs no Render account",
                    code="missing_api_key",
                )
            self._client = self._build_client(settings.api_key)
        return self._client

    def _build_client(self, api_key: str) -> RenderClient:
        from rcp.render.client import RenderClient

        settings = self.settings
        hooks = self.hooks
        timeout = None
        if hooks.http_timeout is not None:
            import httpx

            timeout = httpx.Timeout(hooks.http_timeout)
        return RenderClient(
            api_key,
            base_url=self.checked_api_url(settings),
            transport=hooks.wrap_transport(self._sandbox_transport()),
            max_wait=(
                self.max_wait_override
                if self.max_wait_override is not None
                else settings.max_wait
            ),
            timeout=timeout,
            backoff_base=hooks.backoff_base,
        )

    def checked_api_url(self, settings: Settings | None = None) -> str:
        """The Render API base URL to send the key to: exit 6 for plain http to another
        machine; a host that is not Render's is named on stderr (once per run)."""
        settings = settings or self.settings
        url = settings.checked_api_url()
        if settings.api_url_notice and not self._api_url_noticed:
            self._api_url_noticed = True
            self.output.warn(settings.api_url_notice)
        return url

    def _sandbox_transport(self) -> httpx.BaseTransport | None:
        """The in-process simulator with --sandbox (else None: the network)."""
        settings = self.settings
        if not settings.sandbox:
            return None
        from rcp.sandbox import SandboxSettings, SandboxTransport

        settings.sandbox_dir.mkdir(parents=True, exist_ok=True)
        try:
            return SandboxTransport(
                settings.sandbox_state_path, SandboxSettings.from_env(os.environ)
            )
        except ValueError as exc:  # SandboxSettingsError, FaultRuleError
            raise ConfigError(f"sandbox configuration: {exc}") from None

    def gateway(self) -> RenderGateway:
        return self._render_gateway()

    def _render_gateway(self) -> Gateway:
        if self._gateway is None:
            from rcp.render.gateway import Gateway

            self._gateway = Gateway(
                self.render_client(),
                owner_id=self.settings.owner_id,
                in_flight_seconds=0.0 if self.settings.sandbox else None,
            )
        return self._gateway

    def time_scale(self) -> float:
        """Render seconds per real second: 1 on Render; a sandbox on a scaled clock says how
        much faster (``RCP_RENDER_TIME_SCALE``, or the in-process sandbox's own setting)."""
        from rcp.render.ratelimit import time_scale_from_env

        return time_scale_from_env(os.environ)

    def create_forecast(self) -> Callable[[list[ResourceKind]], list[float]]:
        """When each of a list of creates (by kind, in order) could be sent, from the rate
        limits Render reported: what ``rcp apply`` plans its schedule with."""
        return self._render_gateway().create_forecast

    def notify_webhook(self, url: str, payload: Any) -> str | None:
        """POST ``payload`` to a webhook: None when it took it, else a warning to show."""
        from rcp.webhooks import post_json

        return post_json(url, payload)

    # -- what an operation needs besides adapters --------------------------------------------

    def failpoint(self) -> Callable[[str], None]:
        """The engine's test-only failpoint (``RCP_FAILPOINT``; a no-op without it)."""
        return self.hooks.failpoint_hook()

    def command_line(self) -> str:
        """This run's command line as the audit log and lock holders show it (secrets hidden)."""
        return " ".join(["rcp", *redact_argv(self.argv)])

    def lock_holder(self) -> LockHolder:
        from rcp.core.models import LockHolder

        return LockHolder(
            actor=self.settings.actor,
            host=socket.gethostname(),
            pid=os.getpid(),
            command=self.command_line(),
        )

    def close(self) -> None:
        if self._probe is not None:
            self._probe.close()
            self._probe = None
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._store is not None:
            self._store.close()
            self._store = None


# Options whose value may carry a secret (a webhook URL often holds a token in its path).
SECRET_VALUE_FLAGS = {"--notify", "--token", "--api-key"}


def redact_argv(argv: list[str]) -> list[str]:
    """The command line for the audit log and lock holder: values of env assignments and of
    secret-bearing options hidden, passwords in URLs masked."""
    from rcp.urls import mask_url

    redacted: list[str] = []
    hide_next = False
    in_env_set = "env" in argv and "set" in argv
    for arg in argv:
        if hide_next:
            redacted.append("***")
            hide_next = False
            continue
        if arg in SECRET_VALUE_FLAGS:
            redacted.append(arg)
            hide_next = True
            continue
        flag, equals, _value = arg.partition("=")
        if equals and flag in SECRET_VALUE_FLAGS:
            redacted.append(f"{flag}=***")
            continue
        if equals and in_env_set and not arg.startswith("-"):
            redacted.append(f"{flag}=***")
            continue
        if "://" in arg:
            redacted.append(mask_url(arg))
            continue
        redacted.append(arg)
    return redacted
