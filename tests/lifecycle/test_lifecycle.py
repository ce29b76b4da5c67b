#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Seed lifecycle: provisioning, encryption at rest and clone detection."""

import hashlib
import json
import os
import pty
import pwd
import re
import stat
import subprocess

from seeddtest import (Daemon, check, connect, main, raw_get, read_file, seal, snapshot,
                       write_machine_id, write_seed, SEEDCTL, target)
from seeddtest.seal import MAGIC, sealed_size


def seedctl(*args, stdin=b""):
    r = subprocess.run(target(SEEDCTL, *args), input=stdin, capture_output=True,
                       timeout=60)
    return r.returncode, r.stdout.decode(), r.stderr.decode()


def write_key(path, data=None, mode=0o600):
    return write_seed(path, os.urandom(32) if data is None else data, mode)


def expect_untouched(path, before):
    check(snapshot(path) == before, "%s was modified" % path)


def daemon(tmp, *args, machine="m1", key=None, name="seedfile", sock="seedd.sock", **kw):
    mid = write_machine_id(tmp / ("machine-id-" + machine), machine * 8) if machine else None
    extra = []
    if mid:
        extra += ["--machine-id-file", mid]
    if key:
        extra += ["--key-file", key]
    return Daemon(tmp, *(extra + list(args)), seed_file=tmp / name, sock=tmp / sock, **kw)


def run_once(d):
    """Starts, waits until serving, stops with SIGTERM; returns the log."""
    d.start()
    check(d.stop() == 0, "seedd did not stop cleanly:\n%s" % d.log())
    return d.log()


def expect_refused(d, words):
    before = snapshot(d.seed_file) if os.path.lexists(d.seed_file) else None
    code, log = d.run_to_exit()
    check(code == 1, "exit code %d, expected 1:\n%s" % (code, log))
    for w in words:
        check(w in log, "message lacks %r:\n%s" % (w, log))
    if before is not None:
        expect_untouched(d.seed_file, before)
    return log


# --- provisioning ----------------------------------------------------------------------------

def test_provision_stdin(tmp):
    for n in (32, 64):
        seed = os.urandom(n)
        path = tmp / ("seed%d" % n)
        rc, out, err = seedctl("provision", "--stdin", path, stdin=seed)
        check(rc == 0, "provision --stdin %d failed (%d): %s" % (n, rc, err))
        check(read_file(path) == seed, "stored seed differs from stdin")
        check(os.stat(path).st_mode & 0o777 == 0o600, "mode is not 0600")
        rc, out, err = seedctl("check", path)
        check(rc == 0 and "ok: raw %d-byte seed" % n in out, "check: %d %s %s" % (rc, out, err))
    # --bytes must agree with what arrives.
    rc, _, err = seedctl("provision", "--stdin", "--bytes", "32", tmp / "x", stdin=os.urandom(64))
    check(rc == 1 and "not the 32 of --bytes" in err, "--bytes mismatch: %d %s" % (rc, err))
    check(not os.path.exists(tmp / "x"), "refused seed was written")


def test_provision_stdin_refusals(tmp):
    path = tmp / "seedfile"
    cases = [
        (b"", "0 bytes"),
        (os.urandom(31), "31 bytes"),
        (os.urandom(33), "33 bytes"),
        (os.urandom(65), "more than 64 bytes"),
        (os.urandom(4096), "more than 64 bytes"),
        (b"\x5a" * 64, "all 64 bytes are equal"),
        (bytes(range(64)), "distinct steps"),
        (bytes(range(0, 256, 8)), "distinct steps"),
        (b"\x01\x02\x03\x04" * 16, "distinct byte values"),
        (os.urandom(8) * 4, "distinct byte values"),
    ]
    for data, words in cases:
        rc, _, err = seedctl("provision", "--stdin", path, stdin=data)
        check(rc == 1, "input %r: exit %d, expected 1" % (data[:8], rc))
        check(words in err and "refusing the seed on stdin" in err,
              "input %r: message lacks %r: %s" % (data[:8], words, err))
        check(not os.path.exists(path), "a refused seed was written")
    # A refused input never touches an existing file, even with --force.
    write_seed(path)
    before = snapshot(path)
    for data, _ in cases:
        rc, _, _ = seedctl("provision", "--stdin", "--force", path, stdin=data)
        check(rc == 1, "--force with bad input: exit %d" % rc)
        expect_untouched(path, before)


def test_provision_no_overwrite(tmp):
    path = tmp / "seedfile"
    old = write_seed(path)
    before = snapshot(path)
    rc, _, err = seedctl("provision", "--stdin", path, stdin=os.urandom(64))
    check(rc == 1 and "use --force" in err, "overwrite without --force: %d %s" % (rc, err))
    expect_untouched(path, before)
    rc, _, err = seedctl("provision", path)
    check(rc == 1, "provision over an existing file: exit %d" % rc)
    expect_untouched(path, before)
    new = os.urandom(64)
    rc, _, err = seedctl("provision", "--stdin", "--force", path, stdin=new)
    check(rc == 0 and read_file(path) == new and new != old, "--force: %d %s" % (rc, err))


def test_provision_running_daemon_refused(tmp):
    d = daemon(tmp).start()
    before = read_file(d.seed_file)
    rc, _, err = seedctl("provision", "--stdin", "--force", d.seed_file, stdin=os.urandom(64))
    check(rc == 1 and "in use by seedd" in err, "provision under a live seedd: %d %s" % (rc, err))
    check(read_file(d.seed_file) == before, "seed file changed under the daemon")


