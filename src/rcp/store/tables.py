"""Tables of the control-plane database (SQLAlchemy Core).

Core tables, not ORM classes: every store operation is a statement on a connection, and a
read-only command never imports the ORM (nor pydantic, through SQLModel), which is what keeps
`rcp tenant status` close to the cost of importing its framework. The tables live in their own
``MetaData``, so nothing else in the process (the sandbox has its own database) can leak into
our migrations.

Portable on purpose: JSON is stored as text we serialise ourselves, and timestamps go through
``UTCDateTime`` so SQLite (which keeps no zone) and Postgres both hand back aware UTC values.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

# Deterministic constraint names, identical on SQLite and Postgres, so the migration can name them.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator[datetime]):
    """An aware UTC ``datetime`` on the Python side on every backend.

    SQLite has no time zones: values are stored as naive UTC and made aware again on load.
    Postgres uses ``timestamptz`` and hands back the session's zone, converted to UTC here.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            # Everything rcp creates is aware; a naive value can only mean UTC.
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            # Naive UTC text sorts correctly, so range filters work in SQL.
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class JSONText(TypeDecorator[Any]):
    """JSON kept as text, serialised by us, so SQLite and Postgres store the same bytes."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)

    def process_result_value(self, value: str | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        return json.loads(value)


tenants = Table(
    "tenants",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(255), nullable=False),
    Column("slug", String(40), nullable=False, unique=True),
    Column("status", String(20), nullable=False),
    Column("template", String(255), nullable=False),
    # The template as rendered for this tenant at creation: later runs never re-read the file.
    Column("rendered_template", JSONText, nullable=False),
    Column("custom_plugin_repo", Text, nullable=True),
    # service key -> {ENV_KEY: value}; values are secrets at rest (the SQLite file is 0600).
    Column("env_overrides", JSONText, nullable=False),
    Column("last_error", Text, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    # Created or updated by `rcp apply`: the only tenants `apply --prune` may delete (0005).
    Column("fleet_managed", Boolean, nullable=False, server_default=false()),
    # The world of the record (0006): Render API base URL and workspace it was created against;
    # NULL on older records until the next mutating command records its own.
    Column("render_api_url", Text, nullable=True),
    Column("render_owner_id", String(64), nullable=True),
    # The template revision the tenant runs and since when it does (0007): set when it reaches
    # ACTIVE on a new revision; indexed for `tenant list --revision` and rollouts.
    Column("revision_hash", String(64), nullable=True, index=True),
    Column("revision_label", String(64), nullable=True),
    Column("revision_at", UTCDateTime, nullable=True),
    # The fleet file's `tier:` (0007): rollouts go tier by tier.
    Column("tier", String(40), nullable=True),
)

# Every revision of a template rcp has provisioned a tenant from (0007): `rcp template history`,
# and what a rollback re-applies. ``content`` is the tenant-neutral rendering
# (rcp.core.templates.revisions), placeholders where tenant values go.
template_revisions = Table(
    "template_revisions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("template", String(255), nullable=False),
    Column("hash", String(64), nullable=False),
    Column("label", String(64), nullable=True),
    Column("first_seen", UTCDateTime, nullable=False),
    Column("content", JSONText, nullable=False),
    UniqueConstraint("template", "hash"),
)

# One Render resource of a tenant. ``render_service_ids`` is derived from these rows.
tenant_resources = Table(
    "tenant_resources",
    metadata,
    Column("id", Integer, primary_key=True),
    Column(
        "tenant_id",
        Integer,
        ForeignKey("tenants.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("key", String(20), nullable=False),
    Column("type", String(40), nullable=False),
    # Indexed: create and adopt look up who owns a Render name or id (migration 0002).
    Column("name", String(255), nullable=False, index=True),
    Column("render_id", String(64), nullable=True, index=True),
    Column("state", String(40), nullable=False),
    Column("url", Text, nullable=True),
    Column("deploy_id", String(64), nullable=True),
    # What last went wrong with this resource (a failed deploy: deploy id, status, phase);
    # cleared when it is up again (migration 0004).
    Column("last_error", Text, nullable=True),
    UniqueConstraint("tenant_id", "key"),
)

# Append-only step journal. Keyed by slug, not a foreign key: it outlives the tenant.
journal = Table(
    "journal",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("tenant_slug", String(40), nullable=False, index=True),
    Column("step", String(40), nullable=False),
    Column("resource_key", String(20), nullable=True),
    Column("status", String(20), nullable=False),
    Column("render_name", String(255), nullable=True),
    Column("render_id", String(64), nullable=True),
    Column("detail", Text, nullable=True),
    # The lock generation that wrote the row: tells one run's steps from another's.
    Column("generation", Integer, nullable=False),
    Column("at", UTCDateTime, nullable=False),
)

# The lease on one tenant. The row is kept when released (holder columns set to NULL) so that
# ``generation`` only ever grows for a slug and a stale lease can never match again.
tenant_locks = Table(
    "tenant_locks",
    metadata,
    Column("slug", String(40), primary_key=True),
    Column("actor", String(255), nullable=True),
    Column("host", String(255), nullable=True),
    Column("pid", Integer, nullable=True),
    Column("command", Text, nullable=True),
    Column("generation", Integer, nullable=False),
    Column("acquired_at", UTCDateTime, nullable=True),
    Column("heartbeat_at", UTCDateTime, nullable=True),
)

# Append-only audit log; ``tenant`` is a plain slug so entries survive tenant deletion.
audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("at", UTCDateTime, nullable=False, index=True),
    Column("actor", String(255), nullable=False),
    Column("command", Text, nullable=False),
    Column("tenant", String(40), nullable=True, index=True),
    Column("outcome", String(64), nullable=False),
    Column("exit_code", Integer, nullable=False),
    Column("duration_ms", Integer, nullable=False),
)

# A bearer token of ``rcp serve``. Only the SHA-256 of the token is kept (it is shown once, at
# creation). A revoked token keeps its row, so ``token list`` still shows who it was; a name is
# unique among the tokens not revoked.
api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(64), nullable=False),
    Column("scope", String(10), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    # The token's first characters, to tell tokens apart in `token list` without the secret.
    Column("prefix", String(16), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("last_used_at", UTCDateTime, nullable=True),
    Column("revoked_at", UTCDateTime, nullable=True),
    Index(
        "ix_api_tokens_active_name",
        "name",
        unique=True,
        sqlite_where=text("revoked_at IS NULL"),
        postgresql_where=text("revoked_at IS NULL"),
    ),
)

# A staged rollout of a template revision (rcp.core.rollout, migration 0008): its target
# revision (tenant-neutral rendering, so a rerun renders the same configuration even after the
# template file changed), options, state and wave progress.
rollouts = Table(
    "rollouts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("template", String(255), nullable=False, index=True),
    Column("revision_hash", String(64), nullable=False),
    Column("revision_label", String(64), nullable=True),
    Column("revision_content", JSONText, nullable=False),
    Column("state", String(20), nullable=False),
    Column("options", JSONText, nullable=False),
    Column("current_wave", Integer, nullable=False),
    # [ISO time | null] per wave: when it finished (the pause before the next counts from there)
    Column("wave_finished_at", JSONText, nullable=False),
    Column("message", Text, nullable=True),
    Column("actor", String(255), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

# Each tenant's step of a rollout: its wave, state, and what it ran before (``previous``:
# rendered template, revision, last deploys), recorded before its first Render call.
rollout_steps = Table(
    "rollout_steps",
    metadata,
    Column("id", Integer, primary_key=True),
    Column(
        "rollout_id",
        Integer,
        ForeignKey("rollouts.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("slug", String(40), nullable=False),
    Column("wave", Integer, nullable=False),
    Column("position", Integer, nullable=False),
    Column("tier", String(40), nullable=True),
    Column("state", String(20), nullable=False),
    Column("previous", JSONText, nullable=True),
    Column("error", Text, nullable=True),
    Column("error_code", String(64), nullable=True),
    Column("started_at", UTCDateTime, nullable=True),
    Column("finished_at", UTCDateTime, nullable=True),
    UniqueConstraint("rollout_id", "slug"),
)
