/* SPDX-License-Identifier: MIT */
#ifndef SEEDD_SEEDFILE_H
#define SEEDD_SEEDFILE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Mbed TLS's raw NV seed format: MBEDTLS_ENTROPY_BLOCK_SIZE bytes. */
#define SEEDFILE_MAX 64

/* Sizes a raw seedfile may have: 32 (SHA-256 entropy) or 64 (SHA-512). */
static inline int seedfile_size_ok(size_t n)
{
	return n == 32 || n == 64;
}

struct seedfile {
	char *path;
	char *dir;
	char *base;
	int dirfd;
	int lockfd;
};

/* Flags for seedfile_write_at(). */
#define SEEDFILE_NOREPLACE 1u

/* Opens the directory of path. 0, or -errno with a message in why. */
int seedfile_open(struct seedfile *sf, const char *path, char *why, size_t whylen);

void seedfile_close(struct seedfile *sf);

/*
 * Takes the exclusive lock on "<seedfile>.lock", a sibling that is never
 * renamed, so the lock outlives every replacement of the seedfile. Returns 0,
 * -EWOULDBLOCK with *holder set to the holder's pid (0 if unknown), or -errno.
 * Also removes a temp file a killed writer left behind.
 */
int seedfile_lock(struct seedfile *sf, pid_t *holder);

/*
 * Reads and validates the seedfile: a regular file (no symlink) owned by uid,
 * no access for group or others, 32 or 64 bytes, not all bytes equal.
 * Returns 0 with *len set, -ENOENT if missing, -EINVAL when refused, or
 * another -errno; why says which, in words.
 */
int seedfile_load(struct seedfile *sf, uid_t uid, uint8_t buf[SEEDFILE_MAX], size_t *len,
		  char *why, size_t whylen);

/* Replaces the seedfile atomically and durably; 0 or -errno. */
int seedfile_store(struct seedfile *sf, const uint8_t *buf, size_t len);

/*
 * Writes name in dirfd atomically and durably: temp file (O_EXCL, 0600) in
 * the same directory, write, fsync, rename, fsync of the directory. With
 * SEEDFILE_NOREPLACE an existing file is kept and -EEXIST returned.
 */
int seedfile_write_at(int dirfd, const char *name, const uint8_t *buf, size_t len, unsigned flags);

/* Validates bytes already read: size and not all bytes equal. */
int seedfile_check_bytes(const uint8_t *buf, size_t len, char *why, size_t whylen);

#endif
