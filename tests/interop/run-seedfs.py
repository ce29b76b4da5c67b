#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""seedfs interop tests: unmodified Mbed TLS option-1 programs seeded through seedfs.

Usage: run-seedfs.py CASE   (without one it lists the cases)

Environment: SEEDD, SEEDCTL and SEEDFS (the built programs), BUILDDIR (the
meson build dir; Mbed TLS 2.28 and 3.6 with the NV seed guide's option 1
are built under BUILDDIR/interop by build-mbedtls-opt1.sh, serialised and
cached), DAEMON_USER.

Each case starts its own seedd and seedfs on a temporary directory and runs
the programs in a directory whose `seedfile` is a symlink to the mount's,
as an operator points a binary at it; `seedctl status --json` tells what
seedd served. The cases mount FUSE, so they need root and /dev/fuse, and
skip, saying why, without them. No mount outlives its case.
Exit status: 0 pass, 1 fail, 77 skip (seeddtest.main).
"""

import errno
import hashlib
import os
import signal
import socket
import subprocess
import contextlib
import sys
import threading
import time

import seeddtest
from seeddtest import Daemon, Skip, Users, as_user, check, for_others, target, wait_for

HERE = os.path.dirname(os.path.abspath(__file__))
VERSIONS = ("2.28", "3.6")
LINKS = ("", "-static")
SEEDFS = os.environ.get("SEEDFS", "")
SIZE = 64
CONCURRENT = 20
# gen_random_ctr_drbg writes 768 KiB of DRBG output.
DRBG_OUT = 768 * 1024
FAIL_FAST_S = 1.0
# How often the plain-file control may run before it must have shown a failure or a collision.
CONTROL_ROUNDS = 5


def log(msg):
    print(msg, flush=True)


def ok(msg):
    log("ok: " + msg)


def bindir():
    return os.path.join(os.environ["BUILDDIR"], "interop", "bin-opt1")


def prog(name, version, link=""):
    return os.path.join(bindir(), "%s-%s-opt1%s" % (name, version, link))


def need_fuse():
    if not SEEDFS or not os.path.exists(SEEDFS):
        raise Skip("seedfs is not built (meson -Dfuse=enabled needs libfuse3-dev; "
                   "scripts/test.sh installs it)")
    if os.geteuid() != 0:
        raise Skip("needs root: seedfs mounts a FUSE file system and connects as its readers")
    if not os.path.exists("/dev/fuse"):
        raise Skip("no /dev/fuse here (modprobe fuse)")


def build():
    """Fetches and builds the option-1 Mbed TLS programs (cached)."""
    start = time.monotonic()
    r = subprocess.run([os.path.join(HERE, "build-mbedtls-opt1.sh"), os.environ["BUILDDIR"]],
                       stdin=subprocess.DEVNULL)
    if r.returncode == 77:
        raise Skip("build-mbedtls-opt1.sh cannot build here")
    check(r.returncode == 0, "build-mbedtls-opt1.sh failed (%d)" % r.returncode)
    ok("build-mbedtls-opt1.sh: option-1 builds ready (%.1f s)" % (time.monotonic() - start))


def mounted(path):
    """The fstype mounted at path, from /proc/self/mountinfo, or None."""
    path = os.path.realpath(path)
    found = None
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields, fs = line.split(" - ", 1)
            if fields.split()[4] == path:
                found = fs.split()[0]
    return found


class Seedfs:
    """One seedfs process on a mountpoint, started as root, always unmounted."""

    def __init__(self, tmp, daemon, *args, name="mnt"):
        self.tmp = tmp
        self.mnt = tmp / name
        self.file = os.path.join(self.mnt, "seedfile")
        self.daemon = daemon
        self.args = list(args)
        self.proc = None
        self.log_path = tmp / (name + "-seedfs.log")

    def start(self):
        os.makedirs(self.mnt, exist_ok=True)
        with open(self.log_path, "ab") as f:
            self.proc = subprocess.Popen(
                target(SEEDFS, "--socket", self.daemon.sock, *self.args, self.mnt),
                stdin=subprocess.DEVNULL, stdout=f, stderr=subprocess.STDOUT)

        def up():
            check(self.proc.poll() is None, "seedfs exited with %s: %s"
                  % (self.proc.returncode, self.log()))
            return mounted(self.mnt) == "fuse.seedfs"
        wait_for(up, 30, "seedfs to mount %s" % self.mnt)
        return self

    def log(self):
        return seeddtest.read_file(self.log_path).decode(errors="replace")

    def stop(self, sig=signal.SIGTERM):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(30)
        return self.proc.returncode if self.proc else None

    def cleanup(self):
        self.stop(signal.SIGKILL)
        if mounted(self.mnt):
            subprocess.run(["umount", "--lazy", self.mnt], capture_output=True)


@contextlib.contextmanager
def seedfs_on(tmp, daemon, *args, name="mnt"):
    """A started Seedfs, unmounted at the end; its log printed when the case fails."""
    fs = Seedfs(tmp, daemon, *args, name=name)
    try:
        yield fs.start()
    except BaseException:
        print("--- seedfs log (%s) ---\n%s" % (fs.log_path, fs.log()[-3000:]))
        raise
    finally:
        fs.cleanup()


def workdir(tmp, fs, name="work"):
    """A directory whose seedfile is a symlink into the mount, as an operator points a binary."""
    d = tmp / name
    os.makedirs(d, exist_ok=True)
    link = os.path.join(d, "seedfile")
    if os.path.lexists(link):
        os.unlink(link)
    os.symlink(fs.file, link)
    return d


def run(argv, cwd, env=None, timeout=60):
    start = time.monotonic()
    try:
        p = subprocess.run(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise AssertionError("%s hung for %d s" % (os.path.basename(argv[0]), timeout))
    return p.returncode, p.stdout, p.stderr, time.monotonic() - start


def counters(daemon):
    s = daemon.status()
    return int(s["requests"]), int(s["bytes_served"])


def drbg_crowd(program, cwd, n=CONCURRENT):
    """n processes of gen_random_ctr_drbg started together in cwd: (seeded, distinct, fails)
    where seeded counts those that exited 0 with their whole output, distinct the
    different outputs among them and fails the first lines of the others' errors."""
    procs = []
    for i in range(n):
        out = os.path.join(cwd, "out%d" % i)
        if os.path.exists(out):
            os.unlink(out)
        procs.append((out, subprocess.Popen([program, out], cwd=cwd, stdin=subprocess.DEVNULL,
                                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                            text=True)))
    seeded, digests, fails = 0, set(), []
    for out, p in procs:
        text, _ = p.communicate(timeout=120)
        size = os.path.getsize(out) if os.path.exists(out) else 0
        if p.returncode == 0 and size == DRBG_OUT:
            seeded += 1
            with open(out, "rb") as f:
                digests.add(hashlib.sha256(f.read()).hexdigest())
        else:
            fails.append("exit %d: %s" % (p.returncode, " ".join(
                l.strip() for l in text.splitlines() if "fail" in l.lower())[:120]))
    return seeded, len(digests), fails


