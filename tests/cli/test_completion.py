"""Shell completion for bash, zsh and fish (issue 13 item 7), and examples in `--help`.

The scripts come from `rcp completion SHELL`; each shell then runs `rcp` with `_RCP_COMPLETE`
set. Tests run the installed entry point as a subprocess, the way a shell does, and, where the
shell is installed, the shell itself with the script loaded.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import Cli

BIN = Path(sys.executable).parent


def shell_env(**extra: str) -> dict[str, str]:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    env.update(extra)
    return env


def rcp(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "rcp"), *args],
        capture_output=True,
        text=True,
        env=shell_env(**env),
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


@pytest.mark.parametrize(
    ("shell", "registers"),
    [
        ("bash", "complete -o default -F _rcp_completion rcp"),
        ("zsh", "compdef _rcp_completion rcp"),
        ("fish", "complete --command rcp --no-files"),
    ],
)
def test_completion_prints_the_script(cli: Cli, shell: str, registers: str) -> None:
    result = cli("completion", shell)
    assert result.exit_code == 0, result.stderr
    assert registers in result.stdout
    assert f"_RCP_COMPLETE=complete_{shell}" in result.stdout
    assert result.stderr == ""


def test_completion_of_an_unknown_shell_is_usage_error(cli: Cli) -> None:
    result = cli("completion", "tcsh")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "tcsh" in result.stderr and "bash" in result.stderr


def test_clicks_spelling_of_the_source_instruction_works() -> None:
    """`_RCP_COMPLETE=bash_source rcp` (Click's documented form) used to say "Shell source not
    supported"; Typer's spelling `source_bash` works too."""
    for instruction in ("bash_source", "source_bash"):
        proc = rcp(_RCP_COMPLETE=instruction)
        assert proc.returncode == 0, proc.stderr
        assert "complete -o default -F _rcp_completion rcp" in proc.stdout
        assert proc.stderr == ""


def test_completion_requests_answer_commands_options_and_choices() -> None:
    bash = rcp(_RCP_COMPLETE="complete_bash", COMP_WORDS="rcp tenant del", COMP_CWORD="2")
    assert bash.returncode == 0, bash.stderr
    assert bash.stdout.split() == ["delete"]
    zsh = rcp(_RCP_COMPLETE="complete_zsh", _TYPER_COMPLETE_ARGS="rcp tenant create --if")
    assert zsh.returncode == 0, zsh.stderr
    assert '"--if-exists"' in zsh.stdout
    fish = rcp(
        _RCP_COMPLETE="complete_fish",
        _TYPER_COMPLETE_FISH_ACTION="get-args",
        _TYPER_COMPLETE_ARGS="rcp -o ",
    )
    assert fish.returncode == 0, fish.stderr
    assert fish.stdout.split() == ["human", "json"]


def run_shell(argv: list[str], script: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*argv, script],
        capture_output=True,
        text=True,
        env=shell_env(),
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")
def test_bash_completes_with_the_script_loaded() -> None:
    proc = run_shell(
        ["bash", "--norc", "-c"],
        'source <(rcp completion bash); COMP_WORDS=(rcp tenant del); COMP_CWORD=2; '
        '_rcp_completion rcp; printf "%s\\n" "${COMPREPLY[@]}"',
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["delete"]


@pytest.mark.skipif(shutil.which("zsh") is None, reason="zsh is not installed")
def test_zsh_completes_with_the_script_loaded() -> None:
    # Outside an interactive completion widget `_arguments` cannot run: a stand-in prints
    # what the script hands it, after the script's own `eval` of rcp's answer.
    proc = run_shell(
        ["zsh", "-f", "-c"],
        "autoload -U compinit && compinit -u -D; source <(rcp completion zsh); "
        'print -r -- "registered: $_comps[rcp]"; '
        '_arguments() { print -r -- "$@" }; words=(rcp tenant cr); CURRENT=3; _rcp_completion',
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[0] == "registered: _rcp_completion"
    assert '"create":"Record a tenant' in proc.stdout


@pytest.mark.skipif(shutil.which("fish") is None, reason="fish is not installed")
def test_fish_completes_with_the_script_loaded() -> None:
    proc = run_shell(
        ["fish", "--no-config", "-c"],
        'rcp completion fish | source; complete -C "rcp ten"; complete -C "rcp tenant cr"',
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("tenant\t")
    assert lines[1].startswith("create\t")


MAIN_COMMANDS = [
    ["tenant", "create"],
    ["tenant", "status"],
    ["tenant", "list"],
    ["tenant", "show"],
    ["tenant", "delete"],
    ["tenant", "check"],
    ["tenant", "env", "set"],
    ["template", "validate"],
    ["plan"],
    ["apply"],
    ["completion"],
]


def example_argv(line: str) -> list[str]:
    """An example line as argv, shell redirections dropped, with --help added so Click parses
    every option (an unknown one is an error) and prints the help instead of running."""
    words = shlex.split(line, comments=True)
    argv: list[str] = []
    skip = False
    for word in words[1:]:
        if skip:
            skip = False
        elif word in (">", "<", "2>"):
            skip = True
        else:
            argv.append(word)
    at = argv.index("--") if "--" in argv else len(argv)
    return [*argv[:at], "--help", *argv[at:]]


@pytest.mark.parametrize("command", MAIN_COMMANDS, ids=" ".join)
def test_help_of_main_commands_shows_examples(cli: Cli, command: list[str]) -> None:
    result = cli(*command, "--help")
    assert result.exit_code == 0, result.stderr
    assert "\n  Examples:\n" in result.stdout
    block = result.stdout.split("\n  Examples:\n", 1)[1].split("\n\n", 1)[0]
    examples = [line.strip() for line in block.splitlines()]
    assert examples
    for line in examples:
        # Each example invokes this very command with options it has (kept on one line).
        assert line.startswith("rcp ") and " ".join(command) in line, line
        parsed = cli(*example_argv(line))
        assert parsed.exit_code == 0, (line, parsed.stderr)
        assert parsed.stdout.startswith(f"Usage: rcp {' '.join(command)} "), line
