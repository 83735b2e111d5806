"""Projects, environments and env groups on the sandbox (issue 14): the behaviour rcp relies on
beyond what the recordings replay (tests/sandbox/test_sandbox_replay.py replays those)."""

from __future__ import annotations

from typing import Any

from sandbox_support import Sandbox


def make_project(sandbox: Sandbox, name: str = "fleet") -> tuple[str, str]:
    response = sandbox.client.post(
        "/projects",
        json={
            "name": name,
            "ownerId": sandbox.owner_id,
            "environments": [{"name": "acme", "protectedStatus": "protected"}],
        },
    )
    assert response.status_code == 201, response.text
    project = response.json()
    return project["id"], project["environmentIds"][0]


def group_body(sandbox: Sandbox, name: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "ownerId": sandbox.owner_id,
        "envVars": [{"key": "SHARED", "value": "from-group"}],
        **extra,
    }


def test_environment_id_on_create_places_the_resource(sandbox: Sandbox) -> None:
    _, environment_id = make_project(sandbox)
    service = sandbox.create_service("acme-web", environmentId=environment_id)
    assert service["service"]["environmentId"] == environment_id
    environment = sandbox.client.get(f"/environments/{environment_id}").json()
    assert environment["serviceIds"] == [service["service"]["id"]]
    assert environment["databasesIds"] is None
    listed = sandbox.client.get("/services", params={"environmentId": environment_id}).json()
    assert [item["service"]["id"] for item in listed] == [service["service"]["id"]]
    unknown = sandbox.client.post(
        "/services", json=sandbox.service_body("x", environmentId="evm-00000000000000000000")
    )
    assert unknown.status_code == 400


def test_deleting_a_non_empty_environment_is_409(sandbox: Sandbox) -> None:
    project_id, environment_id = make_project(sandbox)
    service_id = sandbox.create_service("acme-web", environmentId=environment_id)["service"]["id"]
    refused = sandbox.client.delete(f"/environments/{environment_id}")
    assert refused.status_code == 409
    assert "still holds 1 resource" in refused.json()["message"]
    assert sandbox.client.delete(f"/projects/{project_id}").status_code == 409
    removed = sandbox.client.delete(
        f"/environments/{environment_id}/resources", params={"resourceIds": service_id}
    )
    assert removed.status_code == 204
    assert "environmentId" not in sandbox.client.get(f"/services/{service_id}").json()
    assert sandbox.client.delete(f"/environments/{environment_id}").status_code == 204
    assert sandbox.client.get(f"/environments/{environment_id}").status_code == 404
    assert sandbox.client.get(f"/projects/{project_id}").json()["environmentIds"] == []


def test_environment_settings_and_resources(sandbox: Sandbox) -> None:
    project_id, _ = make_project(sandbox)
    created = sandbox.client.post(
        "/environments",
        json={
            "name": "beta",
            "projectId": project_id,
            "networkIsolationEnabled": True,
            "ipAllowList": [{"cidrBlock": "10.0.0.0/8", "description": "office"}],
        },
    )
    assert created.status_code == 201
    environment = created.json()
    assert environment["protectedStatus"] == "unprotected"
    assert environment["networkIsolationEnabled"] is True
    assert environment["ipAllowList"] == [{"cidrBlock": "10.0.0.0/8", "description": "office"}]
    service_id = sandbox.create_service("beta-web")["service"]["id"]
    added = sandbox.client.post(
        f"/environments/{environment['id']}/resources", json={"resourceIds": [service_id]}
    )
    assert added.status_code == 201
    assert added.json()["serviceIds"] == [service_id]
    patched = sandbox.client.patch(
        f"/environments/{environment['id']}", json={"protectedStatus": "protected"}
    )
    assert patched.json()["protectedStatus"] == "protected"
    bad = sandbox.client.patch(f"/environments/{environment['id']}", json={"protectedStatus": "x"})
    assert bad.status_code == 400
    listed = sandbox.client.get("/environments", params={"projectId": project_id}).json()
    assert {item["environment"]["name"] for item in listed} == {"acme", "beta"}


def test_linking_keeps_other_links_and_reaches_the_next_deploy(sandbox: Sandbox) -> None:
    first = sandbox.create_service("one", envVars=[{"key": "OWN", "value": "mine"}])
    second = sandbox.create_service("two")
    first_id, second_id = first["service"]["id"], second["service"]["id"]
    group = sandbox.client.post("/env-groups", json=group_body(sandbox, "shared")).json()
    assert group["serviceLinks"] == []
    for service_id in (first_id, second_id):
        linked = sandbox.client.post(f"/env-groups/{group['id']}/services/{service_id}")
        assert linked.status_code == 200
    links = sandbox.client.get(f"/env-groups/{group['id']}").json()["serviceLinks"]
    assert [link["id"] for link in links] == [first_id, second_id]
    assert links[0] == {"id": first_id, "name": "one", "type": "web"}
    # The create's deploy started before the link: it did not see the group.
    assert sandbox.state()["deployEnv"][first["deployId"]] == {"OWN": "mine"}
    deploy = sandbox.client.post(f"/services/{first_id}/deploys", json={}).json()
    assert sandbox.state()["deployEnv"][deploy["id"]] == {"SHARED": "from-group", "OWN": "mine"}
    assert (
        sandbox.client.delete(f"/env-groups/{group['id']}/services/{first_id}").status_code == 204
    )
    links = sandbox.client.get(f"/env-groups/{group['id']}").json()["serviceLinks"]
    assert [link["id"] for link in links] == [second_id]
    # A deleted service leaves the group's links.
    assert sandbox.client.delete(f"/services/{second_id}").status_code == 204
    assert sandbox.client.get(f"/env-groups/{group['id']}").json()["serviceLinks"] == []


def test_group_variables_files_and_environment(sandbox: Sandbox) -> None:
    _, environment_id = make_project(sandbox)
    created = sandbox.client.post(
        "/env-groups", json=group_body(sandbox, "acme-config", environmentId=environment_id)
    )
    assert created.status_code == 201
    group_id = created.json()["id"]
    assert created.json()["environmentId"] == environment_id
    environment = sandbox.client.get(f"/environments/{environment_id}").json()
    assert environment["envGroupIds"] == [group_id]
    put = sandbox.client.put(f"/env-groups/{group_id}/env-vars/NEW", json={"value": "v"})
    assert [item["key"] for item in put.json()["envVars"]] == ["NEW", "SHARED"]
    assert sandbox.client.get(f"/env-groups/{group_id}/env-vars/NEW").json() == {
        "key": "NEW",
        "value": "v",
    }
    assert sandbox.client.delete(f"/env-groups/{group_id}/env-vars/NEW").status_code == 204
    assert sandbox.client.delete(f"/env-groups/{group_id}/env-vars/NEW").status_code == 404
    filed = sandbox.client.put(f"/env-groups/{group_id}/secret-files/f.txt", json={"content": "c"})
    assert filed.json()["secretFiles"] == [{"content": "c", "name": "f.txt"}]
    listed = sandbox.client.get("/env-groups", params={"name": "acme-config"}).json()
    assert [item["id"] for item in listed] == [group_id]
    assert "envVars" not in listed[0]
    assert sandbox.client.delete(f"/environments/{environment_id}").status_code == 409
    assert sandbox.client.delete(f"/env-groups/{group_id}").status_code == 204
    assert sandbox.client.delete(f"/environments/{environment_id}").status_code == 204
