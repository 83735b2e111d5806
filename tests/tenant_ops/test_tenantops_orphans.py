"""Ownership by name: Render resources carrying a tenant's ``<slug>-<key>`` names that its record
does not hold — found by `tenant check`, adopted or deleted by `check --repair`, deleted by
`tenant delete`, and never duplicated by `tenant create`. Through the CLI against the in-process
sandbox; the orphans are made the way they arise (a lost database, an out-of-band create)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tenant_ops_helpers import Sandbox, create_tenant, ids, store_of

from tests.conftest import Cli


def check(cli: Cli, *args: str) -> tuple[int, Any, str]:
    result = cli("-o", "json", "tenant", "check", *args)
    return result.exit_code, result.json(), result.stderr


def named(sandbox: Sandbox, family: str, name: str) -> list[str]:
    """Ids of every resource of ``family`` on Render named ``name``."""
    wrapper = {"services": "service", "postgres": "postgres", "key-value": "keyValue"}[family]
    items = sandbox.call("GET", f"/{family}?limit=100", expect=200)
    return sorted(item[wrapper]["id"] for item in items if item[wrapper]["name"] == name)


def lose_database(isolated_env: Path) -> None:
    """The control-plane database is gone (a new machine, a lost volume): Render keeps it all."""
    for path in (isolated_env / "data" / "sandbox").glob("rcp.db*"):
        path.unlink()


def journal(slug: str) -> list[tuple[str, str, str | None, str | None]]:
    for store in store_of():
        return [(j.step, j.status, j.resource_key, j.render_id) for j in store.list_journal(slug)]
    return []


def test_check_reports_a_duplicate_and_deletes_it_only_when_asked(cli: Cli, sandbox: Sandbox) -> None:
    tenant = create_tenant(cli, "acme")
    recorded = ids(tenant)["db"]
    extra = sandbox.create_postgres("acme-db")
    duplicate = {
        "resource": "db",
        "problem": "duplicate",
        "detail": f"{extra} is also named acme-db; the record holds {recorded}",
        "repaired": False,
        "render_id": extra,
        "name": "acme-db",
    }

    code, document, stderr = check(cli, "acme")
    assert code == 5, document
    assert document == {
        "data": {
            "healthy": False,
            "tenants": [
                {"slug": "acme", "healthy": False, "status": "ACTIVE", "problems": [duplicate]}
            ],
        }
    }
    assert stderr.startswith("Error: 1 of 1 tenants unhealthy: acme\n")

    # --repair alone reports it and stays unhealthy: deleting needs the operator's word.
    code, document, _ = check(cli, "acme", "--repair")
    assert code == 5
    (problem,) = document["data"]["tenants"][0]["problems"]
    assert problem == {
        **duplicate,
        "detail": duplicate["detail"] + " (not deleted: rerun with --delete-duplicates)",
    }
    assert named(sandbox, "postgres", "acme-db") == sorted([recorded, extra])

    code, document, stderr = check(cli, "acme", "--repair", "--delete-duplicates")
    assert code == 0, document
    assert document["data"]["tenants"][0]["problems"] == [{**duplicate, "repaired": True}]
    assert f"deleted duplicate {extra}" in stderr
    assert named(sandbox, "postgres", "acme-db") == [recorded]  # the recorded one is kept
    assert ("delete_duplicate", "done", "db", extra) in journal("acme")
    assert check(cli, "acme")[0] == 0


def test_unrecorded_resource_is_reported_instead_of_not_created_and_adopted(
    cli: Cli, sandbox: Sandbox
) -> None:
    web = sandbox.create_web_service("newco-web")
    db = sandbox.create_postgres("newco-db")
    adopted = cli("-q", "-o", "json", "tenant", "adopt", "newco", "--resource", f"web={web}")
    assert adopted.exit_code == 0, adopted.stderr

    code, document, _ = check(cli, "newco")
    assert code == 5
    assert document["data"]["tenants"][0]["problems"] == [
        {
            "resource": "db",
            "problem": "unrecorded",
            "detail": f"{db} is named newco-db but no record holds it",
            "repaired": False,
            "render_id": db,
            "name": "newco-db",
        }
    ]

    code, document, stderr = check(cli, "newco", "--repair")
    assert code == 0, document
    assert document["data"]["tenants"][0]["problems"][0]["repaired"] is True
    assert document["data"]["tenants"][0]["status"] == "ACTIVE"
    assert f"adopted {db} by name" in stderr
    shown = cli("-o", "json", "tenant", "show", "newco").json()["data"]
    assert shown["render_service_ids"] == {"web": web, "db": db}
    assert named(sandbox, "postgres", "newco-db") == [db]  # adopted, nothing created
    assert ("adopt", "done", "db", db) in journal("newco")


def test_several_unrecorded_resources_stop_the_repair(cli: Cli, sandbox: Sandbox) -> None:
    web = sandbox.create_web_service("twin-web")
    first, second = sandbox.create_postgres("twin-db"), sandbox.create_postgres("twin-db")
    assert cli("-q", "tenant", "adopt", "twin", "--resource", f"web={web}").exit_code == 0

    code, document, _ = check(cli, "twin", "--repair", "--delete-duplicates")
    assert code == 5
    problems = document["data"]["tenants"][0]["problems"]
    assert sorted(p["render_id"] for p in problems) == sorted([first, second])
    assert all(p["problem"] == "unrecorded" and not p["repaired"] for p in problems)
    assert "an operator must choose" in problems[0]["detail"]
    # Neither was deleted, nothing was created: which one to keep is the operator's call.
    assert named(sandbox, "postgres", "twin-db") == sorted([first, second])
    assert sandbox.mutations()[-1][0] == "POST"  # the last write is still our own create


def test_delete_duplicates_needs_repair(cli: Cli, sandbox: Sandbox) -> None:
    result = cli("-o", "json", "tenant", "check", "acme", "--delete-duplicates")
    assert result.exit_code == 2
    assert result.json()["error"]["message"] == "--delete-duplicates needs --repair"
    assert sandbox.requests() == []


def test_all_unrecorded_sweeps_the_workspace_once(cli: Cli, sandbox: Sandbox) -> None:
    acme, beta = create_tenant(cli, "acme"), create_tenant(cli, "beta")
    extra = sandbox.create_postgres("acme-db")
    sandbox.create_postgres("nobody-db")  # no tenant of that slug: not rcp's to report
    sandbox.create_postgres("beta-cache")  # beta's template has no `cache` key
    assert check(cli, "--all")[0] == 0  # records only: what --all always did

    before = len(sandbox.requests())
    code, document, _ = check(cli, "--all", "--unrecorded")
    assert code == 5, document
    tenants = {t["slug"]: t for t in document["data"]["tenants"]}
    assert tenants["beta"]["healthy"] is True
    assert tenants["acme"]["problems"] == [
        {
            "resource": "db",
            "problem": "duplicate",
            "detail": f"{extra} is also named acme-db; the record holds {ids(acme)['db']}",
            "repaired": False,
            "render_id": extra,
            "name": "acme-db",
        }
    ]
    # Each kind of the whole workspace listed once (a page, and the empty page that ends the
    # list at most), without a name filter: not one lookup per tenant.
    lists = [
        (r["path"].removeprefix("/v1"), r["query"])
        for r in sandbox.requests()[before:]
        if r["method"] == "GET"
        and r["path"].removeprefix("/v1") in ("/services", "/postgres", "/key-value")
    ]
    assert {path for path, _ in lists} == {"/key-value", "/postgres", "/services"}
    assert all("name=" not in query for _, query in lists)
    assert len(lists) <= 6
    assert ids(beta)["db"] != extra

    code, document, _ = check(cli, "--all", "--unrecorded", "--repair", "--delete-duplicates")
    assert code == 0, document
    assert named(sandbox, "postgres", "acme-db") == [ids(acme)["db"]]


def world_names(sandbox: Sandbox, prefix: str) -> list[str]:
    """Every resource name on Render starting with ``prefix``."""
    found = []
    for family, wrapper in (("services", "service"), ("postgres", "postgres"), ("key-value", "keyValue")):
        for item in sandbox.call("GET", f"/{family}?limit=100", expect=200):
            if item[wrapper]["name"].startswith(prefix):
                found.append(item[wrapper]["name"])
    return sorted(found)


def test_delete_also_deletes_what_carries_the_tenants_names(cli: Cli, sandbox: Sandbox) -> None:
    tenant = create_tenant(cli, "acme")
    extra = sandbox.create_postgres("acme-db")
    result = cli("-o", "json", "tenant", "delete", "acme", "--yes")
    assert result.exit_code == 0, result.stderr
    data = result.json()["data"]
    assert data["deleted"] is True
    assert sorted(data["resources_deleted"]) == sorted([*ids(tenant).values(), extra])
    assert f"deleted {extra}" in result.stderr
    assert world_names(sandbox, "acme-") == []


def test_check_and_delete_leave_another_tenants_resource_alone(cli: Cli, sandbox: Sandbox) -> None:
    """A resource named like acme's key but recorded under another tenant is that tenant's;
    an unrecorded one of the same name is acme's."""
    tenant = create_tenant(cli, "acme")
    theirs = sandbox.create_postgres("acme-db")
    assert cli("-q", "tenant", "adopt", "other", "--resource", f"db={theirs}").exit_code == 0
    orphan = sandbox.create_postgres("acme-db")
    code, document, _ = check(cli, "acme")
    assert code == 5
    assert [p["render_id"] for p in document["data"]["tenants"][0]["problems"]] == [orphan]
    result = cli("-o", "json", "tenant", "delete", "acme", "--yes")
    assert result.exit_code == 0, result.stderr
    deleted = sorted(result.json()["data"]["resources_deleted"])
    assert deleted == sorted([*ids(tenant).values(), orphan])
    assert named(sandbox, "postgres", "acme-db") == [theirs]


