"""Render's rollback (`POST /services/{id}/rollback`, spec operation rollback-deploy) in the
sandbox and through rcp's client and gateway."""

from __future__ import annotations

from sandbox_support import Sandbox


def test_rollback_runs_an_earlier_build_again(sandbox: Sandbox) -> None:
    service = sandbox.create_service("acme-web")["service"]
    first = sandbox.client.get(f"/services/{service['id']}/deploys").json()[0]["deploy"]
    sandbox.clock.advance(10)
    second = sandbox.client.post(f"/services/{service['id']}/deploys", json={}).json()
    assert second["commit"]["id"] != first["commit"]["id"]
    sandbox.clock.advance(10)
    response = sandbox.client.post(
        f"/services/{service['id']}/rollback", json={"deployId": first["id"]}
    )
    assert response.status_code == 201, response.text
    rolled = response.json()
    assert rolled["trigger"] == "rollback"
    assert rolled["commit"]["id"] == first["commit"]["id"]
    sandbox.clock.advance(10)
    deploys = [d["deploy"] for d in sandbox.client.get(f"/services/{service['id']}/deploys").json()]
    assert [d["status"] for d in deploys] == ["live", "deactivated", "deactivated"]


def test_rollback_refusals(sandbox: Sandbox) -> None:
    service = sandbox.create_service("acme-web")["service"]
    other = sandbox.create_service("beta-web")["service"]
    path = f"/services/{service['id']}/rollback"
    assert sandbox.client.post(path, json={}).status_code == 400
    running = sandbox.client.get(f"/services/{service['id']}/deploys").json()[0]["deploy"]
    # still building: it never went live, so there is no build to return to
    assert sandbox.client.post(path, json={"deployId": running["id"]}).status_code == 400
    foreign = sandbox.client.get(f"/services/{other['id']}/deploys").json()[0]["deploy"]
    assert sandbox.client.post(path, json={"deployId": foreign["id"]}).status_code == 404


def test_the_gateway_rolls_back_through_the_client(sandbox: Sandbox) -> None:
    from rcp.render.client import RenderClient
    from rcp.render.gateway import Gateway

    service = sandbox.create_service("acme-web")["service"]
    first = sandbox.client.get(f"/services/{service['id']}/deploys").json()[0]["deploy"]
    sandbox.clock.advance(10)
    with RenderClient(
        "rnd_test", base_url="http://sandbox.rcp/v1", transport=sandbox.transport
    ) as client:
        deploy_id = Gateway(client).rollback_deploy(service["id"], first["id"])
    assert deploy_id.startswith("dep-") and deploy_id != first["id"]
    latest = sandbox.client.get(f"/services/{service['id']}/deploys").json()[0]["deploy"]
    assert latest["id"] == deploy_id and latest["trigger"] == "rollback"
