"""A staged rollout of 200 tenants against `rcp sandbox serve` (issue 15).

    .venv/bin/python benchmarks/rollout.py [--tenants 200] [--concurrency 16] [--pause 10]

Setup (not measured): `rcp apply` makes the tenants of a one-web-service template (revision 1)
against a sandbox with its rate limits off; the sandbox is then restarted on the same world with
Render's limits (GET 400/min, other writes 100/min, PATCH/deploys 10/min per service), 20 ms
latency per request and 2 s deploys. Then the template gets revision 2 (an env var and the
start command change: one PATCH, one env PUT and one deploy per tenant) and
`rcp rollout start --waves 1,10%,50%,100% --pause-between P --health-path /healthz` runs as a
separate process.

Reported: the rollout's wall time against the ideal — per wave ⌈n / concurrency⌉ × one tenant's
critical path (wave 1's single tenant, measured), plus the pauses, and no faster than what
Render's buckets allow for the requests the rollout sends (the per-service bucket: its PATCH
and deploy per tenant; GET and other-write buckets for the whole run) — their ratio, and the
requests per tenant with their breakdown from the sandbox's request log.
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
from pathlib import Path
from typing import Any

import httpx

ID_SEGMENT = re.compile(r"/(srv|dpg|red|crn|dep|evm)-[a-z0-9]+(-a)?")
TEMPLATE = """\
version: "{version}"
services:
  - type: web
    name: web
    runtime: node
    repo: https://github.com/acme/app
    branch: main
    buildCommand: npm ci
    startCommand: {start}
    plan: starter
    healthCheckPath: /healthz
    envVars:
      - key: FEATURE
        value: "{feature}"
