/* SPDX-License-Identifier: MIT */
/*
 * The encrypted seedfile format, version 1 (all of it authenticated):
 *
 *   offset  size  field
 *        0     8  magic "seeddenc"
 *        8     1  format version, 1
 *        9     1  cipher, 1 = AES-256-GCM
 *       10     1  seed length, 32 or 64
 *       11     1  reserved, 0
 *       12     8  key id: identifies the key without revealing it
 *       20    12  nonce
 *       32   L+32 ciphertext of the seed (L bytes) and the machine hash
 *   64+L      16  GCM tag; bytes 0..31 are the additional data
 *
 * A file of 32 or 64 bytes that does not start with the magic is a raw Mbed
 * TLS seed; seedd reads both and writes the encrypted one when a key is set.
 */
#ifndef SEEDD_SEAL_H
#define SEEDD_SEAL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "seedfile.h"

#define SEAL_KEY_SIZE 32
#define SEAL_KEY_ID_SIZE 8
#define SEAL_HDR_SIZE 32
#define SEAL_TAG_SIZE 16
#define SEAL_HASH_SIZE SEEDFILE_MACHINE_SIZE
#define SEAL_MAX (SEAL_HDR_SIZE + SEEDFILE_MAX + SEAL_HASH_SIZE + SEAL_TAG_SIZE)

/* Subkeys derived from the key file; kept in locked memory. */
struct seal_key;

/* What a seedfile holds, as far as can be told without the key. */
struct seal_info {
	int encrypted;
	size_t seed_len;
	uint8_t key_id[SEAL_KEY_ID_SIZE]; /* when encrypted */
};

/* Derives the subkeys from a SEAL_KEY_SIZE-byte key; NULL when out of memory. */
struct seal_key *seal_key_new(const uint8_t raw[SEAL_KEY_SIZE]);

/*
 * Reads and checks a key file (as seedfile_read_at() with flags, exactly
 * SEAL_KEY_SIZE bytes that pass seedfile_check_bytes()) and derives the
 * subkeys. NULL with the reason in why.
 */
struct seal_key *seal_key_read(const char *path, uid_t uid, unsigned flags, char *why,
			       size_t whylen);

/*
 * The one check of a key file named on a command line (seedd --key-file,
 * seedctl provision and check --key-file): seal_key_read() of a regular file
 * (no symlink) that belongs to the effective user and that group and others
 * can neither read nor write. NULL with the reason in why.
 */
struct seal_key *seal_key_file(const char *path, char *why, size_t whylen);

void seal_key_free(struct seal_key *k);

/*
 * Tells the format of a seedfile's content and checks its shape: size,
 * magic, version, cipher, lengths. Raw seeds also get seedfile_check_bytes().
 * 0, or -EINVAL with the reason in why.
 */
int seal_parse(const uint8_t *buf, size_t len, struct seal_info *info, char *why, size_t whylen);

/*
 * Decrypts and authenticates an encrypted seedfile: the seed to seed and
 * *seed_len, the hash of the machine that wrote it to machine. 0, or -EINVAL
 * with the reason (wrong key, tampered, truncated, ...) in why.
 */
int seal_open(const struct seal_key *k, const uint8_t *buf, size_t len, uint8_t seed[SEEDFILE_MAX],
	      size_t *seed_len, uint8_t machine[SEAL_HASH_SIZE], char *why, size_t whylen);

/*
 * Encrypts seed and the machine hash into out (SEAL_MAX bytes); returns the
 * length written, or -EINVAL (a seed seedfile_check_bytes() refuses, which
 * seal_open() would refuse too) or -EIO. The nonce is derived from the plaintext
 * under a subkey, so no random source is needed and a nonce never repeats
 * for different plaintexts.
 */
int seal_seal(const struct seal_key *k, const uint8_t *seed, size_t seed_len,
	      const uint8_t machine[SEAL_HASH_SIZE], uint8_t out[SEAL_MAX]);

/* SHA-256 of a domain label and the machine identity; 0 or -EIO. */
int seal_machine_hash(const uint8_t *id, size_t len, uint8_t out[SEAL_HASH_SIZE]);

#endif
