/* SPDX-License-Identifier: MIT */
#ifndef SEEDD_STORE_H
#define SEEDD_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "seal.h"
#include "seedfile.h"

#define STORE_MACHINE_ID_MAX 256
#define STORE_MACHINE_ID_FILE "/etc/machine-id"
#define STORE_CREDENTIAL_KEY "seedd.key" /* in $CREDENTIALS_DIRECTORY */

/*
 * The seed as the daemon keeps it on disk: raw, or sealed with a key, with
 * the hash of the machine that wrote it (inside the sealed record, or in the
 * "<seedfile>.machine" sibling of a raw one) for clone detection.
 */
struct store {
	struct seedfile sf;
	struct seal_key *key; /* NULL: the seedfile stays raw */
	int migrate_raw;      /* the operator allows one raw seedfile to be encrypted */
	int migrate;	      /* a raw seedfile found while a key is set, to be encrypted */
	int clone_suspected;  /* last written on a machine with another id */
	uint8_t machine[SEAL_HASH_SIZE]; /* hash of this machine's id; zero: unknown */
	uint8_t machine_id[STORE_MACHINE_ID_MAX];
	size_t machine_id_len;
};

/*
 * Loads the key from key_file, else from the systemd credential "seedd.key"
 * in $CREDENTIALS_DIRECTORY; no key at all is fine. 0, or -1 after logging.
 */
int store_read_key(struct store *st, const char *key_file);

/*
 * Reads the machine identity from file, else from /etc/machine-id. Only an
 * explicit file must be usable (without one, clone detection is off).
 * 0, or -1 after logging.
 */
int store_read_machine_id(struct store *st, const char *file);

/*
 * Reads and checks the seedfile in either format, and its ".machine"
 * sibling. With a key, a raw seedfile is refused unless migrate_raw is set:
 * anyone who could write it could choose the seed, and nothing would tell.
 * 0, -ENOENT, or -1 after logging.
 */
int store_read(struct store *st, uint8_t seed[SEEDFILE_MAX], size_t *len);

/* Writes a new seed durably in the configured format: the pool's writer. 0 or -errno. */
int store_write(void *st, const uint8_t *seed, size_t len);

/* Frees the key and closes the seedfile. */
void store_close(struct store *st);

#endif
