"""SQLModel tables of the control-plane database.

The tables live in their own registry (and so their own ``MetaData``) rather than SQLModel's
global one, so that any other SQLModel table in the process (the sandbox has its own database)
can never leak into our migrations.

Portable on purpose: JSON is stored as text we serialise ourselves, and timestamps go through
``UTCDateTime`` so SQLite (which keeps no zone) and Postgres both hand back aware UTC values.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import registry
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel

# Deterministic constraint names, identical on SQLite and Postgres, so the migration can name them.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

store_registry = registry(metadata=MetaData(naming_convention=NAMING_CONVENTION))


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


class StoreModel(SQLModel, registry=store_registry):
    """Base of every table in this package (its own metadata, see the module docstring)."""


class TenantRow(StoreModel, table=True):
    __tablename__ = "tenants"

    id: int | None = Field(default=None, sa_column=Column(Integer, primary_key=True))
    name: str = Field(sa_column=Column(String(255), nullable=False))
    slug: str = Field(sa_column=Column(String(40), nullable=False, unique=True))
    status: str = Field(sa_column=Column(String(20), nullable=False))
    template: str = Field(sa_column=Column(String(255), nullable=False))
    # The template as rendered for this tenant at creation: later runs never re-read the file.
    rendered_template: dict[str, Any] = Field(sa_column=Column(JSONText, nullable=False))
    custom_plugin_repo: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    # service key -> {ENV_KEY: value}; values are secrets at rest (the SQLite file is 0600).
    env_overrides: dict[str, dict[str, str]] = Field(sa_column=Column(JSONText, nullable=False))
    last_error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    created_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))


class TenantResourceRow(StoreModel, table=True):
    """One Render resource of a tenant. ``render_service_ids`` is derived from these rows."""

    __tablename__ = "tenant_resources"
    __table_args__ = (UniqueConstraint("tenant_id", "key"),)

    id: int | None = Field(default=None, sa_column=Column(Integer, primary_key=True))
    tenant_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    key: str = Field(sa_column=Column(String(20), nullable=False))
    type: str = Field(sa_column=Column(String(40), nullable=False))
    # Indexed: create and adopt look up who owns a Render name or id (migration 0002).
    name: str = Field(sa_column=Column(String(255), nullable=False, index=True))
    render_id: str | None = Field(
        default=None, sa_column=Column(String(64), nullable=True, index=True)
    )
    state: str = Field(sa_column=Column(String(40), nullable=False))
    url: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    deploy_id: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))


class JournalRow(StoreModel, table=True):
    """Append-only step journal. Keyed by slug, not a foreign key: it outlives the tenant."""

    __tablename__ = "journal"

    id: int | None = Field(default=None, sa_column=Column(Integer, primary_key=True))
    tenant_slug: str = Field(sa_column=Column(String(40), nullable=False, index=True))
    step: str = Field(sa_column=Column(String(40), nullable=False))
    resource_key: str | None = Field(default=None, sa_column=Column(String(20), nullable=True))
    status: str = Field(sa_column=Column(String(20), nullable=False))
    render_name: str | None = Field(default=None, sa_column=Column(String(255), nullable=True))
    render_id: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    detail: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    # The lock generation that wrote the row: tells one run's steps from another's.
    generation: int = Field(sa_column=Column(Integer, nullable=False))
    at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))


class TenantLockRow(StoreModel, table=True):
    """The lease on one tenant. The row is kept when released (holder columns set to NULL) so
    that ``generation`` only ever grows for a slug and a stale lease can never match again."""

    __tablename__ = "tenant_locks"

    slug: str = Field(sa_column=Column(String(40), primary_key=True))
    actor: str | None = Field(default=None, sa_column=Column(String(255), nullable=True))
    host: str | None = Field(default=None, sa_column=Column(String(255), nullable=True))
    pid: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    command: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    generation: int = Field(sa_column=Column(Integer, nullable=False))
    acquired_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))
    heartbeat_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime, nullable=True)
    )


class AuditRow(StoreModel, table=True):
    """Append-only audit log; ``tenant`` is a plain slug so entries survive tenant deletion."""

    __tablename__ = "audit_log"

    id: int | None = Field(default=None, sa_column=Column(Integer, primary_key=True))
    at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False, index=True))
    actor: str = Field(sa_column=Column(String(255), nullable=False))
    command: str = Field(sa_column=Column(Text, nullable=False))
    tenant: str | None = Field(
        default=None, sa_column=Column(String(40), nullable=True, index=True)
    )
    outcome: str = Field(sa_column=Column(String(64), nullable=False))
    exit_code: int = Field(sa_column=Column(Integer, nullable=False))
    duration_ms: int = Field(sa_column=Column(Integer, nullable=False))


class ApiTokenRow(StoreModel, table=True):
    """A bearer token of ``rcp serve``. Only the SHA-256 of the token is kept (it is shown once,
    at creation). A revoked token keeps its row, so ``token list`` still shows who it was; a
    name is unique among the tokens not revoked."""

    __tablename__ = "api_tokens"
    __table_args__ = (
        Index(
            "ix_api_tokens_active_name",
            "name",
            unique=True,
            sqlite_where=text("revoked_at IS NULL"),
            postgresql_where=text("revoked_at IS NULL"),
        ),
    )

    id: int | None = Field(default=None, sa_column=Column(Integer, primary_key=True))
    name: str = Field(sa_column=Column(String(64), nullable=False))
    scope: str = Field(sa_column=Column(String(10), nullable=False))
    token_hash: str = Field(sa_column=Column(String(64), nullable=False, unique=True))
    # The token's first characters, to tell tokens apart in `token list` without the secret.
    prefix: str = Field(sa_column=Column(String(16), nullable=False))
    created_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    last_used_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime, nullable=True)
    )
    revoked_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))


metadata = store_registry.metadata
