"""The HTTP front end (real sockets), the CLI, and one world shared by several users."""

from __future__ import annotations

import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import IO

import httpx
import pytest
from sandbox_support import MakeSandbox

from rcp.sandbox import SandboxSettings, SandboxTransport
from rcp.sandbox.server import SandboxHTTPServer, make_server

AUTH = {"Authorization": "Bearer http-test"}


@pytest.fixture
def http_server(tmp_path: Path) -> Iterator[SandboxHTTPServer]:
    server = make_server("127.0.0.1", 0, tmp_path / "http.db", SandboxSettings())
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    yield server
    server.stopping.set()
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def test_http_server_answers_like_render(http_server: SandboxHTTPServer) -> None:
    with httpx.Client(base_url=http_server.url, headers=AUTH, timeout=5) as client:
        owners = client.get("/owners")
        assert owners.status_code == 200
        assert owners.headers["Content-Type"] == "application/json; charset=utf-8"
        assert owners.headers["Ratelimit-Limit"] == "400"
        owner_id = owners.json()[0]["owner"]["id"]
        created = client.post(
            "/postgres",
            json={"name": "http-db", "ownerId": owner_id, "plan": "basic_256mb", "version": "16"},
        )
        assert created.status_code == 201
        deleted = client.delete(f"/postgres/{created.json()['id']}")
        assert (deleted.status_code, deleted.content) == (204, b"")
        assert client.get("/services", headers={"Authorization": ""}).status_code == 401


def test_http_drop_faults_close_the_socket(http_server: SandboxHTTPServer) -> None:
    with httpx.Client(base_url=http_server.url, headers=AUTH, timeout=5) as client:
        owner_id = client.get("/owners").json()[0]["owner"]["id"]
        client.post(
            "/__sandbox/faults",
            json=[
                {"method": "POST", "path": "/key-value", "nth": [1], "action": "drop_before"},
                {"method": "POST", "path": "/key-value", "nth": [2], "action": "drop_after"},
            ],
        )
        body = {"name": "http-kv", "ownerId": owner_id, "plan": "starter"}
        with pytest.raises(httpx.RemoteProtocolError):
            client.post("/key-value", json=body)
        assert client.get("/key-value").json() == []
        with pytest.raises(httpx.RemoteProtocolError):
            client.post("/key-value", json=body)
        assert len(client.get("/key-value").json()) == 1  # acted, answer lost