def test_provision_count(tmp):
    out = tmp / "images"
    os.mkdir(out)
    rc, stdout, err = seedctl("provision", "--count", 200, "--out-dir", out, "--bytes", 32)
    check(rc == 0, "provision --count failed (%d): %s" % (rc, err))
    names = sorted(os.listdir(out))
    check(names == ["seedfile-%06d" % i for i in range(1, 201)], "names: %s" % names[:5])
    seeds = set()
    for n in names:
        p = os.path.join(out, n)
        st = os.lstat(p)
        check(st.st_mode & 0o7777 == 0o600, "%s has mode %o" % (n, st.st_mode))
        check(st.st_size == 32, "%s has %d bytes" % (n, st.st_size))
        seeds.add(read_file(p))
        rc, _, err = seedctl("check", p)
        check(rc == 0, "check %s: %s" % (n, err))
    check(len(seeds) == 200, "only %d distinct seeds in 200 files" % len(seeds))
    check(not any(n.startswith(".") for n in os.listdir(out)), "temp files left behind")

    # Again without --force: refused before anything is written.
    before = {n: snapshot(os.path.join(out, n)) for n in names}
    rc, _, err = seedctl("provision", "--count", 200, "--out-dir", out)
    check(rc == 1 and "exists" in err, "second batch without --force: %d %s" % (rc, err))
    for n in names:
        expect_untouched(os.path.join(out, n), before[n])
    rc, _, err = seedctl("provision", "--count", 3, "--out-dir", out, "--force")
    check(rc == 0, "--force batch failed: %s" % err)
    check(all(read_file(os.path.join(out, n)) != before[n][0] for n in names[:3]),
          "--force did not replace the files")

    for args in (["--count", 3], ["--out-dir", out], ["--count", 0, "--out-dir", out],
                 ["--count", 3, "--out-dir", out, "--stdin"],
                 ["--count", 3, "--out-dir", out, tmp / "extra"],
                 ["--count", "x", "--out-dir", out]):
        rc, _, err = seedctl("provision", *args)
        check(rc == 2, "provision %s: exit %d, expected 2 (usage)" % (args, rc))
    # A missing --out-dir is made, private; a missing parent is not.
    made = tmp / "made"
    rc, _, err = seedctl("provision", "--count", 2, "--out-dir", made)
    check(rc == 0, "missing --out-dir: %d %s" % (rc, err))
    st = os.lstat(made)
    check(stat.S_ISDIR(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o700,
          "--out-dir made with mode %o" % st.st_mode)
    check(sorted(os.listdir(made)) == ["seedfile-000001", "seedfile-000002"], os.listdir(made))
    rc, _, err = seedctl("provision", "--count", 2, "--out-dir", os.path.join(tmp / "no", "dir"))
    check(rc == 1 and "cannot create directory" in err and "No such file" in err,
          "missing parent of --out-dir: %d %s" % (rc, err))
    check(not os.path.exists(tmp / "no"), "made the parent of --out-dir")


def run_on_pty(argv):
    """(exit code, stdout, what reached stderr) with stderr a terminal."""
    master, slave = pty.openpty()
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=slave, stdin=subprocess.DEVNULL)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: every writer of the terminal has gone
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    out = p.stdout.read().decode()
    return p.wait(60), out, b"".join(chunks).decode()


def test_provision_count_progress(tmp):
    """On a terminal, provision --count shows how many files are written, as one
    line updated in place (a batch of 20,000 takes a minute); on anything else
    it says nothing on stderr, so logs and pipelines stay clean."""
    n = 400
    rc, out, err = run_on_pty(target(SEEDCTL, "provision", "--count", n, "--out-dir",
                                     tmp / "tty", "--bytes", 32))
    check(rc == 0 and out.startswith("wrote %d distinct" % n), "exit %d: %r %r" % (rc, out, err))
    check(err.startswith("\rwriting seed files: 0/%d (0%%)" % n) and
          err.endswith("\rwriting seed files: %d/%d (100%%)\r\n" % (n, n)), "progress: %r" % err)
    counts = [int(m) for m in re.findall(r"\rwriting seed files: (\d+)/%d " % n, err)]
    check(counts == sorted(counts) and len(counts) >= 2, "progress went %s" % counts)
    check(err.count("\n") == 1, "more than one line: %r" % err)
    rc, out, err = seedctl("provision", "--count", n, "--out-dir", tmp / "pipe", "--bytes", 32)
    check(rc == 0 and err == "" and out.startswith("wrote %d distinct" % n),
          "not a terminal: exit %d, stderr %r" % (rc, err))
    # A failure ends the progress line before its message (a directory where file 2 goes).
    os.mkdir(tmp / "fail")
    os.chmod(tmp / "fail", 0o700)
    os.mkdir(tmp / "fail/seedfile-000002")
    rc, out, err = run_on_pty(target(SEEDCTL, "provision", "--count", 3, "--out-dir",
                                     tmp / "fail", "--force"))
    check(rc == 1 and re.search(r"\(\d+%\)\r\nseedctl: provision: cannot write \S+/seedfile-000002: "
                                r".*\(1 of 3 written\)\r\n$", err), "a failed batch: %r" % err)
    print("%d files on a terminal: %d updates of one line, %s; none on a pipe"
          % (n, len(counts), counts[:4] + ["..."] + counts[-1:]))


def manifest(path):
    with open(path) as f:
        rows = [line.rstrip("\n").split("\t") for line in f]
    check(rows and rows[0] == ["file", "seed_bytes", "file_bytes", "format", "key_id"],
          "manifest header %r" % rows[:1])
    return rows[1:]


