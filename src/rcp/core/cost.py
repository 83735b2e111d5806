"""Monthly cost estimates: each tenant's plans × a dated price table.

The table ships with rcp (``prices.toml`` beside this module, from Render's published list prices) and
can be overridden entry by entry in ``<config dir>/prices.toml``. A plan the table does not
price is *unknown*: its ``monthly_usd`` is null and it is listed in ``unknown_plans``; it is
never counted as zero. A tenant or fleet total that includes an unknown plan is therefore null
too, with the sum of what is known beside it (``known_monthly_usd``) as a lower bound.

What is priced is the tenant's rendered template (the plans rcp created): plan × instances for
services, the instance fee plus ``diskSizeGB`` × the storage price for Postgres. Recorded
resources that the template does not describe (e.g. adopted ones) have no known plan.
"""

from __future__ import annotations

import datetime as dt
import json
import tempfile
import tomllib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from importlib import resources
from pathlib import Path
from typing import Any

from rcp.core.models import Tenant
from rcp.errors import ConfigError

PACKAGED_SOURCE = "builtin"
OVERRIDE_FILE = "prices.toml"
CURRENCY = "USD"

# Render resource type → the price-table section that prices it.
PRICE_SECTIONS: dict[str, str] = {
    "web_service": "services",
    "private_service": "services",
    "background_worker": "services",
    "cron_job": "cron_jobs",
    "postgres": "postgres",
    "key_value": "key_value",
}
# Resource types Render does not bill: a tenant's project and environment (and env groups)
# cost nothing, so they never make a tenant's monthly total unknown.
FREE_TYPES: frozenset[str] = frozenset({"project", "environment", "env_group"})
STORAGE_SECTION = "postgres_storage"
STORAGE_KEY = "per_gb_month"
_CENT = Decimal("0.01")


@dataclass(frozen=True)
class PriceTable:
    prices_as_of: dt.date
    currency: str
    # section → plan (API spelling) → USD per instance per month
    plans: Mapping[str, Mapping[str, Decimal]]
    postgres_storage_per_gb: Decimal | None
    sources: tuple[str, ...] = field(default=(PACKAGED_SOURCE,))

    def price(self, render_type: str, plan: str | None) -> Decimal | None:
        if plan is None:
            return None
        section = PRICE_SECTIONS.get(render_type)
        if section is None:
            return None
        return self.plans.get(section, {}).get(plan)

    def knows_plan(self, render_type: str, plan: str) -> bool:
        """Whether the table prices ``plan`` for ``render_type``. A cron job's monthly cost
        depends on its schedule, so its section is empty unless the operator fills it: a cron
        plan counts as known when the services section prices the same instance type."""
        if self.price(render_type, plan) is not None:
            return True
        if PRICE_SECTIONS.get(render_type) == "cron_jobs":
            return self.price("web_service", plan) is not None
        return False


@dataclass(frozen=True)
class PricedResource:
    key: str
    type: str
    plan: str | None
    monthly_usd: Decimal | None
    instances: int | None = None
    disk_size_gb: int | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "key": self.key,
            "type": self.type,
            "plan": self.plan,
            "monthly_usd": money(self.monthly_usd),
        }
        if self.instances is not None:
            data["instances"] = self.instances
        if self.disk_size_gb is not None:
            data["disk_size_gb"] = self.disk_size_gb
        return data


def money(value: Decimal | None) -> float | None:
    """Whole cents, as a JSON number."""
    return None if value is None else float(value.quantize(_CENT))


# ----------------------------------------------------------------------------- price tables


def load_price_table(config_dir: Path) -> PriceTable:
    """The packaged table, overridden by ``<config dir>/prices.toml`` when that file exists.

    Raises ConfigError (exit 6) naming the file for a malformed override.
    """
    packaged_text = resources.files("rcp.core").joinpath("prices.toml").read_text("utf-8")
    table = parse_price_table(tomllib.loads(packaged_text), source=PACKAGED_SOURCE)
    override_path = config_dir / OVERRIDE_FILE
    if not override_path.exists():
        return table
    try:
        with override_path.open("rb") as handle:
            override = tomllib.load(handle)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(
            f"price table {override_path} is unreadable or malformed: {exc}",
            hint="fix or remove the file",
        ) from None
    return merge_price_tables(table, override, source=str(override_path))


