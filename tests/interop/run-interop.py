#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Mbed TLS interop tests: real NV-seed builds of Mbed TLS get seeds from seedd.

Usage: run-interop.py CASE   (run-interop.py --list prints the cases)

Environment: SEEDD and SEEDCTL (the built programs), LIBDIR (directory of
libseedclient.so and libseedclient-entropy.so), BUILDDIR (meson build dir;
Mbed TLS is fetched and built under BUILDDIR/interop by build-mbedtls.sh,
serialised and cached). The Mbed TLS 4 cases build from the source
$SEEDD_MBEDTLS4_SOURCE (else $SEEDD_MBEDTLS4_SOURCE_OPTION, meson
-Dmbedtls4_source=) names, with build-mbedtls4.sh, and skip saying so without.

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
# Mbed TLS 4: doc options 2 and 3 and the MBEDTLS_PSA_DRIVER_GET_ENTROPY hook.
CONFIGS4 = ("opt2", "opt3", "entropy")
SUITES4 = ("entropy", "random", "ctr_drbg", "psa_crypto_init", "ssl")
PSA_INSUFFICIENT_ENTROPY = "-148"
# Cases of Mbed TLS 4's own test suites that cannot pass here, and why.
XFAIL4 = {
    ("opt2", "psa_crypto_init", "NV seed only: less than minimum"): "NV_SEED_WRITTEN",
    ("opt2", "psa_crypto_init", "NV seed only: less than one block"): "NV_SEED_WRITTEN",
    ("opt3", "psa_crypto_init", "NV seed only: less than minimum"): "NV_SEED_WRITTEN",
    ("opt3", "psa_crypto_init", "NV seed only: less than one block"): "NV_SEED_WRITTEN",
    ("entropy", "entropy", "Test get_entropy driver callback"): "FAKE_SOURCE",
}
XFAIL4_WHY = {
    "NV_SEED_WRITTEN": "writes a seed shorter than the minimum and expects psa_crypto_init() "
                       "to fail reading it back; seedd never stores what a client writes "
                       "(it mixes it in) and serves fresh full blocks",
    "FAKE_SOURCE": "forces failures through the test framework's fake "
                   "mbedtls_platform_get_entropy(), which this build replaces by "
                   "libseedclient-entropy's",
}
# Suites that never reach the entropy source: they must pass with and without seedd.
OWN_ENTROPY4 = {"ctr_drbg": "feeds CTR_DRBG its test vectors' own entropy"}


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
        self.interop = os.path.join(self.builddir, "interop")
        self.bindir = os.path.join(self.interop, "bin")

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


def case_tls(env, daemon, version, protocols=(None,)):
    """ssl_server2 and ssl_client2 of one build, each seeded from seedd, for a
    handshake per protocol (None: the build's default) with the client
    verifying the server's certificate."""
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

        for proto in protocols:
            before = daemon.requests()
            argv = [client, "server_addr=127.0.0.1", f"server_port={port}",
                    "server_name=localhost"]
            if proto:
                argv += [f"force_version={proto}", "auth_mode=required"]
            rc, out, err, _ = run(daemon, argv)
            # The handshake reports the negotiated protocol once it has finished.
            want = "[ Protocol is " + ({"tls13": "TLSv1.3", "tls12": "TLSv1.2"}[proto]
                                       if proto else "")
            if rc != 0 or want not in out or "Verifying peer X.509 certificate... ok" not in out:
                raise Failure(f"ssl_client2 {version} {proto or ''} failed ({rc}): "
                              f"{out[-2000:]} {err[-500:]}")
            client_requests = daemon.requests() - before
            check(client_requests >= 1,
                  f"ssl_client2 {version} {proto or ''} handshake ok, certificate verified, "
                  f"seeded from seedd ({client_requests} requests)")
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
    check(text.count("[ Protocol is") >= len(protocols),
          f"ssl_server2 {version} completed {len(protocols)} handshake(s)")


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


