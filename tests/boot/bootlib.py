# SPDX-License-Identifier: MIT
"""A real systemd as PID 1 of a systemd-nspawn container, for the boot suite.

The container root is a minimal Debian made by mmdebstrap from the mirrors of
this machine's own apt sources (read at run time), cached under the build dir
by a hash of what makes it. seedd is built for it with --prefix=/usr in a
build dir of its own (also under the build dir) and installed into the running
container with `meson install --destdir`, then set up as the README says.

Teardown cannot be skipped: each container runs below a PID and mount
namespace of its own, whose init is a shell. unshare dies with the test
(setpriv --pdeathsig) and takes that shell with it (--kill-child), and when a
PID namespace's init dies the kernel kills everything in it, nested
namespaces included: nspawn, the container's systemd and all it started.
nspawn's mounts live in the private mount namespace and go with it. Each
container also gets a cgroup of its own (see cgroup_dirs()), removed at the
end, or by the next run if the test was killed.
"""

import base64
import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import signal
import subprocess
import time
import uuid

from seeddtest import Skip, check, wait_for

SOURCE_ROOT = os.environ.get("SOURCE_ROOT", "")
BOOT_DIR = os.environ.get("BOOT_DIR", "")
BUILD_ROOT = os.environ.get("BUILD_ROOT", "")
SEED_FILE = os.environ.get("SEED_FILE", "/var/lib/seedd/seedfile")
SOCKET = os.environ.get("SOCKET", "/run/seedd/seedd.sock")
DAEMON_USER = os.environ.get("DAEMON_USER", "seedd")
STATE_DIR = os.path.dirname(SEED_FILE)

# What the container needs besides minbase: systemd as init, the libraries
# seedd and seedctl link, man-db for `systemd-analyze verify` of the man:
# links, iproute2 for ss(8) (connections queued on the socket), libfuse3 for
# seedfs.
PACKAGES = ["systemd", "systemd-sysv", "dbus", "libmbedcrypto7", "libevent-core-2.1-7",
            "libsystemd0", "man-db", "iproute2", "libfuse3-3"]
APT_SOURCES = ["/etc/apt/sources.list.d/debian.sources", "/etc/apt/sources.list"]
# Commands in the container see only this environment, not the test's.
CONTAINER_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8",
                 "SYSTEMD_PAGER": "", "SYSTEMD_COLORS": "0", "SEEDD_TIMEOUT_MS": "60000"}
WRAPPER = r'''
for cg in $SEEDD_BOOT_CGROUPS; do
	echo 0 >"$cg/cgroup.procs" || exit 1
done
unset SEEDD_BOOT_CGROUPS
if [ -n "$1" ]; then
	mount -t overlay overlay -o "lowerdir=$1,upperdir=$2,workdir=$3" "$4" || exit 1
fi
shift 4
"$@"
rc=$?
exit $rc
'''


class Interrupted(BaseException):
    """SIGTERM (meson's timeout) or SIGINT: unwinds so that containers are torn down."""


def _interrupt(sig, frame):
    raise Interrupted("signal %d" % sig)


signal.signal(signal.SIGTERM, _interrupt)
signal.signal(signal.SIGINT, _interrupt)


def log(msg):
    print("[boot %.1fs] %s" % (time.monotonic() - START, msg), flush=True)


START = time.monotonic()


def need_host():
    """Skips (with the reason) where systemd-nspawn cannot run at all."""
    if os.geteuid() != 0:
        raise Skip("the boot suite needs root: systemd-nspawn boots a container")
    for tool, pkg in (("systemd-nspawn", "systemd-container"), ("mmdebstrap", "mmdebstrap"),
                      ("unshare", "util-linux"), ("setpriv", "util-linux")):
        if not shutil.which(tool):
            raise Skip("%s is not installed (package %s; scripts/test.sh installs it)"
                       % (tool, pkg))
    if os.environ.get("HAVE_SYSTEMD") != "1":
        raise Skip("seedd is built without libsystemd (-Dsystemd=disabled)")
    check(SOURCE_ROOT and BOOT_DIR, "SOURCE_ROOT and BOOT_DIR must be set (meson sets them)")


