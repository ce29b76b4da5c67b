#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""seedd under a real systemd: PID 1 of a systemd-nspawn container (suite 'boot').

Each case boots a fresh container (see bootlib), installs the project as the
README says, checks one area and ends with an orderly power-off; every boot
must end with no failed units.
"""

import datetime
import json
import os
import re
import subprocess

from bootlib import (DAEMON_USER, DEBS, SEED_FILE, SOCKET, STATE_DIR, booted, debs, fresh_clone,
                     log, readme_block)
from seeddtest import Skip, check, check_exposure, main, wait_for, wait_serving

SERVICE = "seedd.service"
SOCKET_UNIT = "seedd.socket"
DROPINS = "/etc/systemd/system/seedd.service.d"
OWNED = "%s:%s 600" % (DAEMON_USER, DAEMON_USER)


def hexes(c, path):
    return c.read_bytes(path).hex()


def owner_mode(c, path):
    return c.run("stat", "-c", "%U:%G %a", path).stdout.strip()


def main_pid(c):
    return int(c.prop(SERVICE, "MainPID"))


def restarted(c, old_pid, timeout=60):
    """The new MainPID once seedd.service is active again with another process."""
    def new():
        st = c.show(SERVICE, "ActiveState", "MainPID")
        pid = int(st["MainPID"])
        return pid if st["ActiveState"] == "active" and pid not in (0, old_pid) else None
    return wait_for(new, timeout, "seedd.service to run again after pid %d" % old_pid)


def seedd_lines(c):
    """seedd's own journal entries (its standard error stream) in this boot."""
    return c.journal("_SYSTEMD_UNIT=" + SERVICE, "_TRANSPORT=stdout")


def manager_lines(c):
    """What PID 1 logged about seedd.service."""
    return [e["MESSAGE"] for e in c.journal("UNIT=" + SERVICE, "_PID=1")]


def drop_in(c, name, text):
    c.run("mkdir", "-p", DROPINS)
    c.write(os.path.join(DROPINS, name), text)
    c.run("systemctl", "daemon-reload")


def timestamp_us(c, unit, prop):
    """A unit's timestamp property in microseconds since the epoch."""
    out = c.run("systemctl", "show", "--timestamp=us+utc", "-P", prop, unit).stdout.strip()
    t = datetime.datetime.strptime(out, "%a %Y-%m-%d %H:%M:%S.%f UTC")
    return int(t.replace(tzinfo=datetime.timezone.utc).timestamp() * 1000000)


def test_socket_activation(tmp):
    with booted(tmp, "socket_activation") as c:
        c.wait_state(SOCKET_UNIT, ActiveState="active", SubState="listening")
        check(c.prop(SERVICE, "ActiveState") == "inactive", "seedd runs before any client")
        check(c.run("test", "-e", SEED_FILE, check=False).returncode != 0,
              "%s exists before seedd ever ran" % SEED_FILE)
        first = c.seedctl_get().hex()
        st = c.show(SERVICE, "ActiveState", "SubState", "TriggeredBy")
        check(st == {"ActiveState": "active", "SubState": "running", "TriggeredBy": SOCKET_UNIT},
              "after the first client: %r" % st)
        log("the first client started seedd and got its 32 bytes")

        # Hold the next start before seedd runs at all, queue clients on the
        # socket, then let seedd start: every queued client must be served.
        c.run("systemctl", "stop", SERVICE)
        c.run("mkfifo", "-m", "0644", "/run/seedd-gate")
        drop_in(c, "gate.conf", "[Service]\nExecStartPre=/bin/sh -c 'read go </run/seedd-gate'\n")
        n = 16
        clients = c.spawn('for i in $(seq %d); do (seedctl get --bytes 32; echo "rc=$?") '
                          '>/run/client.$i 2>&1 & done; wait' % n)

        def queued():
            out = c.run("ss", "-xlH", "src", SOCKET).stdout.split()
            return int(out[2]) if len(out) > 2 and int(out[2]) == n else None
        wait_for(queued, 60, "%d connections queued on %s" % (n, SOCKET))
        st = c.show(SERVICE, "ActiveState", "SubState")
        check(st == {"ActiveState": "activating", "SubState": "start-pre"},
              "seedd.service while %d clients wait: %r" % (n, st))
        c.sh("echo go >/run/seedd-gate")
        out, err = clients.communicate(timeout=120)
        check(clients.returncode == 0, "the clients' shell: %s%s" % (out, err))
        got = []
        for i in range(1, n + 1):
            lines = c.run("cat", "/run/client.%d" % i).stdout.split()
            check(len(lines) == 2 and lines[1] == "rc=0" and len(lines[0]) == 64,
                  "queued client %d: %r" % (i, lines))
            got.append(lines[0])
        check(len(set(got + [first])) == n + 1, "replies repeat: %r" % got)
        c.wait_state(SERVICE, ActiveState="active", SubState="running")
        log("%d clients queued before seedd started: all served, all distinct" % n)


READER = """[Unit]
Description=A unit that needs the seed seedd updated
Wants=seedd.service
After=seedd.service

[Service]
Type=oneshot
ExecStart=/bin/sh -c 'cmp -s {seed} /run/seed-before && exit 1; cp {seed} /run/seed-seen'
"""
# Every storage call of seedd's atomic writer sleeps this long (the faults
# suite's injector), so that its first seed update takes a second or more.
SLOW_SAVE = """[Service]
Environment=LD_PRELOAD={lib} SEEDD_FAULT_DELAY_US=200000
"""


