"""The docs stand alone (issue 13 item 7): nothing shipped points outside the repository, every
link resolves, every command and option is documented, the README's set-up and quick start work
pasted into a shell in a fresh clone with a fresh HOME, and the package installs as a tool."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import PROJECT_ROOT

# What the project ships: a user's clone has these and nothing beside them.
SHIPPED = ["README.md", "pyproject.toml", "docs", "examples", "src"]
# References to the design notes, research and recordings that live outside the repository.
OUTSIDE = re.compile(
    r"\.\./shared|\bshared/(?:research|render-api|DESIGN)|DESIGN\.md|DESIGN §"
    r"|\bresearch/[\w.-]+\.md|\brender-api/[\w./-]+"
)


def shipped_files() -> Iterator[Path]:
    for entry in SHIPPED:
        path = PROJECT_ROOT / entry
        if path.is_file():
            yield path
            continue
        for file in sorted(path.rglob("*")):
            if file.is_file() and "__pycache__" not in file.parts and file.suffix != ".pyc":
                yield file


def test_nothing_shipped_refers_outside_the_repository() -> None:
    found = []
    for file in shipped_files():
        text = file.read_text(encoding="utf-8", errors="replace")
        for number, line in enumerate(text.splitlines(), 1):
            if OUTSIDE.search(line):
                found.append(f"{file.relative_to(PROJECT_ROOT)}:{number}: {line.strip()}")
    assert not found, (
        "shipped files refer to files outside the repository (cite docs/… instead):\n"
        + "\n".join(found)
    )


def test_the_outside_pattern_catches_what_it_should() -> None:
    for bad in ("see ../shared/DESIGN.md", "DESIGN §7", "research/render-api.md §5",
                "render-api/recordings/x.json", "the contract is shared/DESIGN.md"):
        assert OUTSIDE.search(bad), bad
    for fine in ("a shared SQLite file", "docs/reliability.md", "Render's API"):
        assert not OUTSIDE.search(fine), fine


def anchors(markdown: str) -> set[str]:
    """GitHub's heading anchors: lowercase, punctuation dropped, spaces → hyphens."""
    found = set()
    in_code = False
    for line in markdown.splitlines():
        if line.startswith("```"):
            in_code = not in_code
        if in_code or not line.startswith("#"):
            continue
        title = line.lstrip("#").strip().lower()
        found.add(re.sub(r"[^\w\- ]", "", title).replace(" ", "-"))
    return found


def test_every_link_in_readme_and_docs_resolves() -> None:
    pages = [PROJECT_ROOT / "README.md", *sorted((PROJECT_ROOT / "docs").glob("*.md"))]
    assert len(pages) >= 9
    broken = []
    for page in pages:
        text = page.read_text()
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"https?://", target):
                continue
            file_part, _, anchor = target.partition("#")
            destination = (page.parent / file_part).resolve() if file_part else page
            if not destination.exists():
                broken.append(f"{page.name}: {target} (no such file)")
            elif anchor and destination.suffix == ".md" and anchor not in anchors(
                destination.read_text()
            ):
                broken.append(f"{page.name}: {target} (no such heading)")
            elif PROJECT_ROOT not in destination.parents and destination != PROJECT_ROOT:
                broken.append(f"{page.name}: {target} (outside the repository)")
    assert not broken, "\n".join(broken)


def command_tree() -> Iterator[tuple[list[str], object]]:
    import typer

    from rcp.cli import app

    def walk(command: object, path: list[str]) -> Iterator[tuple[list[str], object]]:
        if path:
            yield path, command
        for name, sub in getattr(command, "commands", {}).items():
            yield from walk(sub, [*path, name])

    yield from walk(typer.main.get_command(app), [])


def test_every_command_and_option_is_documented() -> None:
    """Written from `rcp … --help`: a command or option the CLI has and docs/ lacks fails."""
    reference = (PROJECT_ROOT / "docs" / "commands.md").read_text().splitlines()
    everything = "\n".join(p.read_text() for p in (PROJECT_ROOT / "docs").glob("*.md"))
    missing = []
    for path, command in command_tree():
        if getattr(command, "hidden", False):
            continue  # not part of the interface users see
        parent = "rcp " + " ".join(path[:-1] or path)
        leaf = re.compile(rf"\b{re.escape(path[-1])}\b")
        if not any(parent in line and leaf.search(line) for line in reference):
            missing.append(f"command: rcp {' '.join(path)}")
        for param in getattr(command, "params", []):
            if getattr(param, "hidden", False):
                continue
            for option in [*param.opts, *getattr(param, "secondary_opts", [])]:
                if option.startswith("--") and option not in ("--help",) and option not in everything:
                    missing.append(f"option: rcp {' '.join(path)} {option}")
    assert not missing, "not in docs/:\n" + "\n".join(missing)


def readme_blocks(title: str) -> list[str]:
    text = (PROJECT_ROOT / "README.md").read_text()
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    section = text[start : end if end != -1 else len(text)]
    return re.findall(r"```bash\n(.*?)```", section, re.S)


def test_readme_set_up_is_two_commands_that_ci_runs_too() -> None:
    install, tests = readme_blocks("Set up")
    assert install.count("\n") == 1 and tests.count("\n") == 1, "one line each"
    assert "pip install -e '.[dev]'" in install and ". .venv/bin/activate" in install
    assert "rcp --sandbox tenant create" in install
    ci = (PROJECT_ROOT / ".ci" / "run").read_text()
    assert "pip install" in ci and "-e '.[dev]'" in ci
    assert tests.strip() in ci


