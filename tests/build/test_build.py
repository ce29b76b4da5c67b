#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The build itself: where meson install puts things, the options, the
hardening flags, reproducible builds and the version (suite 'build').

Most cases configure fresh build dirs of the source (meson setup, then
`meson introspect`), some build them; none needs root or the network.
"""

import json
import os
import re
import shutil
import subprocess
import sys

from seeddtest import Skip, check, main

ENV = os.environ
SOURCE_ROOT = ENV.get("SOURCE_ROOT", "")
BUILD_ROOT = ENV.get("BUILD_ROOT", "")
VERSION = ENV.get("PROJECT_VERSION", "")
HAVE_SYSTEMD = ENV.get("HAVE_SYSTEMD") == "1"
# The build flags of whoever runs the tests (dpkg-buildflags under dh) would
# mix with the ones a case sets.
FLAG_VARS = ("CFLAGS", "CPPFLAGS", "LDFLAGS", "SOURCE_DATE_EPOCH")


def clean_env(**extra):
    env = {k: v for k, v in ENV.items() if k not in FLAG_VARS}
    env.update(extra)
    return env


def run(argv, **kw):
    kw.setdefault("capture_output", True)
    kw.setdefault("text", True)
    kw.setdefault("timeout", 600)
    return subprocess.run([str(a) for a in argv], **kw)


def setup(build, *options, env=None, source=SOURCE_ROOT, ok=True):
    """meson setup of source in build; its output. With ok=False, the failed one's."""
    r = run(["meson", "setup", build, source] + list(options), env=env or clean_env(),
            cwd=source)
    out = r.stdout + r.stderr
    if ok:
        check(r.returncode == 0, "meson setup %s failed:\n%s" % (" ".join(options), out))
    else:
        check(r.returncode != 0, "meson setup %s succeeded:\n%s" % (" ".join(options), out))
    return out


def installed(build):
    """What meson install would write: {destination: source}."""
    r = run(["meson", "introspect", "--installed", build])
    check(r.returncode == 0, "meson introspect --installed: %s" % r.stderr)
    return {dest: src for src, dest in json.loads(r.stdout).items()}


def systemd_pc(var):
    r = run(["pkg-config", "--variable=" + var, "systemd"])
    return r.stdout.strip() if r.returncode == 0 else ""


def need_units():
    if not HAVE_SYSTEMD:
        raise Skip("seedd is built without libsystemd: no units to install")
    if not systemd_pc("systemdsystemunitdir"):
        raise Skip("systemd.pc is not installed (Debian 12: systemd; 13: systemd-dev)")


def test_prefix(tmp):
    """Everything meson install writes is below --prefix, the units and
    snippets too; under /usr they go where systemd.pc says."""
    need_units()
    for prefix in ("/usr/local", "/opt/seedd-test", "/usr"):
        build = tmp / ("prefix" + prefix.replace("/", "-"))
        setup(build, "--prefix=" + prefix, "-Dtests=false")
        dests = installed(build)
        if prefix == "/usr":
            unitdir, sysusers, tmpfiles = (systemd_pc(v) for v in (
                "systemdsystemunitdir", "sysusersdir", "tmpfilesdir"))
            outside = [d for d in dests if not d.startswith(prefix + "/")
                       and not d.startswith(unitdir + "/")]
        else:
            unitdir = prefix + "/lib/systemd/system"
            sysusers = prefix + "/lib/sysusers.d"
            tmpfiles = prefix + "/lib/tmpfiles.d"
            outside = [d for d in dests if not d.startswith(prefix + "/")]
        check(not outside, "--prefix=%s installs outside it: %s" % (prefix, outside))
        for path in (unitdir + "/seedd.service", unitdir + "/seedd.socket",
                     sysusers + "/seedd.conf", tmpfiles + "/seedd.conf"):
            check(path in dests, "--prefix=%s: no %s in %s" % (prefix, path, sorted(dests)))
        with open(os.path.join(build, "systemd", "seedd.service")) as f:
            unit = f.read()
        check("ExecStart=%s/sbin/seedd " % prefix in unit,
              "--prefix=%s: seedd.service runs another seedd:\n%s" % (prefix, unit))
        print("--prefix=%s: %d files, units in %s" % (prefix, len(dests), unitdir))

    # The options name the directories outright.
    build = tmp / "dirs"
    setup(build, "--prefix=/opt/seedd-test", "-Dtests=false", "-Dsystemdsystemunitdir=/x/units",
          "-Dsysusersdir=/x/sysusers", "-Dtmpfilesdir=/x/tmpfiles")
    dests = installed(build)
    for path in ("/x/units/seedd.service", "/x/sysusers/seedd.conf", "/x/tmpfiles/seedd.conf"):
        check(path in dests, "no %s in %s" % (path, sorted(dests)))