def test_delete_after_an_older_backup_was_imported_leaves_nothing(
    cli: Cli, sandbox: Sandbox, isolated_env: Path
) -> None:
    """An older backup imported after `check --repair` recreated a service: the record holds
    the service that is gone, Render the one that replaced it."""
    tenant = create_tenant(cli, "acme")
    backup = isolated_env / "before.json"
    assert cli("backup", "export", str(backup)).exit_code == 0
    sandbox.delete("services", ids(tenant)["web"])
    repaired = cli("-o", "json", "tenant", "check", "acme", "--repair")
    assert repaired.exit_code == 0, repaired.stdout
    new_web = cli("-o", "json", "tenant", "show", "acme").json()["data"]["render_service_ids"]["web"]
    imported = cli("backup", "import", str(backup), "--overwrite")
    assert imported.exit_code == 0, imported.stderr

    code, document, _ = check(cli, "acme")
    assert code == 5
    problems = {(p["resource"], p["problem"], p.get("render_id")) for p in document["data"]["tenants"][0]["problems"]}
    assert problems == {("web", "missing", None), ("web", "duplicate", new_web)}

    result = cli("-o", "json", "tenant", "delete", "acme", "--yes")
    assert result.exit_code == 0, result.stderr
    assert sorted(result.json()["data"]["resources_deleted"]) == sorted([new_web, ids(tenant)["db"]])
    assert world_names(sandbox, "acme-") == []


