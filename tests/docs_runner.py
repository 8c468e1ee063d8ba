"""Runs the fenced ``bash`` and ``python`` blocks of a docs/ page, in order,
in one folder: bash blocks in ``bash -euo pipefail`` with ``int8rt`` and
``python`` on PATH meaning this interpreter and this int8rt (a block made
only of ``int8rt ...`` commands calls the console script's entry point,
``int8rt.cli.main``, in-process instead, which saves an interpreter start
per command); python blocks in-process, sharing one namespace per page
(like a notebook). Other fences (``sh``, ``text``, ``cpp``...) are shown,
not run."""
from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import int8rt
from int8rt.cli import main as cli_main

DOCS = Path(__file__).resolve().parent.parent / "docs"
_FENCE = re.compile(r"^```(bash|python)[^\n]*\n(.*?)^```\s*$", re.M | re.S)


def blocks(page: str) -> list[tuple[str, str]]:
    """(language, code) of every runnable block of docs/<page>."""
    return _FENCE.findall((DOCS / page).read_text())


def shell_env(folder: Path) -> dict[str, str]:
    """An environment whose `int8rt` and `python` are this interpreter's."""
    bin_dir = folder / ".bin"
    bin_dir.mkdir(exist_ok=True)
    for name, command in (("int8rt", f'exec "{sys.executable}" -m int8rt.cli "$@"'),
                          ("python", f'exec "{sys.executable}" "$@"')):
        script = bin_dir / name
        script.write_text(f"#!/bin/sh\n{command}\n")
        script.chmod(0o755)
    package_parent = str(Path(int8rt.__file__).resolve().parent.parent)
    return dict(os.environ, PATH=f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
                PYTHONPATH=os.pathsep.join([package_parent, *filter(None, [os.environ.get("PYTHONPATH")])]))


def _cli_commands(code: str) -> list[list[str]] | None:
    """The argument lists of a block whose every command is ``int8rt ...``
    (plain words, no shell syntax), else None."""
    lines = [line for line in code.replace("\\\n", " ").splitlines() if line.strip()]
    commands = []
    for line in lines:
        words = shlex.split(line, comments=True)
        if not words or words[0] != "int8rt" or any(set(w) & set("|&;<>$`*?()") for w in words):
            return None
        commands.append(words[1:])
    return commands


def run_page(page: str, folder: Path, languages: tuple[str, ...] = ("bash", "python")) -> None:
    """Runs the page's blocks in ``folder``; an AssertionError names the block that failed."""
    env = shell_env(folder)
    namespace: dict = {"__name__": f"docs.{page}"}
    cwd = os.getcwd()
    try:
        os.chdir(folder)
        for i, (language, code) in enumerate(blocks(page), 1):
            if language not in languages:
                continue
            where = f"docs/{page}, block {i} ({language})"
            commands = _cli_commands(code) if language == "bash" else None
            if commands is not None:
                for argv in commands:
                    assert cli_main(argv) == 0, f"{where}: int8rt {' '.join(argv)} failed"
            elif language == "bash":
                r = subprocess.run(["bash", "-euo", "pipefail", "-c", code], cwd=folder, env=env,
                                   capture_output=True, text=True, timeout=600)
                assert r.returncode == 0, f"{where} exited {r.returncode}:\n{code}\n{r.stdout}\n{r.stderr}"
            else:
                exec(compile(code, where, "exec"), namespace)  # noqa: S102 - the docs' own code
    finally:
        os.chdir(cwd)
