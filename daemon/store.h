/* SPDX-License-Identifier: MIT */
/* The seed file as seedd keeps it: raw or sealed, with the machine's hash, under a lock. */
#ifndef SEEDD_STORE_H
#define SEEDD_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "seal.h"
#include "seedd-protocol.h"
#include "seedfile.h"

#define STORE_MACHINE_ID_MAX 256
#define STORE_MACHINE_ID_FILE "/etc/machine-id"
#define STORE_CREDENTIAL_KEY "seedd.key" /* in $CREDENTIALS_DIRECTORY */

/* What the store is told: the options of seedd that concern the seed file. */
struct store_opts {
	const char *path;	     /* the seed file */
	const char *key_file;	     /* NULL: the credential STORE_CREDENTIAL_KEY, if any */
	const char *machine_id_file; /* NULL: STORE_MACHINE_ID_FILE, optional */
	int migrate_raw;	     /* the operator allows one raw seed file to be encrypted */
	int create;		     /* a missing seed file may be created ... */
	int platform_entropy;	     /* ... from getrandom(2), which this may rule out */
};

/*
 * The seed as the daemon keeps it on disk: raw, or sealed with a key, with
 * the hash of the machine that wrote it (inside the sealed record, or in the
 * "<seedfile>.machine" sibling of a raw one) for clone detection.
 */
struct store {
	struct store_opts opts;
	struct seedfile sf;
	struct seal_key *key; /* NULL: the seedfile stays raw */
	int migrate;	      /* a raw seedfile found while a key is set, to be encrypted */
	int clone_suspected;  /* last written on a machine with another id */
	uint32_t origin;      /* SEEDD_STATUS_ORIGIN_*: how store_read() had the seed */
	uint8_t machine[SEAL_HASH_SIZE]; /* hash of this machine's id; zero: unknown */
	uint8_t machine_id[STORE_MACHINE_ID_MAX];
	size_t machine_id_len;
};

/*
 * Opens the seed file's directory, checks that it is ours alone and takes
 * the lock that keeps a second seedd away. 0, or -1 after logging.
 */
int store_open(struct store *st, const struct store_opts *opts);

/*
 * Reads the key (from key_file, else the systemd credential; no key at all
 * is fine) and the machine identity (from machine_id_file, which must be
 * usable, else from /etc/machine-id, without which clone detection is off),
 * then the seed file in either format and its ".machine" sibling. With a
 * key, a raw seed file is refused unless migrate_raw is set: anyone who
 * could write it could choose the seed, and nothing would tell. A missing
 * seed file is created from getrandom(2) where the options allow.
 * 0, or -1 after logging.
 */
int store_read(struct store *st, uint8_t seed[SEEDFILE_MAX], size_t *len);

/* Writes a new seed durably in the configured format: the pool's writer. 0 or -errno. */
int store_write(void *st, const uint8_t *seed, size_t len);

/* Fills in what STATUS reports of the seed file: its name, format, origin and clone flag. */
void store_status(const struct store *st, struct seedd_status_info *info);

/* Frees the key and closes the seedfile. */
void store_close(struct store *st);

#endif
