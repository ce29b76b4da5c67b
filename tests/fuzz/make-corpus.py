#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Writes the seed corpus of each fuzz target into corpus/TARGET/.

Hand-made inputs that reach every branch of the parsers; the fuzzers grow
from there. Deterministic, so re-running it changes nothing in git.
"""

import hashlib
import os
import struct
import sys

HDR = struct.Struct("=BBHI")
GET, PUT, STATUS = 1, 2, 3
MAX = 1024


def msg(op, payload=b"", version=1, status=0, length=None):
    return HDR.pack(version, op, status, len(payload) if length is None else length) + payload


def get(n):
    return msg(GET, struct.pack("=I", n))


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
    yield msg(GET, b"\x20\x00")
    yield msg(GET, struct.pack("=II", 32, 0))
    for op in (0, 4, 0x7F, 0xFF):
        yield msg(op)
    yield msg(GET, struct.pack("=I", 32), version=0)
    yield msg(GET, struct.pack("=I", 32), version=2)
    yield msg(GET, struct.pack("=I", 32), status=5)
    yield msg(GET, struct.pack("=I", 32), length=5)
    yield msg(PUT, b"abc", length=0xFFFFFFFF)
    for n in range(8):
        yield get(32)[:n]
    yield msg(PUT, pattern(MAX + 200))  # more than one message: truncated


def replies():
    yield msg(GET, pattern(32))
    yield msg(GET, pattern(MAX))
    yield msg(PUT)
    yield msg(STATUS, pattern(592))
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
    yield b"\x00" + b"seeddenc\x01\x01\x40\x00" + pattern(132, 9)
    yield b"\x00" + b"seeddenc\x02\x01\x20\x00" + pattern(100, 10)
    yield b"\x00seeddenc"
    for size in (0, 1):
        yield b"\x01" + bytes([size]) + pattern(96, 11 + size)
        yield b"\x02" + bytes([size]) + pattern(96, 13 + size)
        yield b"\x02" + bytes([size]) + pattern(96, 15 + size) + b"\x05\x80" + b"\x30\x01"
        yield b"\x02" + bytes([size]) + pattern(96, 17 + size) + b"\xff\x70"


def main():
    top = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
    for name, gen in (("proto", lambda: list(requests()) + list(replies())),
                      ("request", requests), ("seedfile", seedfiles), ("seal", sealed)):
        d = os.path.join(top, name)
        os.makedirs(d, exist_ok=True)
        for data in gen():
            path = os.path.join(d, "seed-" + hashlib.sha1(data).hexdigest()[:16])
            with open(path, "wb") as f:
                f.write(data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