def pkg_config_without_systemd(tmp):
    """A pkg-config search path with every .pc file but systemd.pc."""
    pcdir = tmp / "pc"
    os.mkdir(pcdir)
    r = run(["pkg-config", "--variable", "pc_path", "pkg-config"])
    check(r.returncode == 0, "pkg-config --variable pc_path: %s" % r.stderr)
    for d in r.stdout.strip().split(":"):
        if os.path.isdir(d):
            for name in os.listdir(d):
                if name.endswith(".pc") and name != "systemd.pc" and \
                        not os.path.exists(os.path.join(pcdir, name)):
                    os.symlink(os.path.join(d, name), os.path.join(pcdir, name))
    return clean_env(PKG_CONFIG_LIBDIR=pcdir, PKG_CONFIG_PATH="")


def test_systemd_pc_missing(tmp):
    """Without systemd.pc, -Dsystemd=auto warns that it leaves the units out
    (the init script goes in instead), enabled fails, and the options alone
    are enough."""
    need_units()
    env = pkg_config_without_systemd(tmp)
    out = setup(tmp / "auto", "-Dtests=false", env=env)
    check("WARNING: systemd.pc was not found" in out and "-Dsystemdsystemunitdir=" in out,
          "no warning about the units:\n%s" % out)
    dests = installed(tmp / "auto")
    units = [d for d in dests if d.endswith("/seedd.service") or d.endswith("seedd.conf")]
    check(not units, "units installed without systemd.pc: %s" % units)
    check(any(d.endswith("/init.d/seedd") for d in dests),
          "neither units nor the init script: %s" % sorted(dests))

    out = setup(tmp / "enabled", "-Dtests=false", "-Dsystemd=enabled", env=env, ok=False)
    check("systemd" in out, "-Dsystemd=enabled failed without naming systemd:\n%s" % out)

    out = setup(tmp / "named", "-Dtests=false", "-Dsystemdsystemunitdir=/x/units",
                "-Dsysusersdir=/x/sysusers", "-Dtmpfilesdir=/x/tmpfiles", env=env)
    check("WARNING: systemd.pc" not in out, "a warning with every directory named:\n%s" % out)
    check("/x/units/seedd.service" in installed(tmp / "named"), "the named unit dir is unused")
    print("no systemd.pc: warned, init script instead; -Dsystemd=enabled fails; named dirs work")


def test_options(tmp):
    """-Dtests=false, -Dstatic_library=false and -Dinit_script= do what they say."""
    build = tmp / "lean"
    setup(build, "-Dtests=false", "-Dstatic_library=false", "-Dinit_script=enabled")
    r = run(["meson", "introspect", "--tests", build])
    check(r.returncode == 0 and r.stdout.strip() == "[]", "-Dtests=false defines tests: %s"
          % r.stdout[:500])
    r = run(["meson", "introspect", "--targets", build])
    names = set(re.findall(r'"name": "([^"]+)"', r.stdout))
    for name in ("sctool", "seedd-bench", "libseedclient.a", "libseedclient-entropy.a", "bench"):
        check(name not in names, "target %s is defined: %s" % (name, sorted(names)))
    check({"seedd", "seedctl", "seedclient"} <= names, "targets: %s" % sorted(names))
    dests = installed(build)
    archives = [d for d in dests if d.endswith(".a")]
    check(not archives, "-Dstatic_library=false installs %s" % archives)
    check(any(d.endswith("/init.d/seedd") for d in dests), "-Dinit_script=enabled: no init "
          "script in %s" % sorted(dests))
    if HAVE_SYSTEMD and systemd_pc("systemdsystemunitdir"):
        check(any(d.endswith("/seedd.service") for d in dests), "no units beside the script")

    build = tmp / "bare"
    setup(build, "-Dtests=false", "-Dsystemd=disabled", "-Dinit_script=disabled")
    dests = installed(build)
    extra = [d for d in dests if "init.d" in d or "systemd" in d or d.endswith("seedd.conf")]
    check(not extra, "-Dsystemd=disabled -Dinit_script=disabled installs %s" % extra)
    check(any(d.endswith("libseedclient.a") for d in dests), "no libseedclient.a by default")
    print("-Dtests=false: no tests, no benchmark; -Dstatic_library=false: no .a; "
          "-Dinit_script=enabled: script and units; disabled: neither")


def fortify_levels(build):
    with open(os.path.join(build, "compile_commands.json")) as f:
        return set(re.findall(r"-D_FORTIFY_SOURCE=(\d)", f.read()))


