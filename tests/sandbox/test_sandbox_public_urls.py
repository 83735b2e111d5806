"""Services' public URLs (``https://<name>.onrender.com``) as the sandbox answers them: what
rcp rollout's health checks ask."""

from __future__ import annotations

from sandbox_support import Sandbox


def _app(sandbox: Sandbox, name: str, path: str = "/healthz") -> int:
    response = sandbox.client.get(
        f"https://{name}.onrender.com{path}", headers={"Host": f"{name}.onrender.com"}
    )
    return response.status_code


def test_public_urls_answer_while_live_and_obey_faults(sandbox: Sandbox) -> None:
    service = sandbox.create_service("acme-web")["service"]
    assert _app(sandbox, "acme-web") == 503  # building
    assert _app(sandbox, "nobody-web") == 404
    sandbox.clock.advance(10)
    assert _app(sandbox, "acme-web") == 200
    assert _app(sandbox, "acme-web", "/any/path") == 200
    rule = {"path": "/apps/acme-web/healthz", "action": "status", "status": 500}
    assert sandbox.client.post("/__sandbox/faults", json=rule).status_code == 201
    assert _app(sandbox, "acme-web") == 500
    assert _app(sandbox, "acme-web", "/other") == 200
    assert sandbox.client.post(f"/services/{service['id']}/suspend").status_code == 202
    assert _app(sandbox, "acme-web", "/other") == 503
    requests = sandbox.state()["requests"]
    assert not any("onrender" in r["path"] or r["path"].startswith("/healthz") for r in requests)
