"""Start-up cost of rcp, as ratios to bare imports of its framework (issue 12 item 3).

    .venv/bin/python benchmarks/startup.py [--runs 11] [--postgres URL] [--quick]

Targets: every ``--help`` (root, each group, each command) and ``--version`` ≤ 1.5 ×
``python -c "import typer"``; the read-only commands ``tenant status X``, ``tenant show X`` and
``tenant list`` (``-o json``, 1,000 tenants on record; the listing filtered to the 10 suspended
ones, so that what is timed is start-up, not printing) ≤ 1.2 × ``python -c "import typer,
sqlmodel"``, on SQLite and on Postgres (``--postgres`` or RCP_TEST_DATABASE_URL).

Each figure is the median of --runs runs of a fresh process, with rcp's bytecode written first
(as an installed tool has it). Two clocks: CPU time of the process (user + system, from
``wait4``: steadier on a busy machine) and wall time. Ratios are of CPU times, each command
timed in turn with its baseline import so that a busy spell weighs on both alike. ``--quick``
times only the root, the ``tenant`` group and ``tenant create`` helps instead of all of them.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

HELP_TARGET = 1.5
READ_TARGET = 1.2
TENANTS = 1_000
SUSPENDED_EVERY = 100  # tenant-0000, -0100, … : 10 suspended tenants


def run_once(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(cpu seconds, wall seconds) of one process; it must exit 0."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL
    )
    assert proc.stderr is not None
    errors = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(command)} failed: {errors.decode()[-500:]}")
    return usage.ru_utime + usage.ru_stime, wall


def median(command: list[str], env: dict[str, str], runs: int) -> tuple[float, float]:
    run_once(command, env)  # warm the page cache
    samples = [run_once(command, env) for _ in range(runs)]
    return statistics.median(s[0] for s in samples), statistics.median(s[1] for s in samples)


def ratio(
    command: list[str], baseline: list[str], env: dict[str, str], runs: int
) -> tuple[float, float, float]:
    """(cpu, wall, cpu ratio to ``baseline``): the two run in turn, so that a busy spell of the
    machine weighs on both alike; the ratio is of the two medians."""
    run_once(command, env)
    pairs = [(run_once(baseline, env), run_once(command, env)) for _ in range(runs)]
    cpu = statistics.median(p[1][0] for p in pairs)
    wall = statistics.median(p[1][1] for p in pairs)
    return cpu, wall, cpu / statistics.median(p[0][0] for p in pairs)


def seed(database_url: str) -> None:
    """TENANTS records with two resources each, through the store's bulk insert."""
    from rcp.core.models import Resource, Tenant, TenantStatus
    from rcp.store import open_store
    from rcp.store.transfer import bulk_insert_tenants

    def tenants() -> Iterator[Tenant]:
        for index in range(TENANTS):
            slug = f"tenant-{index:04d}"
            yield Tenant(
                name=slug,
                slug=slug,
                status=TenantStatus.SUSPENDED if index % SUSPENDED_EVERY == 0 else TenantStatus.ACTIVE,
                template="default",
                rendered_template={"name": "default", "resources": []},
                resources=[
                    Resource(
                        key="db",
                        type="postgres",
                        name=f"{slug}-db",
                        render_id=f"dpg-{index:020d}-a",
                        state="available",
                    ),
                    Resource(
                        key="web",
                        type="web_service",
                        name=f"{slug}-web",
                        render_id=f"srv-{index:020d}",
                        state="live",
                        url="https://x.onrender.com",
                    ),
                ],
            )

    with open_store(database_url) as store:
        bulk_insert_tenants(store, tenants())


@contextmanager
def postgres_database(base: str) -> Iterator[str]:
    import psycopg

    name = f"rcp_startup_{uuid.uuid4().hex[:10]}"
    admin = base.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield base.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def help_paths(quick: bool) -> list[list[str]]:
    """Every command path of rcp (root, groups, commands), hidden ones left out."""
    if quick:
        return [[], ["tenant"], ["tenant", "create"]]
    import typer

    from rcp.cli import app

    paths: list[list[str]] = []

    def walk(command: object, path: list[str]) -> None:
        paths.append(path)
        for name, sub in sorted(getattr(command, "commands", {}).items()):
            if not getattr(sub, "hidden", False):
                walk(sub, [*path, name])

    walk(typer.main.get_command(app), [])
    return paths