def clean_environment(home: Path) -> dict[str, str]:
    """A new user's shell: fresh HOME, no rcp settings, no `rcp` on PATH."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("RCP_", "RENDER_", "XDG_", "VIRTUAL_ENV", "PYTEST", "_RCP"))
        and key not in ("CI", "DATABASE_URL", "PYTHONPATH", "PYTHONHOME")
    }
    env["HOME"] = str(home)
    path = [
        entry
        for entry in env.get("PATH", "").split(os.pathsep)
        if entry and not (Path(entry) / "rcp").exists()
    ]
    env["PATH"] = os.pathsep.join(path)
    # pip's own cache is not rcp state; reusing it only saves downloads.
    env.setdefault("PIP_CACHE_DIR", str(Path.home() / ".cache" / "pip"))
    # Faster sandbox readiness (documented settings), so the demo takes seconds.
    env["RCP_SANDBOX_DEPLOY_SECONDS"] = "0.3"
    env["RCP_SANDBOX_DATASTORE_SECONDS"] = "0.3"
    return env


def fresh_clone(tmp_path: Path) -> Path:
    if shutil.which("git") is None:
        pytest.skip("git is not installed: cannot make a fresh clone")
    clone = tmp_path / "clone"
    subprocess.run(
        ["git", "clone", "-q", str(PROJECT_ROOT), str(clone)], check=True, timeout=120
    )
    return clone


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is needed to paste the README")
def test_readme_set_up_and_quick_start_work_pasted_in_a_fresh_clone(tmp_path: Path) -> None:
    """The set-up installs from the package index this machine's pip is configured with (a
    network or a local mirror), exactly as a new user's paste would."""
    clone = fresh_clone(tmp_path)
    assert not (clone / ".." / "shared").exists()
    home = tmp_path / "home"
    home.mkdir()
    install, tests = readme_blocks("Set up")
    (quick_start,) = readme_blocks("Quick start")
    script = "\n".join(
        [
            "set -eo pipefail",
            "! command -v rcp >/dev/null || { echo 'rcp already on PATH' >&2; exit 99; }",
            install.strip(),
            # The README's test command, on one test (the whole suite runs in CI itself).
            f"{tests.strip()} -q -p no:cacheprovider -n 0 tests/cli/test_root.py::test_version",
            "echo '=== quick start'",
            quick_start.strip(),
        ]
    )
    proc = subprocess.run(
        ["bash", "-c", script],
        cwd=clone,
        env=clean_environment(home),
        capture_output=True,
        text=True,
        timeout=900,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    before, after = proc.stdout.split("=== quick start\n", 1)
    assert "1 passed" in before
    assert '"slug": "acme-corporation"' in after  # rcp tenant list -o json
    assert "deleted tenant acme-corporation" in after
    # The sandbox kept its state under the fresh HOME, nowhere else.
    assert (home / ".local" / "share" / "rcp" / "sandbox" / "render.db").exists()


@pytest.mark.slow
def test_the_wheel_is_render_control_plane_with_the_rcp_command(tmp_path: Path) -> None:
    clone = fresh_clone(tmp_path)
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path / "dist"),
         str(clone)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    (wheel,) = (tmp_path / "dist").glob("*.whl")
    assert wheel.name.startswith("render_control_plane-")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        info = next(n for n in names if n.endswith(".dist-info/METADATA"))
        metadata = archive.read(info).decode()
        entry_points = archive.read(info.replace("METADATA", "entry_points.txt")).decode()
    assert "\nName: render-control-plane\n" in metadata
    assert "rcp = rcp.cli:main" in entry_points
    # Package data a non-editable install needs at run time.
    for needed in ("rcp/core/builtin_templates/default.yaml", "rcp/core/prices.toml",
                   "rcp/store/migrations/env.py"):
        assert needed in names, needed
    assert any(n.startswith("rcp/store/migrations/versions/") for n in names)
    assert not any(n.startswith(("tests/", "shared/")) for n in names)


@pytest.mark.slow
@pytest.mark.skipif(
    shutil.which("pipx") is None and shutil.which("uv") is None,
    reason="neither pipx nor uv is installed here (docs/install.md's tool install)",
)
def test_tool_install_from_a_clone(tmp_path: Path) -> None:
    clone = fresh_clone(tmp_path)
    home = tmp_path / "home"
    home.mkdir()
    env = clean_environment(home)
    if shutil.which("pipx"):
        command = ["pipx", "install", "."]
        env.update(PIPX_HOME=str(tmp_path / "pipx"), PIPX_BIN_DIR=str(tmp_path / "bin"))
    else:
        command = ["uv", "tool", "install", "."]
        env.update(UV_TOOL_DIR=str(tmp_path / "uv"), UV_TOOL_BIN_DIR=str(tmp_path / "bin"))
    proc = subprocess.run(
        command, cwd=clone, env=env, capture_output=True, text=True, timeout=900
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    rcp = tmp_path / "bin" / "rcp"
    run = subprocess.run(
        [str(rcp), "--sandbox", "-o", "json", "tenant", "create", "acme"],
        env=env, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
    )
    assert run.returncode == 0, run.stderr
    assert '"status": "ACTIVE"' in run.stdout
