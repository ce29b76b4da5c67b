/* SPDX-License-Identifier: MIT */
/*
 * The seed file on disk: its directory and who may own it, the lock, the raw
 * format's checks, atomic replacement and the "<seedfile>.machine" sibling.
 */
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

/* The users a seed file's directory and lock file may belong to. */
#define SEEDFILE_OWNERS_MAX 4
struct seedfile_owners {
	uid_t uid[SEEDFILE_OWNERS_MAX];
	size_t n;
};

/* Flags for seedfile_write_at(). */
#define SEEDFILE_NOREPLACE 1u

/*
 * Opens the directory path for reading without following a symbolic link
 * at any component (openat2(2) RESOLVE_NO_SYMLINKS, or a walk with
 * O_NOFOLLOW). Returns the fd, or -errno (-ELOOP for a symlink) with the
 * reason in why, naming the path.
 */
int seedfile_open_dir(const char *path, char *why, size_t whylen);

/*
 * Opens the directory of path as seedfile_open_dir() does. 0, or -errno
 * with a message in why.
 */
int seedfile_open(struct seedfile *sf, const char *path, char *why, size_t whylen);

void seedfile_close(struct seedfile *sf);

/*
 * Checks that the directory dirfd (named dir in messages) is its owners' own:
 * owned by root or one of owners and not writable by group or others, and
 * that every directory above it belongs to root or one of owners and, when
 * group or others can write it, is sticky and owned by root (like /tmp), so
 * nobody else can replace what is in it.
 * 0, -EPERM when refused, or another -errno; why says which, naming the
 * directory.
 */
int seedfile_trust_dir(int dirfd, const char *dir, const struct seedfile_owners *owners, char *why,
		       size_t whylen);

/*
 * Takes the exclusive lock on "<seedfile>.lock", a sibling that is never
 * renamed, so the lock outlives every replacement of the seedfile. The lock
 * file must be a regular file (no symlink) owned by one of owners; it is
 * created when missing. Returns 0, -EWOULDBLOCK with *holder set to the
 * holder's pid (0 if unknown), -EPERM when the lock file is refused, or
 * another -errno; why says which, except for -EWOULDBLOCK. Also removes a
 * temp file a killed writer left behind.
 */
int seedfile_lock(struct seedfile *sf, const struct seedfile_owners *owners, pid_t *holder,
		  char *why, size_t whylen);

/*
 * Makes a new seed of len (32 or 64) bytes from getrandom(2), checked with
 * seedfile_check_bytes(). 0, or -errno with the reason in why.
 */
int seedfile_generate(uint8_t *seed, size_t len, char *why, size_t whylen);

/* Replaces the seedfile atomically and durably; 0 or -errno. */
int seedfile_write(struct seedfile *sf, const uint8_t *buf, size_t len);

/*
 * Writes name in dirfd atomically and durably: temp file (O_EXCL, 0600) in
 * the same directory, write, fsync, rename, fsync of the directory. With
 * SEEDFILE_NOREPLACE an existing file is kept and -EEXIST returned, also on
 * file systems without renameat2(RENAME_NOREPLACE).
 */
int seedfile_write_at(int dirfd, const char *name, const uint8_t *buf, size_t len, unsigned flags);

/*
 * Validates bytes already read: size, not all bytes equal, and a cheap
 * screen against seeds that are plainly not random (too few distinct byte
 * values, or too few distinct steps between neighbours: counters, ramps),
 * which random input fails with odds below 1e-15. 0, or -EINVAL with the
 * reason in why.
 */
int seedfile_check_bytes(const uint8_t *buf, size_t len, char *why, size_t whylen);

/* Flags for seedfile_read_at(). */
#define SEEDFILE_ROOT_OK 1u /* also accept root as owner and group bits (a systemd credential) */
/* Refuse a file with another name (a seed file), but for its own temp name, see seedfile_lock(). */
#define SEEDFILE_ONE_LINK 2u

/*
 * Reads a small secret file (a seedfile in either format, or a key): no
 * symlink, a regular file owned by uid, no access for group or others (with
 * SEEDFILE_ONE_LINK, no second name), at most cap bytes. Returns 0 with
 * *len set, -ENOENT if missing, -EINVAL when refused, or another -errno; why
 * says which, in words.
 */
int seedfile_read_at(int dirfd, const char *name, uid_t uid, unsigned flags, uint8_t *buf,
		     size_t cap, size_t *len, char *why, size_t whylen);

/* Bytes of the machine hash kept in "<seedfile>.machine" for raw seedfiles. */
#define SEEDFILE_MACHINE_SIZE 32

/*
 * Reads the hash of the machine that last wrote a raw seedfile from its
 * sibling "<seedfile>.machine" (hex), which must be a regular file (no
 * symlink) owned by uid. 0; -ENOENT; -EINVAL if malformed; -EPERM when
 * refused, or another -errno, with the reason in why.
 */
int seedfile_machine_read(struct seedfile *sf, uid_t uid, uint8_t hash[SEEDFILE_MACHINE_SIZE],
			  char *why, size_t whylen);

/* Replaces "<seedfile>.machine" atomically and durably; 0 or -errno. */
int seedfile_machine_write(struct seedfile *sf, const uint8_t hash[SEEDFILE_MACHINE_SIZE]);

/* Removes "<seedfile>.machine" (once the seed is encrypted); 0 or -errno. */
int seedfile_machine_remove(struct seedfile *sf);

#endif