def precompile() -> None:
    import compileall

    import rcp

    compileall.compile_dir(Path(rcp.__file__).parent, quiet=1)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=11)
    parser.add_argument("--postgres", default=os.environ.get("RCP_TEST_DATABASE_URL"))
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    precompile()
    python = sys.executable
    rows: list[tuple[str, float, float, float, float]] = []  # name, cpu, wall, ratio, target
    with tempfile.TemporaryDirectory() as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("RCP_", "RENDER_"))}
        env.pop("DATABASE_URL", None)
        env.update(
            {"RCP_CONFIG_DIR": str(Path(tmp) / "config"), "RCP_DATA_DIR": str(Path(tmp) / "data")}
        )
        typer_cpu, typer_wall = median([python, "-c", "import typer"], env, args.runs)
        both_cpu, both_wall = median([python, "-c", "import typer, sqlmodel"], env, args.runs)
        print(f"import typer           {typer_cpu * 1000:6.0f} ms cpu {typer_wall * 1000:6.0f} ms wall")
        print(f"import typer, sqlmodel {both_cpu * 1000:6.0f} ms cpu {both_wall * 1000:6.0f} ms wall")

        rcp = [python, "-m", "rcp"]
        only_typer = [python, "-c", "import typer"]
        with_sqlmodel = [python, "-c", "import typer, sqlmodel"]
        for path in help_paths(args.quick):
            cpu, wall, factor = ratio([*rcp, *path, "--help"], only_typer, env, args.runs)
            rows.append((" ".join(["rcp", *path, "--help"]), cpu, wall, factor, HELP_TARGET))
        cpu, wall, factor = ratio([*rcp, "--version"], only_typer, env, args.runs)
        rows.append(("rcp --version", cpu, wall, factor, HELP_TARGET))

        backends = [("sqlite", None)] + ([("postgres", args.postgres)] if args.postgres else [])
        for backend, base in backends:
            with (
                postgres_database(base) if base else _sqlite(Path(tmp))
            ) as url:
                seed(url)
                read_env = {**env, "RCP_DATABASE_URL": url}
                for label, command in (
                    ("tenant status X", ["tenant", "status", "tenant-0500"]),
                    ("tenant show X", ["tenant", "show", "tenant-0500"]),
                    ("tenant list --status SUSPENDED", ["tenant", "list", "--status", "SUSPENDED"]),
                ):
                    cpu, wall, factor = ratio(
                        [*rcp, *command, "-o", "json"], with_sqlmodel, read_env, args.runs
                    )
                    rows.append((f"{label} -o json ({backend})", cpu, wall, factor, READ_TARGET))

    width = max(len(row[0]) for row in rows)
    print(f"\n{'command':<{width}}  {'cpu ms':>7} {'wall ms':>8} {'ratio':>6} {'target':>7}")
    worst: dict[float, float] = {}
    for name, cpu, wall, factor, target in rows:
        flag = "" if factor <= target else "  OVER"
        print(
            f"{name:<{width}}  {cpu * 1000:7.0f} {wall * 1000:8.0f} {factor:6.2f} "
            f"{'≤ ' + str(target):>7}{flag}"
        )
        worst[target] = max(worst.get(target, 0.0), factor)
    print()
    print(f"worst --help/--version ratio: {worst[HELP_TARGET]:.2f} (target ≤ {HELP_TARGET})")
    print(f"worst read-only ratio:        {worst[READ_TARGET]:.2f} (target ≤ {READ_TARGET})")


@contextmanager
def _sqlite(root: Path) -> Iterator[str]:
    yield f"sqlite:///{root / 'rcp.db'}"


if __name__ == "__main__":
    main()