def test_delete_lists_unrecorded_resources_before_asking(
    sandbox_env: dict[str, str], isolated_env: Path, cli: Cli, sandbox: Sandbox
) -> None:
    import os
    import pty
    import subprocess
    import sys

    tenant = create_tenant(cli, "acme")
    extra = sandbox.create_postgres("acme-db")
    controller, terminal = pty.openpty()
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "rcp", "tenant", "delete", "acme"],
        stdin=terminal,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    os.close(terminal)
    os.write(controller, b"n\n")
    _, stderr = proc.communicate(timeout=60)
    os.close(controller)
    text = stderr.decode()
    assert proc.returncode == 2, text
    web, db = ids(tenant)["web"], ids(tenant)["db"]
    listing = text[: text.index("Delete tenant acme and all its Render resources?")]
    assert listing.splitlines() == [
        "tenant acme: these Render resources will be deleted:",
        f"  web  {web}  acme-web",
        f"  db  {db}  acme-db",
        f"  db  {extra}  acme-db  (not recorded: carries the tenant's name)",
    ]
    assert "deletion not confirmed" in text
    assert world_names(sandbox, "acme-") == ["acme-db", "acme-db", "acme-web"]  # nothing deleted


def posts(sandbox: Sandbox) -> list[str]:
    return [path for method, path in sandbox.mutations() if method == "POST"]


def test_create_after_a_lost_database_refuses_and_names_the_adopt_command(
    cli: Cli, sandbox: Sandbox, isolated_env: Path
) -> None:
    import shlex

    tenant = create_tenant(cli, "Acme Corp")
    lose_database(isolated_env)
    before = posts(sandbox)

    result = cli("-o", "json", "tenant", "create", "Acme Corp")
    assert result.exit_code == 4, result.stdout
    error = result.json()["error"]
    web, db = ids(tenant)["web"], ids(tenant)["db"]
    assert error["code"] == "resource_exists"
    assert error["message"] == (
        f"Render already has acme-corp-db ({db}), acme-corp-web ({web}), carrying tenant "
        "acme-corp's names, and no record holds them (a lost database, or a create Render "
        "acted on after rcp gave up?)"
    )
    command = f"rcp tenant adopt acme-corp --name 'Acme Corp' --resource db={db} --resource web={web}"
    assert error["hint"] == (
        f"take them over with `{command}`, or rerun this command with --adopt-existing"
    )
    assert posts(sandbox) == before  # nothing created on Render
    assert cli("-o", "json", "tenant", "list").json()["data"] == []  # nor recorded

    # The command it names does what it says.
    adopted = cli("-o", "json", *shlex.split(command)[1:])
    assert adopted.exit_code == 0, adopted.stderr
    assert adopted.json()["data"]["render_service_ids"] == {"web": web, "db": db}
    assert adopted.json()["data"]["name"] == "Acme Corp"
    assert posts(sandbox) == before


