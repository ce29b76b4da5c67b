#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Writes the seed corpus of each fuzz target into corpus/TARGET/.

Hand-made inputs that reach every branch of the parsers; the fuzzers grow
from there. Deterministic, so re-running it changes nothing in git.
"""

import hashlib
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from seeddtest import seal, wire  # noqa: E402

GET_REQ, GET, PUT, STATUS, msg = wire.GET_REQ, wire.OP_GET, wire.OP_PUT, wire.OP_STATUS, wire.msg
USERS = wire.OP_USERS
MAX = wire.MAX_PAYLOAD


def get(n):
    return msg(GET, GET_REQ.pack(n))


def pattern(n, start=1):
    """n bytes that look random (and pass the seed quality screen), deterministically."""
    out = b""
    while len(out) < n:
        out += hashlib.sha256(b"seedd corpus %d %d" % (start, len(out))).digest()
    return out[:n]


def requests():
    yield from (get(n) for n in (0, 1, 32, 64, MAX, MAX + 1, 0xFFFFFFFF))
    yield from (msg(PUT, pattern(n)) for n in (1, 32, MAX))
    yield msg(PUT)
    yield msg(PUT, pattern(MAX + 1))
    yield msg(STATUS)
    yield msg(STATUS, b"x")
    yield from (wire.users_req(u) for u in (0, 1000, wire.USERS_OTHERS))
    yield msg(USERS)
    yield msg(USERS, wire.USERS_REQ.pack(0) + b"\0")
    yield msg(GET, b"\x20\x00")
    yield msg(GET, GET_REQ.pack(32) + bytes(4))
    for op in (0, 5, 0x7F, 0xFF):
        yield msg(op)
    yield msg(GET, GET_REQ.pack(32), version=0)
    yield msg(GET, GET_REQ.pack(32), version=2)
    yield msg(GET, GET_REQ.pack(32), status=wire.ST_BUSY)
    yield msg(GET, GET_REQ.pack(32), length=5)
    yield msg(PUT, b"abc", length=0xFFFFFFFF)
    for n in range(8):
        yield get(32)[:n]
    yield msg(PUT, pattern(MAX + 200))  # more than one message: truncated


def replies():
    yield msg(GET, pattern(32))
    yield msg(GET, pattern(MAX))
    yield msg(PUT)
    yield msg(STATUS, pattern(wire.STATUS_INFO.size))
    yield msg(STATUS, pattern(wire.STATUS_V1_SIZE))
    yield msg(USERS, wire.pack_users([]))
    yield msg(USERS, wire.pack_users([dict(uid=1000, clients=2, refused=110, evicted=3)],
                                     more=True))
    yield msg(USERS, status=wire.ST_DENIED)
    for st in range(1, 9):
        yield msg(GET, status=st)
        yield msg(0, status=st)
    yield msg(GET, b"x", status=5)
    yield msg(GET, pattern(32), length=31)
    yield msg(GET, pattern(32), version=9)


def seedfiles():
    # First byte: bits 7-6 what sits at the path (0 file, 1 symlink, 2 dir or
    # FIFO, 3 the rest is a path for seedfile_open); bits 5-0 extra mode bits.
    for n in (0, 1, 31, 32, 33, 63, 64, 65, 200):
        yield b"\x00" + pattern(n)
    yield b"\x00" + b"\x00" * 32
    yield b"\x00" + b"\xff" * 64
    yield b"\x00" + b"\x00" * 63 + b"\x01"
    for bits in (0o4, 0o40, 0o77, 0o2):
        yield bytes([bits]) + pattern(32)
    yield b"\x40" + pattern(32)
    yield b"\x41" + pattern(32)
    yield b"\x80"
    yield b"\x81"
    for p in (b"", b"seed", b"/seed", b"/", b"a/", b"/tmp/x/y/seed", b"//seed", b"./seed",
              b"nodir/seed", b"a/b\x00c"):
        yield b"\xc0" + p


def sealed():
    """Inputs of fuzz-seal.c: mode byte, then content or seed + machine + edits."""
    yield b"\x00" + pattern(64, 7)
    yield b"\x00" + pattern(32, 8)
    yield b"\x00" + seal.prefix(64) + pattern(seal.sealed_size(64) - seal.PREFIX.size, 9)
    yield b"\x00" + seal.prefix(32, version=2) + pattern(seal.sealed_size(32) - seal.PREFIX.size,
                                                         10)
    yield b"\x00" + seal.MAGIC
    for size in (0, 1):
        yield b"\x01" + bytes([size]) + pattern(96, 11 + size)
        yield b"\x02" + bytes([size]) + pattern(96, 13 + size)
        yield b"\x02" + bytes([size]) + pattern(96, 15 + size) + b"\x05\x80" + b"\x30\x01"
        yield b"\x02" + bytes([size]) + pattern(96, 17 + size) + b"\xff\x70"


def main():
    """Writes the corpus; with --check, only tells whether the committed one is current."""
    only_check = sys.argv[1:] == ["--check"]
    if sys.argv[1:] and not only_check:
        print("usage: %s [--check]" % sys.argv[0], file=sys.stderr)
        return 2
    top = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
    stale = []
    for name, gen in (("proto", lambda: list(requests()) + list(replies())),
                      ("request", requests), ("seedfile", seedfiles), ("seal", sealed)):
        d = os.path.join(top, name)
        if not only_check:
            os.makedirs(d, exist_ok=True)
        for data in gen():
            path = os.path.join(d, "seed-" + hashlib.sha1(data).hexdigest()[:16])
            if only_check:
                if not os.path.isfile(path):
                    stale.append(path)
                continue
            with open(path, "wb") as f:
                f.write(data)
    for path in stale:
        print("missing from the committed corpus: %s" % path)
    if only_check:
        print("the committed corpus is %s" % ("stale: run make-corpus.py" if stale else "current"))
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
