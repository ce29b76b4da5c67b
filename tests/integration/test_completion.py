#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""seedctl's bash completion, run by bash as its completion loader would, and
held against `seedctl --help` so that the two cannot drift apart."""

import os
import re
import shutil
import subprocess

from seeddtest import Skip, check, main, SEEDCTL, target

COMPLETION = os.environ["SEEDCTL_COMPLETION"]
GLOBAL = {"--socket", "--help", "--version"}


def complete(line, cwd=None):
    """What <TAB> at the end of line offers: the completion's COMPREPLY."""
    script = ('source "$1"; read -ra COMP_WORDS <<< "$2"; [[ $2 == *" " ]] && COMP_WORDS+=("");'
              'COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); _seedctl; printf "%s\\n" "${COMPREPLY[@]}"')
    r = subprocess.run(["bash", "-c", script, "bash", COMPLETION, line], capture_output=True,
                       text=True, timeout=30, cwd=cwd)
    check(r.returncode == 0 and not r.stderr, "%r: exit %d: %s" % (line, r.returncode, r.stderr))
    return {w for w in r.stdout.splitlines() if w}


def help_commands():
    """{command: options} from the Commands: block of seedctl --help."""
    text = subprocess.run(target(SEEDCTL, "--help"), capture_output=True, text=True,
                          timeout=10).stdout
    cmds, cmd = {}, None
    for line in text.split("Commands:\n", 1)[1].split("\n\n", 1)[0].splitlines():
        m = re.match(r"^  ([a-z]+)\b(.*)", line)
        if m:
            cmd = m.group(1)
        if m or re.match(r"^ +\[--", line):
            synopsis = (m.group(2) if m else line.strip()).split("   ")[0]
            cmds.setdefault(cmd, set()).update(re.findall(r"--[a-z][a-z-]*", synopsis))
    return cmds


def test_completion(tmp):
    if not shutil.which("bash"):
        raise Skip("bash is not installed")
    r = subprocess.run(["bash", "-n", COMPLETION], capture_output=True, text=True)
    check(r.returncode == 0, "bash -n: %s" % r.stderr)
    cmds = help_commands()
    check(complete("seedctl ") == set(cmds), "commands: %s, help lists %s"
          % (complete("seedctl "), sorted(cmds)))
    check(complete("seedctl --") == GLOBAL, complete("seedctl --"))
    for cmd, opts in cmds.items():
        got = complete("seedctl %s --" % cmd)
        check(got == opts | GLOBAL, "seedctl %s --<TAB>: %s, --help says %s"
              % (cmd, sorted(got), sorted(opts | GLOBAL)))
        check(complete("seedctl --socket /s %s --" % cmd) == got, "after --socket: %s" % cmd)
    os.makedirs(tmp / "dir/sub")
    open(tmp / "dir/file", "w").close()
    cases = {
        "seedctl st": {"status"},
        "seedctl help ": set(cmds),
        "seedctl help status ": set(),
        "seedctl provision --bytes ": {"32", "64"},
        "seedctl get --bytes ": set(),
        "seedctl wait --timeout ": set(),
        "seedctl check --owner roo": {"root"},
        "seedctl --socket dir/": {"dir/sub", "dir/file"},
        "seedctl provision --key-file dir/f": {"dir/file"},
        "seedctl provision --count 9 --out-dir dir/": {"dir/sub"},
        "seedctl provision --count 9 --out-dir d --manifest dir/": {"dir/sub", "dir/file"},
        "seedctl check dir/": {"dir/sub", "dir/file"},
        "seedctl status extra": set(),
        "seedctl frobnicate --": set(),
    }
    for line, want in cases.items():
        got = complete(line, cwd=tmp.path)
        check(got == want, "%r: %s, want %s" % (line, sorted(got), sorted(want)))
    print("%d commands and their options as --help lists them; values of --bytes, --owner, "
          "paths" % len(cmds))


if __name__ == "__main__":
    main(globals())