def test_provision_manifest(tmp):
    """--manifest lists every file of a batch: name, seed and file size, sealed or
    raw, and the key id seedctl check reports; never a seed or a hash of one. It
    is made before any seed is written, and never replaces what is not ours."""
    key = tmp / "key"
    write_key(key)
    for args, fmt in (([], "raw"), (["--key-file", key], "sealed")):
        out, listing = tmp / ("seeds-" + fmt), tmp / ("list-" + fmt)
        rc, stdout, err = seedctl("provision", "--count", 5, "--out-dir", out, "--bytes", 32,
                                  "--manifest", listing, *args)
        check(rc == 0 and ("listed in %s" % listing) in stdout, "%s: %d %s" % (fmt, rc, err))
        rows = manifest(listing)
        check([r[0] for r in rows] == sorted(os.listdir(out)) and len(rows) == 5, rows)
        text = read_file(listing)
        for name, seed_bytes, file_bytes, form, key_id in rows:
            path = os.path.join(out, name)
            data = read_file(path)
            check(seed_bytes == "32" and int(file_bytes) == len(data) and form == fmt, rows)
            rc, said, err = seedctl("check", *args, path)
            want = ("key id %s," % key_id) if fmt == "sealed" else "raw 32-byte seed"
            check(rc == 0 and want in said and (fmt == "sealed") == (key_id != "-"),
                  "%s: manifest %s, check says %r" % (name, key_id, said))
            if fmt == "raw":
                for leak in (data, data.hex().encode(), hashlib.sha256(data).hexdigest().encode(),
                             hashlib.sha512(data).hexdigest().encode(), data[:8].hex().encode()):
                    check(leak not in text, "%s: the manifest shows its seed" % name)
    # Refusals, each before any seed file is written.
    listing = tmp / "list-raw"

    def content(path):
        return read_file(path), os.stat(path).st_ino, os.stat(path).st_mtime_ns
    before = content(listing)
    for name, setup, why in (
            ("exists", lambda p: None, "use --force"),
            ("symlink", lambda p: os.symlink(listing, p), "Too many levels of symbolic links"),
            ("linked", lambda p: os.link(listing, p), "one link")):
        target_path = listing if name == "exists" else tmp / ("m-" + name)
        setup(target_path)
        out = tmp / ("refused-" + name)
        rc, _, err = seedctl("provision", "--count", 2, "--out-dir", out, "--manifest",
                             target_path, *(["--force"] if name != "exists" else []))
        check(rc == 1 and why in err and "manifest" in err, "%s: %d %s" % (name, rc, err))
        check(not os.path.exists(out), "%s: the batch went ahead: %s" % (name, out))
        check(content(listing) == before, "%s: the manifest it points to changed" % name)
    rc, _, err = seedctl("provision", tmp / "one", "--manifest", tmp / "m")
    check(rc == 2 and "--count" in err, "--manifest without --count: %d %s" % (rc, err))
    os.unlink(tmp / "m-linked")
    rc, _, err = seedctl("provision", "--count", 2, "--out-dir", tmp / "seeds-raw", "--force",
                         "--manifest", listing)
    check(rc == 0 and len(manifest(listing)) == 2, "--force replaces our own manifest: %s" % err)
    print("raw and sealed batches listed; existing, symlinked and hard-linked manifests refused")


def ranks(values):
    order = sorted(range(len(values)), key=values.__getitem__)
    r = [0] * len(values)
    for rank, i in enumerate(order):
        r[i] = rank
    return r


def test_provision_count_order(tmp):
    """provision --count writes the seeds in the order they were made: file k
    must not hold about the k/N quantile, or its name would tell the top bits
    of its seed. The rank correlation of file number and seed is about
    N(0, 1/N) for independent seeds (sd 0.03 at N = 1000); sorted, it is 1."""
    n = 1000
    out = tmp / "order"
    rc, _, err = seedctl("provision", "--count", n, "--out-dir", out, "--bytes", 32)
    check(rc == 0, "provision --count failed (%d): %s" % (rc, err))
    seeds = [read_file(os.path.join(out, "seedfile-%06d" % i)) for i in range(1, n + 1)]
    check(len(set(seeds)) == n, "only %d distinct seeds" % len(set(seeds)))
    ascending = sum(1 for a, b in zip(seeds, seeds[1:]) if a < b)
    rho = 1 - 6 * sum((k - r) ** 2 for k, r in enumerate(ranks(seeds))) / (n * (n * n - 1))
    print("%d files: %d of %d neighbours ascending, rank correlation of name and seed %.3f"
          % (n, ascending, n - 1, rho))
    # 0.2 is more than 6 sd away from 0: a false failure has odds below 1e-9.
    check(abs(rho) < 0.2, "file names follow the seeds' order (rank correlation %.3f)" % rho)