# --- seedfs on its own: the file, its reads and writes, what is refused ---

def case_files(tmp):
    need_fuse()
    d = Daemon(tmp)
    d.start()
    with seedfs_on(tmp, d) as fs:
        files_checks(d, fs)


def read_once(path, n):
    """The first read(n) of one open, and every later read of it up to end of file."""
    with open(path, "rb", buffering=0) as f:
        first, rest = f.read(n), []
        while True:
            more = f.read(n)
            if not more:
                return first, rest
            rest.append(more)


def files_checks(d, fs):
    st = os.stat(fs.file)
    check(os.listdir(fs.mnt) == ["seedfile"], "the mount holds %r" % os.listdir(fs.mnt))
    check(st.st_size == SIZE and st.st_mode & 0o7777 == 0o666 and os.path.isfile(fs.file),
          "seedfile: size %d mode %o" % (st.st_size, st.st_mode))
    ok("MOUNTPOINT holds only seedfile, a regular file of %d bytes, mode 0666" % SIZE)

    # fread(32), fread(64) and a stdio-sized read: each a full read; the file ends at SIZE.
    seen = []
    for n in (32, 64, 4096):
        want = min(n, SIZE)
        before = counters(d)
        first, rest = read_once(fs.file, n)
        after = counters(d)
        total = len(first) + sum(map(len, rest))
        check(len(first) == want and total == SIZE, "read(%d) gave %d bytes, %d to end of file"
              % (n, len(first), total))
        check(after[0] - before[0] == 1 + len(rest) and after[1] - before[1] == SIZE,
              "read(%d) to end of file: seedd served %d requests, %d bytes (want %d, %d)"
              % (n, after[0] - before[0], after[1] - before[1], 1 + len(rest), SIZE))
        seen += [first] + rest
    ok("read(32), read(64), read(4096): 32, 64 and 64 bytes, the file ends at %d; each "
       "read is one request to seedd for exactly its bytes" % SIZE)

    # One open, read twice from the start: fresh bytes again, never a cached copy.
    with open(fs.file, "rb", buffering=0) as f:
        a = f.read(SIZE)
        f.seek(0)
        b = f.read(SIZE)
    check(a != b, "a second read of offset 0 repeated the first")
    # Concurrent readers: all distinct.
    results = []

    def reader():
        for _ in range(10):
            results.append(read_once(fs.file, SIZE)[0])
    threads = [threading.Thread(target=reader) for _ in range(CONCURRENT)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    every = results + seen + [a, b]
    check(len(set(every)) == len(every) and all(len(x) >= 32 for x in every),
          "%d reads, %d distinct" % (len(every), len(set(every))))
    ok("%d reads (%d threads at once, re-reads of one open included): all distinct"
       % (len(every), CONCURRENT))

    # Writes are PUTs: counted as requests, nothing served, nothing stored.
    disk = seeddtest.read_file(d.seed_file)
    before = counters(d)
    with open(fs.file, "wb") as f:
        f.write(os.urandom(SIZE))
    with open(fs.file, "r+b", buffering=0) as f:
        f.write(os.urandom(300))
    after = counters(d)
    check(after[0] - before[0] == 2 and after[1] == before[1],
          "two writes: %d requests, %d bytes served" % (after[0] - before[0],
                                                        after[1] - before[1]))
    check(seeddtest.read_file(d.seed_file) == disk, "a write changed seedd's seed file")
    check(os.stat(fs.file).st_size == SIZE, "a write changed the size")
    ok("writes (fopen \"w\" and r+) are PUTs: 2 requests, no bytes served, the seed file "
       "untouched, the size still %d" % SIZE)

    # Nothing else can be made, renamed or removed; owner and mode stay.
    attempts = {
        "create": lambda: open(os.path.join(fs.mnt, "new"), "wb").close(),
        "mkdir": lambda: os.mkdir(os.path.join(fs.mnt, "dir")),
        "mknod": lambda: os.mkfifo(os.path.join(fs.mnt, "fifo")),
        "symlink": lambda: os.symlink("seedfile", os.path.join(fs.mnt, "link")),
        "link": lambda: os.link(fs.file, os.path.join(fs.mnt, "hard")),
        "rename": lambda: os.rename(fs.file, os.path.join(fs.mnt, "moved")),
        "rename out": lambda: os.rename(fs.file, fs.tmp / "moved"),
        "unlink": lambda: os.unlink(fs.file),
        "rmdir": lambda: os.rmdir(fs.mnt),
        "chmod": lambda: os.chmod(fs.file, 0o600),
        "chown": lambda: os.chown(fs.file, 1, 1),
        "setxattr": lambda: os.setxattr(fs.file, "user.x", b"1"),
    }
    for what, attempt in attempts.items():
        try:
            attempt()
        except OSError as e:
            check(e.errno in (errno.EPERM, errno.EACCES, errno.EXDEV, errno.EBUSY,
                              errno.EOPNOTSUPP), "%s: %s" % (what, e))
        else:
            raise AssertionError("%s succeeded in the mount" % what)
    st2 = os.stat(fs.file)
    check(os.listdir(fs.mnt) == ["seedfile"] and st2.st_mode == st.st_mode and
          st2.st_uid == st.st_uid, "the mount changed: %r" % os.listdir(fs.mnt))
    ok("refused, even to root: %s" % ", ".join(attempts))

    # The page cache would serve one reader's page to every later one: refused.
    r = subprocess.run([sys.executable, "-c", MMAP_READER, fs.file], capture_output=True,
                       text=True, timeout=30)
    check(r.returncode == -signal.SIGBUS, "a private mmap read %r (exit %d) %s"
          % (r.stdout, r.returncode, r.stderr))
    with open(fs.file, "rb") as src, open(fs.tmp / "sendfile.out", "wb") as dst:
        try:
            n = os.sendfile(dst.fileno(), src.fileno(), 0, SIZE)
        except OSError as e:
            check(e.errno == errno.EIO, "sendfile: %s" % e)
        else:
            raise AssertionError("sendfile through the page cache copied %d bytes" % n)
    ok("mmap (SIGBUS) and sendfile (EIO), which go through the shared page cache, are refused")

    # seedd down: every read fails with EIO, never old bytes; back up: fresh again.
    check(d.stop() == 0, "seedd did not stop cleanly")
    with open(fs.file, "rb", buffering=0) as f:
        for i in range(3):
            try:
                data = f.read(SIZE)
            except OSError as e:
                check(e.errno == errno.EIO, "read without seedd: %s" % e)
            else:
                raise AssertionError("read %d bytes without seedd" % len(data))
    try:
        with open(fs.file, "wb") as f:
            f.write(b"x" * SIZE)
    except OSError as e:
        check(e.errno == errno.EIO, "write without seedd: %s" % e)
    else:
        raise AssertionError("a write succeeded without seedd")
    d.start()
    data, _ = read_once(fs.file, SIZE)
    check(len(data) == SIZE and data not in every, "after seedd's restart: %r" % data)
    ok("seedd stopped: reads and writes fail with EIO; seedd back: fresh bytes, "
       "seedfs unchanged")

    # seedfs killed: the mount fails closed.
    fs.stop(signal.SIGKILL)
    for what, attempt in (("stat", lambda: os.stat(fs.file)),
                          ("open", lambda: open(fs.file, "rb").close())):
        try:
            attempt()
        except OSError as e:
            check(e.errno == errno.ENOTCONN, "%s after seedfs died: %s" % (what, e))
        else:
            raise AssertionError("%s succeeded after seedfs died" % what)
    ok("seedfs killed (SIGKILL): stat and open fail with ENOTCONN")


# What another user runs to read the file to its end with read(2) (wc -c would only stat it).
READ_ALL = [sys.executable, "-c",
            "import sys; print(len(open(sys.argv[1], 'rb', buffering=0).read()))"]

MMAP_READER = r"""
import mmap, os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
m = mmap.mmap(fd, 64, mmap.MAP_PRIVATE, mmap.PROT_READ)
sys.stdout.write(m[:64].hex())
"""


# --- other users: the daemon judges the reader ---

def case_users(tmp):
    need_fuse()
    build()
    users = Users()
    try:
        allowed = users.user("fsa")
        other = users.user("fsb")
        # Other users reach the socket and the mount through the test's directory.
        os.chmod(tmp.path, 0o755)
        d = Daemon(tmp, "--allow-uid", str(allowed[0]))
        d.start()
        with seedfs_on(tmp, d, "--allow-other") as fs:
            users_checks(tmp, d, fs, allowed, other)
        with seedfs_on(tmp, d, name="private") as fs:
            for ids in (allowed, other):
                r = as_user(*ids, READ_ALL + [fs.file], {})
                check(r.returncode != 0 and "Permission denied" in r.stderr,
                      "without --allow-other, uid %d read: %s" % (ids[0], r.stderr))
            check(len(read_once(fs.file, SIZE)[0]) == SIZE, "root cannot read its own mount")
        ok("without --allow-other only seedfs's own user (root) may use the mount")
    finally:
        users.remove()


def users_table(d):
    return {u["uid"]: u for u in d.status().get("users") or []}


def users_checks(tmp, d, fs, allowed, other):
    drbg = for_others(prog("gen_random_ctr_drbg", "3.6", "-static"))
    for name, ids in (("a", allowed), ("b", other)):
        w = workdir(tmp, fs, "work-" + name)
        os.chown(w, *ids)
    before = counters(d)
    r = as_user(*allowed, READ_ALL + [fs.file], {})
    check(r.returncode == 0 and r.stdout.strip() == str(SIZE),
          "uid %d (--allow-uid) could not read: %s%s" % (allowed[0], r.stdout, r.stderr))
    r = as_user(*allowed, [drbg, "out"], {}, cwd=tmp / "work-a")
    check(r.returncode == 0 and os.path.getsize(os.path.join(tmp / "work-a", "out")) == DRBG_OUT,
          "gen_random_ctr_drbg as uid %d: exit %d %s" % (allowed[0], r.returncode, r.stdout))
    check(counters(d)[0] > before[0] + 1, "seedd served the allowed user nothing")
    ok("uid %d, in --allow-uid: reads through seedfs, and an unmodified static "
       "gen_random_ctr_drbg 3.6 seeds" % allowed[0])

    refused = users_table(d).get(other[0], {}).get("refused", 0)
    r = as_user(*other, READ_ALL + [fs.file], {})
    check(r.returncode != 0 and "Permission denied" in r.stderr,
          "uid %d (not allowed) read: exit %d %s" % (other[0], r.returncode, r.stderr))
    r = as_user(*other, [drbg, "out"], {}, cwd=tmp / "work-b")
    check(r.returncode != 0 and "-52" in r.stdout,
          "gen_random_ctr_drbg as uid %d: exit %d %s" % (other[0], r.returncode, r.stdout))
    table = users_table(d)
    check(table.get(other[0], {}).get("refused", 0) >= refused + 2,
          "seedd's per-user table does not show uid %d refused: %r" % (other[0], table))
    check(table.get(0, {}).get("refused", 0) == 0, "seedd refused root: %r" % table)
    ok("uid %d, not allowed: EACCES, gen_random_ctr_drbg fails to seed; seedd counts the "
       "refusals against uid %d, not against seedfs (root)" % (other[0], other[0]))


# --- unmodified Mbed TLS option-1 programs ---

def case_drbg(tmp, version):
    need_fuse()
    build()
    d = Daemon(tmp)
    d.start()
    with seedfs_on(tmp, d, "--allow-other") as fs:
        work = workdir(tmp, fs)
        for link in LINKS:
            p = prog("gen_random_ctr_drbg", version, link)
            before = counters(d)
            seeded, distinct, fails = drbg_crowd(p, work)
            requests = counters(d)[0] - before[0]
            check(seeded == CONCURRENT and distinct == CONCURRENT,
                  "%s through seedfs: %d seeded, %d distinct; %s"
                  % (os.path.basename(p), seeded, distinct, fails[:3]))
            # Each reads the NV seed, writes the next, and reads and rewrites CTR_DRBG's seed file.
            check(requests >= 2 * CONCURRENT, "seedd served %d requests" % requests)
            ok("%d x %s started together through seedfs: all seeded, %d distinct outputs, "
               "%d requests to seedd" % (CONCURRENT, os.path.basename(p), distinct, requests))

    # The control: the same processes on one plain shared seed file.
    plain = tmp / "plain"
    os.makedirs(plain)
    for link in LINKS:
        p = prog("gen_random_ctr_drbg", version, link)
        for rnd in range(1, CONTROL_ROUNDS + 1):
            seeddtest.write_seed(os.path.join(plain, "seedfile"))
            seeded, distinct, fails = drbg_crowd(p, plain)
            if seeded < CONCURRENT or distinct < seeded:
                break
        check(seeded < CONCURRENT or distinct < seeded,
              "the control never failed: %d rounds of %d processes on a shared file "
              "all seeded with distinct outputs" % (CONTROL_ROUNDS, CONCURRENT))
        ok("control, %s on one plain seed file (round %d): %d of %d seeded, %d distinct "
           "outputs among them%s" % (os.path.basename(p), rnd, seeded, CONCURRENT, distinct,
                                     ("; " + fails[0]) if fails else ""))


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def case_tls(tmp, version):
    need_fuse()
    build()
    d = Daemon(tmp)
    d.start()
    with seedfs_on(tmp, d, "--allow-other") as fs:
        work = workdir(tmp, fs)
        # Each server with each client, shared libc and static.
        for slink in LINKS:
            server = prog("ssl_server2", version, slink)
            port = str(free_port())
            slog = tmp / ("server%s.log" % slink)
            before = counters(d)[0]
            with open(slog, "w") as f:
                srv = subprocess.Popen([server, "server_addr=127.0.0.1", "server_port=" + port],
                                       cwd=work, stdin=subprocess.DEVNULL, stdout=f,
                                       stderr=subprocess.STDOUT)
            try:
                def listening():
                    text = seeddtest.read_file(slog).decode(errors="replace")
                    check(srv.poll() is None, "ssl_server2 exited %s: %s"
                          % (srv.returncode, text[-2000:]))
                    return "Waiting for a remote connection" in text
                wait_for(listening, 60, "ssl_server2 to listen")
                check(counters(d)[0] > before, "ssl_server2 was not seeded by seedd")
                for clink in LINKS:
                    client = prog("ssl_client2", version, clink)
                    before = counters(d)[0]
                    rc, out, err, _ = run([client, "server_addr=127.0.0.1", "server_port=" + port,
                                           "server_name=localhost", "auth_mode=required"], work)
                    check(rc == 0 and "[ Protocol is " in out and
                          "Verifying peer X.509 certificate... ok" in out,
                          "%s -> %s: exit %d %s %s" % (os.path.basename(client),
                                                       os.path.basename(server), rc,
                                                       out[-1500:], err[-300:]))
                    check(counters(d)[0] > before, "ssl_client2 was not seeded by seedd")
                    proto = [l.strip() for l in out.splitlines() if "Protocol is" in l]
                    ok("%s -> %s through seedfs: handshake, certificate verified, %d requests "
                       "to seedd (%s)" % (os.path.basename(client), os.path.basename(server),
                                          counters(d)[0] - before, proto[0] if proto else ""))
            finally:
                srv.terminate()
                srv.wait(10)


def fails_to_seed(argv, cwd, expect, what):
    rc, out, err, took = run(argv, cwd)
    name = os.path.basename(argv[0])
    check(rc != 0 and expect in out + err, "%s %s: exit %d, stdout %r stderr %r"
          % (name, what, rc, out[-500:], err[-500:]))
    check(took < FAIL_FAST_S, "%s %s took %.2f s to fail" % (name, what, took))
    return "%s exit %d" % (name, rc)


def case_down(tmp, version):
    """With seedd stopped, seedfs unmounted or seedfs killed, every program fails to seed."""
    need_fuse()
    build()
    d = Daemon(tmp)
    d.start()
    with seedfs_on(tmp, d, "--allow-other") as fs:
        work = workdir(tmp, fs)
        drbg = [prog("gen_random_ctr_drbg", version, l) for l in LINKS]
        clients = [prog("ssl_client2", version, l) for l in LINKS]

        def all_fail(what):
            said = []
            for p in drbg:
                said.append(fails_to_seed([p, os.path.join(work, "out")], work,
                                          "failed in mbedtls_ctr_drbg_seed: -52", what))
            for p in clients:
                said.append(fails_to_seed([p, "server_addr=127.0.0.1", "server_port=9"], work,
                                          "returned -0x34", what))
            ok("%s: every program fails to seed (%s)" % (what, ", ".join(said)))

        # The positive control: with both up the same programs seed.
        for p in drbg:
            rc, out, _, _ = run([p, os.path.join(work, "out")], work)
            check(rc == 0, "%s failed with seedd and seedfs up: %s" % (p, out[-500:]))
        check(d.stop() == 0, "seedd did not stop cleanly")
        all_fail("seedd stopped")
        d.start()
        rc = fs.stop()
        check(rc == 0 and not mounted(fs.mnt), "seedfs exited %s on SIGTERM, %s" % (
            rc, "unmounted" if not mounted(fs.mnt) else "still mounted"))
        all_fail("seedfs stopped (unmounted)")
        check(os.listdir(fs.mnt) == [], "a program wrote into the bare mountpoint: %r"
              % os.listdir(fs.mnt))
        fs.start()
        fs.stop(signal.SIGKILL)
        check(mounted(fs.mnt) == "fuse.seedfs", "the mount went away with seedfs")
        all_fail("seedfs killed (ENOTCONN)")


def test_files(tmp):
    case_files(tmp)


def test_users(tmp):
    case_users(tmp)


# drbg_2_28, tls_3_6, down_2_28, ...: one case per Mbed TLS series.
for _v in VERSIONS:
    for _kind, _case in (("drbg", case_drbg), ("tls", case_tls), ("down", case_down)):
        globals()["test_%s_%s" % (_kind, _v.replace(".", "_"))] = (
            lambda tmp, c=_case, v=_v: c(tmp, v))


def test_build(tmp):
    need_fuse()
    build()


if __name__ == "__main__":
    seeddtest.main(globals())
