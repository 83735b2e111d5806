"""A minimal W3C WebDriver client over HTTP (httpx, already a dependency) for Debian's
``chromium`` + ``chromedriver``: enough to open pages, type, click, read text and take
screenshots, without a browser-automation package."""

from __future__ import annotations

import base64
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ELEMENT = "element-6066-11e4-a52e-4f735466cecf"  # the W3C element reference key
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1280,900",
]


def find_chromium() -> tuple[str, str] | None:
    """(chromium, chromedriver) paths, or None when either is missing."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if browser is None or driver is None:
        return None
    return browser, driver


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Browser:
    def __init__(self, chromium: str, chromedriver: str) -> None:
        self._profile = tempfile.TemporaryDirectory(prefix="rcp-chromium-")
        port = _free_port()
        self._driver = subprocess.Popen(
            [chromedriver, f"--port={port}"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self._http = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60)
        deadline = time.monotonic() + 20
        while True:
            try:
                if self._http.get("/status").json()["value"]["ready"]:
                    break
            except (httpx.TransportError, ValueError, KeyError):
                pass
            if time.monotonic() > deadline:
                self.close()
                raise RuntimeError("chromedriver did not become ready")
            time.sleep(0.1)
        args = [*CHROMIUM_FLAGS, f"--user-data-dir={self._profile.name}"]
        created = self._call(
            "POST",
            "/session",
            {
                "capabilities": {
                    "alwaysMatch": {
                        "browserName": "chrome",
                        "goog:chromeOptions": {"binary": chromium, "args": args},
                    }
                }
            },
        )
        self._session = f"/session/{created['sessionId']}"

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        response = self._http.request(method, path, json=body if method == "POST" else None)
        data = response.json()
        if response.status_code >= 400:
            raise RuntimeError(f"webdriver {method} {path}: {data.get('value')}")
        return data.get("value")

    def _session_call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        return self._call(method, self._session + path, body if body is not None else {})

    def get(self, url: str) -> None:
        self._session_call("POST", "/url", {"url": url})

    @property
    def url(self) -> str:
        return str(self._session_call("GET", "/url"))

    @property
    def title(self) -> str:
        return str(self._session_call("GET", "/title"))

    def find(self, css: str) -> str:
        found = self._session_call("POST", "/element", {"using": "css selector", "value": css})
        return str(found[ELEMENT])

    def find_all(self, css: str) -> list[str]:
        found = self._session_call("POST", "/elements", {"using": "css selector", "value": css})
        return [str(item[ELEMENT]) for item in found]

    def text(self, element: str) -> str:
        return str(self._session_call("GET", f"/element/{element}/text"))

    def attribute(self, element: str, name: str) -> str | None:
        value = self._session_call("GET", f"/element/{element}/attribute/{name}")
        return None if value is None else str(value)

    def type(self, element: str, text: str) -> None:
        self._session_call("POST", f"/element/{element}/value", {"text": text})

    def click(self, element: str) -> None:
        self._session_call("POST", f"/element/{element}/click")

    def screenshot(self, path: Path) -> Path:
        png = base64.b64decode(self._session_call("GET", "/screenshot"))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(png)
        return path

    def close(self) -> None:
        try:
            if hasattr(self, "_session"):
                self._http.delete(self._session)
        except httpx.HTTPError:
            pass
        self._http.close()
        self._driver.terminate()
        try:
            self._driver.wait(10)
        except subprocess.TimeoutExpired:
            self._driver.kill()
        self._profile.cleanup()