def test_provision_key_file(tmp):
    """provision --key-file writes sealed files directly, single and batch: a factory
    never ships a raw seed, and seedd with the key reads them as they are."""
    key = tmp / "key"
    write_key(key)
    for n in (32, 64):
        path = tmp / ("sealed%d" % n)
        rc, out, err = seedctl("provision", "--key-file", key, "--bytes", n, path)
        check(rc == 0 and "encrypted" in out, "provision --key-file: %d %s" % (rc, err))
        data = read_file(path)
        check(len(data) == sealed_size(n) and seal.header(data)["magic"] == MAGIC and
              seal.header(data)["seed_len"] == n,
              "%d-byte seed: %d bytes, header %s" % (n, len(data), data[:12].hex()))
        check(stat.S_IMODE(os.stat(path).st_mode) == 0o600, "mode is not 0600")
        rc, out, err = seedctl("check", "--key-file", key, path)
        check(rc == 0 and "verified with" in out, "check: %d %s %s" % (rc, out, err))
    # From stdin: the bytes given are what the sealed file holds (a different key fails).
    seed = os.urandom(64)
    path = tmp / "from-stdin"
    rc, out, err = seedctl("provision", "--key-file", key, "--stdin", path, stdin=seed)
    check(rc == 0, "provision --stdin --key-file: %s" % err)
    check(seed not in read_file(path) and seed[:16] not in read_file(path),
          "the seed is visible in the sealed file")
    other = tmp / "other.key"
    write_key(other)
    rc, _, err = seedctl("check", "--key-file", other, path)
    check(rc == 1 and "wrong key" in err, "check with another key: %d %s" % (rc, err))

    # seedd with the key serves it as an encrypted file; without the key it refuses.
    d = daemon(tmp, key=key, name="sealed64")
    d.start()
    st = d.status()
    check(st["encrypted"] and st["seed_origin"] == "encrypted", "status: %s" % st)
    check(d.stop() == 0)
    expect_refused(daemon(tmp, name="sealed64"), ["is encrypted, and no key is configured"])

    # A batch for the factory: all sealed, all distinct, each accepted by seedd.
    out_dir = tmp / "factory"
    rc, out, err = seedctl("provision", "--count", 20, "--out-dir", out_dir, "--key-file", key)
    check(rc == 0 and "encrypted" in out, "batch --key-file: %d %s" % (rc, err))
    names = sorted(os.listdir(out_dir))
    check(names == ["seedfile-%06d" % i for i in range(1, 21)], names)
    datas = [read_file(os.path.join(out_dir, x)) for x in names]
    check(all(len(x) == sealed_size(64) and x.startswith(MAGIC) for x in datas),
          "a batch file is not sealed")
    check(len({x[32:] for x in datas}) == 20, "two batch files are equal")
    for x in names[:3]:
        rc, _, err = seedctl("check", "--key-file", key, os.path.join(out_dir, x))
        check(rc == 0, "check %s: %s" % (x, err))
    run_once(daemon(tmp, key=key, name=os.path.join("factory", "seedfile-000001")))

    # A key seedd would refuse is refused here too, and nothing is written.
    write_key(tmp / "bad.key", mode=0o644)
    rc, _, err = seedctl("provision", "--key-file", tmp / "bad.key", tmp / "never")
    check(rc == 1 and "refusing key file" in err and "mode 0644" in err, "%d %s" % (rc, err))
    check(not os.path.lexists(tmp / "never"), "wrote a seed with a refused key")
    rc, _, err = seedctl("provision", "--count", 2, "--out-dir", tmp / "never-dir",
                         "--key-file", tmp / "bad.key")
    check(rc == 1 and not os.path.lexists(tmp / "never-dir"), "batch with a refused key: %s" % err)


def test_provision_dir_rules(tmp):
    """provision writes only where seedd would accept the result: the directory is
    root's or ours (or the daemon user's), no one else can write it or a parent."""
    def refused(args, words, where):
        before = sorted(os.listdir(where))
        rc, _, err = seedctl("provision", *args)
        check(rc == 1, "provision %s: exit %d, expected 1: %s" % (args, rc, err))
        for w in words:
            check(w in err, "provision %s: message lacks %r: %s" % (args, w, err))
        check(sorted(os.listdir(where)) == before, "provision %s wrote into %s" % (args, where))

    for mode in (0o777, 0o770, 0o1777):
        d = tmp / ("m%o" % mode)
        os.mkdir(d)
        os.chmod(d, mode)
        refused([os.path.join(d, "seedfile")], ["refusing to write", "directory %s has mode %04o"
                                                % (d, mode)], d)
        refused(["--count", 2, "--out-dir", d], ["refusing to write to %s" % d], d)
    top = os.path.realpath(tmp / "open")
    os.mkdir(top)
    os.chmod(top, 0o777)
    inner = os.path.join(top, "state")
    os.mkdir(inner, 0o700)
    refused([os.path.join(inner, "seedfile")], ["directory %s above %s" % (top, inner)], inner)
    refused(["--count", 2, "--out-dir", inner], ["directory %s above" % top], inner)
    # A --out-dir that provision would make under such a parent is not left behind.
    refused(["--count", 2, "--out-dir", os.path.join(top, "new")], ["directory %s above" % top],
            top)
    os.chmod(top, 0o1777)
    if os.geteuid() == 0:
        rc, _, err = seedctl("provision", os.path.join(inner, "seedfile"))
        check(rc == 0, "under a sticky root directory: %s" % err)
    else:
        # Only root can make a directory root's: sticky and ours, it is refused.
        refused([os.path.join(inner, "seedfile")], ["directory %s above %s has mode 1777 and "
                                                    "owner uid %d" % (top, inner, os.geteuid())],
                inner)

    d = tmp / "locked"
    os.mkdir(d, 0o700)
    target = tmp / "target"
    with open(target, "w") as f:
        f.write("keep\n")
    os.symlink(target, os.path.join(d, "seedfile.lock"))
    refused([os.path.join(d, "seedfile")], ["lock file", "symbolic link"], d)
    check(read_file(target) == b"keep\n", "wrote through the lock symlink")
    if os.geteuid() != 0:
        return
    d = tmp / "nobodys"
    os.mkdir(d, 0o700)
    os.chown(d, 65534, 65534)
    refused([os.path.join(d, "seedfile")], ["directory %s is owned by uid 65534" % d], d)
    refused(["--count", 1, "--out-dir", d], ["owned by uid 65534"], d)