def run_logged(argv, logpath, what, timeout):
    with open(logpath, "wb") as f:
        r = subprocess.run(argv, stdout=f, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                           timeout=timeout)
    if r.returncode != 0:
        with open(logpath, "rb") as f:
            tail = f.read().decode(errors="replace")[-6000:]
        raise AssertionError("%s failed (exit %d), log %s:\n%s" % (what, r.returncode, logpath,
                                                                    tail))


def apt_sources():
    for path in APT_SOURCES:
        if os.path.isfile(path):
            return path
    raise AssertionError("no apt sources on this machine (%s)" % " or ".join(APT_SOURCES))


def codename():
    with open("/etc/os-release") as f:
        for line in f:
            if line.startswith("VERSION_CODENAME="):
                return line.split("=", 1)[1].strip().strip('"')
    raise AssertionError("no VERSION_CODENAME in /etc/os-release")


def make_root():
    """The cached container root; made by mmdebstrap when missing. Caller holds the lock."""
    suite = codename()
    key = hashlib.sha256(("minbase %s %s" % (suite, " ".join(sorted(PACKAGES)))).encode())
    root = os.path.join(BOOT_DIR, "root-" + key.hexdigest()[:16])
    if os.path.isdir(os.path.join(root, "usr")):
        return root
    for name in os.listdir(BOOT_DIR):
        if name.startswith("root-"):
            shutil.rmtree(os.path.join(BOOT_DIR, name))
    tmp = root + ".tmp"
    sources = apt_sources()
    log("mmdebstrap --variant=minbase %s (mirrors from %s)" % (suite, sources))
    run_logged(["mmdebstrap", "--variant=minbase", "--include=" + ",".join(PACKAGES), suite, tmp,
                sources], os.path.join(BOOT_DIR, "mmdebstrap.log"), "mmdebstrap", 600)
    os.rename(tmp, root)
    return root


def build_usr():
    """seedd built with --prefix=/usr for the container. Caller holds the lock."""
    build = os.path.join(BOOT_DIR, "usr-build")
    args = ["--prefix=/usr", "-Dsystemd=enabled", "-Dman=enabled",
            "-Ddefault_seed_file=" + SEED_FILE, "-Ddefault_socket=" + SOCKET,
            "-Ddaemon_user=" + DAEMON_USER]
    stamp = os.path.join(BOOT_DIR, "usr-build.args")
    old = open(stamp).read() if os.path.exists(stamp) else None
    if not os.path.exists(os.path.join(build, "build.ninja")):
        log("meson setup %s %s" % (build, " ".join(args)))
        run_logged(["meson", "setup"] + args + [build, SOURCE_ROOT],
                   os.path.join(BOOT_DIR, "usr-setup.log"), "meson setup", 300)
    elif old != " ".join(args):
        run_logged(["meson", "setup", "--reconfigure"] + args + [build, SOURCE_ROOT],
                   os.path.join(BOOT_DIR, "usr-setup.log"), "meson setup --reconfigure", 300)
    with open(stamp, "w") as f:
        f.write(" ".join(args))
    run_logged(["ninja", "-C", build], os.path.join(BOOT_DIR, "usr-ninja.log"), "ninja", 600)
    return build


