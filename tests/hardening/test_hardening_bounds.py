"""Issue 11 item 7: bounded work on bad input.

A 350-byte YAML "billion laughs" document (nine anchors, each aliasing the previous nine times:
387 million nodes when expanded) is refused in well under a second wherever rcp reads YAML —
templates, fleet files, sandbox fault files — and Render answers over 16 MiB are refused while
they stream in, not read into memory.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.conftest import Cli, CliResult

ALIAS_BOMB = """\
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""
# The same bomb where the parsers look for their content (services, tenants, a rule list).
BOMBS = {
    "template": ALIAS_BOMB + "services: *i\n",
    "fleet": ALIAS_BOMB + "tenants: *i\n",
}
SECONDS = 0.5  # "well under a second": the extra CPU time the document costs
GIVE_UP = 30.0  # today's main expands the bomb for minutes to hours (and gigabytes)
MEMORY_LIMIT = 2 << 30  # so a regression fails the test instead of exhausting the machine
SMALL = "services: []\ntenants: []\n"  # same commands, same exit 2, no aliases


def _limit_child() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def _cpu_of_children() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_bounded(args: list[str], env: dict[str, str] | None = None) -> tuple[CliResult, float]:
    """The CLI in a subprocess with a time and memory limit; its CPU seconds."""
    before = _cpu_of_children()
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "rcp", *args],
            env={**os.environ, **(env or {})},
            capture_output=True,
            text=True,
            timeout=GIVE_UP,
            stdin=subprocess.DEVNULL,
            preexec_fn=_limit_child,  # noqa: PLW1509 - no threads started in the child
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"rcp {' '.join(args)} still running after {GIVE_UP} s")
    return CliResult(proc.returncode, proc.stdout, proc.stderr), _cpu_of_children() - before


def refused_quickly(
    make_args: Callable[[Path], list[str]], path: Path, bomb: str, env: dict[str, str] | None = None
) -> CliResult:
    """Run the command on ``bomb`` and on a small document; the bomb may cost at most
    ``SECONDS`` of CPU more (start-up, imports and the machine's load cancel out)."""
    path.write_text(SMALL)
    _, baseline = run_bounded(make_args(path), env)
    path.write_text(bomb)
    result, spent = run_bounded(make_args(path), env)
    assert spent - baseline < SECONDS, (spent, baseline)
    return result


def test_the_bomb_is_small() -> None:
    assert len(ALIAS_BOMB.encode()) < 360


@pytest.mark.parametrize(
    "args",
    [
        ["template", "validate"],
        ["template", "show"],
        ["tenant", "create", "acme", "--template"],
    ],
    ids=["validate", "show", "create"],
)
def test_template_alias_bomb_is_refused_fast(isolated_env: Path, args: list[str]) -> None:
    result = refused_quickly(
        lambda path: ["-o", "json", *args, str(path)], isolated_env / "bomb.yaml", BOMBS["template"]
    )
    assert result.exit_code == 2, result.stderr
    error = result.json()["error"]
    assert error["code"] == "usage_error"
    assert "alias" in error["message"] and "bomb" in error["message"]


@pytest.mark.parametrize("command", ["plan", "apply"])
def test_fleet_alias_bomb_is_refused_fast(isolated_env: Path, command: str) -> None:
    extra = ["--yes"] if command == "apply" else []
    path = isolated_env / "fleet.yaml"
    result = refused_quickly(lambda p: [command, str(p), *extra], path, BOMBS["fleet"])
    assert result.exit_code == 2, result.stderr
    assert result.stderr.startswith(f"Error: fleet file {path}: refused: aliases expand")


def test_recursive_alias_is_refused(isolated_env: Path) -> None:
    path = isolated_env / "loop.yaml"
    bomb = "services: &s\n  - name: web\n    extra: *s\n"
    result = refused_quickly(lambda p: ["template", "validate", str(p)], path, bomb)
    assert result.exit_code == 2
    assert "recursive" in result.stderr