def test_check_dir_rules(tmp):
    """check refuses what seedd would: the directory, the parents, links, .machine."""
    def refused(path, words, *args):
        rc, _, err = seedctl("check", *args, path)
        check(rc == 1 and "refused" in err, "check %s: exit %d: %s" % (path, rc, err))
        for w in words:
            check(w in err, "check %s: message lacks %r: %s" % (path, w, err))

    d = tmp / "open"
    os.mkdir(d)
    os.chmod(d, 0o770)
    write_seed(os.path.join(d, "seedfile"))
    refused(os.path.join(d, "seedfile"), ["directory %s has mode 0770" % d])
    inner = os.path.join(d, "state")
    os.mkdir(inner, 0o700)
    write_seed(os.path.join(inner, "seedfile"))
    refused(os.path.join(inner, "seedfile"), ["directory %s above" % os.path.realpath(d)])
    os.chmod(d, 0o700)
    rc, _, err = seedctl("check", os.path.join(inner, "seedfile"))
    check(rc == 0, "control: %s" % err)

    os.link(os.path.join(inner, "seedfile"), tmp / "second-name")
    refused(os.path.join(inner, "seedfile"), ["2 hard links"])
    os.unlink(tmp / "second-name")
    os.symlink(tmp / "elsewhere", os.path.join(inner, "seedfile.machine"))
    refused(os.path.join(inner, "seedfile"), ["seedfile.machine is a symbolic link"])
    os.unlink(os.path.join(inner, "seedfile.machine"))
    if os.geteuid() != 0:
        return
    # Image CI: the directory and the file belong to the daemon's uid in the image.
    img = tmp / "image"
    os.mkdir(img, 0o700)
    write_seed(os.path.join(img, "seedfile"))
    os.chown(os.path.join(img, "seedfile"), 65534, 65534)
    os.chown(img, 65534, 65534)
    rc, out, err = seedctl("check", "--owner", 65534, os.path.join(img, "seedfile"))
    check(rc == 0 and "ok" in out, "--owner 65534 with its own directory: %d %s" % (rc, err))
    os.chown(os.path.join(img, "seedfile"), 0, 0)
    os.chown(img, 1234, 1234)
    refused(os.path.join(img, "seedfile"), ["directory %s is owned by uid 1234" % img])


def test_check_refusals(tmp):
    good = tmp / "good"
    write_seed(good)
    rc, out, _ = seedctl("check", good)
    check(rc == 0 and "not encrypted" in out, "good seed: %d %s" % (rc, out))
    setups = [
        ("mode", lambda p: write_seed(p, mode=0o640), "mode 0640"),
        ("size", lambda p: write_seed(p, os.urandom(48)), "48 bytes"),
        ("empty", lambda p: write_seed(p, b""), "0 bytes"),
        ("equal", lambda p: write_seed(p, b"\0" * 32), "all 32 bytes are equal"),
        ("pattern", lambda p: write_seed(p, bytes(range(32))), "not a random seed"),
        ("symlink", lambda p: os.symlink(good, p), "symbolic link"),
        ("dir", lambda p: os.mkdir(p, 0o700), "not a regular file"),
        ("truncated", lambda p: write_seed(p, MAGIC + os.urandom(56)), "truncated"),
    ]
    for name, setup, words in setups:
        p = tmp / name
        setup(p)
        before = snapshot(p)
        rc, _, err = seedctl("check", p)
        check(rc == 1, "check %s: exit %d, expected 1" % (name, rc))
        check(words in err and "refused" in err, "check %s: message lacks %r: %s"
              % (name, words, err))
        expect_untouched(p, before)
    rc, _, err = seedctl("check", tmp / "missing")
    check(rc == 1 and "No such file" in err, "missing file: %d %s" % (rc, err))
    other = os.geteuid() + 1
    rc, _, err = seedctl("check", "--owner", other, good)
    check(rc == 1 and "owned by uid %d" % os.geteuid() in err, "--owner: %d %s" % (rc, err))
    rc, _, err = seedctl("check", "--owner", os.geteuid(), good)
    check(rc == 0, "--owner self: %d %s" % (rc, err))
    rc, _, err = seedctl("check", "--owner", pwd.getpwuid(os.geteuid()).pw_name, good)
    check(rc == 0, "--owner by name: %d %s" % (rc, err))
    for args in ([], [good, good], ["--owner", "nobody-x", good], ["--bogus", good]):
        rc, _, _ = seedctl("check", *args)
        check(rc == 2, "check %s: exit %d, expected 2" % (args, rc))


# --- encryption at rest ----------------------------------------------------------------------

