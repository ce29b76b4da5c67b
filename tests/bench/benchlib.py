# SPDX-License-Identifier: MIT
"""Shared by run-bench.py and syscalls.py: builds, daemons, strace output; the
daemon start-up, probes and statistics are tests/lib/seeddtest's."""
import json
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import seeddtest  # noqa: E402


class BenchError(Exception):
    """Something broke: the run's exit status becomes non-zero."""


def env_num(name, default, kind=float):
    v = os.environ.get(name)
    if not v:
        return default
    try:
        return kind(v)
    except ValueError:
        sys.exit(f"{os.path.basename(sys.argv[0])}: {name}={v!r} is not a number")


def env_list(name, default, kind=int):
    v = os.environ.get(name)
    if not v:
        return default
    try:
        return [kind(x) for x in v.split(",")]
    except ValueError:
        sys.exit(f"{os.path.basename(sys.argv[0])}: {name} must be a comma-separated list")


def vm_rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise BenchError(f"/proc/{pid}/status has no VmRSS")


def fs_type(path):
    """Filesystem type of the mount holding path, from /proc/self/mounts."""
    path = os.path.realpath(path)
    best, kind = "", "unknown"
    try:
        with open("/proc/self/mounts") as f:
            for line in f:
                fields = line.split()
                mnt = fields[1].replace("\\040", " ")
                if (path == mnt or path.startswith(mnt.rstrip("/") + "/")) and len(mnt) > len(best):
                    best, kind = mnt, fields[2]
    except OSError:
        pass
    return kind


