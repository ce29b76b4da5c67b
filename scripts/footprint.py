#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""footprint.py --source DIR --work DIR [--arch A,B] [--json FILE] [--update README]

What seedd weighs on a board: seedd, seedctl and libseedclient built with
-Dbuildtype=minsize -Dsystemd=disabled for x86-64 (the host) and, where
Debian's cross toolchains are installed, arm64 (also linked for 4 KiB pages)
and armhf, with the target sysroots of scripts/cross-sysroot.sh (shared with
scripts/test-cross.sh under build-cross/). Measured in this run, nothing
typed:

- file sizes in bytes of stripped copies (the target's strip, then stat),
  with text + data + bss from the target's size(1); libseedclient.a with
  strip -g; the Debian libraries seedd needs, as shipped;
- seedd's idle memory 5 s after it began serving, VmRSS (/proc/PID/status)
  and Pss (/proc/PID/smaps_rollup, readable by root only: seedd is not
  dumpable), natively on x86-64 and under qemu-user on the others, beside an
  idle program that links only libc, measured the same way as a baseline.

Prints a Markdown table (and writes --json); --update rewrites the table in
README between its footprint markers. `ninja -C build footprint` runs it,
`ninja -C build update-footprint` updates README.md.
"""

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

ARCHES = {
    "x86-64": {"triplet": None, "qemu": None, "deb": "amd64"},
    "arm64": {"triplet": "aarch64-linux-gnu", "qemu": "qemu-aarch64-static", "deb": "arm64"},
    "arm64-4k": {"triplet": "aarch64-linux-gnu", "qemu": "qemu-aarch64-static", "deb": "arm64",
                 "link": ["-Wl,-z,max-page-size=4096"]},
    "armhf": {"triplet": "arm-linux-gnueabihf", "qemu": "qemu-arm-static", "deb": "armhf"},
}
TITLES = {"x86-64": "x86-64", "arm64": "arm64", "arm64-4k": "arm64, 4 KiB pages",
          "armhf": "armhf"}
BEGIN = "<!-- footprint: begin; `ninja -C build update-footprint` writes this table -->"
END = "<!-- footprint: end -->"
IDLE_C = "#include <unistd.h>\nint main(void) { pause(); return 0; }\n"


def run(argv, **kw):
    kw.setdefault("capture_output", True)
    kw.setdefault("text", True)
    r = subprocess.run([str(a) for a in argv], **kw)
    if r.returncode != 0:
        raise SystemExit("footprint: %s failed (%d):\n%s%s"
                         % (" ".join(map(str, argv)), r.returncode, r.stdout[-3000:],
                            r.stderr[-3000:]))
    return r.stdout


def tool(arch, name):
    t = ARCHES[arch]["triplet"]
    return "%s-%s" % (t, name) if t else name


def missing(arch):
    """Why arch cannot be measured here, or None."""
    a = ARCHES[arch]
    needs = [tool(arch, "gcc"), tool(arch, "strip"), tool(arch, "size")]
    if a["qemu"]:
        needs.append(a["qemu"])
    lacking = [n for n in needs if not shutil.which(n)]
    if lacking:
        return "%s not installed (scripts/test-cross.sh installs them)" % ", ".join(lacking)
    return None


def sysroot(args, arch):
    """(sysroot dir, its machine file), made by cross-sysroot.sh (cached)."""
    deb = ARCHES[arch]["deb"]
    top = os.path.join(args.source, "build-cross", deb)
    run([os.path.join(args.source, "scripts", "cross-sysroot.sh"), deb, top])
    return os.path.join(top, "sysroot"), os.path.join(top, "sysroot.ini")


def build(args, arch):
    a = ARCHES[arch]
    d = os.path.join(args.work, arch)
    opts = ["--buildtype=minsize", "-Dsystemd=disabled", "-Dtests=false", "-Dman=disabled"]
    root = None
    if a["triplet"]:
        root, ini = sysroot(args, arch)
        opts = ["--cross-file", ini, "--cross-file",
                os.path.join(args.source, "cross", a["triplet"] + ".ini")] + opts
        if a.get("link"):
            # The cross file's own link arguments, and the extra ones.
            opts.append("-Dc_link_args=%s" % json.dumps(["--sysroot=" + root] + a["link"]))
    if not os.path.exists(os.path.join(d, "build.ninja")):
        run(["meson", "setup", d, args.source] + opts)
    run(["ninja", "-C", d])
    return d, root


def file_sizes(arch, path, strip_args=()):
    """(stripped size, text + data + bss or None) of a copy of path."""
    with tempfile.TemporaryDirectory() as tmp:
        copy = os.path.join(tmp, os.path.basename(path))
        shutil.copy(path, copy)
        run([tool(arch, "strip")] + list(strip_args) + [copy])
        size = os.stat(copy).st_size
        if copy.endswith(".a"):
            return size, None
        fields = run([tool(arch, "size"), copy]).splitlines()[1].split()
        return size, sum(int(f) for f in fields[:3])


def library(root, name):
    """The real file of a Debian library seedd links, in the sysroot or on the host."""
    for d in ("usr/lib", "lib"):
        base = os.path.join(root or "/", d)
        for dirpath, _, files in os.walk(base):
            for f in files:
                if f.startswith(name + ".so.") and not os.path.islink(os.path.join(dirpath, f)):
                    return os.path.join(dirpath, f)
    return None


def proc_memory(pid):
    """(VmRSS kB, Pss kB or None) of a process."""
    rss = pss = None
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            for line in f:
                if line.startswith("Pss:"):
                    pss = int(line.split()[1])
    except OSError:
        pass
    return rss, pss


def idle_memory(argv, settle, ready=None):
    """Memory of argv's process settle seconds after ready() (or its start)."""
    p = subprocess.Popen([str(a) for a in argv], stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while ready and not ready():
            if p.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("footprint: %s did not start: %s"
                                 % (argv, p.stderr.read().decode(errors="replace")))
            time.sleep(0.01)
        time.sleep(settle)
        return proc_memory(p.pid)
    finally:
        p.kill()
        p.wait()


def serving(path):
    def ready():
        s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            s.connect(path)
            return True
        except OSError:
            return False
        finally:
            s.close()
    return ready


def memory(args, arch, d, root):
    """seedd's idle memory and the libc-only baseline's, natively or under qemu."""
    a = ARCHES[arch]
    wrap = []
    if a["qemu"]:
        # As cross/*.ini runs them: the sysroot's loader and libraries (qemu's
        # -L would show seedd the sysroot as /).
        interp = run([tool(arch, "readelf"), "-lW", os.path.join(d, "daemon", "seedd")])
        interp = interp.split("program interpreter: ", 1)[1].split("]", 1)[0]
        t = a["triplet"]
        wrap = [a["qemu"], root + interp, "--library-path",
                "%s/lib/%s:%s/usr/lib/%s" % (root, t, root, t)]
    with tempfile.TemporaryDirectory(prefix="seedd-footprint-") as tmp:
        os.chmod(tmp, 0o700)
        idle = os.path.join(tmp, "idle")
        cc = [tool(arch, "gcc"), "-Os", "-o", idle, "-x", "c", "-"]
        if root:
            cc[1:1] = ["--sysroot=" + root]
        run(cc, input=IDLE_C)
        sock = os.path.join(tmp, "seedd.sock")
        seedd = wrap + [os.path.join(d, "daemon", "seedd"), "--seed-file",
                        os.path.join(tmp, "seedfile"), "--socket", sock]
        rss, pss = idle_memory(seedd, args.settle, serving(sock))
        base_rss, base_pss = idle_memory(wrap + [idle], args.settle)
    return {"seedd_rss_kb": rss, "seedd_pss_kb": pss, "baseline_rss_kb": base_rss,
            "baseline_pss_kb": base_pss}


def measure(args, arch):
    d, root = build(args, arch)
    version = run(["meson", "introspect", "--projectinfo", d])
    version = json.loads(version)["version"]
    files = {
        "seedd": os.path.join(d, "daemon", "seedd"),
        "seedctl": os.path.join(d, "client", "seedctl"),
        "libseedclient.so.%s" % version: os.path.join(d, "client",
                                                      "libseedclient.so.%s" % version),
    }
    out = {"files": {}, "libraries": {}}
    for name, path in files.items():
        size, segs = file_sizes(arch, path)
        out["files"][name] = {"bytes": size, "text_data_bss": segs}
    size, _ = file_sizes(arch, os.path.join(d, "client", "libseedclient.a"), ["-g"])
    out["files"]["libseedclient.a"] = {"bytes": size, "text_data_bss": None}
    for name in ("libmbedcrypto", "libevent_core-2.1"):
        lib = library(root, name)
        out["libraries"][name] = os.stat(lib).st_size if lib else None
    if not args.no_memory:
        out.update(memory(args, arch, d, root))
    return out


def num(n):
    return "-" if n is None else "{:,}".format(n)


def table(res):
    arches = [a for a in res["arches"] if "files" in res["arches"][a]]
    cols = [TITLES[a] for a in arches]
    lines = ["| | " + " | ".join(cols) + " |", "|---|" + "---:|" * len(cols)]
    first = res["arches"][arches[0]]
    for name in first["files"]:
        label = name + (" (`strip -g`)" if name.endswith(".a") else "")
        cells = []
        for a in arches:
            f = res["arches"][a]["files"][name]
            cells.append(num(f["bytes"]) + ("" if f["text_data_bss"] is None
                                            else " (%s)" % num(f["text_data_bss"])))
        lines.append("| %s | %s |" % (label, " | ".join(cells)))
    for name in first["libraries"]:
        lines.append("| %s, Debian's (seedd needs it) | %s |" % (name, " | ".join(
            num(res["arches"][a]["libraries"][name]) for a in arches)))
    if "seedd_rss_kb" in first:
        for key, label in (("seedd_rss_kb", "seedd idle, VmRSS kB"),
                           ("baseline_rss_kb", "idle libc-only program, VmRSS kB"),
                           ("seedd_pss_kb", "seedd idle, Pss kB"),
                           ("baseline_pss_kb", "idle libc-only program, Pss kB")):
            lines.append("| %s | %s |" % (label, " | ".join(
                num(res["arches"][a][key]) for a in arches)))
    skipped = ["%s: %s" % (TITLES[a], res["arches"][a]["missing"]) for a in res["arches"]
               if "missing" in res["arches"][a]]
    lines += ["", "Measured by `ninja -C build footprint` at %s (seedd %s, %s)%s." % (
        res["commit"], res["version"], res["compiler"],
        "; not measured: " + "; ".join(skipped) if skipped else "")]
    return "\n".join(lines)


def update(path, text):
    with open(path) as f:
        old = f.read()
    if BEGIN not in old or END not in old:
        raise SystemExit("footprint: %s has no footprint markers" % path)
    head, rest = old.split(BEGIN, 1)
    tail = rest.split(END, 1)[1]
    with open(path, "w") as f:
        f.write(head + BEGIN + "\n" + text + "\n" + END + tail)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--source", required=True)
    ap.add_argument("--work", required=True, help="build dirs and results (cached)")
    ap.add_argument("--arch", default=",".join(ARCHES))
    ap.add_argument("--json")
    ap.add_argument("--update", metavar="README")
    ap.add_argument("--settle", type=float, default=5.0,
                    help="seconds after seedd began serving before its memory is read")
    ap.add_argument("--no-memory", action="store_true")
    args = ap.parse_args()
    args.source = os.path.abspath(args.source)
    args.work = os.path.abspath(args.work)
    os.makedirs(args.work, exist_ok=True)
    # The commit measured, and whether the tree differs from it (README aside,
    # which --update itself changes).
    commit = subprocess.run(["git", "-C", args.source, "rev-parse", "--short=12", "HEAD"],
                            capture_output=True, text=True)
    dirty = subprocess.run(["git", "-C", args.source, "status", "--porcelain",
                            "--untracked-files=no", "--", ".", ":!README.md"],
                           capture_output=True, text=True)
    res = {"commit": commit.stdout.strip() if commit.returncode == 0 else "an unknown commit",
           "arches": {}}
    if commit.returncode == 0 and dirty.stdout.strip():
        res["commit"] += " with uncommitted changes"
    host_cc = run(["cc", "--version"]).splitlines()[0]
    res["compiler"] = host_cc
    for arch in args.arch.split(","):
        why = missing(arch)
        if why:
            res["arches"][arch] = {"missing": why}
            print("footprint: %s not measured: %s" % (arch, why), file=sys.stderr)
            continue
        print("footprint: %s ..." % arch, file=sys.stderr, flush=True)
        res["arches"][arch] = measure(args, arch)
    measured = [a for a in res["arches"] if "files" in res["arches"][a]]
    if not measured:
        raise SystemExit("footprint: nothing measured")
    res["version"] = run(["meson", "introspect", "--projectinfo",
                          os.path.join(args.work, measured[0])])
    res["version"] = json.loads(res["version"])["version"]
    text = table(res)
    print(text)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=1)
    if args.update:
        update(args.update, text)
        print("footprint: updated %s" % args.update, file=sys.stderr)


if __name__ == "__main__":
    main()