def test_encrypt_new_seedfile(tmp):
    key = tmp / "key"
    write_key(key)
    d = daemon(tmp, key=key)
    run_once(d)
    data = read_file(d.seed_file)
    check(len(data) == sealed_size(64), "encrypted file has %d bytes" % len(data))
    hdr = seal.header(data)
    check((hdr["magic"], hdr["version"], hdr["cipher"], hdr["seed_len"]) ==
          (MAGIC, seal.FORMAT_VERSION, seal.CIPHER_AES_256_GCM, 64),
          "header: %s" % data[:seal.OFFSET["key_id"]].hex())
    check(os.stat(d.seed_file).st_mode & 0o777 == 0o600, "mode is not 0600")
    check(not os.path.exists(d.seed_file + ".machine"), "raw-format sibling beside an encrypted seed")
    rc, out, err = seedctl("check", d.seed_file)
    check(rc == 0 and "encrypted" in out and "not verified" in out, "check: %s %s" % (out, err))
    rc, out, err = seedctl("check", "--key-file", key, d.seed_file)
    check(rc == 0 and "verified with" in out and "not verified" not in out,
          "check --key-file: %s %s" % (out, err))
    # Restarts read it back and write a fresh ciphertext (new seed, new nonce).
    run_once(daemon(tmp, key=key))
    data2 = read_file(d.seed_file)
    nonce = seal.OFFSET["nonce"]
    check(len(data2) == len(data) and data2[:nonce] == data[:nonce] and
          data2[nonce:] != data[nonce:],
          "second save did not produce a fresh ciphertext")


def test_migrate_raw(tmp):
    """--migrate-raw encrypts a raw seed file once; afterwards it is not needed."""
    key = tmp / "key"
    write_key(key)
    for n in (32, 64):
        name = "seed%d" % n
        raw = write_seed(tmp / name, os.urandom(n))
        d = daemon(tmp, "--migrate-raw", key=key, name=name)
        d.start()
        st = d.status()
        # NV seed builds store MBEDTLS_ENTROPY_BLOCK_SIZE bytes, so 32 may become 64.
        size = st["seed_size"]
        check(st["encrypted"] is True and size in (n, 64), "status: %s" % st)
        check(st["seed_origin"] == "migrated", "status: %s" % st)
        check(d.stop() == 0, "stop failed")
        log = d.log()
        check("not encrypted; encrypting it with the first update" in log, "no notice:\n" + log)
        check("migrated seed file" in log, "no migration line:\n" + log)
        data = read_file(tmp / name)
        check(len(data) == sealed_size(size) and data.startswith(MAGIC),
              "not migrated: %d bytes" % len(data))
        check(raw not in data and raw[:16] not in data, "raw seed visible in the encrypted file")
        d = daemon(tmp, key=key, name=name)
        d.start()
        check(d.status()["seed_origin"] == "encrypted", "after migration: %s" % d.status())
        check(d.stop() == 0 and "migrated" not in d.log(), "migrated twice:\n" + d.log())
        log = run_once(daemon(tmp, "--migrate-raw", key=key, name=name))
        check("--migrate-raw is not needed" in log and "migrated seed file" not in log,
              "--migrate-raw on an encrypted file:\n" + log)


def test_raw_refused_with_key(tmp):
    """With a key, a raw (unauthenticated) seed file is refused without --migrate-raw."""
    key = tmp / "key"
    write_key(key)
    d = daemon(tmp, key=key)
    write_seed(d.seed_file)
    log = expect_refused(d, ["refusing seed file %s" % d.seed_file, "is not encrypted",
                             "--migrate-raw", "seedctl provision --key-file"])
    check("serving" not in log, "served a raw seed with a key:\n" + log)
    rc, _, err = seedctl("check", "--key-file", key, d.seed_file)
    check(rc == 1 and "is not encrypted" in err and "--migrate-raw" in err,
          "check --key-file on a raw file: %d %s" % (rc, err))
    # The same with the key as a systemd credential.
    creds = tmp / "creds"
    os.mkdir(creds, 0o700)
    write_key(os.path.join(creds, "seedd.key"))
    expect_refused(daemon(tmp, env={"CREDENTIALS_DIRECTORY": creds}), ["is not encrypted"])
    # --migrate-raw without any key is a configuration error, not a silent no-op.
    d = daemon(tmp, "--migrate-raw")
    expect_refused(d, ["--migrate-raw", "no key is configured"])


def test_no_key_stays_raw(tmp):
    d = daemon(tmp)
    raw = write_seed(d.seed_file)
    d.start()
    check(d.status()["encrypted"] is False, "status says encrypted without a key")
    d.stop()
    data = read_file(d.seed_file)
    check(len(data) == 64 and data != raw and not data.startswith(MAGIC), "raw format changed")
    m = read_file(d.seed_file + ".machine")
    check(len(m) == 65 and m.endswith(b"\n"), "machine record: %r" % m)
    int(m[:64], 16)


def tamper(data, offset):
    b = bytearray(data)
    b[offset] ^= 0x01
    return bytes(b)


def put_byte(data, offset, value):
    return data[:offset] + bytes([value]) + data[offset + 1:]


