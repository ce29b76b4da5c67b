/* SPDX-License-Identifier: MIT */
/* /etc/subuid: which subordinate uids belong to which user, read again when it changes. */
#ifndef SEEDD_SUBIDS_H
#define SEEDD_SUBIDS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#define SUBIDS_FILE "/etc/subuid"
/* Ranges read at most: far more lines than users on any host. */
#define SUBIDS_MAX 65536

/* The uids start .. start + count - 1 belong to owner. */
struct subid_range {
	uint32_t start, count;
	uid_t owner;
};

/* What the file was when last read, to tell whether it changed. */
struct subids_file {
	const char *path;
	int exists;
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime, ctime;
};

/*
 * Parses subuid(5) lines "owner:start:count" (owner a user name or a uid)
 * from f into ranges sorted by start, none overlapping another: of two that
 * overlap, the one that starts first is kept. Lines that do not parse, or
 * name an unknown user, are skipped and counted in *skipped, as are the
 * dropped overlaps. 0, or -errno; *out is then NULL or the ranges to free().
 */
int subids_parse(FILE *f, struct subid_range **out, size_t *n, size_t *skipped);

/*
 * Whether the file at sf->path changed since the last call (it appeared,
 * went, or its inode, size or times differ); the first call says whether
 * it exists.
 */
int subids_changed(struct subids_file *sf);

/* subids_parse() of the file sf names; a missing file has no ranges. 0 or -errno. */
int subids_read(const struct subids_file *sf, struct subid_range **out, size_t *n, size_t *skipped);

#endif