def parse_price_table(data: Mapping[str, Any], *, source: str) -> PriceTable:
    as_of = data.get("prices_as_of")
    if as_of is None:
        raise _bad_table(source, "prices_as_of is missing (a date, e.g. 2026-10-01)")
    return _apply(
        PriceTable(
            prices_as_of=_date(as_of, source),
            currency=CURRENCY,
            plans={},
            postgres_storage_per_gb=None,
            sources=(source,),
        ),
        data,
        source=source,
        replace_sources=True,
    )


def merge_price_tables(base: PriceTable, override: Mapping[str, Any], *, source: str) -> PriceTable:
    """``base`` with every entry ``override`` gives replaced (or added)."""
    return _apply(base, override, source=source, replace_sources=False)


def _apply(
    base: PriceTable, data: Mapping[str, Any], *, source: str, replace_sources: bool
) -> PriceTable:
    known_sections = {*PRICE_SECTIONS.values(), STORAGE_SECTION}
    for name, value in data.items():
        if name in ("prices_as_of", "currency"):
            continue
        if name not in known_sections:
            expected = ", ".join(sorted(known_sections))
            raise _bad_table(source, f"unknown section [{name}] (expected one of {expected})")
        if not isinstance(value, Mapping):
            raise _bad_table(source, f"[{name}] must be a table of plan = price")
    currency = data.get("currency", CURRENCY)
    if currency != CURRENCY:
        raise _bad_table(source, f"currency must be {CURRENCY} (got {currency!r})")
    plans = {section: dict(prices) for section, prices in base.plans.items()}
    for section in set(PRICE_SECTIONS.values()):
        for plan, price in dict(data.get(section, {})).items():
            plans.setdefault(section, {})[str(plan)] = _price(price, source, f"{section}.{plan}")
    storage = base.postgres_storage_per_gb
    storage_table = dict(data.get(STORAGE_SECTION, {}))
    for key, price in storage_table.items():
        if key != STORAGE_KEY:
            raise _bad_table(source, f"[{STORAGE_SECTION}] only takes {STORAGE_KEY} (got {key})")
        storage = _price(price, source, f"{STORAGE_SECTION}.{STORAGE_KEY}")
    as_of = data.get("prices_as_of")
    return PriceTable(
        prices_as_of=_date(as_of, source) if as_of is not None else base.prices_as_of,
        currency=CURRENCY,
        plans=plans,
        postgres_storage_per_gb=storage,
        sources=(source,) if replace_sources else (*base.sources, source),
    )


def _date(value: Any, source: str) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    raise _bad_table(source, f"prices_as_of must be a date like 2026-10-01 (got {value!r})")


def _price(value: Any, source: str, where: str) -> Decimal:
    # bool is an int in Python; `true` is not a price.
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise _bad_table(source, f"{where} must be a number of USD (got {value!r})")
    try:
        price = Decimal(str(value))
    except InvalidOperation:
        raise _bad_table(source, f"{where} must be a number of USD (got {value!r})") from None
    if not price.is_finite() or price < 0:
        raise _bad_table(source, f"{where} must be a non-negative number (got {value!r})")
    return price


def _bad_table(source: str, reason: str) -> ConfigError:
    return ConfigError(f"invalid price table {source}: {reason}", hint="fix or remove the file")


# ----------------------------------------------------------------------------- estimates


def price_tenant(tenant: Tenant, prices: PriceTable) -> list[PricedResource]:
    """Every resource of ``tenant`` with its monthly price (None when unknown), template order;
    recorded resources the template does not describe come last, unpriced."""
    priced: list[PricedResource] = []
    described: set[str] = set()
    for spec in _template_resources(tenant.rendered_template):
        key = str(spec.get("key"))
        render_type = str(spec.get("render_type"))
        plan = spec.get("plan")
        plan = str(plan) if plan is not None else None
        described.add(key)
        body = spec.get("body") if isinstance(spec.get("body"), Mapping) else {}
        if render_type in FREE_TYPES:
            priced.append(PricedResource(key, render_type, plan, Decimal(0)))
            continue
        unit = prices.price(render_type, plan)
        instances: int | None = None
        disk: int | None = None
        total = unit
        if PRICE_SECTIONS.get(render_type) == "services":
            details = body.get("serviceDetails") if isinstance(body, Mapping) else None
            count = details.get("numInstances", 1) if isinstance(details, Mapping) else 1
            instances = count if isinstance(count, int) and count > 0 else 1
            total = None if unit is None else unit * instances
        elif render_type == "postgres":
            size = body.get("diskSizeGB") if isinstance(body, Mapping) else None
            if isinstance(size, int) and size > 0:
                disk = size
                if unit is not None:
                    storage = prices.postgres_storage_per_gb
                    total = None if storage is None else unit + storage * size
        priced.append(PricedResource(key, render_type, plan, total, instances, disk))
    for resource in tenant.resources:
        if resource.key not in described:
            priced.append(PricedResource(resource.key, resource.type, None, None))
    return priced