def test_encrypted_refusals(tmp):
    key = tmp / "key"
    write_key(key)
    run_once(daemon(tmp, key=key))
    good = read_file(tmp / "seedfile")
    n = len(good)
    other = tmp / "other.key"
    write_key(other)
    at = seal.OFFSET
    cases = [
        ("ciphertext bit", tamper(good, seal.CIPHERTEXT + 5), None, "tampered"),
        ("machine hash bit", tamper(good, seal.CIPHERTEXT + 64 + 3), None, "tampered"),
        ("tag bit", tamper(good, n - 1), None, "tampered"),
        ("nonce bit", tamper(good, at["nonce"] + 5), None, "tampered"),
        ("reserved byte", tamper(good, at["reserved"]), None, "malformed header"),
        ("version", put_byte(good, at["version"], 2), None, "format version 2"),
        ("cipher", put_byte(good, at["cipher"], 7), None, "malformed header"),
        ("seed length", put_byte(good, at["seed_len"], 32), None, "trailing data"),
        ("key id", tamper(good, at["key_id"] + 1), None, "wrong key"),
        ("truncated tag", good[:-1], None, "truncated"),
        ("truncated to 100", good[:100], None, "truncated"),
        ("truncated to 64", good[:64], None, "truncated"),
        ("truncated to 20", good[:20], None, "truncated"),
        ("trailing data", good + b"\0", None, "has %d bytes; too large" % (n + 1)),
        ("wrong key", good, other, "wrong key"),
    ]
    for what, data, k, words in cases:
        write_seed(tmp / "seedfile", data)
        d = daemon(tmp, key=k or key)
        log = expect_refused(d, ["refusing seed file", words])
        check("serving" not in log, "%s: served anyway" % what)
        rc, _, err = seedctl("check", "--key-file", k or key, tmp / "seedfile")
        check(rc == 1 and words in err, "check %s: %d %s" % (what, rc, err))
    write_seed(tmp / "seedfile", good)
    expect_refused(daemon(tmp), ["is encrypted, and no key is configured"])
    # The untouched original still works.
    run_once(daemon(tmp, key=key))


def test_key_file_refusals(tmp):
    d0 = daemon(tmp)
    write_seed(d0.seed_file)
    good = tmp / "good.key"
    write_key(good)
    os.symlink(good, tmp / "link.key")
    os.mkdir(tmp / "dir.key")
    cases = [
        ("mode", lambda p: write_key(p, mode=0o644), "mode 0644"),
        ("group-read", lambda p: write_key(p, mode=0o640), "mode 0640"),
        ("group-rw", lambda p: write_key(p, mode=0o660), "mode 0660"),
        ("group-write", lambda p: write_key(p, mode=0o620), "mode 0620"),
        ("short", lambda p: write_key(p, os.urandom(31)), "31 bytes"),
        ("long", lambda p: write_key(p, os.urandom(64)), "64 bytes; a key file holds exactly 32"),
        ("equal", lambda p: write_key(p, b"k" * 32), "all 32 bytes are equal"),
        ("pattern", lambda p: write_key(p, bytes(range(32))), "not a random seed"),
    ]
    for name, setup, words in cases:
        setup(tmp / (name + ".key"))
    cases += [("link", None, "symbolic link"), ("dir", None, "not a regular file"),
              ("missing", None, "No such file")]
    for name, _, words in cases:
        d = daemon(tmp, key=tmp / (name + ".key"))
        log = expect_refused(d, ["refusing key file", words])
        check("%s.key" % name in log, "message does not name the key file:\n" + log)
        # One check for the three: what seedd refuses, seedctl refuses, for the same reason.
        rc, _, err = seedctl("check", "--key-file", tmp / (name + ".key"), d.seed_file)
        check(rc == 1 and "refusing key file" in err and words in err,
              "check with key %s: %d %s" % (name, rc, err))
        out = tmp / ("provisioned-" + name)
        rc, _, err = seedctl("provision", "--key-file", tmp / (name + ".key"), out)
        check(rc == 1 and "refusing key file" in err and words in err and
              not os.path.exists(out), "provision with key %s: %d %s" % (name, rc, err))
    # The control: a key of our own that nobody else can read, for all three.
    for mode in (0o600, 0o400):
        write_key(good, mode=mode)
        out = tmp / "provisioned-%o" % mode
        rc, _, err = seedctl("provision", "--key-file", good, out)
        check(rc == 0, "provision with a %o key: %s" % (mode, err))
        rc, _, err = seedctl("check", "--key-file", good, out)
        check(rc == 0, "check with a %o key: %s" % (mode, err))


def test_credential_key(tmp):
    creds = tmp / "creds"
    os.mkdir(creds, 0o700)
    write_key(os.path.join(creds, "seedd.key"))
    d = daemon(tmp, env={"CREDENTIALS_DIRECTORY": creds})
    rc, _, err = seedctl("provision", "--key-file", os.path.join(creds, "seedd.key"), d.seed_file)
    check(rc == 0, "provision with the credential: %s" % err)
    d.start()
    check(d.status()["encrypted"] is True, "credential key not used")
    check(d.status()["seed_origin"] == "encrypted", "status: %s" % d.status())
    d.stop()
    check(read_file(d.seed_file).startswith(MAGIC), "not encrypted with the credential")
    rc, out, err = seedctl("check", "--key-file", os.path.join(creds, "seedd.key"), d.seed_file)
    check(rc == 0 and "verified" in out, "check with the credential: %s" % err)
    # An empty credentials directory means no key: raw stays raw.
    os.unlink(os.path.join(creds, "seedd.key"))
    write_seed(tmp / "raw")
    run_once(daemon(tmp, name="raw", env={"CREDENTIALS_DIRECTORY": creds}))
    check(len(read_file(tmp / "raw")) == 64, "raw seed changed format without a key")


def test_daemon_screens_raw_seed(tmp):
    d = daemon(tmp)
    write_seed(d.seed_file, bytes(range(64)))
    expect_refused(d, ["refusing seed file", "not a random seed"])


# --- clone detection -------------------------------------------------------------------------

def first_output(tmp, sub, seed, machine, *args):
    os.mkdir(tmp / sub, 0o700)
    path = os.path.join(tmp / sub, "seedfile")
    write_seed(path, seed)
    d = daemon(tmp, "--no-platform-entropy", *args, machine=machine,
               name=os.path.join(sub, "seedfile"), sock=os.path.join(sub, "s.sock"))
    d.start()
    s = connect(d.sock)
    out = raw_get(s, 64)
    s.close()
    d.stop()
    return out, read_file(path)


