"""Fleet apply at scale against `rcp sandbox serve` (issue #6).

    .venv/bin/python benchmarks/fleet.py [--tenants 24] [--concurrency 8] [--skip-rate-limited]

1. Throughput: 24 tenants of the default template, 100 ms latency per request, 2 s readiness
   (deploys and datastores), concurrency 8, rate limits that do not bind (sandbox and client
   windows scaled to microseconds). Reports the apply's wall time, the
   ideal (⌈24/8⌉ × one tenant's critical path, measured by applying a single tenant first),
   their ratio (target ≤ 1.3), requests per tenant from the sandbox's request log (target ≤ 12)
   with the breakdown, and the apply process's peak memory.
2. Rate-limited: the sandbox's windows scaled by 1/360 (20 creations per 10 s) and the client
   told the same; 30 tenants = 60 creations, concurrency 16 (so that the limit, not the
   workers, is the bottleneck). Reports wall time, the span of the creates in
   windows (target ≈ 3), and answered 429s (target ≤ 1).
3. Render's real hourly limit: 24 tenants need 48 creations; apply creates what fits (20) and
   exits 75 with the time to rerun, without sending a create Render would refuse.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

NOT_BINDING = "0.000001"
ID_SEGMENT = re.compile(r"/(srv|dpg|red|crn|dep|evm)-[a-z0-9]+(-a)?")

# Runs the CLI and writes the process's peak RSS (KiB on Linux) to the file in RCP_BENCH_RSS.
RCP_WITH_RSS = """
import atexit, os, resource, sys
path = os.environ["RCP_BENCH_RSS"]
atexit.register(lambda: open(path, "w").write(str(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)))
sys.argv = ["rcp", *sys.argv[1:]]
from rcp.cli import main
main()
"""


@contextmanager
def sandbox_server(root: Path, *options: str) -> Iterator[str]:
    """`rcp sandbox serve` on a free port with its own world; yields the API base URL."""
    env = {**os.environ, "RCP_DATA_DIR": str(root / "server"), "RCP_CONFIG_DIR": str(root / "cfg")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "rcp", "sandbox", "serve", "--port", "0", *options],
        env=env,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        found = re.search(r"(http://\S+/v1)", line)
        if not found:
            raise SystemExit(f"sandbox did not start: {line}{proc.stderr.read()[-500:]}")
        yield found.group(1)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def fleet_file(path: Path, prefix: str, count: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "tenants:\n" + "".join(f"  - name: {prefix}{i:03d}\n" for i in range(count)),
        encoding="utf-8",
    )
    return path


def client_env(root: Path, url: str, **extra: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("RCP_", "RENDER_")) and key not in ("DATABASE_URL", "CI")
    }
    env.update(
        {
            "RENDER_API_URL": url,
            "RENDER_API_KEY": "rnd_benchmark_key",
            "RCP_DATA_DIR": str(root / "client"),
            "RCP_CONFIG_DIR": str(root / "cfg"),
            "RCP_ACTOR": "benchmark",
            "CI": "true",
        }
    )
    env.update(extra)
    return env


def apply(
    fleet: Path, env: dict[str, str], concurrency: int
) -> tuple[int, dict[str, Any], float, int]:
    """Run `rcp -o json apply`; (exit code, data, wall seconds, peak RSS KiB)."""
    rss_file = fleet.with_suffix(".rss")
    started = time.perf_counter()
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            RCP_WITH_RSS,
            "-o",
            "json",
            "-q",
            "apply",
            str(fleet),
            "--concurrency",
            str(concurrency),
        ],
        env={**env, "RCP_BENCH_RSS": str(rss_file)},
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - started
    document = json.loads(proc.stdout) if proc.stdout.strip() else {}
    if "data" not in document:
        raise SystemExit(f"apply failed ({proc.returncode}): {proc.stderr[-800:]}")
    return proc.returncode, document["data"], wall, int(rss_file.read_text())


def request_log(url: str) -> list[dict[str, Any]]:
    base = url.removesuffix("/v1")
    state = httpx.get(f"{base}/__sandbox/state", timeout=30).json()
    requests: list[dict[str, Any]] = state["requests"]
    return requests


def shape(request: dict[str, Any]) -> str:
    return f"{request['method']} {ID_SEGMENT.sub('/{id}', request['path']).removeprefix('/v1')}"


def seconds_of(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def throughput(root: Path, tenants: int, concurrency: int) -> dict[str, Any]:
    # Windows scaled to microseconds on both sides: no bucket ever fills. (`--rate-limits off`
    # would still send headers counting down to "0 remaining, reset in an hour", which the
    # client rightly believes.)
    with sandbox_server(
        root,
        "--latency-ms",
        "100",
        "--deploy-seconds",
        "2",
        "--datastore-seconds",
        "2",
        "--rate-window-scale",
        NOT_BINDING,
    ) as url:
        env = client_env(root, url, RCP_RATE_WINDOW_SCALE=NOT_BINDING)
        code, single, _, _ = apply(fleet_file(root / "one.yaml", "solo", 1), env, 1)
        assert code == 0, single
        critical_path = single["results"][0]["seconds"]
        before = len(request_log(url))
        code, data, wall, rss = apply(
            fleet_file(root / "fleet.yaml", "tenant", tenants), env, concurrency
        )
        assert code == 0, data["results"]
        requests = request_log(url)[before:]
    apply_seconds = data["seconds"]
    ideal = math.ceil(tenants / concurrency) * critical_path
    breakdown = Counter(shape(r) for r in requests)
    return {
        "tenants": tenants,
        "concurrency": concurrency,
        "critical_path_s": critical_path,
        "apply_s": apply_seconds,
        "process_wall_s": wall,
        "ideal_s": ideal,
        "ratio": apply_seconds / ideal,
        "requests": len(requests),
        "requests_per_tenant": len(requests) / tenants,
        "breakdown_per_tenant": {k: v / tenants for k, v in breakdown.most_common()},
        "peak_rss_mib": rss / 1024,
    }


def rate_limited(root: Path, tenants: int, concurrency: int) -> dict[str, Any]:
    with sandbox_server(
        root,
        "--latency-ms",
        "100",
        "--deploy-seconds",
        "2",
        "--datastore-seconds",
        "2",
        "--rate-limits",
        "render",
        "--rate-window-scale",
        "1/360",
    ) as url:
        env = client_env(root, url, RCP_RATE_WINDOW_SCALE="1/360")
        code, data, wall, rss = apply(fleet_file(root / "rl.yaml", "rl", tenants), env, concurrency)
        requests = request_log(url)
    creates = [
        r
        for r in requests
        if r["method"] == "POST" and r["path"] in ("/v1/services", "/v1/postgres", "/v1/key-value")
    ]
    done = [seconds_of(r["at"]) for r in creates if r["status"] == 201]
    span = max(done) - min(done) if done else 0.0
    return {
        "tenants": tenants,
        "concurrency": concurrency,
        "exit_code": code,
        "creations": len(done),
        "answered_429": sum(1 for r in requests if r["status"] == 429),
        "creates_span_s": span,
        # Which 10 s windows of the sandbox the creations fell into (its windows start at the
        # first request, so the first create opens window 1).
        "windows": math.floor(span / 10.0) + 1 if done else 0,
        "apply_s": data["seconds"],
        "process_wall_s": wall,
        "peak_rss_mib": rss / 1024,
    }


def hourly(root: Path, tenants: int, concurrency: int) -> dict[str, Any]:
    with sandbox_server(
        root,
        "--latency-ms",
        "100",
        "--deploy-seconds",
        "2",
        "--datastore-seconds",
        "2",
    ) as url:
        env = client_env(root, url)
        code, data, wall, _ = apply(
            fleet_file(root / "hourly.yaml", "hr", tenants), env, concurrency
        )
        requests = request_log(url)
    outcomes = Counter(r["outcome"] for r in data["results"])
    retry = next((r["retry_at"] for r in data["results"] if r["retry_at"]), None)
    return {
        "tenants": tenants,
        "exit_code": code,
        "created": outcomes.get("created", 0),
        "deferred": outcomes.get("deferred", 0),
        "answered_429": sum(1 for r in requests if r["status"] == 429),
        "retry_at": retry,
        "process_wall_s": wall,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=24)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rate-tenants", type=int, default=30)
    # The rate-limited run measures scheduling under Render's limit, so the workers must not be
    # the bottleneck: 8 workers at ~6 s per tenant manage only ~2.7 creations/s, too close to
    # the 2 per second the window allows.
    parser.add_argument("--rate-concurrency", type=int, default=16)
    parser.add_argument("--skip-rate-limited", action="store_true")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    figures: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="rcp-fleet-bench-") as tmp:
        root = Path(tmp)
        figures["throughput"] = throughput(root / "a", args.tenants, args.concurrency)
        if not args.skip_rate_limited:
            figures["rate_limited"] = rate_limited(
                root / "b", args.rate_tenants, args.rate_concurrency
            )
            figures["hourly"] = hourly(root / "c", args.tenants, args.concurrency)
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    t = figures["throughput"]
    print(
        f"Throughput: {t['tenants']} tenants (default template), concurrency {t['concurrency']}, "
        "100 ms latency, 2 s readiness, limits not binding"
    )
    print(f"  one tenant's critical path  {t['critical_path_s']:6.2f} s (a single-tenant apply)")
    print(f"  ideal ⌈{t['tenants']}/{t['concurrency']}⌉ × path      {t['ideal_s']:6.2f} s")
    print(
        f"  apply wall time             {t['apply_s']:6.2f} s  (process: {t['process_wall_s']:.2f} s)"
    )
    print(f"  ratio                       {t['ratio']:6.2f}    (target ≤ 1.3)")
    print(f"  requests per tenant         {t['requests_per_tenant']:6.2f}    (target ≤ 12)")
    for request, count in t["breakdown_per_tenant"].items():
        print(f"      {count:5.2f}  {request}")
    print(f"  peak memory (apply process) {t['peak_rss_mib']:6.1f} MiB")
    if "rate_limited" in figures:
        r = figures["rate_limited"]
        print(
            f"Rate-limited: {r['tenants']} tenants = {r['creations']} creations, concurrency "
            f"{r['concurrency']}, sandbox and client at 20 creations per 10 s"
        )
        print(
            f"  exit {r['exit_code']}; apply {r['apply_s']:.2f} s; creates spanned "
            f"{r['creates_span_s']:.1f} s, i.e. {r['windows']} windows (target ≈ 3); "
            f"answered 429s: {r['answered_429']} (target ≤ 1)"
        )
        h = figures["hourly"]
        print(
            f"Render's hourly limit: {h['tenants']} tenants → exit {h['exit_code']} in "
            f"{h['process_wall_s']:.1f} s: {h['created']} created, {h['deferred']} deferred "
            f"(rerun after {h['retry_at']}), answered 429s: {h['answered_429']}"
        )


if __name__ == "__main__":
    main()