def _template_resources(rendered: Mapping[str, Any] | None) -> list[Mapping[str, Any]]:
    if not isinstance(rendered, Mapping):
        return []
    found = rendered.get("resources")
    if not isinstance(found, list):
        return []
    return [item for item in found if isinstance(item, Mapping)]


def _sum(values: Iterable[Decimal | None]) -> tuple[Decimal | None, Decimal]:
    """(total or None when any part is unknown, sum of the known parts)."""
    known = Decimal(0)
    complete = True
    for value in values:
        if value is None:
            complete = False
        else:
            known += value
    return (known if complete else None), known


class CostReport:
    """The ``rcp cost`` document of docs/json.md (plus ``known_*`` lower bounds and sources),
    built while the tenants go by: ``tenant_rows`` yields each tenant's row as it prices it,
    and the fleet totals and unknown plans are complete once it is exhausted. Unknown plans
    wait in a spooled file (memory up to a megabyte, then disk), so memory stays flat however
    many tenants there are."""

    def __init__(self, prices: PriceTable) -> None:
        self.prices = prices
        self.complete = True  # no tenant total is unknown
        self.fleet_total = Decimal(0)
        self.known_total = Decimal(0)
        self.unknown_count = 0
        self._unknown = tempfile.SpooledTemporaryFile(
            max_size=UNKNOWN_SPOOL_BYTES, mode="w+", encoding="utf-8"
        )

    def header(self) -> dict[str, Any]:
        return {
            "currency": self.prices.currency,
            "prices_as_of": self.prices.prices_as_of.isoformat(),
            "price_sources": list(self.prices.sources),
        }

    def tenant_rows(self, tenants: Iterable[Tenant]) -> Iterator[dict[str, Any]]:
        for tenant in tenants:
            priced = price_tenant(tenant, self.prices)
            total, known = _sum(resource.monthly_usd for resource in priced)
            if total is None:
                self.complete = False
            else:
                self.fleet_total += total
            self.known_total += known
            for resource in priced:
                if resource.monthly_usd is None:
                    unknown = {
                        "slug": tenant.slug,
                        "key": resource.key,
                        "type": resource.type,
                        "plan": resource.plan,
                    }
                    self._unknown.write(json.dumps(unknown) + "\n")
                    self.unknown_count += 1
            yield {
                "slug": tenant.slug,
                "status": str(tenant.status),
                "monthly_usd": money(total),
                "known_monthly_usd": money(known),
                "resources": [resource.to_json() for resource in priced],
            }

    @property
    def total_monthly_usd(self) -> float | None:
        return money(self.fleet_total if self.complete else None)

    @property
    def known_total_monthly_usd(self) -> float | None:
        return money(self.known_total)

    def unknown_plans(self) -> Iterator[dict[str, Any]]:
        """Every resource without a known price, in tenant order (read back from the spool)."""
        self._unknown.seek(0)
        for line in self._unknown:
            yield json.loads(line)
        self._unknown.close()


# Unknown plans kept in memory before the spool moves to a temporary file.
UNKNOWN_SPOOL_BYTES = 1 << 20


def estimate(tenants: Iterable[Tenant], prices: PriceTable) -> dict[str, Any]:
    """The whole ``rcp cost`` document at once (``CostReport`` streams it)."""
    report = CostReport(prices)
    rows = list(report.tenant_rows(tenants))
    return {
        **report.header(),
        "tenants": rows,
        "total_monthly_usd": report.total_monthly_usd,
        "known_total_monthly_usd": report.known_total_monthly_usd,
        "unknown_plans": list(report.unknown_plans()),
    }