def test_fortify(tmp):
    """-D_FORTIFY_SOURCE=2 unless the build's flags set a level: a
    distribution's =3 stays 3 and compiles with --werror (no redefinition)."""
    build = tmp / "default"
    setup(build, "-Dtests=false")
    check(fortify_levels(build) == {"2"}, "default: %s" % fortify_levels(build))
    build = tmp / "three"
    setup(build, "-Dtests=false", "--werror", env=clean_env(CFLAGS="-D_FORTIFY_SOURCE=3"))
    check(fortify_levels(build) == {"3"}, "CFLAGS=-D_FORTIFY_SOURCE=3: %s" % fortify_levels(build))
    r = run(["ninja", "-C", build, "daemon/seedd"], env=clean_env())
    check(r.returncode == 0, "building with -D_FORTIFY_SOURCE=3 --werror:\n%s" % r.stdout[-3000:])
    print("default: =2; CFLAGS=-D_FORTIFY_SOURCE=3: =3 only, seedd builds with --werror")


def test_relro(tmp):
    """seedd, seedctl and the library: full RELRO (a GNU_RELRO segment, BIND_NOW)."""
    readelf = ENV.get("READELF", "readelf")
    for path in (ENV["SEEDD"], ENV["SEEDCTL"], ENV["LIBSEEDCLIENT"]):
        dyn = run([readelf, "-dW", path]).stdout
        seg = run([readelf, "-lW", path]).stdout
        check(re.search(r"\(FLAGS\)\s+BIND_NOW", dyn) or re.search(r"FLAGS_1.*\bNOW\b", dyn),
              "%s is not linked with -z now:\n%s" % (path, dyn))
        check("GNU_RELRO" in seg, "%s has no GNU_RELRO segment" % path)
        print("%s: GNU_RELRO, BIND_NOW" % os.path.basename(path))


def copy_source(dest):
    """The source tree without build dirs: what a tarball or a checkout holds."""
    build_root = os.path.realpath(BUILD_ROOT)

    def ignore(d, names):
        if os.path.realpath(d) != os.path.realpath(SOURCE_ROOT):
            return [n for n in names if os.path.realpath(os.path.join(d, n)) == build_root]
        return [n for n in names if n.startswith(("build", "obj-", ".git", "state"))
                or os.path.realpath(os.path.join(d, n)) == build_root]
    shutil.copytree(SOURCE_ROOT, dest, symlinks=True, ignore=ignore)


def tree(root):
    """{path: (kind, mode, content or link target)} of everything under root."""
    out = {}
    for d, dirs, files in os.walk(root):
        for name in dirs + files:
            p = os.path.join(d, name)
            st = os.lstat(p)
            rel = os.path.relpath(p, root)
            if os.path.islink(p):
                out[rel] = ("link", 0, os.readlink(p))
            elif os.path.isdir(p):
                out[rel] = ("dir", st.st_mode & 0o7777, None)
            else:
                with open(p, "rb") as f:
                    out[rel] = ("file", st.st_mode & 0o7777, f.read())
    return out


def test_reproducible(tmp):
    """The same source in two directories of different depth, built and
    installed alike: the installed trees are byte for byte the same."""
    trees = []
    for where in ("a/src", "second/deeper/dir/src"):
        src = tmp / where
        os.makedirs(os.path.dirname(src))
        copy_source(src)
        build = os.path.join(src, "build")
        setup(build, "--prefix=/usr", "-Dtests=false", source=src)
        r = run(["ninja", "-C", build], env=clean_env())
        check(r.returncode == 0, "ninja in %s:\n%s" % (src, r.stdout[-3000:]))
        dest = tmp / (where.split("/")[0] + "-dest")
        r = run(["meson", "install", "-C", build, "--no-rebuild", "--quiet", "--destdir", dest],
                env=clean_env())
        check(r.returncode == 0, "meson install: %s%s" % (r.stdout, r.stderr))
        trees.append(tree(dest))
    a, b = trees
    check(set(a) == set(b), "different files: %s" % sorted(set(a) ^ set(b)))
    differ = sorted(p for p in a if a[p] != b[p])
    check(not differ, "installed files differ between the two builds: %s" % differ)
    print("two builds, %d installed paths, identical" % len(a))