def prepare():
    """(container root, /usr build dir), made once and shared by the cases."""
    need_host()
    os.makedirs(BOOT_DIR, exist_ok=True)
    with open(os.path.join(BOOT_DIR, "lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        remove_stale_cgroups()
        return make_root(), build_usr()


# The binary packages contrib/debian makes, in the order dpkg -i takes them.
DEBS = ["libseedclient0", "libseedclient-entropy0", "libseedclient-dev", "seedd"]


def debs():
    """{package: path} of the .debs to install: those in $SEEDD_DEBS (scripts/test.sh
    makes them with the tests and lintian first), else made here by
    scripts/deb.sh without the tests, from the committed tree (meson dist)."""
    need_host()
    where = os.environ.get("SEEDD_DEBS")
    if not where:
        for tool, pkg in (("dpkg-buildpackage", "dpkg-dev"), ("dh", "debhelper"),
                          ("lintian", "lintian")):
            if not shutil.which(tool):
                raise Skip("%s is not installed (package %s; scripts/test.sh installs it)"
                           % (tool, pkg))
        where = os.path.join(BOOT_DIR, "deb")
        os.makedirs(BOOT_DIR, exist_ok=True)
        with open(os.path.join(BOOT_DIR, "deb.lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            log("scripts/deb.sh %s (DEB_BUILD_OPTIONS=nocheck)" % where)
            argv = [os.path.join(SOURCE_ROOT, "scripts", "deb.sh"), where, BUILD_ROOT]
            with open(os.path.join(BOOT_DIR, "deb.log"), "wb") as f:
                r = subprocess.run(argv, stdout=f, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, timeout=1200,
                                   env=dict(os.environ, DEB_BUILD_OPTIONS="nocheck"))
            check(r.returncode == 0, "scripts/deb.sh failed (exit %d), log %s"
                  % (r.returncode, os.path.join(BOOT_DIR, "deb.log")))
    found = {}
    for name in DEBS:
        paths = [os.path.join(where, n) for n in sorted(os.listdir(where))
                 if n.startswith(name + "_") and n.endswith(".deb")]
        check(len(paths) == 1, "%s: not one %s_*.deb but %s" % (where, name, paths))
        found[name] = paths[0]
    return found


def readme_block(section, starts):
    """The README's command block (its indented lines) in the section whose
    heading names section and whose first line starts with starts: the test
    runs what the reader is told to run."""
    with open(os.path.join(SOURCE_ROOT, "README.md")) as f:
        text = f.read()
    part = text.split("\n## " + section, 1)
    check(len(part) == 2, "README.md has no section '## %s'" % section)
    part = part[1].split("\n## ", 1)[0]
    blocks, block = [], []
    for line in part.split("\n"):
        if line.startswith("    ") and line.strip():
            block.append(line[4:])
        elif block and line.strip():
            blocks.append(block)
            block = []
    blocks.append(block)
    found = [b for b in blocks if b and b[0].startswith(starts)]
    check(len(found) == 1, "README.md, %s: no one block starting %r" % (section, starts))
    return found[0]


def fresh_clone(dest):
    """The source as a fresh clone has it: the tracked files (as the work tree
    has them), or the tree without its build dirs outside a git checkout."""
    os.makedirs(dest)
    r = subprocess.run(["git", "-C", SOURCE_ROOT, "ls-files", "-z"], capture_output=True)
    if r.returncode == 0:
        for name in r.stdout.decode().split("\0"):
            if name:
                os.makedirs(os.path.join(dest, os.path.dirname(name)), exist_ok=True)
                shutil.copy2(os.path.join(SOURCE_ROOT, name), os.path.join(dest, name),
                             follow_symlinks=False)
    else:
        for name in os.listdir(SOURCE_ROOT):
            if not name.startswith(("build", "obj-", "state", ".git")):
                src = os.path.join(SOURCE_ROOT, name)
                (shutil.copytree if os.path.isdir(src) else shutil.copy2)(
                    src, os.path.join(dest, name), symlinks=True)
    return dest


def proc_children(pid):
    kids = []
    try:
        for task in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/children" % (pid, task)) as f:
                kids += [int(k) for k in f.read().split()]
    except (FileNotFoundError, ProcessLookupError):
        pass
    return kids


def proc_comm(pid):
    try:
        with open("/proc/%d/comm" % pid) as f:
            return f.read().strip()
    except FileNotFoundError:
        return ""


def cgroup_dirs():
    """This process's cgroup in each hierarchy a container's systemd writes to.

    Those are the cgroup2 one and the v1 name=systemd one. With no systemd on
    the host, nspawn runs the container below its own cgroup, so containers
    started from the same cgroup would share their units' cgroups (and stop
    each other's services): each gets a cgroup of its own below this one.
    """
    mine = {}
    with open("/proc/self/cgroup") as f:
        for line in f:
            _, controllers, path = line.rstrip("\n").split(":", 2)
            mine.setdefault(controllers, path)
    dirs = {}
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields, fs = line.split(" - ", 1)
            fields, fs = fields.split(), fs.split()
            if fs[0] == "cgroup2":
                key = ""
            elif fs[0] == "cgroup" and "name=systemd" in fs[2].split(","):
                key = "name=systemd"
            else:
                continue
            root, mountpoint = fields[3], fields[4]
            path = mine.get(key)
            inside = path is not None and (path + "/").startswith(root.rstrip("/") + "/")
            if key not in dirs and inside:
                dirs[key] = os.path.join(mountpoint, path[len(root):].lstrip("/"))
    check(dirs, "no cgroup2 or name=systemd hierarchy is mounted")
    return list(dirs.values())


CGROUP_PREFIX = "seedd-boot-"


def remove_cgroup(path, timeout=30):
    """Removes a cgroup tree once its processes are gone."""
    deadline = time.monotonic() + timeout
    for top, _, _ in os.walk(path, topdown=False):
        while True:
            try:
                os.rmdir(top)
                break
            except FileNotFoundError:
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)


def remove_stale_cgroups():
    """Cgroups of containers whose test process was killed before it could clean up."""
    for parent in cgroup_dirs():
        for name in os.listdir(parent):
            pid = name[len(CGROUP_PREFIX):].split("-")[-1]
            if name.startswith(CGROUP_PREFIX) and pid.isdigit() and not os.path.exists(
                    "/proc/" + pid):
                with contextlib.suppress(OSError):
                    remove_cgroup(os.path.join(parent, name), timeout=0)


class Container:
    """One boot of the root (or of a persistent overlay on it, for a second boot)."""

    def __init__(self, tmp, name, root, build, persist=None, volatile=True, machine_id=None,
                 nspawn_args=()):
        self.tmp = tmp
        # More for systemd-nspawn: --bind=/dev/fuse for seedfs.
        self.nspawn_args = list(nspawn_args)
        self.root = root
        self.build = build
        # nspawn keys its runtime files by machine name: unique per boot on this host.
        self.name = "seedd-%s-%d" % (name[:24].replace("_", "-"), os.getpid())
        self.persist = persist
        self.volatile = volatile
        self.machine_id = machine_id or uuid.uuid4().hex
        self.cgroups = [os.path.join(d, CGROUP_PREFIX + self.name[len("seedd-"):])
                        for d in cgroup_dirs()]
        self.proc = None
        self.leader = None
        self.console = tmp / ("console-%s-%d.log" % (name, time.monotonic_ns()))

    def boot(self, timeout=120):
        overlay = ["", "", "", ""]
        directory = self.root
        if self.persist:
            for d in ("upper", "work", "merged"):
                os.makedirs(os.path.join(self.persist, d), exist_ok=True)
            overlay = [self.root] + [os.path.join(self.persist, d)
                                     for d in ("upper", "work", "merged")]
            check(not any(c in p for p in overlay for c in ",:"),
                  "overlay paths must not hold ',' or ':': %r" % overlay)
            directory = overlay[3]
        nspawn = ["systemd-nspawn", "--quiet", "-D", directory, "-b", "-M", self.name,
                  "--uuid=" + self.machine_id, "--register=no", "--keep-unit",
                  "--private-network", "--capability=CAP_BPF", "--system-call-filter=bpf",
                  "--console=read-only", "--settings=no", "--link-journal=no",
                  "--resolv-conf=off", "--timezone=off"]
        if self.volatile:
            nspawn.append("--volatile=overlay")
        nspawn += self.nspawn_args
        argv = ["setpriv", "--pdeathsig", "KILL", "--", "unshare", "--pid", "--mount-proc",
                "--fork", "--kill-child", "--", "/bin/sh", "-c", WRAPPER, "sh"] + overlay + nspawn
        for cg in self.cgroups:
            os.makedirs(cg)
        t0 = time.monotonic()
        with open(self.console, "wb") as out:
            self.proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL,
                                         env=dict(os.environ,
                                                  SEEDD_BOOT_CGROUPS=" ".join(self.cgroups)))
        self.leader = wait_for(self._find_leader, timeout, "the container's PID 1")
        state = self._wait_booted(timeout)
        log("booted %s in %.1fs: %s" % (self.name, time.monotonic() - t0, state))
        return state

    def _find_leader(self):
        check(self.proc.poll() is None, "systemd-nspawn exited with %s:\n%s"
              % (self.proc.returncode, self.console_log()))
        for sh in proc_children(self.proc.pid):
            for nspawn in proc_children(sh):
                for kid in proc_children(nspawn):
                    if proc_comm(kid) == "systemd":
                        return kid
        return None

    def _wait_booted(self, timeout):
        """systemctl is-system-running --wait, once the manager answers at all."""
        deadline = time.monotonic() + timeout
        while True:
            r = self.run("systemctl", "is-system-running", "--wait", check=False,
                         timeout=max(1, deadline - time.monotonic()))
            state = r.stdout.strip()
            if state in ("running", "degraded", "maintenance", "stopping"):
                return state
            check(time.monotonic() < deadline, "the container did not boot: %r %r\n%s"
                  % (state, r.stderr, self.console_log()))
            time.sleep(0.05)

    def console_log(self):
        try:
            with open(self.console, "rb") as f:
                return f.read().decode(errors="replace")[-4000:]
        except FileNotFoundError:
            return ""

    def run(self, *argv, check=True, input=None, timeout=60, env=None):
        """A command in the container as root, in all its namespaces."""
        r = subprocess.run(["nsenter", "-t", str(self.leader), "-a", "--"] + [str(a) for a in argv],
                           capture_output=True, text=True, input=input, timeout=timeout,
                           env=dict(CONTAINER_ENV, **(env or {})))
        if check and r.returncode != 0:
            raise AssertionError("in the container: %s: exit %d\n%s%s"
                                 % (" ".join(map(str, argv)), r.returncode, r.stdout, r.stderr))
        return r

    def sh(self, script, **kw):
        return self.run("/bin/sh", "-c", script, **kw).stdout

    def spawn(self, script):
        """A background shell in the container (a Popen with piped output)."""
        return subprocess.Popen(["nsenter", "-t", str(self.leader), "-a", "--", "/bin/sh", "-c",
                                 script], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, env=CONTAINER_ENV)

    def write(self, path, text, mode="0644"):
        self.run("/bin/sh", "-c", 'umask 077; cat > "$1"; chmod %s "$1"' % mode, "sh", path,
                 input=text)

    def copy_in(self, src, dest):
        """Copies a host file into the container; dest must not cross a symlink."""
        shutil.copy(src, "/proc/%d/root%s" % (self.leader, dest))
        return dest

    def read_bytes(self, path):
        return base64.b64decode(self.run("base64", "-w0", path).stdout)

    def show(self, unit, *props):
        out = self.run("systemctl", "show", "-p", ",".join(props), unit).stdout
        return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)

    def prop(self, unit, name):
        return self.show(unit, name)[name]

    def wait_state(self, unit, timeout=60, **want):
        """Polls systemctl show until every property has its wanted value."""
        def ok():
            got = self.show(unit, *want)
            return got if all(got.get(k) == v for k, v in want.items()) else None
        try:
            return wait_for(ok, timeout, "%s %r" % (unit, want))
        except AssertionError as e:
            raise AssertionError("%s; now %r" % (e, self.show(unit, *want))) from None

    def journal(self, *match):
        out = self.run("journalctl", "-b", "-o", "json", "--no-pager", *match).stdout
        return [json.loads(line) for line in out.splitlines() if line.strip()]

    def wait_journal(self, pred, what, *match, timeout=30):
        """Journal entries (matching match) once pred(entries) holds."""
        return wait_for(lambda: (lambda e: e if pred(e) else None)(self.journal(*match)),
                        timeout, "journal: " + what, step=0.1)

    def install(self):
        """The README's steps: meson install, sysusers, tmpfiles, daemon-reload, enable."""
        r = subprocess.run(["meson", "install", "-C", self.build, "--no-rebuild", "--quiet",
                            "--destdir", "/proc/%d/root" % self.leader],
                           capture_output=True, text=True, timeout=120)
        check(r.returncode == 0, "meson install into the container: %s%s" % (r.stdout, r.stderr))
        self.run("ldconfig")
        self.run("systemd-sysusers", "seedd.conf")
        self.run("systemd-tmpfiles", "--create", "seedd.conf")
        self.run("systemctl", "daemon-reload")
        self.run("systemctl", "enable", "--now", "seedd.socket")

    def seedctl_get(self, n=32):
        out = self.run("seedctl", "get", "--bytes", n).stdout.strip()
        check(len(out) == 2 * n, "seedctl get --bytes %d printed %r" % (n, out))
        return bytes.fromhex(out)

    def check_no_failed_units(self):
        failed = self.run("systemctl", "--failed", "--plain", "--no-legend").stdout.strip()
        state = self.run("systemctl", "is-system-running", check=False).stdout.strip()
        check(not failed and state == "running",
              "the boot ends %s with failed units:\n%s" % (state, failed))

    def diagnostics(self):
        """What to print when a case fails: failed units and the end of the journal."""
        if not self.leader or self.proc.poll() is not None:
            return "(container gone)\n" + self.console_log()
        parts = []
        for argv in (["journalctl", "-b", "--no-pager", "-n", "60"],
                     ["journalctl", "-b", "--no-pager", "-o", "short-monotonic", "-u",
                      "seedd.socket", "-u", "seedd.service"],
                     ["systemctl", "--failed", "--no-pager"]):
            try:
                r = self.run(*argv, check=False, timeout=20)
                parts.append("$ %s\n%s%s" % (" ".join(argv), r.stdout, r.stderr))
            except Exception as e:  # the report must not hide the failure itself
                parts.append("$ %s: %s" % (" ".join(argv), e))
        return "\n".join(parts)

    def poweroff(self, timeout=60):
        """An orderly shutdown (nspawn turns SIGTERM into one); returns nspawn's status."""
        nspawn = [n for sh in proc_children(self.proc.pid) for n in proc_children(sh)
                  if proc_comm(n) == "systemd-nspawn"]
        for pid in nspawn:
            os.kill(pid, signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        finally:
            self.kill()

    def kill(self):
        """Tears it down for certain: SIGKILL to the namespace's init kills all in it."""
        if self.proc and self.proc.poll() is None:
            for sh in proc_children(self.proc.pid):
                os.kill(sh, signal.SIGKILL)
            self.proc.kill()
        if self.proc:
            self.proc.wait()
        if self.leader:
            wait_for(lambda: not os.path.exists("/proc/%d" % self.leader), 30,
                     "the container's processes to end")
        for cg in self.cgroups:
            remove_cgroup(cg)


@contextlib.contextmanager
def booted(tmp, name, install=True, **kw):
    """A booted container (seedd installed as the README says), always torn down."""
    root, build = prepare()
    c = Container(tmp, name, root, build, **kw)
    try:
        state = c.boot()
        check(state == "running", "the boot ended %s, not running" % state)
        if install:
            c.install()
        yield c
        c.check_no_failed_units()
        rc = c.poweroff()
        check(rc == 0, "the container did not power off cleanly: systemd-nspawn exit %s" % rc)
    except Exception:
        # Not when interrupted: meson's SIGKILL follows its SIGTERM within 0.5 s.
        print(c.diagnostics())
        raise
    finally:
        c.kill()