def run_json(cmd, env=None, timeout=600, stdin=subprocess.DEVNULL):
    """Runs a benchmark program that prints one JSON object last."""
    try:
        p = subprocess.run(cmd, env=env, stdin=stdin, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise BenchError(f"{os.path.basename(cmd[0])} did not finish in {timeout:g} s") from None
    try:
        res = json.loads(p.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        raise BenchError(f"{' '.join(map(str, cmd))} failed ({p.returncode}):\n"
                         f"{p.stderr}") from None
    res["exit_status"] = p.returncode
    if p.stderr.strip():
        res["stderr"] = p.stderr.strip()
    return res


class Build:
    """One seedd and the libseedclient its clients load."""

    def __init__(self, name, seedd, lib, once):
        self.name = name
        self.seedd = os.path.abspath(seedd)
        self.lib = os.path.abspath(lib) if lib else None
        if not os.access(self.seedd, os.X_OK):
            raise BenchError(f"{self.seedd}: not an executable seedd")
        if self.lib and not os.path.isfile(os.path.join(self.lib, "libseedclient.so.0")):
            raise BenchError(f"{self.lib}: no libseedclient.so.0 in this directory")
        p = subprocess.run([self.seedd, "--version"], stdout=subprocess.PIPE, text=True)
        self.version = p.stdout.strip()
        self.help = subprocess.run([self.seedd, "--help"], stdout=subprocess.PIPE,
                                   text=True).stdout
        self.lib_loaded = self._resolve(once)
        if self.lib and os.path.dirname(self.lib_loaded) != os.path.realpath(self.lib):
            raise BenchError(f"the {name} clients load {self.lib_loaded}, not the library "
                             f"in {self.lib}")

    def _resolve(self, once):
        """Which libseedclient the dynamic loader picks for the clients, as ldd does."""
        env = dict(os.environ, LD_TRACE_LOADED_OBJECTS="1", **self.lib_vars())
        out = subprocess.run([once], env=env, stdout=subprocess.PIPE, text=True).stdout
        m = re.search(r"libseedclient\.so\.0 => (\S+)", out)
        if not m:
            raise BenchError(f"{once} does not load libseedclient.so.0:\n{out}")
        return os.path.realpath(m.group(1))

    def supports(self, option):
        return re.search(rf"(^|\s){re.escape(option)}(\s|=|$)", self.help, re.M) is not None

    def lib_vars(self):
        if not self.lib:
            return {}
        old = os.environ.get("LD_LIBRARY_PATH")
        return {"LD_LIBRARY_PATH": self.lib + (":" + old if old else "")}

    def client_vars(self, sock, **extra):
        return dict(SEEDD_SOCKET=sock, **self.lib_vars(), **extra)

    def client_env(self, sock, **extra):
        return dict(os.environ, **self.client_vars(sock, **extra))


def assignments(variables):
    """NAME=VALUE words for the C drivers' commands."""
    return [f"{k}={v}" for k, v in variables.items()]


def provision(path, nbytes=64):
    """A seed file as seedctl provision writes it, so that a start is a restart."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, os.urandom(nbytes))
        os.fsync(fd)
    finally:
        os.close(fd)


class Daemon(seeddtest.Daemon):
    """A seedd of one build on a private directory of its own under base,
    started on a provisioned seed file; stop() checks it exits 0."""

    def __init__(self, build, base, name, args=()):
        tmp = seeddtest.TempDir(prefix=f"{name}-", base=base)
        super().__init__(tmp, *args, program=build.seedd)
        self.build = build
        self.dir = tmp.path
        provision(self.seed_file)
        try:
            self.start(timeout=30)
        except AssertionError as e:
            self.stop(check=False)
            raise BenchError(f"{build.name} seedd did not start: {e}") from None
        self.pid = self.proc.pid

    def stop(self, check=True):
        try:
            rc = super().stop(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        if check and rc != 0:
            raise BenchError(f"{self.build.name} seedd exited {rc} on SIGTERM:\n{self.log()}")
        return rc

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop(check=exc[0] is None)


# One line of `strace -f -ttt -T`: [pid] time name(args) = ret [error] <duration>.
STRACE_LINE = re.compile(r"^(?:(\d+)\s+)?(\d+\.\d+)\s+(.*)$")
STRACE_CALL = re.compile(r"^(\w+)\((.*)\)\s+=\s+(0x[0-9a-f]+|-?\d+|\?)(.*?)(?:\s+<([\d.]+)>)?$")
STRACE_UNFINISHED = re.compile(r"^(\w+)\((.*)\s+<unfinished \.\.\.>$")
STRACE_RESUMED = re.compile(r"^<\.\.\. (\w+) resumed>(.*)\)\s+=\s+(0x[0-9a-f]+|-?\d+|\?)(.*?)"
                            r"(?:\s+<([\d.]+)>)?$")


def parse_strace(path):
    """Calls of an strace -ttt -T log, in order, with split calls joined up."""
    calls, pending = [], {}
    with open(path, errors="replace") as f:
        for line in f:
            m = STRACE_LINE.match(line.rstrip("\n"))
            if not m:
                continue
            pid, ts, rest = int(m.group(1) or 0), float(m.group(2)), m.group(3)
            c = STRACE_CALL.match(rest)
            if c:
                calls.append(dict(pid=pid, ts=ts, name=c.group(1), args=c.group(2),
                                  ret=c.group(3), err=c.group(4).strip(),
                                  dur=float(c.group(5) or 0)))
                continue
            u = STRACE_UNFINISHED.match(rest)
            if u:
                call = dict(pid=pid, ts=ts, name=u.group(1), args=u.group(2), ret="?", err="",
                            dur=0.0)
                calls.append(call)
                pending[pid] = call
                continue
            r = STRACE_RESUMED.match(rest)
            if r and pid in pending:
                call = pending.pop(pid)
                call["args"] += r.group(2)
                call["ret"], call["err"] = r.group(3), r.group(4).strip()
                call["dur"] = float(r.group(5) or 0)
    return calls


def parse_strace_c(path):
    """{syscall: (calls, errors)} from the table strace -c writes."""
    out = {}
    with open(path) as f:
        for line in f:
            fields = line.split()
            if len(fields) < 5 or not fields[3].isdigit() or fields[-1] == "total":
                continue
            errors = int(fields[4]) if len(fields) == 6 else 0
            out[fields[-1]] = (int(fields[3]), errors)
    return out
