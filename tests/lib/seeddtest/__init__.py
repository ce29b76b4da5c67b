# SPDX-License-Identifier: MIT
"""Shared helpers for the seedd test suites: real binaries on a temp dir.

  seeddtest.wire    the wire protocol: header, opcodes, statuses, the STATUS
                    payload, messages, a raw GET over a socket
  seeddtest.seal    the encrypted seed file's layout
  seeddtest.daemon  the built programs (target()), temp dirs, seed files,
                    the Daemon class that starts seedd and waits until it serves
  seeddtest.others  for_others(): a built program as another user can run it,
                    also from a build tree in a private directory
  seeddtest.probe   waits that poll for a state, CPU time of a process
  seeddtest.stats   percentiles and medians of measurements
  seeddtest.units   the exposure systemd-analyze security gives a unit
  seeddtest.users   throw-away users (Users) and running a program as one (as_user)

Everything is also importable from seeddtest itself. A test file defines
functions named test_*; run it as `python3 FILE NAME`, which main() does.
Exit status: 0 pass, 1 fail, 77 skip (with the reason on stdout).
"""

import sys
import traceback

from ._base import Skip, check
from .wire import (HDR, GET_REQ, VERSION, MAX_PAYLOAD, OP_GET, OP_PUT, OP_STATUS, OP_USERS, ST_OK,
                   ST_MALFORMED, ST_VERSION, ST_OPCODE, ST_RANGE, ST_BUSY, ST_DENIED, ST_INTERNAL,
                   STATUS_FIELDS, STATUS_INFO, closed_by_daemon, connect, get_req, msg,
                   pack_status, parse_reply, raw_get, unpack_status)
from .daemon import (SEEDD, SEEDCTL, SCTOOL, WRAPPER, Daemon, TempDir, need_strace, read_file,
                     snapshot, target, write_machine_id, write_seed)
from .others import for_others
from .probe import (ConnectWatch, answers, proc_cpu_s, wait_for, wait_for_text, wait_serving)
from .stats import median, pct
from .units import check_exposure
from .users import Users, as_user
from . import seal, wire

__all__ = [
    "Skip", "check", "HDR", "GET_REQ", "VERSION", "MAX_PAYLOAD", "OP_GET", "OP_PUT", "OP_STATUS",
    "OP_USERS",
    "ST_OK", "ST_MALFORMED", "ST_VERSION", "ST_OPCODE", "ST_RANGE", "ST_BUSY", "ST_DENIED",
    "ST_INTERNAL", "STATUS_FIELDS", "STATUS_INFO", "closed_by_daemon", "connect", "get_req",
    "msg", "pack_status", "parse_reply", "raw_get", "unpack_status", "SEEDD", "SEEDCTL",
    "SCTOOL", "WRAPPER", "Daemon", "TempDir", "need_strace", "read_file", "snapshot", "target",
    "write_machine_id", "write_seed", "for_others", "ConnectWatch", "answers", "proc_cpu_s", "wait_for",
    "wait_for_text", "wait_serving", "median", "pct", "check_exposure", "Users", "as_user", "seal",
    "wire", "main",
]


def main(module_globals):
    """Runs the test case named by argv[1] on a fresh TempDir; every Daemon the
    case made is killed afterwards and its log printed when the case failed."""
    if len(sys.argv) != 2 or "test_" + sys.argv[1] not in module_globals:
        names = sorted(k[5:] for k in module_globals if k.startswith("test_"))
        print("usage: %s CASE\ncases: %s" % (sys.argv[0], " ".join(names)))
        sys.exit(2)
    tmp = TempDir()
    daemons = []
    real_init = Daemon.__init__

    def tracking_init(self, *a, **kw):
        real_init(self, *a, **kw)
        daemons.append(self)

    Daemon.__init__ = tracking_init
    rc = 0
    try:
        module_globals["test_" + sys.argv[1]](tmp)
        print("PASS", sys.argv[1])
    except Skip as e:
        print("SKIP:", e)
        rc = 77
    except Exception:
        traceback.print_exc()
        for d in daemons:
            if d.log():
                print("--- seedd log (%s) ---\n%s" % (d.log_path, d.log()))
        rc = 1
    finally:
        for d in daemons:
            if d.alive():
                d.proc.kill()
                d.proc.wait()
        tmp.cleanup()
    sys.exit(rc)
