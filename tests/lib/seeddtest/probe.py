# SPDX-License-Identifier: MIT
"""Probes: wait for a state by polling it, and read what a process has used.

A test waits for a state (a socket that answers, a line in a log, a count
in the status), never for a fixed time: on a loaded machine any fixed
sleep is either too short or wasted.
"""

import os
import re
import threading
import time

from .wire import HDR, OP_STATUS, connect, msg, raw_get


def wait_for(pred, timeout, what, step=0.02):
    """Polls pred until it returns something true, and returns that; pred is
    asked once more at the deadline. Raises AssertionError naming what."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %ss waiting for %s" % (timeout, what))
        time.sleep(step)


def answers(path):
    """Whether something on the socket at path answers a STATUS request (within
    a second): accepting the connection is not enough, as seedd listens while
    it still makes its first seed durable."""
    try:
        s = connect(path, timeout=1)
    except OSError:
        return False
    try:
        s.send(msg(OP_STATUS))
        return len(s.recv(65536)) >= HDR.size
    except OSError:
        return False
    finally:
        s.close()


def wait_serving(path, proc, timeout, what="seedd"):
    """Polls until the socket at path accepts a connection; raises
    AssertionError when proc (a Popen) exits first or the time is up."""
    def ready():
        if answers(path):
            return True
        if proc.poll() is not None:
            raise AssertionError("%s exited with %d before serving" % (what, proc.returncode))
        return False
    wait_for(ready, timeout, "%s to serve on %s" % (what, path), step=0.01)


def wait_for_text(path, pattern, timeout):
    """Polls a file another process writes until the regex matches; the match."""
    rx = re.compile(pattern, re.M)

    def found():
        try:
            with open(path, errors="replace") as f:
                return rx.search(f.read())
        except FileNotFoundError:
            return None
    return wait_for(found, timeout, "/%s/ in %s" % (pattern, path), step=0.01)


def proc_cpu_s(pid):
    """utime + stime of a live process, in seconds, from /proc/PID/stat."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class ConnectWatch:
    """Tries GETs on a socket in a thread until finish(); records each reply
    served, to show that nothing was served while it should not be."""

    def __init__(self, sock):
        self.sock = sock
        self.served = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.stop.is_set():
            try:
                s = connect(self.sock, timeout=0.5)
                try:
                    self.served.append(raw_get(s, 32))
                finally:
                    s.close()
            except (OSError, AssertionError):
                time.sleep(0.002)

    def finish(self):
        self.stop.set()
        self.thread.join()
        return self.served
