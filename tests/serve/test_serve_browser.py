"""The dashboard in a real browser: headless Debian Chromium signs in with a read token, sees the
tenants and their statuses, follows a tenant link; screenshots go to test-artifacts/."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from serve_support import ServerProcess
from webdriver import Browser, find_chromium

from tests.conftest import PROJECT_ROOT, Cli

ARTIFACTS = PROJECT_ROOT / "test-artifacts"


@pytest.mark.slow
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_dashboard_in_headless_chromium(
    rcp: Cli,
    make_token: Callable[[str, str], str],
    start_server: Callable[..., ServerProcess],
) -> None:
    found = find_chromium()
    if found is None:
        pytest.skip("chromium/chromedriver not installed (.ci/run installs Debian's packages)")
    # Two tenants made by the CLI, side by side with the server; one name carries markup.
    assert rcp("tenant", "create", "Acme Corporation", "--slug", "acme-corp").exit_code == 0
    made = rcp("tenant", "create", "Globex & <b>Sons</b>", "--slug", "globex")
    assert made.exit_code == 0, made.stderr
    assert rcp("tenant", "suspend", "globex").exit_code == 0
    token = make_token("viewer", "read")
    server = start_server()

    browser = Browser(*found)
    try:
        browser.get(f"{server.url}/")
        assert browser.url.startswith(f"{server.url}/login")  # not signed in yet
        browser.type(browser.find("#token"), token)
        browser.click(browser.find("button[type=submit]"))
        assert browser.url == f"{server.url}/"
        rows = {
            browser.attribute(row, "data-slug"): browser.text(row)
            for row in browser.find_all("#tenants tbody tr")
        }
        assert set(rows) == {"acme-corp", "globex"}
        assert "ACTIVE" in rows["acme-corp"] and "Acme Corporation" in rows["acme-corp"]
        assert "SUSPENDED" in rows["globex"]
        # User data is text, never markup: the name shows its angle brackets.
        assert "Globex & <b>Sons</b>" in rows["globex"]
        assert browser.text(browser.find("#tenant-count")) == "2"
        shot = browser.screenshot(ARTIFACTS / "serve-dashboard.png")
        assert shot.stat().st_size > 1000

        link = next(
            a for a in browser.find_all("a.tenant-link") if browser.text(a) == "acme-corp"
        )
        browser.click(link)
        assert browser.url == f"{server.url}/tenants/acme-corp"
        assert browser.text(browser.find("#tenant-status")) == "ACTIVE"
        resources = browser.text(browser.find("#resources"))
        assert "acme-corp-web" in resources and "acme-corp-db" in resources
        assert "tenant create" in browser.text(browser.find("#audit"))
        shot = browser.screenshot(ARTIFACTS / "serve-tenant.png")
        assert shot.stat().st_size > 1000
    finally:
        browser.close()


def test_artifacts_dir_is_ignored_by_git() -> None:
    ignored = (PROJECT_ROOT / ".gitignore").read_text().splitlines()
    assert "test-artifacts/" in ignored
    assert isinstance(ARTIFACTS, Path)