def test_ordinary_anchors_still_work(cli: Cli, isolated_env: Path) -> None:
    """Sharing a block with an anchor is legitimate: only the expansion budget is enforced."""
    path = isolated_env / "shared.yaml"
    path.write_text(
        "x-env: &env\n"
        "  - key: LOG_LEVEL\n"
        "    value: info\n"
        "services:\n"
        "  - type: web\n"
        "    name: web\n"
        "    runtime: node\n"
        "    repo: https://github.com/render-examples/express-hello-world\n"
        "    plan: starter\n"
        "    buildCommand: npm install\n"
        "    startCommand: npm start\n"
        "    envVars: *env\n"
    )
    from rcp.yamlsafe import load_bounded

    data = load_bounded(path.read_text())
    assert data["services"][0]["envVars"] == [{"key": "LOG_LEVEL", "value": "info"}]
    # A fleet file sharing one env block across 2,000 tenants is inside the budget too.
    fleet = "common: &common {A: '1', B: '2', C: '3', D: '4', E: '5'}\ntenants:\n" + "".join(
        f"  - {{name: t{index}, env: *common}}\n" for index in range(2000)
    )
    assert len(load_bounded(fleet)["tenants"]) == 2000


def test_sandbox_fault_file_bomb_is_refused(isolated_env: Path) -> None:
    path = isolated_env / "faults.yaml"
    bomb = ALIAS_BOMB + "rules: *i\n"
    # The flag is a usage error (exit 2) before anything listens.
    result = refused_quickly(
        lambda p: ["sandbox", "serve", "--port", "0", "--faults", str(p)], path, bomb
    )
    assert result.exit_code == 2, result.stderr
    assert "alias" in result.stderr
    # The in-process sandbox's variable is configuration (exit 6), refused as fast.
    result = refused_quickly(
        lambda p: ["tenant", "create", "acme"],
        path,
        bomb,
        env={"RCP_SANDBOX": "1", "RCP_SANDBOX_FAULTS": str(path)},
    )
    assert result.exit_code == 6, result.stderr
    assert "alias" in result.stderr


# ---------------------------------------------------------------- response size


class _Endless(httpx.SyncByteStream):
    """A 64 MiB body in 1 MiB chunks (endless for the client's purposes, finite so that a
    client without a limit fails the test instead of exhausting memory), counting what was
    pulled from it."""

    def __init__(self) -> None:
        self.pulled = 0

    def __iter__(self):  # type: ignore[no-untyped-def]
        chunk = b" " * (1 << 20)
        for _ in range(64):
            self.pulled += len(chunk)
            yield chunk


def _client(handler: httpx.MockTransport) -> object:
    from rcp.render.client import RenderClient

    return RenderClient("rnd_test_key_0000000000", transport=handler, sleep=lambda _s: None)


def test_endless_answer_is_refused_after_16_mib() -> None:
    from rcp.errors import RenderAPIError

    stream = _Endless()

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, stream=stream, headers={"Content-Type": "application/json"})

    client = _client(httpx.MockTransport(handler))
    with pytest.raises(RenderAPIError) as caught:
        client.list_owners()  # type: ignore[attr-defined]
    assert "larger than 16 MiB" in caught.value.message
    assert "GET /owners" in caught.value.message
    assert stream.pulled <= 17 << 20  # stopped reading, not buffered 150 MB


def test_declared_oversize_answer_is_refused_unread() -> None:
    from rcp.errors import RenderAPIError

    stream = _Endless()

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200, stream=stream, headers={"Content-Length": str(150 << 20)}
        )

    client = _client(httpx.MockTransport(handler))
    with pytest.raises(RenderAPIError, match="larger than 16 MiB"):
        client.get_user()  # type: ignore[attr-defined]
    assert stream.pulled == 0


def test_oversize_answer_through_the_cli_is_a_clear_error(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """End to end: a server streaming an endless body to `rcp health` (GET /users) makes the
    check fail with the size message, and the command returns in bounded memory."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - stdlib name
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            try:
                for _ in range(40):  # 40 MiB, more than the limit
                    self.wfile.write(b" " * (1 << 20))
            except (BrokenPipeError, ConnectionResetError):
                pass

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        monkeypatch.setenv("RENDER_API_URL", f"http://127.0.0.1:{server.server_port}/v1")
        monkeypatch.setenv("RENDER_API_KEY", "rnd_test_key_0000000000")
        result = cli("-o", "json", "health")
    finally:
        server.shutdown()
        server.server_close()
    assert result.exit_code == 1, result.stderr
    checks = {check["name"]: check for check in result.json()["data"]["checks"]}
    assert not checks["render_api"]["ok"]
    assert "larger than 16 MiB" in checks["render_api"]["detail"]
