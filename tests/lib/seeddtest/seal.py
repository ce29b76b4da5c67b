# SPDX-License-Identifier: MIT
"""The encrypted seed file format of seal.h, version 1.

A 32-byte header (all of it additional data), then the ciphertext of the
seed and the machine hash, then the GCM tag.
"""

import struct

MAGIC = b"seeddenc"
FORMAT_VERSION = 1
CIPHER_AES_256_GCM = 1
KEY_SIZE = 32
HASH_SIZE = 32
TAG_SIZE = 16

# The header, field by field in file order.
HEADER_FIELDS = (
    ("magic", "8s"),
    ("version", "B"),
    ("cipher", "B"),
    ("seed_len", "B"),
    ("reserved", "B"),
    ("key_id", "8s"),
    ("nonce", "12s"),
)
HEADER = struct.Struct("=" + "".join(code for _, code in HEADER_FIELDS))
HDR_SIZE = HEADER.size
assert HDR_SIZE == 32, "the sealed header is 32 bytes"
# Byte offset of each header field, and where the ciphertext starts.
OFFSET = {name: struct.calcsize("=" + "".join(c for _, c in HEADER_FIELDS[:i]))
          for i, (name, _) in enumerate(HEADER_FIELDS)}
CIPHERTEXT = HDR_SIZE
# The fields before the key id: what tells the format without the key.
PREFIX = struct.Struct("=" + "".join(code for _, code in HEADER_FIELDS[:5]))


def sealed_size(seed_len):
    """The size of the file that holds a seed of seed_len bytes."""
    return HDR_SIZE + seed_len + HASH_SIZE + TAG_SIZE


def prefix(seed_len, version=FORMAT_VERSION, cipher=CIPHER_AES_256_GCM, reserved=0):
    """The first bytes of a header: magic, version, cipher, seed length, reserved."""
    return PREFIX.pack(MAGIC, version, cipher, seed_len, reserved)


def header(data):
    """The header fields of a sealed file's content, as a dict."""
    return dict(zip((name for name, _ in HEADER_FIELDS), HEADER.unpack_from(data)))