def check_hook(env, progs):
    """Config (c): the programs take mbedtls_platform_get_entropy() from
    libseedclient-entropy, which exports nothing else and needs only
    libseedclient; none defines one of its own (the test framework's is
    renamed away by build-mbedtls4.sh)."""
    lib = os.path.join(env.libdir, "libseedclient-entropy.so")
    exports = subprocess.run(["nm", "-D", "--defined-only", lib], capture_output=True,
                             text=True, check=True).stdout.splitlines()
    # "ADDRESS TYPE NAME@@VERSION"; type A is the version node itself.
    funcs = {l.split()[2].split("@")[0] for l in exports
             if len(l.split()) == 3 and l.split()[1] != "A"}
    check(funcs == {"mbedtls_platform_get_entropy"},
          f"libseedclient-entropy exports only mbedtls_platform_get_entropy ({sorted(funcs)})")
    dyn = subprocess.run(["readelf", "-d", lib], capture_output=True, text=True,
                         check=True).stdout
    needed = {l.split("[")[1].split("]")[0] for l in dyn.splitlines() if "(NEEDED)" in l}
    check("libseedclient.so.0" in needed and needed <= {"libseedclient.so.0", "libc.so.6"},
          f"libseedclient-entropy links only libseedclient ({sorted(needed)})")
    for prog in progs:
        syms = subprocess.run(["nm", prog], capture_output=True, text=True,
                              check=True).stdout.splitlines()
        own = [l for l in syms if l.endswith(" T mbedtls_platform_get_entropy")]
        used = [l for l in syms if " U mbedtls_platform_get_entropy@" in l]
        if own or not used:
            raise Failure(f"{prog} does not take mbedtls_platform_get_entropy() from "
                          f"libseedclient-entropy: {own or 'no reference'}")
    check(True, f"{len(progs)} program(s) call libseedclient-entropy's hook, none has its own")


def case_psa4(env, daemon, config):
    prog = env.prog(f"psa-random-4-{config}")
    if config == "entropy":
        check_hook(env, [prog])
    distinct_outputs(daemon, prog)


def case_tls4(env, daemon, config):
    if config == "entropy":
        check_hook(env, [env.prog("ssl_server2-4-entropy"), env.prog("ssl_client2-4-entropy")])
    case_tls(env, daemon, f"4-{config}", protocols=("tls13", "tls12"))


def suite_path(env, config, suite):
    top = os.path.join(env.interop, f"build-4-{config}", "build")
    return os.path.join(top, "tests" if suite == "ssl" else "tf-psa-crypto/tests",
                        f"test_suite_{suite}")


def run_suite(env, daemon, config, suite):
    """One of Mbed TLS 4's test suites, in its directory (it reads and writes
    files there). Returns (returncode, {case: PASS|FAIL|SKIP}, output, requests)."""
    prog = suite_path(env, config, suite)
    outcomes = os.path.join(daemon.dir, f"outcome-{suite}.csv")
    if os.path.exists(outcomes):
        os.unlink(outcomes)
    env_ = dict(daemon.client_env(), MBEDTLS_TEST_OUTCOME_FILE=outcomes)
    before = daemon.requests() if daemon.alive() else 0
    try:
        p = subprocess.run([prog], cwd=os.path.dirname(prog), env=env_,
                           stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           timeout=600)
    except subprocess.TimeoutExpired:
        raise Failure(f"test_suite_{suite} ({config}) hung for 600 s")
    requests = daemon.requests() - before if daemon.alive() else 0
    result = {}
    for line in seeddtest.read_file(outcomes).decode(errors="replace").splitlines():
        fields = line.split(";")
        at = next((i for i in range(4, len(fields)) if fields[i] in ("PASS", "FAIL", "SKIP")),
                  None)
        if at is not None:
            result[";".join(fields[3:at])] = fields[at]
    return p.returncode, result, p.stdout + p.stderr, requests