def test_notify(tmp):
    with booted(tmp, "notify") as c:
        c.run("runuser", "-u", DAEMON_USER, "--", "seedctl", "provision", SEED_FILE)
        c.run("cp", SEED_FILE, "/run/seed-before")
        before = hexes(c, SEED_FILE)
        lib = c.copy_in(os.path.join(c.build, "tests", "faults", "faultinject.so"),
                        "/usr/local/lib/seedd-faultinject.so")
        drop_in(c, "slow-save.conf", SLOW_SAVE.format(lib=lib))
        c.write("/etc/systemd/system/seed-reader.service", READER.format(seed=SEED_FILE))
        c.run("systemctl", "daemon-reload")
        # The reader pulls seedd in and is ordered after it: it runs once seedd
        # is active, and must see a seed file that differs from the old one.
        c.run("systemctl", "start", "seed-reader.service")
        seen, now = hexes(c, "/run/seed-seen"), hexes(c, SEED_FILE)
        check(seen != before and seen == now, "the After= unit saw the old seed file")
        check(c.show(SERVICE, "Type", "ActiveState") == {"Type": "notify", "ActiveState": "active"},
              "seedd.service is not an active Type=notify service")

        # READY=1 came after the slow update: the unit became active well after
        # seedd started, and no earlier than the file's mtime (a coarse clock,
        # which never runs ahead).
        mtime_us = int(c.run("stat", "-c", "%.6Y", SEED_FILE).stdout.strip().replace(".", ""))
        start_us = timestamp_us(c, SERVICE, "ExecMainStartTimestamp")
        active_us = timestamp_us(c, SERVICE, "ActiveEnterTimestamp")
        check(mtime_us <= active_us, "seed file written %d us after READY" % (mtime_us - active_us))
        check(active_us - start_us >= 800000, "active %d us after the start: the update was "
              "slowed down by more than that" % (active_us - start_us))
        log("seedd.service active %d ms after its start (slowed update), %d us after the seed "
            "file's mtime; the After= unit saw the new seed"
            % ((active_us - start_us) // 1000, active_us - mtime_us))

        status = c.run("systemctl", "status", "--no-pager", "--lines=0", SERVICE).stdout
        want = 'Status: "Serving on %s; seed file %s saved"' % (SOCKET, SEED_FILE)
        check(want in status, "systemctl status lacks %r:\n%s" % (want, status))
        log("systemctl status: %s" % want)


# Where a daemon could leave data; only the state directory may take it.
PROBE_DIRS = ["/run", "/run/lock", "/tmp", "/var/tmp", "/dev/shm", "/etc", "/var/lib", STATE_DIR]
PROBE = """for d in "$@"; do
	if (: >"$d/.seedd-probe") 2>/dev/null; then rm -f "$d/.seedd-probe"; echo "$d writable"
	else echo "$d refused"; fi
done
find / \\( -path /proc -o -path /sys \\) -prune -o \\( -type d -o -type f \\) -writable -print \\
	2>/dev/null
"""


def test_sandbox(tmp):
    with booted(tmp, "sandbox") as c:
        c.seedctl_get()
        pid = main_pid(c)
        uid = int(c.run("id", "-u", DAEMON_USER).stdout)
        gid = int(c.run("id", "-g", DAEMON_USER).stdout)
        fields = dict(line.split(":", 1) for line in
                      c.run("cat", "/proc/%d/status" % pid).stdout.splitlines())
        fields = {k: v.split() for k, v in fields.items()}
        check(fields["Uid"] == [str(uid)] * 4 and fields["Gid"] == [str(gid)] * 4,
              "seedd runs as uid %s gid %s, not %s (%d:%d)"
              % (fields["Uid"], fields["Gid"], DAEMON_USER, uid, gid))
        check(fields["Groups"] in ([], [str(gid)]), "supplementary groups %s" % fields["Groups"])
        for cap in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
            check(int(fields[cap][0], 16) == 0, "%s is %s" % (cap, fields[cap][0]))
        check(fields["NoNewPrivs"] == ["1"], "NoNewPrivs is %s" % fields["NoNewPrivs"])
        check(fields["Seccomp"] == ["2"], "no seccomp filter: Seccomp %s" % fields["Seccomp"])
        log("seedd (pid %d) runs as %s %d:%d, no capabilities, NoNewPrivs, seccomp"
            % (pid, DAEMON_USER, uid, gid))

        # As the service user, in the service's own mount namespace.
        r = c.run("nsenter", "-t", pid, "-m", "--", "setpriv", "--reuid=%d" % uid,
                  "--regid=%d" % gid, "--clear-groups", "--", "/bin/sh", "-c", PROBE, "sh",
                  *PROBE_DIRS, check=False)
        lines = r.stdout.splitlines()
        probes = dict(line.rsplit(" ", 1) for line in lines[:len(PROBE_DIRS)])
        for d in PROBE_DIRS:
            want = "writable" if d == STATE_DIR else "refused"
            check(probes.get(d) == want, "%s is %s for %s in seedd's namespace (want %s)"
                  % (d, probes.get(d), DAEMON_USER, want))
        stray = [p for p in lines[len(PROBE_DIRS):]
                 if p != STATE_DIR and not p.startswith(STATE_DIR + "/")]
        check(not stray, "seedd can write outside %s:\n%s" % (STATE_DIR, "\n".join(stray)))
        check(STATE_DIR in lines[len(PROBE_DIRS):], "the writability scan missed %s" % STATE_DIR)
        log("in seedd's namespace, as %s: only %s is writable (%s refused)"
            % (DAEMON_USER, STATE_DIR, ", ".join(d for d in PROBE_DIRS if d != STATE_DIR)))


def test_root_seed(tmp):
    with booted(tmp, "root_seed") as c:
        # The factory flow: root provisions the seed before seedd ever ran.
        c.run("seedctl", "provision", SEED_FILE)
        check(owner_mode(c, SEED_FILE) == "root:root 600",
              "provisioned %s" % owner_mode(c, SEED_FILE))
        provisioned = hexes(c, SEED_FILE)
        r = c.run("systemd-tmpfiles", "--create", "--remove", "--boot", check=False)
        check(r.returncode == 0, "systemd-tmpfiles --create --remove --boot: exit %d\n%s"
              % (r.returncode, r.stderr))
        check(owner_mode(c, SEED_FILE) == OWNED,
              "after tmpfiles: %s" % owner_mode(c, SEED_FILE))
        c.seedctl_get()
        check(hexes(c, SEED_FILE) != provisioned, "seedd did not update the provisioned seed")
        msgs = [e["MESSAGE"] for e in seedd_lines(c)]
        check(not any("created seed file" in m for m in msgs),
              "seedd made a new seed instead of using the provisioned one: %r" % msgs)
        log("root-provisioned seed: tmpfiles --boot exit 0, handed to seedd, served")


EARLY_CLIENT = """[Unit]
Description=A client of seedd early in boot, before sysinit.target
DefaultDependencies=no
Requires=seedd.socket
After=seedd.socket
Before=sysinit.target

[Service]
Type=oneshot
RemainAfterExit=yes
Environment=SEEDD_TIMEOUT_MS=60000
ExecStart=/bin/sh -c 'seedctl get --bytes 32 >/run/early-seed'

[Install]
WantedBy=sysinit.target
"""


def monotonic_us(c, unit, prop):
    return int(c.prop(unit, prop + "Monotonic"))


def test_reboot(tmp):
    persist = tmp / "overlay"
    with booted(tmp, "reboot_install", persist=persist, volatile=False) as c:
        machine_id = c.machine_id
        c.run("seedctl", "provision", SEED_FILE)
        provisioned = hexes(c, SEED_FILE)
        c.write("/etc/systemd/system/seedd-early-client.service", EARLY_CLIENT)
        c.run("systemctl", "enable", "seedd-early-client.service")
        check(c.prop(SERVICE, "ActiveState") == "inactive", "seedd ran in the install boot")
    # The same system booted again: seedd installed and enabled, a seed file
    # root provisioned, and a client that asks for a seed before sysinit.target.
    with booted(tmp, "reboot", install=False, persist=persist, machine_id=machine_id) as c:
        st = c.show("seedd-early-client.service", "ActiveState", "Result")
        check(st == {"ActiveState": "active", "Result": "success"}, "the early client: %r" % st)
        early = c.run("cat", "/run/early-seed").stdout.strip()
        check(len(early) == 64, "the early client got %r" % early)
        check(owner_mode(c, SEED_FILE) == OWNED, "after boot: %s"
              % owner_mode(c, SEED_FILE))
        # The unit counts tmpfiles' exit 73 as success: its exit status tells.
        st = c.show("systemd-tmpfiles-setup.service", "ActiveState", "Result", "ExecMainStatus")
        check(st == {"ActiveState": "active", "Result": "success", "ExecMainStatus": "0"},
              "tmpfiles at boot: %r" % st)
        # The order a packager must keep: the socket before sockets.target, seedd
        # after tmpfiles handed it the seed file, the early client served in time.
        order = [(SOCKET_UNIT, "ActiveEnterTimestamp"),
                 ("sockets.target", "ActiveEnterTimestamp"),
                 ("systemd-tmpfiles-setup.service", "ActiveEnterTimestamp"),
                 (SERVICE, "ExecMainStartTimestamp"), (SERVICE, "ActiveEnterTimestamp"),
                 ("seedd-early-client.service", "ActiveEnterTimestamp"),
                 ("sysinit.target", "ActiveEnterTimestamp")]
        times = [monotonic_us(c, u, p) for u, p in order]
        check(all(t > 0 for t in times), "a unit did not run: %r" % list(zip(order, times)))
        check(times[0] <= times[1], "seedd.socket listened only after sockets.target")
        check(times[2] <= times[3] <= times[4] <= times[5] <= times[6],
              "boot order: %s" % ", ".join("%s %s %d" % (u, p, t)
                                          for (u, p), t in zip(order, times)))
        check(hexes(c, SEED_FILE) != provisioned, "seedd did not update the provisioned seed")
        msgs = [e["MESSAGE"] for e in seedd_lines(c)]
        check(not any("created seed file" in m or "another machine" in m for m in msgs),
              "seedd did not take the provisioned seed as it was: %r" % msgs)
        c.seedctl_get()
        log("second boot: running; tmpfiles handed the root-provisioned seed to seedd; after "
            "seedd.socket listened: tmpfiles done %.0f ms, seedd started %.0f ms, the early "
            "client served %.0f ms, sysinit.target %.0f ms"
            % tuple((t - times[0]) / 1000 for t in (times[2], times[3], times[5], times[6])))


def test_kill9(tmp):
    with booted(tmp, "kill9") as c:
        served = {c.seedctl_get()}
        seeds = [hexes(c, SEED_FILE)]
        pid = main_pid(c)
        kills = 3  # the default start limit is 5 starts in 10 s
        for i in range(kills):
            c.sh("kill -KILL %d" % pid)
            pid = restarted(c, pid)
            for _ in range(4):
                b = c.seedctl_get()
                check(b not in served, "after kill -9 number %d: served bytes repeated" % (i + 1))
                served.add(b)
            seed = hexes(c, SEED_FILE)
            check(seed not in seeds, "after kill -9 number %d: an old seed came back" % (i + 1))
            seeds.append(seed)
        restarts = int(c.prop(SERVICE, "NRestarts"))
        check(restarts == kills, "NRestarts %d after %d kills" % (restarts, kills))
        exits = [m for m in manager_lines(c) if "code=killed, status=9/KILL" in m]
        check(len(exits) == kills, "the journal has %d kill -9 exits: %r" % (len(exits), exits))
        log("kill -9 x%d: restarted each time, %d replies and %d seeds, all distinct"
            % (kills, len(served), len(seeds)))


def test_watchdog(tmp):
    with booted(tmp, "watchdog") as c:
        drop_in(c, "watchdog.conf", "[Service]\nWatchdogSec=2s\n")
        c.seedctl_get()
        usec = c.prop(SERVICE, "WatchdogUSec")
        check(usec == "2s", "WatchdogUSec %s" % usec)
        pid = main_pid(c)
        # The pings arrive: the manager's last-ping timestamp moves on.
        ping = c.prop(SERVICE, "WatchdogTimestampMonotonic")
        wait_for(lambda: c.prop(SERVICE, "WatchdogTimestampMonotonic") != ping, 30,
                 "a watchdog ping")
        c.sh("kill -STOP %d" % pid)
        new = restarted(c, pid)
        check(c.run("test", "-e", "/proc/%d" % pid, check=False).returncode != 0,
              "the stopped seedd %d is still there" % pid)
        msgs = manager_lines(c)
        for want in ("Watchdog timeout", "Killing process %d (seedd) with signal SIGABRT" % pid,
                     "Failed with result 'watchdog'"):
            check(any(want in m for m in msgs),
                  "no %r in the journal:\n%s" % (want, "\n".join(msgs)))
        c.seedctl_get()
        log("SIGSTOP under WatchdogSec=2s: pid %d aborted, replaced by %d, serving" % (pid, new))


def test_stop(tmp):
    with booted(tmp, "stop") as c:
        c.seedctl_get()
        before = hexes(c, SEED_FILE)
        c.run("systemctl", "stop", SERVICE)
        st = c.show(SERVICE, "ActiveState", "Result", "ExecMainCode", "ExecMainStatus")
        check(st == {"ActiveState": "inactive", "Result": "success", "ExecMainCode": "1",
                     "ExecMainStatus": "0"}, "after systemctl stop: %r" % st)
        check(hexes(c, SEED_FILE) != before, "no fresh seed saved at stop")
        log("systemctl stop: Result=success, exit 0, a fresh seed saved")

        # A final save that fails (a full state directory) must not fail the stop.
        uid = c.run("id", "-u", DAEMON_USER).stdout.strip()
        c.run("mount", "-t", "tmpfs", "-o", "size=64k,mode=0700,uid=%s,gid=%s" % (uid, uid),
              "seedd-state", STATE_DIR)
        try:
            c.run("runuser", "-u", DAEMON_USER, "--", "seedctl", "provision", SEED_FILE)
            c.seedctl_get()
            c.run("dd", "if=/dev/zero", "of=%s/filler" % STATE_DIR, "bs=1k", check=False)
            before = hexes(c, SEED_FILE)
            c.run("systemctl", "stop", SERVICE)
            st = c.show(SERVICE, "ActiveState", "Result", "ExecMainCode", "ExecMainStatus")
            check(st == {"ActiveState": "inactive", "Result": "success", "ExecMainCode": "1",
                         "ExecMainStatus": "0"}, "stop with a full state directory: %r" % st)
            want = ("cannot save a new seed to %s at stop: No space left on device; the next "
                    "start derives a fresh seed before serving" % SEED_FILE)
            entries = c.wait_journal(lambda es: any(e["MESSAGE"] == want for e in es), want,
                                     "_SYSTEMD_UNIT=" + SERVICE, "_TRANSPORT=stdout")
            prio = [e["PRIORITY"] for e in entries if e["MESSAGE"] == want]
            check(prio == ["4"], "the failed final save is logged at priority %s, not 4" % prio)
            check(hexes(c, SEED_FILE) == before, "the seed file changed on a full disk")
            c.run("rm", "%s/filler" % STATE_DIR)
            c.seedctl_get()
            check(hexes(c, SEED_FILE) != before, "the next start did not derive a fresh seed")
            c.run("systemctl", "stop", SERVICE)
        finally:
            c.run("umount", STATE_DIR, check=False)
        log("stop with a full state directory: warning (priority 4), Result=success; "
            "the next start derived a fresh seed")


def test_journal(tmp):
    with booted(tmp, "journal") as c:
        c.seedctl_get()
        c.run("systemctl", "stop", SERVICE)
        # A seed file others may read is refused: an error, exit 1, no restart.
        c.run("chmod", "0640", SEED_FILE)
        check(c.run("systemctl", "start", SERVICE, check=False).returncode != 0,
              "seedd started on a group-readable seed file")
        st = c.show(SERVICE, "Result", "ExecMainStatus", "NRestarts")
        check(st == {"Result": "exit-code", "ExecMainStatus": "1", "NRestarts": "0"},
              "after the refusal: %r" % st)
        want = [
            (r"^created seed file %s from getrandom\(2\)$" % re.escape(SEED_FILE), "5"),
            (r"^serving %s on %s \(64-byte seed, Mbed TLS " % (re.escape(SEED_FILE),
                                                                re.escape(SOCKET)), "6"),
            (r"^received SIGTERM, stopping$", "6"),
            (r"^saved a new seed to %s at stop$" % re.escape(SEED_FILE), "6"),
            (r"^refusing seed file %s: .*group or others" % re.escape(SEED_FILE), "3"),
        ]

        def all_there(entries):
            return all(any(re.search(p, e["MESSAGE"]) for e in entries) for p, _ in want)
        entries = c.wait_journal(all_there, "seedd's messages", "_SYSTEMD_UNIT=" + SERVICE,
                                 "_TRANSPORT=stdout")
        for e in entries:
            check(not re.match(r"<\d>", e["MESSAGE"]), "a priority prefix reached the journal: %r"
                  % e["MESSAGE"])
            check(e.get("SYSLOG_IDENTIFIER") == "seedd",
                  "identifier %r" % e.get("SYSLOG_IDENTIFIER"))
        for pattern, prio in want:
            got = [e["PRIORITY"] for e in entries if re.search(pattern, e["MESSAGE"])]
            check(got == [prio], "%r logged at priority %s, want %s" % (pattern, got, prio))
            log("priority %s: %s" % (prio, next(e["MESSAGE"] for e in entries
                                                 if re.search(pattern, e["MESSAGE"]))))
        c.run("chmod", "0600", SEED_FILE)
        c.run("systemctl", "reset-failed", SERVICE)
        c.seedctl_get()

        # One configuration path for both init systems: SEEDD_OPTS in /etc/default/seedd.
        c.write("/etc/default/seedd", '# as the init script reads it too\n'
                'SEEDD_OPTS="--save-interval 2 --idle-timeout 7"\n')
        c.run("systemctl", "restart", SERVICE)
        c.seedctl_get()
        argv = c.read_bytes("/proc/%d/cmdline" % main_pid(c)).split(b"\0")[:-1]
        check(argv[-4:] == [b"--save-interval", b"2", b"--idle-timeout", b"7"],
              "SEEDD_OPTS from /etc/default/seedd did not reach seedd: %r" % argv)

        def saves():
            return json.loads(c.run("seedctl", "status", "--json").stdout)["saves"]
        first = saves()
        wait_for(lambda: saves() >= first + 2, 30, "two saves at --save-interval 2")
        c.run("rm", "/etc/default/seedd")
        c.run("systemctl", "restart", SERVICE)
        c.seedctl_get()
        argv = c.read_bytes("/proc/%d/cmdline" % main_pid(c)).split(b"\0")[:-1]
        check(argv[-1] == SOCKET.encode(), "without /etc/default/seedd: %r" % argv)
        log("SEEDD_OPTS in /etc/default/seedd: on seedd's command line, saves every 2 s; "
            "without the file, the unit's own command line")


def test_security(tmp):
    with booted(tmp, "security") as c:
        c.seedctl_get()
        r = c.run("systemd-analyze", "security", "--no-pager", SERVICE, check=False)
        check_exposure(r, lambda msg: log("online " + msg))

        units = [c.prop(u, "FragmentPath") for u in (SOCKET_UNIT, SERVICE)]
        r = c.run("systemd-analyze", "verify", *units, check=False)
        out = (r.stdout + r.stderr).strip()
        check(r.returncode == 0 and not out, "systemd-analyze verify: exit %d\n%s"
              % (r.returncode, out))
        # The man: links are checked for real: without the page, verify says so.
        page = c.run("man", "-w", "seedd.8").stdout.strip()
        c.run("mv", page, "/root/seedd.8.away")
        r = c.run("systemd-analyze", "verify", *units, check=False)
        c.run("mv", "/root/seedd.8.away", page)
        check("seedd(8)" in r.stdout + r.stderr or "seedd.8" in r.stdout + r.stderr,
              "verify did not notice a missing seedd(8): %s%s" % (r.stdout, r.stderr))
        log("systemd-analyze verify %s: clean, man pages checked" % " ".join(units))


CLIENT_C = r"""
#include <stdio.h>
#include <seedclient.h>

int main(void)
{
	unsigned char buf[64];

	if (seedclient_nv_seed_read(buf, sizeof(buf)) != (int)sizeof(buf))
		return 1;
	printf("%u ", seedclient_version());
	for (size_t i = 0; i < sizeof(buf); i++)
		printf("%02x", buf[i]);
	putchar('\n');
	return 0;
}
"""


def seedd_pids(c):
    """Every seedd process in the container (minbase has no pgrep)."""
    return c.sh('for p in /proc/[0-9]*; do [ "$(cat $p/comm 2>/dev/null)" = seedd ] && '
                'echo ${p#/proc/}; done; true').split()


def build_client(tmp, pkgs):
    """A client built on the host with nothing but libseedclient-dev's files
    (pkg-config against the unpacked package), to run in the container."""
    root = tmp / "dev-root"
    for name in ("libseedclient0", "libseedclient-dev"):
        r = subprocess.run(["dpkg-deb", "-x", pkgs[name], root], capture_output=True, text=True)
        check(r.returncode == 0, "dpkg-deb -x %s: %s" % (pkgs[name], r.stderr))
    pcs = [d for d, _, files in os.walk(root) if "seedclient.pc" in files]
    check(len(pcs) == 1, "libseedclient-dev has no one seedclient.pc: %s" % pcs)
    env = dict(os.environ, PKG_CONFIG_PATH=pcs[0], PKG_CONFIG_SYSROOT_DIR=root,
               PKG_CONFIG_LIBDIR="")
    r = subprocess.run(["pkg-config", "--cflags", "--libs", "seedclient"], capture_output=True,
                       text=True, env=env)
    check(r.returncode == 0, "pkg-config seedclient: %s" % r.stderr)
    src, exe = tmp / "client.c", tmp / "client"
    with open(src, "w") as f:
        f.write(CLIENT_C)
    r = subprocess.run(["cc", "-o", exe, src] + r.stdout.split(), capture_output=True, text=True)
    check(r.returncode == 0, "cc with libseedclient-dev's flags: %s" % r.stderr)
    return exe


def test_package(tmp):
    """The Debian packages (contrib/debian) installed with dpkg into a booted
    container: the maintainer scripts make the user and the state directory
    and enable and start the socket, whose first client starts seedd; a client built against
    libseedclient-dev gets a seed; the init script defers to systemd; removal
    stops it and purge removes the seed."""
    pkgs = debs()
    log("installing %s" % ", ".join(os.path.basename(p) for p in pkgs.values()))
    client = build_client(tmp, pkgs)
    with booted(tmp, "package", install=False) as c:
        # The README's install line, as written, in a directory holding build-deb/.
        c.run("mkdir", "/root/build-deb")
        inside = {n: c.copy_in(pkgs[n], "/root/build-deb/" + os.path.basename(pkgs[n]))
                  for n in DEBS}
        line = sh_lines(readme_block("Installing and running as a systemd service",
                                     "sudo apt-get build-dep"))
        line = [cmd for cmd in line if cmd.startswith("apt install ./build-deb/")]
        check(len(line) == 1, "README: no one 'apt install ./build-deb/...' line")
        r = c.run("/bin/sh", "-ec", "cd /root && " + line[0], check=False, timeout=300)
        check(r.returncode == 0, "%s: exit %d\n%s%s" % (line[0], r.returncode, r.stdout, r.stderr))
        r = c.run("dpkg", "-i", inside["libseedclient-entropy0"], inside["libseedclient-dev"],
                  check=False, timeout=300)
        check(r.returncode == 0, "dpkg -i: exit %d\n%s%s" % (r.returncode, r.stdout, r.stderr))
        log("%s, then dpkg -i of the other two packages" % line[0])
        user = c.run("getent", "passwd", DAEMON_USER, check=False).stdout.split(":")
        check(len(user) > 2 and int(user[2]) < 1000, "no system user %s: %r" % (DAEMON_USER, user))
        check(owner_mode(c, STATE_DIR) == "%s:%s 700" % (DAEMON_USER, DAEMON_USER),
              "%s: %s" % (STATE_DIR, owner_mode(c, STATE_DIR)))
        # seedd.service is enabled through its socket (Also=), which listens.
        enabled = [c.run("systemctl", "is-enabled", u, check=False).stdout.strip()
                   for u in (SOCKET_UNIT, SERVICE)]
        check(enabled == ["enabled", "indirect"], "is-enabled socket, service: %s" % enabled)
        c.wait_state(SOCKET_UNIT, ActiveState="active", SubState="listening")
        first = c.seedctl_get()
        c.wait_state(SERVICE, ActiveState="active", SubState="running")
        uid = c.run("stat", "-c", "%U", "/proc/%d" % main_pid(c)).stdout.strip()
        check(uid == DAEMON_USER, "seedd.service runs as %s" % uid)
        check(owner_mode(c, SEED_FILE) == OWNED, "%s: %s" % (SEED_FILE, owner_mode(c, SEED_FILE)))
        check(c.seedctl_get() != first, "seedctl get repeats itself")
        r = c.run("seedctl", "status", check=False)
        check(r.returncode == 0 and "healthy" in r.stdout, "seedctl status: %s%s"
              % (r.stdout, r.stderr))
        log("installed: user %s, %s %s, the socket enabled, seedd serving as %s"
            % (DAEMON_USER, STATE_DIR, owner_mode(c, STATE_DIR), uid))

        out = c.run(c.copy_in(client, "/root/client")).stdout.split()
        check(len(out) == 2 and out[0].isdigit() and re.fullmatch(r"[0-9a-f]{128}", out[1]),
              "the libseedclient-dev client printed %r" % out)
        log("a client built with libseedclient-dev's pkg-config flags got a seed (library %s)"
            % out[0])

        # By hand, the init script hands over to systemctl: no second seedd,
        # and the state directory stays the service's.
        pid = main_pid(c)
        r = c.run("/etc/init.d/seedd", "restart", check=False)
        check(r.returncode == 0 and "systemctl" in r.stdout + r.stderr,
              "/etc/init.d/seedd restart: exit %d %s%s" % (r.returncode, r.stdout, r.stderr))
        restarted(c, pid)
        pids = seedd_pids(c)
        check(len(pids) == 1, "seedd processes after the init script: %s" % pids)
        check(owner_mode(c, STATE_DIR) == "%s:%s 700" % (DAEMON_USER, DAEMON_USER)
              and owner_mode(c, SEED_FILE) == OWNED, "the init script changed owners")
        c.seedctl_get()
        log("/etc/init.d/seedd restart went through systemctl: one seedd, owners kept")

        c.run("dpkg", "-r", "seedd", timeout=120)
        check(not seedd_pids(c), "seedd runs after dpkg -r: %s" % seedd_pids(c))
        check(c.run("test", "-e", SEED_FILE, check=False).returncode == 0,
              "dpkg -r removed the seed file")
        c.run("dpkg", "--purge", "seedd", timeout=120)
        check(c.run("test", "-e", STATE_DIR, check=False).returncode != 0,
              "dpkg --purge left %s" % STATE_DIR)
        c.run("systemctl", "reset-failed")
        log("dpkg -r stopped seedd and kept the seed; --purge removed %s" % STATE_DIR)


SEEDFS = "seedfs.service"
SEEDFS_FILE = "/run/seedfs/seedfile"
# One read(2) of the file to its end, as a hex line: dd with a large block.
READ_HEX = 'dd if=%s bs=4096 count=1 status=none | od -An -v -tx1 | tr -d " \\n"' % SEEDFS_FILE


def test_seedfs(tmp):
    if not os.path.exists("/dev/fuse"):
        raise Skip("no /dev/fuse on this host (modprobe fuse)")
    with booted(tmp, "seedfs", nspawn_args=["--bind=/dev/fuse"]) as c:
        if c.run("test", "-e", "/usr/sbin/seedfs", check=False).returncode:
            raise Skip("seedfs is not built (no libfuse3-dev on the host)")
        c.run("systemctl", "start", SEEDFS)
        st = c.show(SEEDFS, "ActiveState", "Type", "NFileDescriptorStore", "MainPID")
        check(st["ActiveState"] == "active" and st["Type"] == "notify",
              "seedfs.service: %r" % st)
        # seedfs took the connection out of the store: its fd is the only one.
        check(st["NFileDescriptorStore"] == "0", "the fd store still holds %s fds"
              % st["NFileDescriptorStore"])
        fstype = c.run("findmnt", "-n", "-o", "FSTYPE", "/run/seedfs").stdout.strip()
        check(fstype == "fuse.seedfs", "on the host's /run/seedfs: %r" % fstype)
        log("seedfs.service active (Type=notify), /run/seedfs is fuse.seedfs in the host's "
            "namespace, the fd store is empty again")

        before = int(json.loads(c.run("seedctl", "status", "--json").stdout)["requests"])
        reads = [c.sh(READ_HEX), c.sh(READ_HEX),
                 c.run("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--",
                       "/bin/sh", "-c", READ_HEX).stdout]
        after = int(json.loads(c.run("seedctl", "status", "--json").stdout)["requests"])
        check(all(len(r) == 128 for r in reads) and len(set(reads)) == 3,
              "reads through seedfs: %r" % reads)
        check(after - before >= 3, "seedd served %d requests for 3 reads" % (after - before))
        log("3 reads of %s (one by nobody): 64 fresh bytes each, all distinct, from seedd"
            % SEEDFS_FILE)

        pid = int(st["MainPID"])
        fields = dict(line.split(":", 1) for line in
                      c.run("cat", "/proc/%d/status" % pid).stdout.splitlines())
        fields = {k: v.split() for k, v in fields.items()}
        # CAP_SETGID (6) and CAP_SETUID (7), nothing else.
        check(int(fields["CapBnd"][0], 16) == 0xc0, "CapBnd is %s" % fields["CapBnd"][0])
        check(fields["NoNewPrivs"] == ["1"] and fields["Seccomp"] == ["2"],
              "NoNewPrivs %s, Seccomp %s" % (fields["NoNewPrivs"], fields["Seccomp"]))
        r = c.run("systemd-analyze", "security", "--no-pager", SEEDFS, check=False)
        check_exposure(r, lambda msg: log("online " + msg), unit=SEEDFS)

        units = [c.prop(u, "FragmentPath") for u in (SEEDFS, SOCKET_UNIT)]
        r = c.run("systemd-analyze", "verify", *units, check=False)
        out = (r.stdout + r.stderr).strip()
        check(r.returncode == 0 and not out, "systemd-analyze verify: exit %d\n%s"
              % (r.returncode, out))

        # Killed: the old mount is detached and systemd restarts seedfs on a fresh one.
        c.sh("kill -KILL %d" % pid)

        def restarted():
            st = c.show(SEEDFS, "ActiveState", "MainPID")
            return st["ActiveState"] == "active" and st["MainPID"] not in ("0", str(pid))
        wait_for(restarted, 60, "seedfs.service to run again after pid %d" % pid)
        again = c.sh(READ_HEX)
        mounts = c.run("findmnt", "-n", "-o", "FSTYPE", "/run/seedfs").stdout.split()
        check(len(again) == 128 and again not in reads, "after the restart: %r" % again)
        check(mounts == ["fuse.seedfs"], "/run/seedfs after the restart: %r" % mounts)
        log("kill -9: restarted on one fresh mount (the dead one detached), fresh bytes")

        c.run("systemctl", "stop", SEEDFS)
        r = c.run("dd", "if=" + SEEDFS_FILE, "of=/dev/null", "count=1", check=False)
        check(r.returncode != 0 and "No such file" in r.stderr,
              "a read after the stop: exit %d %s" % (r.returncode, r.stderr))
        check(c.run("test", "-e", "/run/seedfs", check=False).returncode != 0,
              "/run/seedfs is still there after the stop")
        log("stopped: /run/seedfs unmounted and removed, reads fail")


STOCK_APP_C = r"""
#include <stdio.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <seedclient.h>

/* The README's stock Mbed TLS wiring: seedd as a strong entropy source. */
int main(void)
{
	mbedtls_entropy_context entropy;
	mbedtls_ctr_drbg_context drbg;
	unsigned char out[32];

	mbedtls_entropy_init(&entropy);
	mbedtls_ctr_drbg_init(&drbg);
	if (mbedtls_entropy_add_source(&entropy, seedclient_entropy_poll, NULL, 32,
				       MBEDTLS_ENTROPY_SOURCE_STRONG) ||
	    mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &entropy, NULL, 0) ||
	    mbedtls_ctr_drbg_random(&drbg, out, sizeof(out)))
		return 1;
	for (size_t i = 0; i < sizeof(out); i++)
		printf("%02x", out[i]);
	putchar('\n');
	return 0;
}
"""


def sh_lines(block):
    """A README block's commands, one per line, as root runs them (no sudo)."""
    return [re.sub(r"^sudo ", "", line) for line in block]


def test_readme(tmp):
    """The README's commands as written, in a copy of the tree as a fresh
    clone has it: the quick start (scripts/run.sh and the seedctl lines), the
    systemd install (meson on the host, installing into the container through
    DESTDIR; the rest in the container) and the link lines, whose programs
    then get their seeds from the installed seedd."""
    clone = fresh_clone(tmp / "clone")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEEDD")}

    def host(cmd, **extra):
        r = subprocess.run(["/bin/sh", "-ec", cmd], cwd=clone, capture_output=True, text=True,
                           env=dict(env, **extra), timeout=900)
        check(r.returncode == 0, "on the host: %s: exit %d\n%s%s"
              % (cmd, r.returncode, r.stdout[-3000:], r.stderr[-3000:]))
        return r.stdout

    check(readme_block("Quick start", "scripts/run.sh") == ["scripts/run.sh"],
          "the quick start no longer says scripts/run.sh")
    with open(tmp / "run.log", "w") as out:
        run = subprocess.Popen(["scripts/run.sh"], cwd=clone, stdout=out, stderr=subprocess.STDOUT,
                               stdin=subprocess.DEVNULL, env=env)
    try:
        wait_serving(os.path.join(clone, "state", "seedd.sock"), run, 600, "scripts/run.sh")
        out = host("\n".join(readme_block("Quick start", "export SEEDD_SOCKET"))).split("\n")
        check("healthy" in out[0] and re.fullmatch(r"[0-9a-f]{128}", out[-2]),
              "the quick start's seedctl lines printed %r" % out)
    finally:
        run.terminate()
        rc = run.wait(60)
    check(rc == 0, "scripts/run.sh's seedd exited %d on SIGTERM:\n%s" % (rc, open(tmp / "run.log").read()))
    log("quick start: scripts/run.sh served; seedctl status and get as written")

    with booted(tmp, "readme", install=False) as c:
        root = "/proc/%d/root" % c.leader
        for cmd in sh_lines(readme_block("Installing and running as a systemd service",
                                         "meson setup")):
            if cmd.startswith(("meson ", "ninja ")):
                host(cmd, DESTDIR=root)
                # meson install runs ldconfig itself, but not into a DESTDIR.
                if cmd.startswith("meson install"):
                    c.run("ldconfig")
            else:
                c.run("/bin/sh", "-ec", cmd)
        c.seedctl_get()
        # The prefix it names is the one installed (a build dir set up before
        # keeps its own: meson setup does not change it).
        prefix = re.search(r"--prefix=(\S+)", " ".join(readme_block(
            "Installing and running as a systemd service", "meson setup"))).group(1)
        exec_start = c.prop(SERVICE, "ExecStart")
        check("path=%s/sbin/seedd " % prefix in exec_start,
              "--prefix=%s, but seedd.service runs %s" % (prefix, exec_start))
        c.run("test", "-x", prefix + "/bin/seedctl")
        log("the install section, as written: seedd from %s serves in the container" % prefix)

        pcs = [d for d, _, files in os.walk(root + "/usr/lib") if "seedclient.pc" in files]
        check(len(pcs) == 1, "no one seedclient.pc installed: %s" % pcs)
        pc = dict(PKG_CONFIG_PATH=pcs[0], PKG_CONFIG_SYSROOT_DIR=root, PKG_CONFIG_LIBDIR="")
        with open(os.path.join(clone, "app.c"), "w") as f:
            f.write(STOCK_APP_C)
        shared = readme_block("Using libseedclient", "cc -o app app.c")
        static = readme_block("Embedded Linux", "cc -o app app.o")
        for kind, block in (("shared", shared), ("static", static)):
            if kind == "static":
                host("cc -c app.c $(pkg-config --cflags seedclient)", **pc)
            host("\n".join(block), **pc)
            before = json.loads(c.run("seedctl", "status", "--json").stdout)["requests"]
            out = c.run(c.copy_in(os.path.join(clone, "app"), "/root/app-" + kind)).stdout
            after = json.loads(c.run("seedctl", "status", "--json").stdout)["requests"]
            check(re.fullmatch(r"[0-9a-f]{64}\n", out) and after > before,
                  "%s app: %r, requests %d -> %d" % (kind, out, before, after))
            log("%s link line as written: %s; the app got its entropy from seedd" % (kind, block[0]))


if __name__ == "__main__":
    main(globals())
