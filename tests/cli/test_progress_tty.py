"""On a terminal, progress is a live table on stderr; stdout still carries only the result."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path


def test_live_view_on_a_tty_and_result_on_stdout(isolated_env: Path) -> None:
    env = dict(os.environ)
    env.update(
        {
            "RCP_SANDBOX": "1",
            "RCP_SANDBOX_DEPLOY_SECONDS": "0.3",
            "RCP_SANDBOX_DATASTORE_SECONDS": "0.3",
            "TERM": "xterm-256color",
            "COLUMNS": "120",
        }
    )
    env.pop("NO_COLOR", None)
    controller, terminal = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "rcp", "-o", "json", "tenant", "create", "acme"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=terminal,
        env=env,
    )
    os.close(terminal)
    screen = b""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ready, _, _ = select.select([controller], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # the terminal closed with the process
                break
            if not chunk:
                break
            screen += chunk
        elif proc.poll() is not None:
            break
    stdout, _ = proc.communicate(timeout=30)
    os.close(controller)
    assert proc.returncode == 0, screen.decode(errors="replace")[-2000:]
    text = screen.decode(errors="replace")
    assert "RESOURCE" in text and "STATE" in text and "ELAPSED" in text
    assert "✓" in text
    assert "acme: db: created" not in text  # the plain-line form is for pipes only
    assert json.loads(stdout)["data"]["status"] == "ACTIVE"