def case_suites4(env, daemon, config):
    """Mbed TLS 4's own test suites, each process seeded by seedd; then, with
    seedd stopped, every suite that reads the entropy source fails."""
    totals = {"passed": 0, "failed": 0, "xfail": 0, "skipped": 0}
    for suite in SUITES4:
        rc, result, out, requests = run_suite(env, daemon, config, suite)
        if not result:
            raise Failure(f"test_suite_{suite} ({config}) ran no case (exit {rc}): {out[-2000:]}")
        counts = {"passed": 0, "failed": 0, "xfail": 0, "skipped": 0}
        for case, outcome in result.items():
            why = XFAIL4.get((config, suite, case))
            if outcome == "SKIP":
                counts["skipped"] += 1
            elif why and outcome == "FAIL":
                counts["xfail"] += 1
                log(f"expected failure: {suite}: {case}: {XFAIL4_WHY[why]}")
            elif why:
                raise Failure(f"test_suite_{suite} ({config}): {case!r} passed, "
                              f"but was expected to fail: {XFAIL4_WHY[why]}")
            elif outcome == "PASS":
                counts["passed"] += 1
            else:
                counts["failed"] += 1
                log(f"FAILED: {suite}: {case}")
        missing = [c for (cf, su, c) in XFAIL4 if cf == config and su == suite and c not in result]
        if missing:
            raise Failure(f"test_suite_{suite} ({config}) has no case {missing}")
        if counts["failed"] or (rc == 0) != (counts["xfail"] == 0):
            raise Failure(f"test_suite_{suite} ({config}): {counts}, exit {rc}: {out[-3000:]}")
        if suite in OWN_ENTROPY4:
            check(requests == 0, f"test_suite_{suite}: {OWN_ENTROPY4[suite]}: "
                  f"no request to seedd ({requests})")
        else:
            check(requests >= 1, f"test_suite_{suite} seeded from seedd ({requests} requests)")
        log(f"   {suite} ({config}): {counts['passed']} passed, {counts['failed']} failed, "
            f"{counts['xfail']} expected failures, {counts['skipped']} skipped")
        for k in totals:
            totals[k] += counts[k]
    log(f"ok: Mbed TLS 4 {config} test suites: {totals['passed']} passed, "
        f"{totals['failed']} failed, {totals['xfail']} expected failures, "
        f"{totals['skipped']} skipped")

    rc = daemon.stop()
    check(rc == 0, f"seedd stopped cleanly on SIGTERM (exit {rc})")
    for suite in SUITES4:
        rc, result, out, _ = run_suite(env, daemon, config, suite)
        failed = sorted(c for c, o in result.items() if o == "FAIL")
        how = f"killed by signal {-rc}" if rc < 0 else f"exit {rc}"
        if suite in OWN_ENTROPY4:
            check(rc == 0 and not failed,
                  f"test_suite_{suite} without seedd: {how}, passes ({OWN_ENTROPY4[suite]})")
            continue
        if rc == 0 or (rc > 0 and not failed):
            raise Failure(f"test_suite_{suite} ({config}) did not fail without seedd "
                          f"({how}, failed {failed})")
        codes = out.count(f"= {PSA_INSUFFICIENT_ENTROPY}")
        check(True, f"test_suite_{suite} without seedd: {how}, {len(failed)} cases failed"
              + (f", {codes} of them reporting {PSA_INSUFFICIENT_ENTROPY}" if codes else
                 " (its asserts print no status)"))


