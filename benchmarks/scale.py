"""rcp with many tenants on record (issue 12): one-tenant commands must not grow with the fleet.

    .venv/bin/python benchmarks/scale.py [--sizes 1000,10000,100000] [--repeat 3]
                                         [--postgres postgresql://postgres@127.0.0.1:5432/test]

For each backend (SQLite; Postgres when a URL is given with --postgres or RCP_TEST_DATABASE_URL)
and each number of tenants N, a fresh database is bulk-seeded with N copies of a default-template
tenant (ACTIVE, two resources with Render ids), then these run as subprocesses against the
in-process sandbox (no readiness delay, no rate limits: what is measured is rcp itself):

- ``tenant create`` of one new tenant, ``tenant status`` of one tenant (``-o json``)
- ``tenant list -o json`` (streamed; output to /dev/null)
- ``plan`` and ``apply`` of a fleet file naming one new tenant

Each figure is the median of --repeat runs: wall time, CPU time (user + system: steadier than
wall time on a shared machine) and peak RSS of the process (from ``wait4``). The last table gives
the ratio largest N / smallest N. Goals: ≤ 1.2 for create, status and plan of one tenant;
list ≤ 150 MiB at 100,000 tenants.
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
from dataclasses import dataclass
from pathlib import Path

COMMANDS = ("create", "status", "list", "plan", "apply")
GOALS = {"create": "≤ 1.2", "status": "≤ 1.2", "plan": "≤ 1.2"}
LIST_MEMORY_GOAL_MIB = 150


@dataclass(frozen=True)
class Sample:
    wall: float
    cpu: float
    rss_mib: float


def precompile() -> None:
    """Bytecode written first, as an installed tool has it."""
    import compileall

    import rcp

    compileall.compile_dir(Path(rcp.__file__).parent, quiet=1)


# Runs the CLI and, at exit, writes the process's peak RSS to RCP_BENCH_RSS. VmHWM belongs to
# the image after exec; ru_maxrss would also count the (large) benchmark process it forked from.
RCP_WITH_RSS = """
import atexit, os, sys
def peak():
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith("VmHWM:"))
    with open(os.environ["RCP_BENCH_RSS"], "w") as out:
        out.write(line.split()[1])
atexit.register(peak)
sys.argv = ["rcp", *sys.argv[1:]]
from rcp.cli import main
main()
"""


def run(args: list[str], env: dict[str, str], rss_file: Path) -> Sample:
    """One rcp process: wall time, its own CPU time (``wait4``) and peak RSS."""
    command = [sys.executable, "-c", RCP_WITH_RSS, *args]
    with open(os.devnull, "w") as sink:
        started = time.perf_counter()
        proc = subprocess.Popen(
            command,
            env={**env, "RCP_BENCH_RSS": str(rss_file)},
            stdout=sink,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
        )
        assert proc.stderr is not None
        errors = proc.stderr.read()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise SystemExit(f"rcp {' '.join(args)} exited {code}: {errors.decode()[-800:]}")
    return Sample(wall, usage.ru_utime + usage.ru_stime, int(rss_file.read_text()) / 1024)


def seed(database_url: str, count: int) -> float:
    """``count`` tenant records through the store's bulk insert; returns the seconds taken."""
    from rcp.core.models import Resource, Tenant, TenantStatus
    from rcp.core.templates import load_template, render_template
    from rcp.store import open_store
    from rcp.store.transfer import bulk_insert_tenants

    template = load_template("default", Path(tempfile.gettempdir()))

    def tenants() -> Iterator[Tenant]:
        for index in range(count):
            slug = f"seed-{index:06d}"
            rendered = render_template(template, slug=slug, name=f"Seeded {index}", plugin_repo=None)
            yield Tenant(
                name=f"Seeded {index}",
                slug=slug,
                status=TenantStatus.ACTIVE,
                template="default",
                rendered_template=rendered.to_dict(),
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
                        url=f"https://{slug}-web.onrender.com",
                        deploy_id=f"dep-{index:020d}",
                    ),
                ],
            )

    started = time.perf_counter()
    with open_store(database_url) as store:
        bulk_insert_tenants(store, tenants())
    return time.perf_counter() - started


