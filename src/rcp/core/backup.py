"""The backup document (docs/json.md) and the import use case.

    {"format": "rcp-backup", "version": 1, "exported_at": "…Z", "secrets_included": false,
     "tenants": [{"name", "slug", "status", "template", "custom_plugin_repo", "rendered_template",
                  "created_at", "updated_at", "last_error", "render_api_url", "render_owner_id",
                  "tier", "template_revision": {"hash", "label", "since"} | null,
                  "resources": [{"key", "type", "name", "render_id", "state", "url", "deploy_id",
                                  "last_error"}],
                  "env_overrides": [{"service", "key", "value"?}],
                  "journal": [{"step", "resource_key", "status", "render_name", "render_id",
                               "detail", "generation", "at"}]}],
     "audit": [{"at", "actor", "command", "tenant", "outcome", "exit_code", "duration_ms"}]}

Env override values are present only when exported with ``--include-secrets``. Database row ids
are not part of the document: they are local to one database, and leaving them out is what
makes export → import → export reproduce the same document on any backend. Tenants are ordered
by slug, resources and journal rows in recording order, audit entries oldest first.

Import restores records only (it never calls Render), all or nothing, under each imported
tenant's lock. A slug that already exists is refused (exit 4) unless ``overwrite``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from rcp.core.models import (
    RENDER_TYPE_KIND,
    TENANT_RESOURCE_TYPES,
    AuditEntry,
    JournalEntry,
    Lease,
    LockHolder,
    Resource,
    Tenant,
    TenantRevision,
    TenantStatus,
    iso_z,
)
from rcp.errors import ConflictError, RcpError, UsageError

FORMAT = "rcp-backup"
VERSION = 1


@dataclass
class TenantBackup:
    tenant: Tenant
    journal: list[JournalEntry] = field(default_factory=list)
    # (service, key) of overrides whose value the document does not carry
    env_keys_without_value: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class Snapshot:
    """Everything a backup holds, as domain records."""

    tenants: list[TenantBackup]
    audit: list[AuditEntry]  # oldest first
    secrets_included: bool = True
    exported_at: datetime | None = None


def audit_identity(entry: AuditEntry) -> tuple[Any, ...]:
    """What makes two audit entries the same event (an import never adds one twice)."""
    return (
        iso_z(entry.at),
        entry.actor,
        entry.command,
        entry.tenant,
        entry.outcome,
        entry.exit_code,
        entry.duration_ms,
    )


# ----------------------------------------------------------------------------- writing


def build_document(
    snapshot: Snapshot, *, include_secrets: bool, exported_at: datetime
) -> dict[str, Any]:
    return {
        **document_header(include_secrets=include_secrets, exported_at=exported_at),
        "tenants": [
            tenant_json(item, include_secrets)
            for item in sorted(snapshot.tenants, key=lambda t: t.tenant.slug)
        ],
        "audit": [audit_json(entry) for entry in snapshot.audit],
    }


def document_header(*, include_secrets: bool, exported_at: datetime) -> dict[str, Any]:
    """The fields before ``tenants`` and ``audit``, in document order (export streams the two
    lists after them, one tenant and one entry at a time)."""
    return {
        "format": FORMAT,
        "version": VERSION,
        "exported_at": iso_z(exported_at),
        "secrets_included": include_secrets,
    }


def tenant_json(item: TenantBackup, include_secrets: bool) -> dict[str, Any]:
    tenant = item.tenant
    overrides: list[dict[str, Any]] = []
    for service, values in sorted(tenant.env_overrides.items()):
        for key in sorted(values):
            entry: dict[str, Any] = {"service": service, "key": key}
            if include_secrets:
                entry["value"] = values[key]
            overrides.append(entry)
    return {
        "name": tenant.name,
        "slug": tenant.slug,
        "status": str(tenant.status),
        "template": tenant.template,
        "custom_plugin_repo": tenant.custom_plugin_repo,
        "rendered_template": tenant.rendered_template,
        "created_at": iso_z(tenant.created_at),
        "updated_at": iso_z(tenant.updated_at),
        "last_error": tenant.last_error,
        "render_api_url": tenant.render_api_url,
        "render_owner_id": tenant.render_owner_id,
        "tier": tenant.tier,
        "template_revision": (
            tenant.template_revision.to_json() if tenant.template_revision else None
        ),
        "resources": [
            {
                "key": r.key,
                "type": r.type,
                "name": r.name,
                "render_id": r.render_id,
                "state": r.state,
                "url": r.url,
                "deploy_id": r.deploy_id,
                "last_error": r.last_error,
            }
            for r in tenant.resources
        ],
        "env_overrides": overrides,
        "journal": [record.to_json() for record in item.journal],
    }


def audit_json(entry: AuditEntry) -> dict[str, Any]:
    data = entry.to_json()
    del data["id"]  # local to one database; see the module docstring
    return data


# ----------------------------------------------------------------------------- reading


class _Reader:
    """Typed access to an untrusted JSON value; every problem names where it is."""

    def __init__(self, value: Any, where: str) -> None:
        self.value = value
        self.where = where

    def fail(self, reason: str) -> UsageError:
        return UsageError(
            f"invalid backup: {self.where}: {reason}",
            hint="the file must be a document written by `rcp backup export`",
        )

    def mapping(self) -> Mapping[str, Any]:
        if not isinstance(self.value, Mapping):
            raise self.fail("expected an object")
        return self.value

    def field(self, name: str) -> _Reader:
        data = self.mapping()
        if name not in data:
            raise _Reader(None, f"{self.where}.{name}").fail("missing")
        return _Reader(data[name], f"{self.where}.{name}")

    def optional(self, name: str) -> _Reader:
        return _Reader(self.mapping().get(name), f"{self.where}.{name}")

    def items(self) -> Iterator[_Reader]:
        if not isinstance(self.value, list):
            raise self.fail("expected a list")
        for index, item in enumerate(self.value):
            yield _Reader(item, f"{self.where}[{index}]")

    def text(self) -> str:
        if not isinstance(self.value, str):
            raise self.fail("expected a string")
        return self.value

    def text_or_none(self) -> str | None:
        return None if self.value is None else self.text()

    def integer(self) -> int:
        if isinstance(self.value, bool) or not isinstance(self.value, int):
            raise self.fail("expected an integer")
        return self.value

    def moment(self) -> datetime:
        text = self.text()
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise self.fail(f"not a timestamp: {text!r}") from None
        if moment.tzinfo is None:
            raise self.fail(f"timestamp without a time zone: {text!r}")
        return moment.astimezone(UTC)

    def moment_or_none(self) -> datetime | None:
        return None if self.value is None else self.moment()


def unwrap_document(data: Any) -> Any:
    """Accept the JSON envelope of ``rcp -o json backup export`` as well as the bare document."""
    if (
        isinstance(data, Mapping)
        and "format" not in data
        and isinstance(data.get("data"), Mapping)
        and data["data"].get("format") == FORMAT
    ):
        return data["data"]
    return data


def parse_document(data: Any) -> Snapshot:
    """Validate a backup document completely (before anything is written). UsageError (exit 2)
    naming the first problem."""
    from rcp.core.slugs import validate_slug

    root = _Reader(unwrap_document(data), "document")
    root.mapping()
    if root.optional("format").value != FORMAT:
        raise UsageError(
            "not an rcp backup: the document's format is not 'rcp-backup'",
            hint="the file must be a document written by `rcp backup export`",
        )
    version = root.field("version").integer()
    if version > VERSION:
        raise UsageError(
            f"backup version {version} is newer than this rcp reads ({VERSION})",
            hint="upgrade rcp to import it",
        )
    if version < 1:
        raise root.field("version").fail(f"unknown version {version}")
    exported_at = root.optional("exported_at").moment_or_none()
    secrets = root.optional("secrets_included").value
    tenants: list[TenantBackup] = []
    seen: set[str] = set()
    owners: dict[str, str] = {}  # Render id → the tenant that holds it in this document
    for item in root.field("tenants").items():
        backup = _parse_tenant(item)
        try:
            validate_slug(backup.tenant.slug)
        except UsageError as exc:
            raise item.field("slug").fail(exc.message) from None
        if backup.tenant.slug in seen:
            raise item.field("slug").fail(f"tenant {backup.tenant.slug} appears twice")
        seen.add(backup.tenant.slug)
        _check_tenant_values(item, backup, owners)
        tenants.append(backup)
    audit = [_parse_audit(item) for item in root.field("audit").items()]
    return Snapshot(
        tenants=tenants,
        audit=audit,
        secrets_included=bool(secrets) if isinstance(secrets, bool) else False,
        exported_at=exported_at,
    )


def _parse_tenant(item: _Reader) -> TenantBackup:
    status_text = item.field("status").text()
    if status_text not in {s.value for s in TenantStatus}:
        raise item.field("status").fail(f"unknown status {status_text!r}")
    rendered = item.field("rendered_template")
    rendered.mapping()
    resources: list[Resource] = []
    keys: set[str] = set()
    for entry in item.field("resources").items():
        resource_type = entry.field("type").text()
        if resource_type not in TENANT_RESOURCE_TYPES:
            raise entry.field("type").fail(f"unknown resource type {resource_type!r}")
        key = entry.field("key").text()
        if key in keys:
            raise entry.field("key").fail(f"resource {key} appears twice")
        keys.add(key)
        resources.append(
            Resource(
                key=key,
                type=resource_type,
                name=entry.field("name").text(),
                render_id=entry.optional("render_id").text_or_none(),
                state=entry.field("state").text(),
                url=entry.optional("url").text_or_none(),
                deploy_id=entry.optional("deploy_id").text_or_none(),
                last_error=entry.optional("last_error").text_or_none(),
            )
        )
    overrides: dict[str, dict[str, str]] = {}
    without_value: list[tuple[str, str]] = []
    for entry in (
        item.optional("env_overrides").items() if "env_overrides" in item.mapping() else []
    ):
        service = entry.field("service").text()
        key = entry.field("key").text()
        if "value" in entry.mapping():
            overrides.setdefault(service, {})[key] = entry.field("value").text()
        else:
            without_value.append((service, key))
    slug = item.field("slug").text()
    journal = [
        JournalEntry(
            tenant_slug=slug,
            step=entry.field("step").text(),
            resource_key=entry.optional("resource_key").text_or_none(),
            status=entry.field("status").text(),
            render_name=entry.optional("render_name").text_or_none(),
            render_id=entry.optional("render_id").text_or_none(),
            detail=entry.optional("detail").text_or_none(),
            generation=entry.field("generation").integer(),
            at=entry.field("at").moment(),
        )
        for entry in (item.optional("journal").items() if "journal" in item.mapping() else [])
    ]
    tenant = Tenant(
        name=item.field("name").text(),
        slug=slug,
        status=TenantStatus(status_text),
        template=item.field("template").text(),
        rendered_template=dict(rendered.mapping()),
        custom_plugin_repo=item.optional("custom_plugin_repo").text_or_none(),
        created_at=item.field("created_at").moment(),
        updated_at=item.field("updated_at").moment(),
        last_error=item.optional("last_error").text_or_none(),
        resources=resources,
        env_overrides=overrides,
        # Absent in backups made before records had a world: unknown, as on upgrade.
        render_api_url=item.optional("render_api_url").text_or_none(),
        render_owner_id=item.optional("render_owner_id").text_or_none(),
        # Absent in backups made before tiers and revisions: none, as on upgrade.
        tier=_tier(item.optional("tier")),
        template_revision=_revision(item.optional("template_revision")),
    )
    return TenantBackup(tenant=tenant, journal=journal, env_keys_without_value=without_value)


def _tier(reader: _Reader) -> str | None:
    from rcp.core.fleet.spec import TIER

    tier = reader.text_or_none()
    if tier is not None and not TIER.fullmatch(tier):
        raise reader.fail(f"not a tier (1-40 letters, digits, '-', '_' or '.'): {tier!r}")
    return tier


def _revision(reader: _Reader) -> TenantRevision | None:
    if reader.value is None:
        return None
    digest = reader.field("hash").text()
    if not re.fullmatch(r"[0-9a-f]{64}", digest):
        raise reader.field("hash").fail("expected 64 hex digits")
    label = reader.optional("label").text_or_none()
    if label is not None and len(label) > 64:
        raise reader.field("label").fail("longer than 64 characters")
    return TenantRevision(digest, label, reader.optional("since").moment_or_none())


# A workspace (team) or personal owner id, as GET /owners lists them.
_OWNER_ID = re.compile(r"(?:tea|usr)-[a-z0-9]+")
_DEPLOY_ID = re.compile(r"dep-[a-z0-9]+(?:-[a-z0-9]+)*")
_TEXT_MAX_LENGTH = 255


def _check_tenant_values(item: _Reader, backup: TenantBackup, owners: dict[str, str]) -> None:
    """The rules ``tenant create`` and ``tenant adopt`` apply to what they record: a backup is
    untrusted input (hand-edited, or from another rcp) and must not bring in a name, key, URL
    or Render id those commands would refuse."""
    from rcp.core import slugs
    from rcp.core.tenants.adopt import kind_of_id
    from rcp.core.tenants.env import ALL_SERVICES, validate_env_key

    def check(reader: _Reader, rule: Callable[[str], object], value: str) -> None:
        try:
            rule(value)
        except UsageError as exc:
            raise reader.fail(exc.message) from None

    def plugin_repo(url: str) -> str:
        return slugs.validate_url(url, option="plugin repo")

    tenant = backup.tenant
    check(item.field("name"), slugs.validate_name, tenant.name)
    _check_label(item.field("template"), tenant.template)
    if tenant.custom_plugin_repo is not None:
        check(item.field("custom_plugin_repo"), plugin_repo, tenant.custom_plugin_repo)
    if tenant.render_api_url is not None and slugs.url_problem(tenant.render_api_url) is not None:
        raise item.field("render_api_url").fail(f"not an http(s) URL: {tenant.render_api_url!r}")
    if tenant.render_owner_id is not None and not _OWNER_ID.fullmatch(tenant.render_owner_id):
        raise item.field("render_owner_id").fail(
            f"not a Render workspace id: {tenant.render_owner_id!r}"
        )
    keys = set()
    # Groups the fleet shares: one Render group recorded by every tenant that links it.
    shared = {
        spec.get("key")
        for spec in (tenant.rendered_template or {}).get("resources") or []
        if isinstance(spec, dict) and spec.get("shared") is True
    }
    for entry, resource in zip(item.field("resources").items(), tenant.resources, strict=True):
        check(entry.field("key"), slugs.validate_template_key, resource.key)
        keys.add(resource.key)
        _check_label(entry.field("name"), resource.name)
        _check_label(entry.field("state"), resource.state)
        if resource.url is not None and slugs.url_problem(resource.url) is not None:
            raise entry.field("url").fail(f"not an http(s) URL: {resource.url!r}")
        if resource.deploy_id is not None and not _DEPLOY_ID.fullmatch(resource.deploy_id):
            raise entry.field("deploy_id").fail(f"not a Render deploy id: {resource.deploy_id!r}")
        if resource.render_id is None:
            continue
        where = entry.field("render_id")
        check(where, slugs.validate_render_id, resource.render_id)
        if kind_of_id(resource.render_id) is not RENDER_TYPE_KIND[resource.type]:
            raise where.fail(f"{resource.render_id} cannot be a {resource.type}")
        if resource.key in shared and resource.type == "env_group":
            if resource.render_id in {r.render_id for r in tenant.resources if r is not resource}:
                raise where.fail(f"{resource.render_id} is recorded more than once in the backup")
            continue
        holder = owners.setdefault(resource.render_id, tenant.slug)
        if holder != tenant.slug or resource.render_id in {
            r.render_id for r in tenant.resources if r is not resource
        }:
            # A Render resource belongs to one tenant and one key (as adopt enforces).
            raise where.fail(f"{resource.render_id} is recorded more than once in the backup")
    for entry in (
        item.optional("env_overrides").items() if "env_overrides" in item.mapping() else []
    ):
        service = entry.field("service").text()
        if service != ALL_SERVICES and service not in keys:
            raise entry.field("service").fail(f"{service!r} is not a resource of the tenant")
        key = entry.field("key").text()
        check(entry.field("key"), validate_env_key, key)
    for entry, record in zip(
        item.optional("journal").items() if "journal" in item.mapping() else [],
        backup.journal,
        strict=True,
    ):
        if record.resource_key is not None:
            check(entry.field("resource_key"), slugs.validate_template_key, record.resource_key)
        if record.render_id is not None:
            check(entry.field("render_id"), slugs.validate_render_id, record.render_id)
        if record.render_name is not None:
            _check_label(entry.field("render_name"), record.render_name)
        _check_label(entry.field("step"), record.step)
        _check_label(entry.field("status"), record.status)


def _check_label(reader: _Reader, text: str) -> None:
    """A short identifier-like value rcp shows in tables: 1–255 printable characters."""
    if not text or len(text) > _TEXT_MAX_LENGTH or not text.isprintable():
        raise reader.fail(f"{text!r} is not 1-{_TEXT_MAX_LENGTH} printable characters")


def _parse_audit(item: _Reader) -> AuditEntry:
    return AuditEntry(
        at=item.field("at").moment(),
        actor=item.field("actor").text(),
        command=item.field("command").text(),
        tenant=item.optional("tenant").text_or_none(),
        outcome=item.field("outcome").text(),
        exit_code=item.field("exit_code").integer(),
        duration_ms=item.field("duration_ms").integer(),
    )


# ----------------------------------------------------------------------------- import


class BackupStore(Protocol):
    """What import needs from the database (``rcp.store.transfer.SnapshotStore``)."""

    def existing_tenants(self, slugs: Sequence[str]) -> dict[str, Tenant]: ...

    def existing_audit(self) -> set[tuple[Any, ...]]:
        """``audit_identity`` of every entry already in the log."""
        ...

    def acquire_lock(
        self, slug: str, holder: LockHolder, *, wait_seconds: float = 0.0
    ) -> Lease: ...

    def release_lock(self, lease: Lease) -> None: ...

    def restore(
        self, tenants: Sequence[TenantBackup], audit: Sequence[AuditEntry], leases: Sequence[Lease]
    ) -> None:
        """In one transaction, fenced by ``leases``: replace each tenant (record, resources,
        journal) by the given one, and append the audit entries."""
        ...


@dataclass
class ImportReport:
    dry_run: bool
    secrets_included: bool
    tenants_created: list[str]
    tenants_overwritten: list[str]
    journal_entries: int
    audit_entries_added: int
    audit_entries_skipped: int
    # overrides the document had no value for and the database had none to keep
    env_values_missing: list[dict[str, str]]

    def to_json(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "secrets_included": self.secrets_included,
            "tenants_created": self.tenants_created,
            "tenants_overwritten": self.tenants_overwritten,
            "journal_entries": self.journal_entries,
            "audit_entries_added": self.audit_entries_added,
            "audit_entries_skipped": self.audit_entries_skipped,
            "env_values_missing": self.env_values_missing,
        }


def import_backup(
    store: BackupStore,
    snapshot: Snapshot,
    *,
    holder: LockHolder,
    overwrite: bool = False,
    dry_run: bool = False,
    lock_wait: float = 0.0,
    on_locked: Callable[[], None] | None = None,
) -> ImportReport:
    """Restore ``snapshot`` into ``store`` (records only; Render is not touched).

    Raises ConflictError (exit 4) listing the slugs that already exist unless ``overwrite`` — in
    a dry run too, so a dry run exits as the real import would. ``on_locked`` runs once every
    imported tenant's lock is held (the command becomes audited then).
    """
    slugs = [item.tenant.slug for item in snapshot.tenants]
    existing = store.existing_tenants(slugs)
    if existing and not overwrite:
        names = ", ".join(sorted(existing))
        raise ConflictError(
            f"{len(existing)} tenant(s) in the backup already exist: {names}",
            hint="pass --overwrite to replace them with the backup's records",
            code="tenant_exists",
        )
    known_audit = store.existing_audit()
    new_audit: list[AuditEntry] = []
    for entry in snapshot.audit:
        identity = audit_identity(entry)
        if identity not in known_audit:
            known_audit.add(identity)
            new_audit.append(entry)
    restored, missing = _keep_existing_values(snapshot.tenants, existing)
    report = ImportReport(
        dry_run=dry_run,
        secrets_included=snapshot.secrets_included,
        tenants_created=sorted(slug for slug in slugs if slug not in existing),
        tenants_overwritten=sorted(existing),
        journal_entries=sum(len(item.journal) for item in snapshot.tenants),
        audit_entries_added=len(new_audit),
        audit_entries_skipped=len(snapshot.audit) - len(new_audit),
        env_values_missing=missing,
    )
    if dry_run:
        return report
    with _locked(store, sorted(slugs), holder, lock_wait) as leases:
        if on_locked is not None:
            on_locked()
        if overwrite:
            # Re-read under the locks: a tenant created meanwhile is overwritten knowingly.
            existing = store.existing_tenants(slugs)
            restored, missing = _keep_existing_values(snapshot.tenants, existing)
            report.tenants_created = sorted(slug for slug in slugs if slug not in existing)
            report.tenants_overwritten = sorted(existing)
            report.env_values_missing = missing
        elif store.existing_tenants(slugs):
            raise ConflictError(
                "a tenant in the backup was created while importing",
                hint="rerun the import (with --overwrite to replace it)",
                code="tenant_exists",
            )
        store.restore(restored, new_audit, leases)
    return report


def _keep_existing_values(
    tenants: Sequence[TenantBackup], existing: Mapping[str, Tenant]
) -> tuple[list[TenantBackup], list[dict[str, str]]]:
    """Fill override values a secret-less backup lacks from the record being overwritten; what
    cannot be filled is dropped (never restored empty) and reported."""
    restored: list[TenantBackup] = []
    missing: list[dict[str, str]] = []
    for item in tenants:
        current = existing.get(item.tenant.slug)
        overrides = {service: dict(values) for service, values in item.tenant.env_overrides.items()}
        for service, key in item.env_keys_without_value:
            value = None if current is None else current.env_overrides.get(service, {}).get(key)
            if value is None:
                missing.append({"slug": item.tenant.slug, "service": service, "key": key})
            else:
                overrides.setdefault(service, {})[key] = value
        tenant = Tenant(
            name=item.tenant.name,
            slug=item.tenant.slug,
            status=item.tenant.status,
            template=item.tenant.template,
            rendered_template=item.tenant.rendered_template,
            custom_plugin_repo=item.tenant.custom_plugin_repo,
            created_at=item.tenant.created_at,
            updated_at=item.tenant.updated_at,
            last_error=item.tenant.last_error,
            resources=list(item.tenant.resources),
            env_overrides=overrides,
            render_api_url=item.tenant.render_api_url,
            render_owner_id=item.tenant.render_owner_id,
            tier=item.tenant.tier,
            template_revision=item.tenant.template_revision,
        )
        restored.append(TenantBackup(tenant=tenant, journal=list(item.journal)))
    return restored, missing


@contextmanager
def _locked(
    store: BackupStore, slugs: Sequence[str], holder: LockHolder, lock_wait: float
) -> Iterator[list[Lease]]:
    """Every slug's lock, taken in sorted order (two imports cannot deadlock); all released."""
    leases: list[Lease] = []
    try:
        for slug in slugs:
            leases.append(store.acquire_lock(slug, holder, wait_seconds=lock_wait))
        yield leases
    finally:
        for lease in reversed(leases):
            try:
                store.release_lock(lease)
            except RcpError:
                # An unreleased lease expires on its own; the import's outcome is what matters.
                pass