def case_nodaemon4(env, daemon, config):
    psa = env.prog(f"psa-random-4-{config}")
    client = env.prog(f"ssl_client2-4-{config}")
    rc, _, err, _ = run(daemon, [psa])
    if rc != 0:
        raise Failure(f"psa-random-4-{config} failed with seedd running: {err.strip()}")
    # The control: with seedd, the client gets past psa_crypto_init() to its connect().
    rc, out, err, _ = run(daemon, [client, "server_addr=127.0.0.1", "server_port=9"])
    check(PSA_INSUFFICIENT_ENTROPY not in out + err and "Connecting to" in out,
          f"ssl_client2-4-{config} with seedd: initialised, then refused by port 9 (exit {rc})")
    rc = daemon.stop()
    check(rc == 0, f"seedd stopped cleanly on SIGTERM (exit {rc})")
    fails_fast(daemon, [psa], f"psa_crypto_init: {PSA_INSUFFICIENT_ENTROPY}")
    fails_fast(daemon, [client, "server_addr=127.0.0.1", "server_port=9"],
               f"Failed to initialize PSA Crypto implementation: {PSA_INSUFFICIENT_ENTROPY}",
               quiet=False)


def case_fork4(env, daemon):
    """TF-PSA-Crypto 1.0 has no call that reseeds the PSA generator: a child
    forked after psa_crypto_init() repeats its parent's output. The recipes
    seedclient(3) gives, each shown to work and to fetch fresh seed from seedd."""
    prog = env.prog("fork-psa-4-opt3")
    child, parent, plain = fork_run(daemon, prog)
    check(child == parent, "4: without help the child repeats the parent's PSA output")
    child, parent, reinit = fork_run(daemon, prog, "--reinit")
    check(child != parent, "4: after mbedtls_psa_crypto_free() + psa_crypto_init() "
          "in the child the outputs differ")
    check(reinit > plain, f"4: the child's psa_crypto_init() fetched a fresh seed from seedd "
          f"({reinit} requests vs {plain} without)")
    prog = env.prog("fork-psa-4-pr")
    child, parent, plain = fork_run(daemon, prog)
    check(child == parent, "4 with MBEDTLS_PSA_RNG_RESEED_INTERVAL 1: the first draw after "
          "psa_crypto_init() is not reseeded, so a child forked before it repeats the parent")
    child, parent, warm = fork_run(daemon, prog, "--warm")
    check(child != parent, "4 with MBEDTLS_PSA_RNG_RESEED_INTERVAL 1: after one draw before "
          "fork(), every later draw reseeds and the outputs differ")
    check(warm > plain, f"4 with MBEDTLS_PSA_RNG_RESEED_INTERVAL 1: the reseeds fetched fresh "
          f"seed from seedd ({warm} requests vs {plain})")


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
    for c in CONFIGS4:
        table[f"psa-4-{c}"] = lambda e, d, c=c: case_psa4(e, d, c)
        table[f"tls-4-{c}"] = lambda e, d, c=c: case_tls4(e, d, c)
        table[f"suites-4-{c}"] = lambda e, d, c=c: case_suites4(e, d, c)
        table[f"nodaemon-4-{c}"] = lambda e, d, c=c: case_nodaemon4(e, d, c)
    table["fork-4"] = case_fork4
    return table


def build(env, script):
    """Fetches and builds Mbed TLS (cached, serialised across parallel tests);
    exits 77 (skip) when the script says it cannot, having said why."""
    start = time.monotonic()
    p = subprocess.run([os.path.join(HERE, script), env.builddir],
                       env=dict(os.environ, LIBDIR=env.libdir), stdin=subprocess.DEVNULL)
    if p.returncode == 77:
        return False
    if p.returncode != 0:
        raise Failure(f"{script} failed ({p.returncode})")
    log(f"ok: {script}: Mbed TLS builds ready ({time.monotonic() - start:.1f} s)")
    return True


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
        if name == "build":
            built = build(env, "build-mbedtls.sh")
            built4 = build(env, "build-mbedtls4.sh")
            return 0 if built or built4 else 77
        mbedtls4 = name.endswith("-4") or "-4-" in name
        if not build(env, "build-mbedtls4.sh" if mbedtls4 else "build-mbedtls.sh"):
            return 77
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
