"""Fleet apply at scale against `rcp sandbox serve` (issues #6, #10).

    .venv/bin/python benchmarks/fleet.py [--tenants 24] [--concurrency 8] [--skip-rate-limited]

1. Throughput: 24 tenants of the default template, 100 ms latency per request, 2 s readiness
   (deploys and datastores), concurrency 8, the sandbox's rate limits off (its headers report
   unspent buckets, so no limit binds). Reports the apply's wall time, the ideal
   (⌈24/8⌉ × one tenant's critical path, measured by applying a single tenant first), their
   ratio (target ≤ 1.3), requests per tenant from the sandbox's request log (target ≤ 12)
   with the breakdown, and the apply process's peak memory.
2. Render's default creation limits (20 per hour window, scaled to 10 s on both sides) with
   separate and with shared creation counters: 24 tenants = 48 creations, concurrency 24, the
   apply started at the beginning of a window. Reports the tenants finished and creations per
   window (targets: 20 tenants in the first window with separate counters, 10 with shared), the
   fraction of the create budget used in the windows before the last (goal ≥ 95 %), and
   answered 429s (target ≤ 1).
3. A raised quota of 1,000 creations per hour: the 24 tenants in one apply, no 429.
4. Render's real hourly windows: apply creates what fits (20 tenants with separate counters)
   and exits 75 with the time to rerun, without sending a create Render would refuse.
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
from urllib.parse import parse_qs

import httpx

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
    # Limits off: the sandbox counts nothing and its headers report unspent buckets, which the
    # client believes, so no limit binds.
    with sandbox_server(
        root,
        "--latency-ms",
        "100",
        "--deploy-seconds",
        "2",
        "--datastore-seconds",
        "2",
        "--rate-limits",
        "off",
    ) as url:
        env = client_env(root, url)
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


CREATE_PATHS = ("/v1/services", "/v1/postgres", "/v1/key-value", "/v1/redis")
RATE_SCALE = "1/360"  # 20 creations per 10 s
RATE_WINDOW = 10.0


def wait_for_window_start(window: float) -> None:
    """Start just after a window boundary of the clock (the sandbox's windows end on it), so
    the first window is a whole one and tenants-per-window figures compare."""
    into = time.time() % window
    if into > 0.05 * window:
        time.sleep(window - into + 0.05)


def per_window(requests: list[dict[str, Any]], window: float) -> dict[str, Any]:
    """Creations and finished tenants per clock window of the sandbox (a tenant counts in the
    window of its last successful create)."""
    creates = [r for r in requests if r["method"] == "POST" and r["path"] in CREATE_PATHS]
    done = [r for r in creates if r["status"] == 201]
    if not done:
        return {"windows": [], "answered_429": 0}
    first = min(math.floor(seconds_of(r["at"]) / window) for r in done)
    by_window: dict[int, dict[str, int]] = {}
    last_create: dict[str, int] = {}
    for r in done:
        index = math.floor(seconds_of(r["at"]) / window) - first
        row = by_window.setdefault(index, {"creations": 0, "tenants": 0})
        row["creations"] += 1
        tenant = str(r.get("name") or "").rsplit("-", 1)[0]  # <slug>-<key>
        last_create[tenant] = max(index, last_create.get(tenant, index))
    for index in last_create.values():
        by_window.setdefault(index, {"creations": 0, "tenants": 0})["tenants"] += 1
    rows = [
        {"window": i + 1, **by_window.get(i, {"creations": 0, "tenants": 0})}
        for i in range(max(by_window) + 1)
    ]
    return {"windows": rows, "answered_429": sum(1 for r in creates if r["status"] == 429)}


def rate_limited(root: Path, tenants: int, concurrency: int, counters: str) -> dict[str, Any]:
    """Render's default limits (20 creations per hour window, here per 10 s) with separate or
    shared creation counters: tenants per window and how much of the create budget was used."""
    with sandbox_server(
        root,
        "--latency-ms",
        "20",
        "--deploy-seconds",
        "0.5",
        "--datastore-seconds",
        "0.5",
        "--rate-window-scale",
        RATE_SCALE,
        "--create-counters",
        counters,
    ) as url:
        env = client_env(root, url, RCP_RATE_WINDOW_SCALE=RATE_SCALE)
        fleet = fleet_file(root / "rl.yaml", "rl", tenants)
        wait_for_window_start(RATE_WINDOW)
        code, data, wall, rss = apply(fleet, env, concurrency)
        requests = request_log(url)
    windows = per_window(requests, RATE_WINDOW)
    rows = windows["windows"]
    # Each window offers 20 creations per counter: two counters (services, Postgres) when they
    # are separate, one when shared. The last window only gets what was left over, so the
    # budget used is measured over the windows before it, where tenants were waiting.
    offered = 20 * (2 if counters == "separate" else 1)
    full = rows[:-1]
    used = sum(row["creations"] for row in full) / (offered * len(full)) if full else 1.0
    return {
        "counters": counters,
        "tenants": tenants,
        "concurrency": concurrency,
        "exit_code": code,
        "outcomes": dict(Counter(r["outcome"] for r in data["results"])),
        "per_window": rows,
        "budget_used": used,
        "answered_429": windows["answered_429"],
        "apply_s": data["seconds"],
        "process_wall_s": wall,
        "peak_rss_mib": rss / 1024,
    }


def raised_quota(root: Path, tenants: int, concurrency: int) -> dict[str, Any]:
    """A workspace whose creation quota Render raised to 1,000 per hour: one apply does it all."""
    with sandbox_server(
        root,
        "--latency-ms",
        "20",
        "--deploy-seconds",
        "0.5",
        "--datastore-seconds",
        "0.5",
        "--create-limit",
        "1000",
    ) as url:
        env = client_env(root, url)
        code, data, wall, _ = apply(fleet_file(root / "q.yaml", "q", tenants), env, concurrency)
        requests = request_log(url)
    return {
        "tenants": tenants,
        "exit_code": code,
        "outcomes": dict(Counter(r["outcome"] for r in data["results"])),
        "answered_429": sum(1 for r in requests if r["status"] == 429),
        "apply_s": data["seconds"],
        "process_wall_s": wall,
    }


def hourly(root: Path, tenants: int, concurrency: int) -> dict[str, Any]:
    with sandbox_server(
        root,
        "--latency-ms",
        "20",
        "--deploy-seconds",
        "0.5",
        "--datastore-seconds",
        "0.5",
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


RENDER_DEPLOY_PATH = re.compile(r"^/v1/services/([^/]+)(?:/deploys(?:/([^/]+))?)?$")


def world_state(url: str) -> dict[str, Any]:
    base = url.removesuffix("/v1")
    state: dict[str, Any] = httpx.get(f"{base}/__sandbox/state", timeout=60).json()
    return state


def detection_delays(state: dict[str, Any], latency: float) -> dict[str, list[float]]:
    """Real seconds from each resource's readiness on the sandbox to the first request of rcp
    that saw it: for a datastore a list filtered by its name (or a GET of it), for a service
    a GET of its create deploy (or of the service or its deploy list). A request sees the world
    ``latency`` after it arrives (the sandbox answers after the added latency)."""
    requests = [
        (seconds_of(r["at"]) + latency, r["method"], r["path"], r["query"])
        for r in state["requests"]
        if r["method"] == "GET" and r["status"] == 200
    ]
    delays: dict[str, list[float]] = {"postgres": [], "deploy": []}
    for db in state["postgres"]:
        ready = seconds_of(db["readyAt"])
        for at, _, path, query in requests:
            if at < ready:
                continue
            names = parse_qs(query).get("name", [""])[0].split(",")
            if (path == "/v1/postgres" and db["name"] in names) or path == f"/v1/postgres/{db['id']}":
                delays["postgres"].append(at - ready)
                break
    for service_id, deploys in state["deploys"].items():
        first = deploys[-1]  # newest first: the create's deploy is the last
        if first["status"] not in ("live", "deactivated") or not first.get("finishedAt"):
            continue
        ready = seconds_of(first["finishedAt"])
        for at, _, path, _ in requests:
            found = RENDER_DEPLOY_PATH.match(path)
            if at >= ready and found and found.group(1) == service_id:
                delays["deploy"].append(at - ready)
                break
    return delays


def render_profile(
    root: Path,
    tenants: int,
    concurrency: int,
    time_scale: float,
    latency_ms: float,
    dump: Path | None = None,
) -> dict[str, Any]:
    """Render's real durations (``--profile render``) on a scaled clock: requests per tenant,
    the worst readiness-detection delay in Render seconds and 429s. The workspace has a raised
    creation quota (1,000 per hour; Render's default 20 per hour would defer all but 20
    tenants, which is the rate-limited runs' subject, not this one's)."""
    scale = f"{time_scale:g}"
    with sandbox_server(
        root,
        "--profile",
        "render",
        "--time-scale",
        scale,
        "--latency-ms",
        f"{latency_ms:g}",
        "--create-limit",
        "1000",
    ) as url:
        env = client_env(root, url, RCP_RENDER_TIME_SCALE=scale)
        code, data, wall, rss = apply(
            fleet_file(root / "render.yaml", "rp", tenants), env, concurrency
        )
        state = world_state(url)
    if dump is not None:
        dump.write_text(json.dumps(state), encoding="utf-8")
    requests = state["requests"]
    delays = detection_delays(state, latency_ms / 1000.0)
    # Deploy polls per service, by when its tenant started: the first wave (nothing learned
    # yet) and the rest.
    order = sorted(state["services"], key=lambda service: service["createdAt"])
    polls = Counter(
        found.group(1)
        for r in requests
        if r["method"] == "GET" and (found := RENDER_DEPLOY_PATH.match(r["path"]))
    )
    first_wave = [polls[service["id"]] for service in order[:concurrency]]
    later = [polls[service["id"]] for service in order[concurrency:]]
    breakdown = Counter(shape(r) for r in requests)
    worst = {kind: max(values, default=0.0) * time_scale for kind, values in delays.items()}
    return {
        "tenants": tenants,
        "concurrency": concurrency,
        "time_scale": time_scale,
        "exit_code": code,
        "outcomes": dict(Counter(r["outcome"] for r in data["results"])),
        "requests": len(requests),
        "requests_per_tenant": len(requests) / tenants,
        "breakdown_per_tenant": {k: v / tenants for k, v in breakdown.most_common()},
        "worst_detection_render_s": worst,
        "mean_detection_render_s": {
            kind: (sum(values) / len(values) * time_scale if values else 0.0)
            for kind, values in delays.items()
        },
        "detected": {kind: len(values) for kind, values in delays.items()},
        "deploy_polls_first_wave": sum(first_wave) / max(len(first_wave), 1),
        "deploy_polls_later": sum(later) / max(len(later), 1),
        "answered_429": sum(1 for r in requests if r["status"] == 429),
        "apply_s": data["seconds"],
        "apply_render_min": data["seconds"] * time_scale / 60,
        "process_wall_s": wall,
        "peak_rss_mib": rss / 1024,
    }


def print_render_profile(r: dict[str, Any]) -> None:
    print(
        f"Render's durations (--profile render, --time-scale {r['time_scale']:g}): "
        f"{r['tenants']} tenants, concurrency {r['concurrency']}"
    )
    print(
        f"  exit {r['exit_code']} {r['outcomes']}; apply {r['apply_s']:.1f} s "
        f"= {r['apply_render_min']:.1f} Render minutes"
    )
    print(f"  requests per tenant         {r['requests_per_tenant']:6.2f}    (goal ≤ 12)")
    for request, count in r["breakdown_per_tenant"].items():
        print(f"      {count:6.2f}  {request}")
    for kind, worst in r["worst_detection_render_s"].items():
        mean = r["mean_detection_render_s"][kind]
        print(
            f"  detection delay, {kind:8s}  worst {worst:5.2f} s, mean {mean:5.2f} s of Render "
            f"time over {r['detected'][kind]} resources (goal ≤ 5 s)"
        )
    print(
        f"  deploy polls per service    {r['deploy_polls_first_wave']:6.2f} in the first wave of "
        f"{r['concurrency']}, {r['deploy_polls_later']:.2f} after"
    )
    print(f"  answered 429s               {r['answered_429']:6d}    (goal 0)")
    print(f"  peak memory (apply process) {r['peak_rss_mib']:6.1f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=24)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rate-tenants", type=int, default=24)
    # The rate-limited runs measure scheduling under Render's limit, so the workers must not be
    # the bottleneck: 20 tenants may start in one window.
    parser.add_argument("--rate-concurrency", type=int, default=24)
    parser.add_argument("--skip-rate-limited", action="store_true")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument(
        "--profile",
        choices=("fixed", "render"),
        default="fixed",
        help="render: only the run with Render's real durations on a scaled clock",
    )
    parser.add_argument("--time-scale", type=float, default=10.0)
    parser.add_argument("--latency-ms", type=float, default=5.0)
    parser.add_argument("--dump", type=Path, help="write the sandbox's world (JSON) here")
    args = parser.parse_args()
    figures: dict[str, Any] = {}
    if args.profile == "render":
        with tempfile.TemporaryDirectory(prefix="rcp-fleet-bench-") as tmp:
            figures["render_profile"] = render_profile(
                Path(tmp),
                100 if args.tenants == 24 else args.tenants,
                32 if args.concurrency == 8 else args.concurrency,
                args.time_scale,
                args.latency_ms,
                args.dump,
            )
        if args.json:
            print(json.dumps(figures, indent=2))
        else:
            print_render_profile(figures["render_profile"])
        return
    with tempfile.TemporaryDirectory(prefix="rcp-fleet-bench-") as tmp:
        root = Path(tmp)
        figures["throughput"] = throughput(root / "a", args.tenants, args.concurrency)
        if not args.skip_rate_limited:
            for counters in ("separate", "shared"):
                figures[f"rate_limited_{counters}"] = rate_limited(
                    root / f"b-{counters}", args.rate_tenants, args.rate_concurrency, counters
                )
            figures["raised_quota"] = raised_quota(
                root / "q", args.rate_tenants, args.rate_concurrency
            )
            figures["hourly"] = hourly(root / "c", args.tenants, args.rate_concurrency)
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
    for counters in ("separate", "shared"):
        r = figures.get(f"rate_limited_{counters}")
        if r is None:
            continue
        print(
            f"Render's default limits, {counters} creation counters: {r['tenants']} tenants, "
            f"concurrency {r['concurrency']}, windows of 10 s (--rate-window-scale {RATE_SCALE})"
        )
        for row in r["per_window"]:
            print(
                f"  window {row['window']}: {row['tenants']:3d} tenants, "
                f"{row['creations']:3d} creations"
            )
        print(
            f"  exit {r['exit_code']} {r['outcomes']}; apply {r['apply_s']:.1f} s; create budget "
            f"used {r['budget_used']:.0%} (goal ≥ 95 %); answered 429s: {r['answered_429']} "
            "(target ≤ 1)"
        )
    if "raised_quota" in figures:
        q = figures["raised_quota"]
        print(
            f"Raised quota (1,000 creations/hour): {q['tenants']} tenants → exit {q['exit_code']} "
            f"{q['outcomes']} in {q['apply_s']:.1f} s; answered 429s: {q['answered_429']}"
        )
        h = figures["hourly"]
        print(
            f"Render's hourly limit: {h['tenants']} tenants → exit {h['exit_code']} in "
            f"{h['process_wall_s']:.1f} s: {h['created']} created, {h['deferred']} deferred "
            f"(rerun after {h['retry_at']}), answered 429s: {h['answered_429']}"
        )


if __name__ == "__main__":
    main()