def test_create_with_adopt_existing_takes_what_carries_its_names(
    cli: Cli, sandbox: Sandbox, isolated_env: Path
) -> None:
    tenant = create_tenant(cli, "acme")
    lose_database(isolated_env)
    before = posts(sandbox)
    result = cli("-o", "json", "tenant", "create", "acme", "--adopt-existing")
    assert result.exit_code == 0, result.stderr
    data = result.json()["data"]
    assert data["status"] == "ACTIVE"
    assert data["render_service_ids"] == ids(tenant)
    assert posts(sandbox) == before  # adopted, not created again
    assert world_names(sandbox, "acme-") == ["acme-db", "acme-web"]
    for key, render_id in ids(tenant).items():
        assert f"acme: {key}: adopted {render_id} by name" in result.stderr
        assert ("adopt", "done", key, render_id) in journal("acme")
    # A rerun of a tenant whose every resource exists looks nothing up.
    before = len(sandbox.requests())
    assert cli("-o", "json", "tenant", "create", "acme").exit_code == 0
    assert not [r for r in sandbox.requests()[before:] if "name=" in r["query"]]


def test_create_adopts_one_and_creates_the_rest(cli: Cli, sandbox: Sandbox) -> None:
    db = sandbox.create_postgres("half-db")
    refused = cli("-o", "json", "tenant", "create", "half")
    assert refused.exit_code == 4
    assert f"--resource db={db}`" in refused.json()["error"]["hint"]
    result = cli("-o", "json", "tenant", "create", "half", "--adopt-existing")
    assert result.exit_code == 0, result.stderr
    data = result.json()["data"]
    assert data["render_service_ids"]["db"] == db
    assert posts(sandbox)[-1] == "/services"  # only the web service was created
    assert world_names(sandbox, "half-") == ["half-db", "half-web"]


def test_create_with_several_resources_of_one_name_exits_5(cli: Cli, sandbox: Sandbox) -> None:
    first, second = sandbox.create_postgres("dup-db"), sandbox.create_postgres("dup-db")
    before = posts(sandbox)
    result = cli("-o", "json", "tenant", "create", "dup", "--adopt-existing")
    assert result.exit_code == 5, result.stdout
    message = result.json()["error"]["message"]
    assert first in message and second in message and "dup-db" in message
    assert posts(sandbox) == before
    assert cli("-o", "json", "tenant", "list").json()["data"] == []


def test_apply_refuses_a_new_tenant_whose_names_render_already_carries(
    cli: Cli, sandbox: Sandbox, tmp_path: Path
) -> None:
    """`rcp apply` of new tenants looks their names up as `tenant create` does — one list
    request per kind for the whole file — and refuses (exit 4) the tenant whose name an
    unrecorded resource carries; the others are created."""
    stray = sandbox.create_postgres("beta-db")
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text("tenants:\n  - name: alpha\n  - name: Beta Co\n    slug: beta\n")

    result = cli("-o", "json", "apply", str(fleet), "--yes")
    assert result.exit_code == 5, result.stderr  # apply: some tenant did not converge
    outcomes = {r["slug"]: r for r in result.json()["data"]["results"]}
    assert outcomes["alpha"]["outcome"] == "created"
    refused = outcomes["beta"]
    assert (refused["outcome"], refused["exit_code"]) == ("failed", 4)
    assert refused["error"].startswith(f"Render already has beta-db ({stray}), carrying tenant")
    assert cli("-o", "json", "tenant", "show", "beta").exit_code == 3  # nothing written
    assert named(sandbox, "postgres", "beta-db") == [stray]  # nor created twice
    assert named(sandbox, "services", "beta-web") == []

    # The hint's command takes it over; the next apply finishes the tenant around it.
    adopt = cli(
        "-o", "json", "tenant", "adopt", "beta", "--name", "Beta Co", "--resource", f"db={stray}"
    )
    assert adopt.exit_code == 0, adopt.stderr
    again = cli("-o", "json", "apply", str(fleet), "--yes")
    assert again.exit_code == 0, again.stderr
    tenant = cli("-o", "json", "tenant", "show", "beta").json()["data"]
    assert ids(tenant)["db"] == stray and tenant["status"] == "ACTIVE"