"""
# Render's limits per minute (docs/reliability.md), as the sandbox applies them.
LIMITS = {"GET": 400, "writes": 100, "per_service": 10}


@contextmanager
def sandbox_server(root: Path, *options: str, port: int = 0) -> Iterator[str]:
    """`rcp sandbox serve` (on a free port unless given), its world in ``root/server``; yields
    the API URL. Restarted on the same port: records remember the API URL they were made at."""
    env = {**os.environ, "RCP_DATA_DIR": str(root / "server"), "RCP_CONFIG_DIR": str(root / "x")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "rcp", "sandbox", "serve", "--port", str(port), *options],
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


def client_env(root: Path, url: str) -> dict[str, str]:
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
    return env


def write_template(root: Path, version: int) -> None:
    templates = root / "cfg" / "templates"
    templates.mkdir(parents=True, exist_ok=True)
    text = TEMPLATE.format(
        version=version,
        start="npm start" if version == 1 else "npm run serve",
        feature="off" if version == 1 else "on",
    )
    (templates / "bench.yaml").write_text(text, encoding="utf-8")


def rcp(env: dict[str, str], *args: str, timeout: float = 1800) -> tuple[int, Any, float, str]:
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "rcp", "-o", "json", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    wall = time.perf_counter() - started
    data = json.loads(proc.stdout)["data"] if proc.stdout.strip() else None
    return proc.returncode, data, wall, proc.stderr


def request_log(url: str) -> list[dict[str, Any]]:
    state = httpx.get(f"{url.removesuffix('/v1')}/__sandbox/state", timeout=60).json()
    requests: list[dict[str, Any]] = state["requests"]
    return requests


def shape(request: dict[str, Any]) -> str:
    return f"{request['method']} {ID_SEGMENT.sub('/{id}', request['path']).removeprefix('/v1')}"


def bucket(request: dict[str, Any]) -> str:
    path = request["path"].removeprefix("/v1")
    if request["method"] == "GET":
        return "GET"
    if re.fullmatch(r"/services/[^/]+(/(deploys|rollback|suspend|resume|scale))?", path) and (
        request["method"] == "PATCH" or request["method"] == "POST"
    ):
        return "per_service"
    return "writes"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--pause", type=float, default=10.0, help="seconds between waves")
    parser.add_argument("--deploy-seconds", type=float, default=2.0)
    args = parser.parse_args()
    waves = "1,10%,50%,100%"
    with tempfile.TemporaryDirectory(prefix="rcp-rollout-bench-") as tmp:
        root = Path(tmp)
        write_template(root, 1)
        fleet = root / "fleet.yaml"
        fleet.write_text(
            "tenants:\n"
            + "".join(
                f"  - name: Tenant {i:03d}\n    template: bench\n" for i in range(args.tenants)
            ),
            encoding="utf-8",
        )
        with sandbox_server(root, "--rate-limits", "off", "--deploy-seconds", "0.5") as url:
            code, data, wall, err = rcp(client_env(root, url), "apply", str(fleet), "-c", "16")
            assert code == 0, err[-2000:]
            print(f"setup: {args.tenants} tenants applied in {wall:.1f} s", file=sys.stderr)
            port = int(url.rsplit(":", 1)[1].split("/", 1)[0])
        write_template(root, 2)
        with sandbox_server(
            root,
            "--latency-ms",
            "20",
            "--deploy-seconds",
            str(args.deploy_seconds),
            "--create-limit",
            "1000",
            port=port,
        ) as url:
            before = len(request_log(url))
            code, data, wall, err = rcp(
                client_env(root, url),
                "rollout",
                "start",
                "bench",
                "--waves",
                waves,
                "--pause-between",
                f"{args.pause:g}s",
                "--health-path",
                "/healthz",
                "-c",
                str(args.concurrency),
            )
            assert code == 0, err[-3000:]
            requests = request_log(url)[before:]
    sizes = [len(wave["tenants"]) for wave in data["waves"]]
    critical = data["waves"][0]["tenant_results"][0]["seconds"]
    deploy_bound = sum(math.ceil(n / args.concurrency) for n in sizes) * critical
    pauses = (len(sizes) - 1) * args.pause
    per_bucket = Counter(bucket(r) for r in requests)
    per_service = Counter(
        ID_SEGMENT.search(r["path"]).group(0)  # type: ignore[union-attr]
        for r in requests
        if bucket(r) == "per_service"
    )

    # No faster than Render's buckets allow the requests it sent: n requests on a bucket of L per
    # minute need k = ⌈n / L⌉ windows; windows are aligned on the clock, so the first may be
    # nearly over when the run starts: at least (k - 2) whole minutes pass.
    def bound(count: int, limit: int) -> float:
        return 60.0 * max(0, math.ceil(count / limit) - 2)

    bucket_bounds = {name: bound(per_bucket[name], LIMITS[name]) for name in ("GET", "writes")}
    bucket_bounds["per_service"] = bound(
        max(per_service.values(), default=0), LIMITS["per_service"]
    )
    ideal = max(deploy_bound + pauses, *(bound for bound in bucket_bounds.values()))
    rollout_s = data["seconds"]
    breakdown = Counter(shape(r) for r in requests)
    result = {
        "tenants": args.tenants,
        "waves": sizes,
        "concurrency": args.concurrency,
        "pause_between_s": args.pause,
        "deploy_seconds": args.deploy_seconds,
        "critical_path_s": critical,
        "ideal_deploys_plus_pauses_s": round(deploy_bound + pauses, 2),
        "bucket_bounds_s": {k: round(v, 2) for k, v in bucket_bounds.items()},
        "ideal_s": round(ideal, 2),
        "rollout_s": rollout_s,
        "process_wall_s": round(wall, 2),
        "ratio": round(rollout_s / ideal, 3),
        "requests": len(requests),
        "requests_per_tenant": round(len(requests) / args.tenants, 2),
        "requests_per_bucket": dict(per_bucket),
        "per_service_requests_max": max(per_service.values(), default=0),
        "answered_429": sum(1 for r in requests if r["status"] == 429),
        "breakdown_per_tenant": {k: round(v / args.tenants, 2) for k, v in breakdown.most_common()},
        "counts": data["counts"],
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