def test_clone_outputs_diverge(tmp):
    seed = os.urandom(64)
    a, fa = first_output(tmp, "a", seed, "a1")
    b, fb = first_output(tmp, "b", seed, "b2")
    same, fsame = first_output(tmp, "c", seed, "a1")
    # Without platform entropy the pool is deterministic, so the test can fail:
    check(a == same and fa == fsame, "same seed and machine id gave different outputs")
    check(a != b, "clones with different machine ids served the same bytes")
    check(fa != fb, "clones with different machine ids stored the same next seed")
    print("clone test: same id %s == %s; other id %s" % (a[:8].hex(), same[:8].hex(), b[:8].hex()))


def test_clone_outputs_diverge_encrypted(tmp):
    key = tmp / "key"
    write_key(key)
    seed = os.urandom(64)
    a, _ = first_output(tmp, "a", seed, "a1", "--key-file", key, "--migrate-raw")
    b, _ = first_output(tmp, "b", seed, "b2", "--key-file", key, "--migrate-raw")
    same, _ = first_output(tmp, "c", seed, "a1", "--key-file", key, "--migrate-raw")
    check(a == same, "same seed and machine id gave different outputs")
    check(a != b, "clones with different machine ids served the same bytes")


def clone_image(tmp, key=None):
    """Runs a 'golden' machine, then boots its seedfile on another machine."""
    golden = daemon(tmp, machine="g0", key=key)
    if key:
        rc, _, err = seedctl("provision", "--key-file", key, golden.seed_file)
        check(rc == 0, "provision --key-file: %s" % err)
    else:
        write_seed(golden.seed_file)
    run_once(golden)
    same = daemon(tmp, machine="g0", key=key)
    same.start()
    check(same.status()["clone_suspected"] is False, "suspected on the same machine")
    same.stop()
    check("another machine" not in same.log(), "warned on the same machine:\n" + same.log())
    clone = daemon(tmp, machine="c9", key=key)
    clone.start()
    st = clone.status()
    check(st["clone_suspected"] is True, "clone not suspected: %s" % st)
    r = clone.seedctl("status")
    check("last updated on another machine" in r.stdout, "human status: %s" % r.stdout)
    clone.stop()
    check("was last updated on another machine" in clone.log(), "no warning:\n" + clone.log())
    # The clone's update records its own id: the next start is quiet.
    again = daemon(tmp, machine="c9", key=key)
    again.start()
    check(again.status()["clone_suspected"] is False, "still suspected after the update")
    again.stop()


def test_clone_detected_raw(tmp):
    clone_image(tmp)


def test_clone_detected_encrypted(tmp):
    key = tmp / "key"
    write_key(key)
    clone_image(tmp, key)


def test_machine_id_errors(tmp):
    d = Daemon(tmp, "--machine-id-file", tmp / "nope")
    write_seed(d.seed_file)
    expect_refused(d, ["machine id file", "nope"])
    empty = tmp / "empty-id"
    open(empty, "w").close()
    for content in ("", "uninitialized\n"):
        with open(empty, "w") as f:
            f.write(content)
        expect_refused(Daemon(tmp, "--machine-id-file", empty), ["empty or uninitialized"])


STATUS_KEYS = {"version", "protocol", "socket", "healthy", "seeded", "seed_file", "seed_size",
               "last_save_unix", "last_save_ok", "last_save_error", "last_save_errno", "saves",
               "save_failures",
               "uptime_s", "requests", "bytes_served", "clients", "encrypted", "clone_suspected",
               "seed_origin", "pid", "refused", "evicted", "idle_closed", "users", "limited"}


def test_status_json_keys(tmp):
    d = daemon(tmp).start()
    st = d.status()
    check(set(st) == STATUS_KEYS, "keys: extra %s, missing %s"
          % (sorted(set(st) - STATUS_KEYS), sorted(STATUS_KEYS - set(st))))
    check(st["encrypted"] is False and st["clone_suspected"] is False, "status: %s" % st)
    check(st["seed_origin"] == "created", "status: %s" % st)
    check(st["last_save_unix"] > 0, "no last save time: %s" % st)
    json.dumps(st)


def test_status_seed_origin(tmp):
    """status says how the seed was loaded: raw, encrypted, migrated or created."""
    key = tmp / "key"
    write_key(key)
    human = {"raw": "seed:       read from the raw seed file",
             "encrypted": "seed:       read from the encrypted seed file",
             "migrated": "seed:       read from a raw seed file, now encrypted (--migrate-raw)",
             "created": "seed:       created from getrandom(2): there was no seed file"}
    steps = [
        ("created", "fresh", [], None),
        ("raw", "fresh", [], None),
        ("migrated", "fresh", ["--migrate-raw"], key),
        ("encrypted", "fresh", [], key),
        ("created", "fresh-encrypted", [], key),
        ("encrypted", "fresh-encrypted", [], key),
    ]
    for want, name, args, k in steps:
        d = daemon(tmp, *args, key=k, name=name)
        d.start()
        st = d.status()
        check(st["seed_origin"] == want, "%s: status %s" % (want, st))
        check(st["encrypted"] is (k is not None), "%s: status %s" % (want, st))
        r = d.seedctl("status")
        check(human[want] in r.stdout, "%s: human status:\n%s" % (want, r.stdout))
        check(d.stop() == 0)


if __name__ == "__main__":
    main(globals())
