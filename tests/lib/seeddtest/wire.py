# SPDX-License-Identifier: MIT
"""The wire protocol of include/seedd-protocol.h, as the tests speak it.

Host byte order, one message per SOCK_SEQPACKET datagram: the 8-byte header,
then the payload. The layouts here are the header's, field by field; the
suites, the fuzz corpus and the fake daemons build every message from them.
"""

import socket
import struct

from ._base import check

VERSION = 1
MAX_PAYLOAD = 1024
OP_GET, OP_PUT, OP_STATUS, OP_USERS = 1, 2, 3, 4
ST_OK, ST_MALFORMED, ST_VERSION, ST_OPCODE, ST_RANGE, ST_BUSY, ST_DENIED, ST_INTERNAL = range(8)

# struct seedd_hdr: version, opcode, status, payload length.
HDR = struct.Struct("=BBHI")
# struct seedd_get_req: the number of bytes wanted.
GET_REQ = struct.Struct("=I")

# SEEDD_STATUS_* bits of the status payload's flags.
STATUS_SEEDED = 1 << 0
STATUS_LAST_SAVE_OK = 1 << 1
STATUS_ENCRYPTED = 1 << 2
STATUS_CLONE_SUSPECTED = 1 << 3
STATUS_ORIGIN_MASK = 3 << 4
STATUS_ORIGIN_FILE, STATUS_ORIGIN_MIGRATED, STATUS_ORIGIN_CREATED = 0 << 4, 1 << 4, 2 << 4
STATUS_LIMITED = 1 << 6

# struct seedd_status_info, every field in order: 624 bytes, 64-bit fields at
# multiples of 8 (no padding on any ABI). A daemon without the connection
# counters (refused on) sends the first STATUS_V1_SIZE bytes.
STATUS_FIELDS = (
    ("uptime_s", "Q"),
    ("requests", "Q"),
    ("bytes_served", "Q"),
    ("last_save_unix", "q"),
    ("clients", "I"),
    ("seed_size", "I"),
    ("flags", "I"),
    ("last_save_error", "i"),
    ("saves", "Q"),
    ("save_failures", "Q"),
    ("version", "16s"),
    ("seed_file", "512s"),
    ("refused", "Q"),
    ("evicted", "Q"),
    ("idle_closed", "Q"),
    ("pid", "I"),
    ("users", "I"),
)
STATUS_INFO = struct.Struct("=" + "".join(code for _, code in STATUS_FIELDS))
assert STATUS_INFO.size == 624, "status payload is 624 bytes"
STATUS_V1_SIZE = 592

# USERS: struct seedd_users_req (from_uid), then the reply: struct
# seedd_users_info's n and more, and n struct seedd_user_stat entries.
USERS_REQ = struct.Struct("=I")
USERS_HDR = struct.Struct("=II")
USER_STAT = struct.Struct("=IIQQ")
USER_FIELDS = ("uid", "clients", "refused", "evicted")
USERS_MAX = (MAX_PAYLOAD - USERS_HDR.size) // USER_STAT.size
USERS_OTHERS = 0xFFFFFFFF
assert USER_STAT.size == 24 and USERS_MAX == 42


def pack_status(**fields):
    """A STATUS payload; fields not given are zero, strings are encoded."""
    unknown = set(fields) - {name for name, _ in STATUS_FIELDS}
    check(not unknown, "no status fields %s" % sorted(unknown))
    values = []
    for name, code in STATUS_FIELDS:
        v = fields.get(name, b"" if code.endswith("s") else 0)
        values.append(v.encode() if isinstance(v, str) else v)
    return STATUS_INFO.pack(*values)


def unpack_status(payload):
    """A STATUS payload as a dict; strings cut at their NUL and decoded."""
    check(len(payload) == STATUS_INFO.size, "status payload of %d bytes" % len(payload))
    out = {}
    for (name, code), v in zip(STATUS_FIELDS, STATUS_INFO.unpack(payload)):
        out[name] = v.split(b"\0", 1)[0].decode() if code.endswith("s") else v
    return out


def users_req(from_uid=0):
    return msg(OP_USERS, USERS_REQ.pack(from_uid))


def pack_users(entries, more=False):
    """A USERS reply payload from dicts with the USER_FIELDS keys."""
    return USERS_HDR.pack(len(entries), int(more)) + b"".join(
        USER_STAT.pack(*(e[k] for k in USER_FIELDS)) for e in entries)


def unpack_users(payload):
    """A USERS reply payload: (list of dicts with the USER_FIELDS keys, more)."""
    check(len(payload) >= USERS_HDR.size, "USERS payload of %d bytes" % len(payload))
    n, more = USERS_HDR.unpack_from(payload)
    check(len(payload) == USERS_HDR.size + n * USER_STAT.size,
          "USERS payload of %d bytes for %d entries" % (len(payload), n))
    return [dict(zip(USER_FIELDS, USER_STAT.unpack_from(payload, USERS_HDR.size + i * USER_STAT.size)))
            for i in range(n)], bool(more)


def msg(op, payload=b"", version=VERSION, status=0, length=None):
    """One message; length overrides the header's payload length."""
    return HDR.pack(version, op, status, len(payload) if length is None else length) + payload


def get_req(n):
    return msg(OP_GET, GET_REQ.pack(n))


def parse_reply(data):
    """(opcode, status, payload) of a reply, whose header must be consistent."""
    check(len(data) >= HDR.size, "reply shorter than a header: %r" % data)
    version, op, status, length = HDR.unpack_from(data)
    check(version == VERSION, "reply version %d" % version)
    check(length == len(data) - HDR.size, "reply length field %d, payload %d"
          % (length, len(data) - HDR.size))
    return op, status, data[HDR.size:]


def connect(path, timeout=5.0):
    """A connected SOCK_SEQPACKET socket with timeout; raises OSError."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.settimeout(timeout)
    try:
        s.connect(path)
    except OSError:
        s.close()
        raise
    return s


def raw_get(sock, n):
    """n bytes from a GET on a connected socket; fails on any other reply."""
    sock.send(get_req(n))
    op, status, payload = parse_reply(sock.recv(65536))
    check(op == OP_GET and status == ST_OK, "GET failed: op %d status %d" % (op, status))
    check(len(payload) == n, "GET returned %d bytes, wanted %d" % (len(payload), n))
    return payload


def closed_by_daemon(s, timeout=5):
    """Whether the other end closed s (end of stream or reset) within timeout."""
    s.settimeout(timeout)
    try:
        return s.recv(65536) == b""
    except ConnectionResetError:
        return True
