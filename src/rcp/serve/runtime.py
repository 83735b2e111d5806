"""One server process's long-lived parts: the composition root, tokens, the service and the
background runner — built once, started by the app's lifespan, closed on shutdown."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from rcp.core.models import TenantStatus
from rcp.core.provisioning import StopFlag
from rcp.serve.auth import Authenticator
from rcp.serve.config import ServeConfig
from rcp.serve.jobs import SWEEP_ACTOR, JobRunner, Work
from rcp.serve.service import TenantService

if TYPE_CHECKING:
    from rcp.context import AppContext

log = logging.getLogger("rcp.serve")


class Runtime:
    def __init__(self, config: ServeConfig, app: AppContext) -> None:
        self.config = config
        self.app = app
        self.stop = StopFlag()
        self.service = TenantService(app, config, self.stop)
        self.auth = Authenticator(app.token_store())
        self.jobs = JobRunner(
            list_unfinished=self._unfinished,
            resumer=self._resumer,
            workers=config.job_workers,
            sweep_seconds=config.sweep_seconds,
            stop=self.stop,
        )

    @classmethod
    def from_env(cls) -> Runtime:
        """A worker process's runtime: everything from the environment ``rcp serve`` set."""
        from rcp.context import AppContext
        from rcp.settings import GlobalOptions

        config = ServeConfig.from_env()
        if not logging.getLogger().handlers:
            # A worker process of `--workers N` starts without the CLI's logging set-up.
            logging.basicConfig(format="%(levelname)s %(name)s: %(message)s")
            logging.getLogger("rcp.serve").setLevel(logging.INFO)
        return cls(config, AppContext(GlobalOptions(sandbox=config.sandbox)))

    def start(self) -> None:
        """Open the database (migrating it if needed) and start the background runner, whose
        first sweep resumes what a previous server left unfinished."""
        self.app.store()
        # Built once here, not by the first requests racing each other in the thread pool.
        self.app.gateway()
        self.jobs.start()

    def close(self) -> None:
        self.jobs.shutdown()
        self.app.close()

    def _resumer(self, slug: str, status: TenantStatus) -> Work:
        if status == TenantStatus.DELETING:
            return lambda: self.service.delete(slug, SWEEP_ACTOR)
        return lambda: self.service.provision(slug, SWEEP_ACTOR)

    def _unfinished(self) -> list[tuple[str, TenantStatus]]:
        store = self.app.store()
        return [
            (tenant.slug, tenant.status)
            for status in (TenantStatus.PROVISIONING, TenantStatus.DELETING)
            for tenant in store.list_tenants(status)
        ]