def test_man_date(tmp):
    """The man pages' date: $SOURCE_DATE_EPOCH's, else NEWS's for this version
    (in a copy whose NEWS says 2001-02-03, so that it cannot be today's)."""
    if not shutil.which("scdoc"):
        raise Skip("scdoc is not installed: no man pages")
    src = tmp / "src"
    copy_source(src)
    version, news = news_top()
    with open(os.path.join(src, "NEWS")) as f:
        text = f.read()
    with open(os.path.join(src, "NEWS"), "w") as f:
        f.write(text.replace("%s (%s)" % (version, news), "%s (2001-02-03)" % version, 1))
    build = os.path.join(src, "build")
    setup(build, "-Dtests=false", "-Dman=enabled", source=src)
    page = os.path.join(build, "man", "seedd.8")

    def date(**env):
        if os.path.exists(page):
            os.unlink(page)
        r = run(["ninja", "-C", build, "man/seedd.8"], env=clean_env(**env))
        check(r.returncode == 0, "ninja man/seedd.8: %s" % r.stdout[-2000:])
        with open(page) as f:
            th = next(line for line in f if line.startswith(".TH"))
        return th.split('"')[5]
    got = date(SOURCE_DATE_EPOCH="1700000000")
    check(got == "2023-11-14", "SOURCE_DATE_EPOCH=1700000000 gives %s" % got)
    got = date()
    check(got == "2001-02-03", "without SOURCE_DATE_EPOCH the date is %s, not NEWS's" % got)
    print("SOURCE_DATE_EPOCH=1700000000: 2023-11-14; without it NEWS's date")


def test_footprint(tmp):
    """scripts/footprint.py (ninja footprint) measures every row on the host, and
    README's table is what it writes: its rows, and a commit of this history."""
    out = tmp / "footprint.json"
    r = run([sys.executable, os.path.join(SOURCE_ROOT, "scripts", "footprint.py"), "--source",
             SOURCE_ROOT, "--work", tmp / "work", "--arch", "x86-64", "--settle", "0.2",
             "--json", out], env=clean_env())
    check(r.returncode == 0, "footprint.py: %s%s" % (r.stdout[-2000:], r.stderr[-2000:]))
    with open(out) as f:
        host = json.load(f)["arches"]["x86-64"]
    sizes = [v["bytes"] for v in host["files"].values()] + list(host["libraries"].values())
    check(all(isinstance(n, int) and n > 0 for n in sizes), "sizes: %s" % host)
    mem = ["seedd_rss_kb", "baseline_rss_kb"] + (
        ["seedd_pss_kb", "baseline_pss_kb"] if os.geteuid() == 0 else [])
    check(all(isinstance(host[k], int) and host[k] > 0 for k in mem), "memory: %s" % host)
    check(host["seedd_rss_kb"] > host["baseline_rss_kb"], "seedd idle below a libc-only program")
    rows = [line.split("|")[1].strip() for line in r.stdout.splitlines()
            if line.startswith("| ") and not line.startswith("| |")]

    with open(os.path.join(SOURCE_ROOT, "README.md")) as f:
        readme = f.read()
    begin = "<!-- footprint: begin"
    check(begin in readme and "<!-- footprint: end -->" in readme, "README: no footprint markers")
    block = readme.split(begin, 1)[1].split("<!-- footprint: end -->", 1)[0]
    got = [line.split("|")[1].strip() for line in block.splitlines()
           if line.startswith("| ") and not line.startswith("| |")]
    check(got == rows, "README's footprint rows %s, the tool's %s" % (got, rows))
    m = re.search(r"Measured by `ninja -C build footprint` at ([0-9a-f]{12})\b", block)
    check(m, "README's table names no commit: %s" % block[-300:])
    if os.path.isdir(os.path.join(SOURCE_ROOT, ".git")):
        r = run(["git", "-C", SOURCE_ROOT, "merge-base", "--is-ancestor", m.group(1), "HEAD"])
        check(r.returncode == 0, "README's footprint commit %s is not in this history"
              % m.group(1))
    print("footprint: host rows measured; README's table has them, from commit %s"
          % m.group(1))


def news_top():
    """(version, date) of the first entry in NEWS."""
    with open(os.path.join(SOURCE_ROOT, "NEWS")) as f:
        for line in f:
            m = re.fullmatch(r"(\S+) \((\d{4}-\d\d-\d\d)\)", line.rstrip("\n"))
            if m:
                return m.group(1), m.group(2)
    raise AssertionError("NEWS has no entry 'VERSION (YYYY-MM-DD)'")


def test_version(tmp):
    """The version is written once, in meson.build: NEWS's top entry and the
    Debian changelog's upstream version name it."""
    version, date = news_top()
    check(version == VERSION, "NEWS begins with %s, meson.build says %s" % (version, VERSION))
    with open(os.path.join(SOURCE_ROOT, "contrib", "debian", "changelog")) as f:
        m = re.match(r"seedd \(([^)-]+)-[^)]+\) ", f.readline())
    check(m and m.group(1) == VERSION, "contrib/debian/changelog's top entry is %s, meson.build "
          "says %s" % (m and m.group(1), VERSION))
    print("meson.build %s, NEWS %s (%s), contrib/debian/changelog %s"
          % (VERSION, version, date, m.group(1)))


if __name__ == "__main__":
    main(globals())