def test_http_hang_holds_the_connection(http_server: SandboxHTTPServer) -> None:
    with httpx.Client(base_url=http_server.url, headers=AUTH) as client:
        client.post(
            "/__sandbox/faults",
            json={"method": "GET", "path": "/users", "nth": [1], "action": "hang", "seconds": 5},
        )
        started = time.monotonic()
        with pytest.raises(httpx.ReadTimeout):
            client.get("/users", timeout=httpx.Timeout(5, read=0.3))
        assert time.monotonic() - started < 3
        assert client.get("/users", timeout=5).status_code == 200


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def read_line(stream: IO[str], timeout: float) -> str:
    """One line from a child's pipe, without hanging the test if it never comes."""
    ready, _, _ = select.select([stream], [], [], timeout)
    return stream.readline() if ready else ""


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_rcp_sandbox_serve_runs_until_signalled(
    tmp_path: Path, stop_signal: signal.Signals
) -> None:
    port = free_port()
    env = {
        **os.environ,
        "RCP_DATA_DIR": str(tmp_path / "data"),
        "RCP_CONFIG_DIR": str(tmp_path / "config"),
    }
    env.pop("RENDER_API_KEY", None)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "rcp",
            "sandbox",
            "serve",
            "--port",
            str(port),
            "--deploy-seconds",
            "0",
            "--owners",
            "2",
            "--create-limit",
            "1000",
            "--create-counters",
            "shared",
            "--profile",
            "render",
            "--time-scale",
            "60",
        ],
        env=env,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stderr is not None
        banner = read_line(process.stderr, timeout=30)
        assert f"http://127.0.0.1:{port}/v1" in banner, banner
        response = httpx.get(
            f"http://127.0.0.1:{port}/v1/owners", headers={"Authorization": "Bearer k"}, timeout=5
        )
        assert response.status_code == 200
        owners = [item["owner"]["id"] for item in response.json()]
        assert len(owners) == 2 and all(owner.startswith("tea-") for owner in owners)
        # A raised creation quota, one counter for every kind.
        created = httpx.post(
            f"http://127.0.0.1:{port}/v1/postgres",
            headers={"Authorization": "Bearer k"},
            json={
                "name": "q",
                "ownerId": owners[0],
                "plan": "basic_256mb",
                "version": "16",
            },
            timeout=5,
        )
        assert created.status_code == 201
        assert (created.headers["Ratelimit-Limit"], created.headers["Ratelimit-Remaining"]) == (
            "1000",
            "999",
        )
        settings = httpx.get(f"http://127.0.0.1:{port}/__sandbox/state", timeout=5).json()
        assert settings["settings"]["createCounters"] == "shared"
        # Render's durations at 60 Render seconds per second: the Postgres is ready 90–150
        # Render seconds (1.5–2.5 real seconds) after its create.
        assert (settings["settings"]["profile"], settings["settings"]["timeScale"]) == (
            "render",
            60,
        )
        (db,) = settings["postgres"]
        ready_in = datetime.fromisoformat(db["readyAt"]) - datetime.fromisoformat(db["createdAt"])
        assert 1.5 <= ready_in.total_seconds() < 2.5
        assert (tmp_path / "data" / "sandbox" / "render.db").exists()
        process.send_signal(stop_signal)
        assert process.wait(timeout=5) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_rcp_sandbox_reset_wipes_the_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from rcp.cli.sandbox import app, sandbox_state_path

    monkeypatch.setenv("RCP_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("RCP_CONFIG_DIR", str(tmp_path / "config"))
    state_path = sandbox_state_path()
    assert state_path == tmp_path / "data" / "sandbox" / "render.db"
    with httpx.Client(
        transport=SandboxTransport(state_path), base_url="http://sandbox.rcp/v1", headers=AUTH
    ) as client:
        first_owner = client.get("/owners").json()[0]["owner"]["id"]
        result = CliRunner().invoke(app, ["reset"])
        assert result.exit_code == 0, result.output
        assert client.get("/owners").json()[0]["owner"]["id"] != first_owner


def test_two_transports_on_one_file_see_one_world(
    make_sandbox: MakeSandbox, tmp_path: Path
) -> None:
    first = make_sandbox(state_path=tmp_path / "one.db")
    second = make_sandbox(state_path=tmp_path / "one.db")
    assert first.owner_id == second.owner_id
    created = first.create_service("shared-web")
    assert second.client.get(f"/services/{created['service']['id']}").json()["name"] == "shared-web"
    assert (
        second.client.post("/services", json=second.service_body("shared-web")).status_code == 409
    )


def test_concurrent_creates_from_many_transports_are_safe(tmp_path: Path) -> None:
    """Eight users at once, each with its own connection, racing for the same name too."""
    path = tmp_path / "race.db"
    settings = SandboxSettings(rate_limits="off")
    with httpx.Client(
        transport=SandboxTransport(path, settings), base_url="http://sandbox.rcp/v1", headers=AUTH
    ) as client:
        owner_id = client.get("/owners").json()[0]["owner"]["id"]
    results: list[tuple[str, int]] = []
    lock = threading.Lock()
    barrier = threading.Barrier(8)

    def user(index: int) -> None:
        with httpx.Client(
            transport=SandboxTransport(path, settings),
            base_url="http://sandbox.rcp/v1",
            headers=AUTH,
        ) as client:
            barrier.wait()
            for name in (f"own-{index}", "contested"):
                response = client.post(
                    "/services",
                    json={
                        "type": "background_worker",
                        "name": name,
                        "ownerId": owner_id,
                        "image": {"ownerId": owner_id, "imagePath": "nginx"},
                        "serviceDetails": {"runtime": "image"},
                    },
                )
                with lock:
                    results.append((name, response.status_code))

    threads = [threading.Thread(target=user, args=(index,)) for index in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    contested = sorted(status for name, status in results if name == "contested")
    assert contested == [201] + [409] * 7
    assert sorted(status for name, status in results if name != "contested") == [201] * 8
    with httpx.Client(
        transport=SandboxTransport(path, settings), base_url="http://sandbox.rcp/v1", headers=AUTH
    ) as client:
        assert len(client.get("/services", params={"limit": 100}).json()) == 9


def test_separate_processes_share_the_world(tmp_path: Path) -> None:
    path = tmp_path / "processes.db"
    script = (
        "import sys, httpx\n"
        "from pathlib import Path\n"
        "from rcp.sandbox import SandboxTransport\n"
        "c = httpx.Client(transport=SandboxTransport(Path(sys.argv[1])), base_url='http://s/v1',"
        " headers={'Authorization': 'Bearer k'})\n"
        "owner = c.get('/owners').json()[0]['owner']['id']\n"
        "r = c.post('/key-value', json={'name': sys.argv[2], 'ownerId': owner, 'plan': 'starter'})\n"
        "print(owner, r.status_code)\n"
    )
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(path), f"kv-{index}"],
            stdout=subprocess.PIPE,
            text=True,
        )
        for index in range(4)
    ]
    outputs = [process.communicate(timeout=60)[0].split() for process in processes]
    assert {owner for owner, _ in outputs} == {outputs[0][0]}  # one workspace, created once
    assert [status for _, status in outputs] == ["201"] * 4
    with httpx.Client(
        transport=SandboxTransport(path), base_url="http://s/v1", headers=AUTH
    ) as client:
        assert sorted(item["keyValue"]["name"] for item in client.get("/key-value").json()) == [
            f"kv-{index}" for index in range(4)
        ]