@contextmanager
def database(backend: str, root: Path, postgres: str | None) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{root / 'rcp.db'}"
        return
    import psycopg

    assert postgres is not None
    name = f"rcp_scale_{uuid.uuid4().hex[:10]}"
    admin = postgres.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield postgres.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def measure(backend: str, count: int, repeat: int, postgres: str | None) -> dict[str, Sample]:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        with database(backend, root, postgres) as url:
            env = {
                **os.environ,
                "RCP_CONFIG_DIR": str(root / "config"),
                "RCP_DATA_DIR": str(root / "data"),
                "RCP_DATABASE_URL": url,
                "RCP_SANDBOX": "1",
                "RENDER_API_KEY": "rnd_scale_benchmark",
                "RCP_SANDBOX_DEPLOY_SECONDS": "0",
                "RCP_SANDBOX_DATASTORE_SECONDS": "0",
                "RCP_SANDBOX_RATE_LIMITS": "off",
                "RCP_ACTOR": "bench",
            }
            for name in ("DATABASE_URL", "RCP_OUTPUT", "CI"):
                env.pop(name, None)
            seconds = seed(url, count)
            print(f"  {backend} N={count:,}: seeded in {seconds:.1f} s", file=sys.stderr)
            rss = root / "rss"
            samples: dict[str, list[Sample]] = {name: [] for name in COMMANDS}
            for index in range(repeat):
                slug = f"bench-new-{index}"
                samples["create"].append(
                    run(["tenant", "create", slug, "--slug", slug, "-o", "json"], env, rss)
                )
                samples["status"].append(
                    run(["tenant", "status", "bench-new-0", "-o", "json"], env, rss)
                )
                samples["list"].append(run(["tenant", "list", "-o", "json"], env, rss))
                fleet = root / f"fleet-{index}.yaml"
                fleet.write_text(
                    f"tenants:\n  - {{name: Fleet {index}, slug: bench-fleet-{index}}}\n",
                    encoding="utf-8",
                )
                samples["plan"].append(run(["plan", str(fleet), "-o", "json"], env, rss))
                samples["apply"].append(run(["apply", str(fleet), "-o", "json"], env, rss))
    return {
        name: Sample(
            statistics.median(s.wall for s in runs),
            statistics.median(s.cpu for s in runs),
            max(s.rss_mib for s in runs),
        )
        for name, runs in samples.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--postgres", default=os.environ.get("RCP_TEST_DATABASE_URL"))
    parser.add_argument("--backends", default="sqlite,postgres")
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    backends = [b for b in args.backends.split(",") if b != "postgres" or args.postgres]
    precompile()
    results: dict[tuple[str, int], dict[str, Sample]] = {}
    for backend in backends:
        for count in sizes:
            results[(backend, count)] = measure(backend, count, args.repeat, args.postgres)

    print(f"{'backend':<9} {'N':>8}  " + "  ".join(f"{name:>22}" for name in COMMANDS))
    print(f"{'':<9} {'':>8}  " + "  ".join(f"{'wall s / cpu s / MiB':>22}" for _ in COMMANDS))
    for (backend, count), figures in results.items():
        cells = [
            f"{s.wall:6.2f} / {s.cpu:5.2f} / {s.rss_mib:4.0f}"
            for s in (figures[name] for name in COMMANDS)
        ]
        print(f"{backend:<9} {count:>8,}  " + "  ".join(f"{cell:>22}" for cell in cells))
    smallest, largest = min(sizes), max(sizes)
    print()
    print(f"ratio N={largest:,} / N={smallest:,} (wall; cpu)")
    print(f"{'backend':<9} " + "  ".join(f"{name:>14}" for name in COMMANDS))
    for backend in backends:
        low, high = results[(backend, smallest)], results[(backend, largest)]
        cells = [
            f"{high[name].wall / low[name].wall:4.2f}; {high[name].cpu / low[name].cpu:4.2f}"
            for name in COMMANDS
        ]
        print(f"{backend:<9} " + "  ".join(f"{cell:>14}" for cell in cells))
    print("goals: " + ", ".join(f"{name} {goal}" for name, goal in GOALS.items()))
    for backend in backends:
        peak = results[(backend, largest)]["list"].rss_mib
        verdict = "ok" if peak <= LIST_MEMORY_GOAL_MIB else "OVER"
        print(
            f"{backend}: list at N={largest:,} peaks at {peak:.0f} MiB "
            f"(goal ≤ {LIST_MEMORY_GOAL_MIB} MiB: {verdict})"
        )


if __name__ == "__main__":
    main()
