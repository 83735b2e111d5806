"""Throughput and latency of `GET /api/tenants/{id}/status/` on a live `rcp serve`.

    .venv/bin/python benchmarks/serve.py [--tenants 1000] [--duration 10] [--concurrency 16]
                                         [--workers 1] [--database-url URL]

Seeds N tenant records (two resources each) through the store, creates a read token with the
CLI, starts `rcp --sandbox serve --no-access-log` on a free loopback port, then runs
`--concurrency` keep-alive clients (threads, the standard library's `http.client`) for `--duration` seconds, each asking for the
status of a random tenant by id (authenticated, as a real caller would). Prints requests per
second and p50/p90/p99 latency; `--json` prints one JSON document instead. Everything runs on
this machine and stops by itself: the client and the server share its cores.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

READY = re.compile(r"listening on (http://\S+)")


def seed(env: dict[str, str], count: int) -> None:
    """``count`` ACTIVE tenants with a web service and a Postgres each, through the store."""
    code = f"""
from rcp.core.models import LockHolder, Resource, Tenant, TenantStatus
from rcp.settings import GlobalOptions, load_settings
from rcp.store import open_store

store = open_store(load_settings(GlobalOptions()).database_url)
holder = LockHolder(actor="bench", host="bench", pid=1, command="seed")
for i in range({count}):
    slug = f"tenant-{{i:04d}}"
    lease = store.acquire_lock(slug, holder)
    store.insert_tenant(
        Tenant(
            name=f"Tenant {{i}}", slug=slug, status=TenantStatus.ACTIVE, template="default",
            rendered_template={{"name": "default", "resources": []}},
            resources=[
                Resource(key="db", type="postgres", name=slug + "-db", render_id=f"dpg-{{i:020d}}-a", state="available"),
                Resource(key="web", type="web_service", name=slug + "-web", render_id=f"srv-{{i:020d}}", state="live", url="https://x.onrender.com"),
            ],
        ),
        lease=lease,
    )
    store.release_lock(lease)
store.close()
"""
    subprocess.run([sys.executable, "-c", code], env=env, check=True)


def make_token(env: dict[str, str]) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "rcp", "-o", "json", "serve", "token", "create", "bench"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    token: str = json.loads(proc.stdout)["data"]["token"]
    return token


def start_server(env: dict[str, str], workers: int) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "rcp", "--sandbox", "serve", "--port", "0",
            "--no-access-log", "--workers", str(workers),
        ],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    deadline = time.monotonic() + 60
    url = ""
    while time.monotonic() < deadline and not url:
        line = proc.stderr.readline()
        if not line and proc.poll() is not None:
            raise SystemExit("rcp serve exited before listening")
        if found := READY.search(line):
            url = found.group(1)
    threading.Thread(target=lambda: proc.stderr and proc.stderr.read(), daemon=True).start()
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/api/health/", timeout=2).status_code == 200:
                return proc, url
        except httpx.TransportError:
            time.sleep(0.1)
    raise SystemExit("rcp serve did not become healthy")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its children (Linux /proc), in seconds."""
    total = 0.0
    ticks = os.sysconf("SC_CLK_TCK")
    pids = [pid]
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.exists():
        pids += [int(p) for p in children.read_text().split()]
    for one in pids:
        try:
            fields = Path(f"/proc/{one}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
    return total


def load(url: str, token: str, ids: list[int], *, seconds: float, concurrency: int) -> dict[str, Any]:
    latencies: list[list[float]] = [[] for _ in range(concurrency)]
    errors = [0] * concurrency
    start_gate = threading.Barrier(concurrency + 1)
    stop_at = [0.0]

    def client(index: int) -> None:
        # The standard library's keep-alive client: several times cheaper per request than
        # httpx, and the client shares the machine's cores with the server.
        rng = random.Random(index)
        mine = latencies[index]
        parts = urlsplit(url)
        connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=30)
        headers = {"Authorization": f"Bearer {token}"}

        def get(path: str) -> int:
            connection.request("GET", path, headers=headers)
            response = connection.getresponse()
            response.read()
            return response.status

        get(f"/api/tenants/{ids[0]}/status/")  # connect before the clock starts
        start_gate.wait()
        try:
            while True:
                began = time.perf_counter()
                if began >= stop_at[0]:
                    return
                status = get(f"/api/tenants/{rng.choice(ids)}/status/")
                mine.append(time.perf_counter() - began)
                if status != 200:
                    errors[index] += 1
        finally:
            connection.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(concurrency)]
    for thread in threads:
        thread.start()
    stop_at[0] = time.perf_counter() + 1e9
    start_gate.wait()
    began = time.perf_counter()
    stop_at[0] = began + seconds
    for thread in threads:
        thread.join(seconds + 60)
    elapsed = time.perf_counter() - began
    every = sorted(x for per in latencies for x in per)
    if not every:
        raise SystemExit("no request completed")

    def pct(p: float) -> float:
        return every[min(len(every) - 1, int(p / 100 * len(every)))] * 1000

    return {
        "requests": len(every),
        "errors": sum(errors),
        "seconds": round(elapsed, 2),
        "requests_per_second": round(len(every) / elapsed, 1),
        "p50_ms": round(pct(50), 2),
        "p90_ms": round(pct(90), 2),
        "p99_ms": round(pct(99), 2),
        "mean_ms": round(statistics.fmean(every) * 1000, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tenants", type=int, default=1000)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--database-url", help="default: a new SQLite file")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="rcp-bench-serve-") as tmp:
        env = dict(os.environ)
        env.update(
            {
                "RCP_CONFIG_DIR": str(Path(tmp) / "config"),
                "RCP_DATA_DIR": str(Path(tmp) / "data"),
                "RCP_SANDBOX": "1",
                "RCP_ACTOR": "bench",
            }
        )
        env.pop("RCP_OUTPUT", None)
        if args.database_url:
            env["RCP_DATABASE_URL"] = args.database_url
        seed(env, args.tenants)
        token = make_token(env)
        proc, url = start_server(env, args.workers)
        try:
            with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}) as http:
                ids = [t["id"] for t in http.get("/api/tenants/").json()]
            assert len(ids) == args.tenants, len(ids)
            load(url, token, ids, seconds=min(2.0, args.duration), concurrency=args.concurrency)
            cpu_before = cpu_seconds(proc.pid)
            result = load(url, token, ids, seconds=args.duration, concurrency=args.concurrency)
            cpu = cpu_seconds(proc.pid) - cpu_before
            result["server_cpu_ms_per_request"] = round(cpu / result["requests"] * 1000, 2)
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
    result.update(
        {
            "tenants": args.tenants,
            "concurrency": args.concurrency,
            "workers": args.workers,
            "database": "postgres" if args.database_url else "sqlite",
            "cpus": os.cpu_count(),
            "load_average_1m": round(os.getloadavg()[0], 1),
        }
    )
    if args.json:
        print(json.dumps(result))
        return
    print(
        f"GET /api/tenants/{{id}}/status/ · {args.tenants} tenants · {result['database']} · "
        f"{args.workers} worker(s) · {args.concurrency} clients · {result['seconds']} s"
    )
    print(
        f"  {result['requests_per_second']} requests/s ({result['requests']} requests, "
        f"{result['errors']} errors)  p50 {result['p50_ms']} ms  p90 {result['p90_ms']} ms  "
        f"p99 {result['p99_ms']} ms"
    )
    print(
        f"  server CPU {result['server_cpu_ms_per_request']} ms per request; "
        f"load average {result['load_average_1m']} on {result['cpus']} cores"
    )


if __name__ == "__main__":
    main()
