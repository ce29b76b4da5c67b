#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Mbed TLS interop tests: real NV-seed builds of Mbed TLS get seeds from seedd.

Usage: run-interop.py CASE   (run-interop.py --list prints the cases)

Environment: SEEDD and SEEDCTL (the built programs), LIBDIR (directory of
libseedclient.so), BUILDDIR (meson build dir; Mbed TLS is fetched and built
under BUILDDIR/interop by build-mbedtls.sh, serialised and cached).

Each case starts its own seedd on a temporary directory and checks through
`seedctl status --json` ("requests") that the seeds came from it.
Exit status: 0 pass, 1 fail, 77 skip.
"""

import os
import socket
import subprocess
import sys
import time

import seeddtest

HERE = os.path.dirname(os.path.abspath(__file__))
VERSIONS = ("2.28", "3.6")
CONFIGS = ("opt2", "opt3", "sha256")
FAIL_FAST_S = 1.0


class Failure(Exception):
    pass


def log(msg):
    print(msg, flush=True)


def check(cond, msg):
    if not cond:
        raise Failure(msg)
    log("ok: " + msg)


def env_path(name):
    value = os.environ.get(name)
    if not value:
        raise Failure(f"${name} is not set")
    return os.path.abspath(value)


class Env:
    def __init__(self):
        self.seedd = env_path("SEEDD")
        self.seedctl = env_path("SEEDCTL")
        self.libdir = env_path("LIBDIR")
        self.builddir = env_path("BUILDDIR")
        self.bindir = os.path.join(self.builddir, "interop", "bin")

    def prog(self, name):
        return os.path.join(self.bindir, name)


class InteropDaemon(seeddtest.Daemon):
    """The shared test harness's seedd, with the counters these cases read and
    a client environment that finds libseedclient."""

    def __init__(self, env, tmp):
        super().__init__(tmp)
        self.dir = tmp.path
        self.libdir = env.libdir

    def start(self):
        super().start(timeout=15)
        log(f"ok: seedd running (pid {self.proc.pid}, socket {self.sock})")

    def counters(self):
        """(requests, bytes_served) from `seedctl status --json`."""
        try:
            status = self.status()
            return int(status["requests"]), int(status["bytes_served"])
        except (AssertionError, ValueError, KeyError, TypeError) as e:
            raise Failure(f"seedctl status --json failed: {e}")

    def requests(self):
        return self.counters()[0]

    def client_env(self):
        env = super().client_env()
        env["LD_LIBRARY_PATH"] = self.libdir + (
            ":" + env["LD_LIBRARY_PATH"] if env.get("LD_LIBRARY_PATH") else "")
        return env


def run(daemon, argv, timeout=30):
    """Runs a client program; returns (returncode, stdout, stderr, seconds)."""
    start = time.monotonic()
    try:
        p = subprocess.run(argv, env=daemon.client_env(), stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise Failure(f"{os.path.basename(argv[0])} hung for {timeout} s")
    return p.returncode, p.stdout, p.stderr, time.monotonic() - start


def is_hex32(line):
    return len(line) == 64 and all(c in "0123456789abcdef" for c in line)


def distinct_outputs(daemon, prog, runs=3, block=None):
    """Runs prog several times: each prints 32 fresh bytes and asks seedd.
    With block, every request must have been for exactly block bytes (an NV
    seed read is one entropy block)."""
    name = os.path.basename(prog)
    outputs = []
    for _ in range(runs):
        requests, served = daemon.counters()
        rc, out, err, _ = run(daemon, [prog])
        if rc != 0:
            raise Failure(f"{name} exited {rc}: {err.strip()}")
        line = out.strip()
        if not is_hex32(line):
            raise Failure(f"{name} printed {out!r}, expected 64 hex digits")
        after = daemon.counters()
        requests, served = after[0] - requests, after[1] - served
        if requests < 1:
            raise Failure(f"{name} produced output but seedd served it no request")
        # "requests" also counts the NV seed write (PUT) of the first gather.
        if block is not None and (served % block or not 1 <= served // block <= requests):
            raise Failure(f"{name}: {requests} requests got {served} bytes, "
                          f"expected reads of {block} bytes each")
        outputs.append(line)
    check(len(set(outputs)) == runs,
          f"{name}: {runs} runs, {runs} different outputs, each seeded by seedd")
    return outputs


def fails_fast(daemon, argv, expect, quiet=True):
    """With the daemon stopped, argv must fail at once with error text expect."""
    name = os.path.basename(argv[0])
    rc, out, err, took = run(daemon, argv)
    if rc == 0:
        raise Failure(f"{name} succeeded without seedd; stdout {out!r}")
    if expect not in err + out:
        raise Failure(f"{name} failed without the Mbed TLS error {expect}: "
                      f"stdout {out!r} stderr {err!r}")
    if quiet and out:
        raise Failure(f"{name} printed output without seedd: {out!r}")
    if took >= FAIL_FAST_S:
        raise Failure(f"{name} took {took:.2f} s to fail (limit {FAIL_FAST_S} s)")
    check(True, f"{name} without seedd: exit {rc}, {expect}, {took * 1000:.0f} ms"
          + (", no output" if quiet else ""))


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def case_tls(env, daemon, version):
    server = env.prog(f"ssl_server2-{version}")
    client = env.prog(f"ssl_client2-{version}")
    port = str(free_port())
    server_log = os.path.join(daemon.dir, "ssl_server2.log")

    before = daemon.requests()
    with open(server_log, "w") as slog:
        srv = subprocess.Popen([server, "server_addr=127.0.0.1", f"server_port={port}"],
                               env=daemon.client_env(), stdin=subprocess.DEVNULL,
                               stdout=slog, stderr=subprocess.STDOUT)
    def listening():
        text = seeddtest.read_file(server_log).decode(errors="replace")
        if srv.poll() is not None:
            raise Failure(f"ssl_server2 exited {srv.returncode}: {text[-2000:]}")
        return "Waiting for a remote connection" in text

    try:
        seeddtest.wait_for(listening, 60, f"ssl_server2 to listen on port {port}")
        server_requests = daemon.requests() - before
        check(server_requests >= 1,
              f"ssl_server2 {version} seeded its DRBG from seedd ({server_requests} requests)")

        before = daemon.requests()
        rc, out, err, _ = run(daemon, [client, "server_addr=127.0.0.1", f"server_port={port}",
                                       "server_name=localhost"])
        # The handshake reports the negotiated protocol once it has finished.
        if rc != 0 or "[ Protocol is" not in out or "Verifying peer X.509 certificate... ok" not in out:
            raise Failure(f"ssl_client2 {version} failed ({rc}): {out[-2000:]} {err[-500:]}")
        client_requests = daemon.requests() - before
        check(client_requests >= 1,
              f"ssl_client2 {version} handshake ok, seeded from seedd ({client_requests} requests)")
        for line in out.splitlines():
            if "Protocol is" in line or "Ciphersuite is" in line:
                log("   " + line.strip())
    finally:
        srv.terminate()
        try:
            srv.wait(timeout=10)
        except subprocess.TimeoutExpired:
            srv.kill()
            srv.wait()
    with open(server_log) as f:
        text = f.read()
    check("[ Protocol is" in text,
          f"ssl_server2 {version} completed the handshake")


def case_drbg(env, daemon, version, config):
    prog = env.prog(f"nvseed-drbg-{version}-{config}")
    rc, out, err, _ = run(daemon, [prog, "--block-size"])
    want = 32 if config == "sha256" else 64
    check(rc == 0 and out.strip() == str(want),
          f"{version} {config}: MBEDTLS_ENTROPY_BLOCK_SIZE is {out.strip() or err.strip()}"
          f" (want {want})")
    distinct_outputs(daemon, prog, block=want)
    log(f"ok: the NV seed reads were {want}-byte blocks")


def case_psa(env, daemon):
    for config in ("opt2", "opt3"):
        distinct_outputs(daemon, env.prog(f"psa-random-3.6-{config}"))


def case_stock(env, daemon):
    distinct_outputs(daemon, env.prog("stock-poll-2.28"))


def fork_run(daemon, prog, *args):
    before = daemon.requests()
    rc, out, err, _ = run(daemon, [prog, *args])
    if rc != 0:
        raise Failure(f"fork-drbg {' '.join(args)} exited {rc}: {err.strip()}")
    lines = dict(line.split(" ", 1) for line in out.strip().splitlines() if " " in line)
    if set(lines) != {"child", "parent"} or not all(map(is_hex32, lines.values())):
        raise Failure(f"fork-drbg printed {out!r}")
    return lines["child"], lines["parent"], daemon.requests() - before


def case_fork(env, daemon, version):
    prog = env.prog(f"fork-drbg-{version}-opt3")
    child, parent, plain = fork_run(daemon, prog)
    check(child == parent,
          f"{version}: without reseed the child repeats the parent's DRBG output")
    child, parent, reseeded = fork_run(daemon, prog, "--reseed")
    check(child != parent,
          f"{version}: after mbedtls_ctr_drbg_reseed the child's output differs")
    check(reseeded > plain,
          f"{version}: the child's reseed fetched a fresh seed from seedd "
          f"({reseeded} requests vs {plain} without reseed)")


def case_nodaemon(env, daemon, version):
    progs = [env.prog(f"nvseed-drbg-{version}-{c}") for c in CONFIGS]
    progs.append(env.prog(f"fork-drbg-{version}-opt3"))
    if version == "3.6":
        progs += [env.prog(f"psa-random-3.6-{c}") for c in ("opt2", "opt3")]
    else:
        progs.append(env.prog("stock-poll-2.28"))

    # Prove they work with the daemon, then stop it and run them again.
    for prog in progs:
        rc, _, err, _ = run(daemon, [prog])
        if rc != 0:
            raise Failure(f"{os.path.basename(prog)} failed with seedd running: {err.strip()}")
    rc = daemon.stop()
    check(rc == 0, f"seedd stopped cleanly on SIGTERM (exit {rc})")

    for prog in progs:
        # PSA reports PSA_ERROR_INSUFFICIENT_ENTROPY, the rest
        # MBEDTLS_ERR_CTR_DRBG_ENTROPY_SOURCE_FAILED.
        expect = ": -148" if "psa-random" in prog else "-0x0034"
        fails_fast(daemon, [prog], expect)
    fails_fast(daemon, [env.prog(f"ssl_client2-{version}"), "server_addr=127.0.0.1",
                        "server_port=9"], "mbedtls_ctr_drbg_seed returned -0x34", quiet=False)


def cases():
    table = {}
    for v in VERSIONS:
        table[f"tls-{v}"] = lambda e, d, v=v: case_tls(e, d, v)
        for c in CONFIGS:
            table[f"drbg-{v}-{c}"] = lambda e, d, v=v, c=c: case_drbg(e, d, v, c)
        table[f"fork-{v}"] = lambda e, d, v=v: case_fork(e, d, v)
        table[f"nodaemon-{v}"] = lambda e, d, v=v: case_nodaemon(e, d, v)
    table["psa-3.6"] = case_psa
    table["stock-2.28"] = case_stock
    return table


def build(env):
    """Fetches and builds Mbed TLS (cached, serialised across parallel tests)."""
    start = time.monotonic()
    p = subprocess.run([os.path.join(HERE, "build-mbedtls.sh"), env.builddir],
                       env=dict(os.environ, LIBDIR=env.libdir), stdin=subprocess.DEVNULL)
    if p.returncode == 77:
        sys.exit(77)
    if p.returncode != 0:
        raise Failure(f"build-mbedtls.sh failed ({p.returncode})")
    log(f"ok: Mbed TLS builds ready ({time.monotonic() - start:.1f} s)")


def main():
    table = cases()
    if len(sys.argv) == 2 and sys.argv[1] == "--list":
        print("\n".join(["build", *table]))
        return 0
    if len(sys.argv) != 2 or (sys.argv[1] not in table and sys.argv[1] != "build"):
        print(f"usage: {sys.argv[0]} CASE|--list", file=sys.stderr)
        return 2
    name = sys.argv[1]
    try:
        env = Env()
        build(env)
        if name == "build":
            return 0
        tmp = seeddtest.TempDir()
        daemon = InteropDaemon(env, tmp)
        try:
            daemon.start()
            table[name](env, daemon)
        except (Failure, AssertionError):
            log("seedd log:\n" + daemon.log()[-2000:])
            raise
        finally:
            daemon.stop()
            tmp.cleanup()
    except (Failure, AssertionError) as e:
        log(f"FAIL: {name}: {e}")
        return 1
    log(f"PASS: {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
