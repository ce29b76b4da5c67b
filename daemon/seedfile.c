// SPDX-License-Identifier: MIT
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "seedfile.h"
#include "util.h"

#define TMP_PREFIX "."
#define TMP_SUFFIX ".tmp"

static int tmp_name(char *out, size_t cap, const char *name)
{
	int n = snprintf(out, cap, TMP_PREFIX "%s" TMP_SUFFIX, name);

	return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

int seedfile_open(struct seedfile *sf, const char *path, char *why, size_t whylen)
{
	const char *slash = strrchr(path, '/');

	*sf = (struct seedfile){ .dirfd = -1, .lockfd = -1 };
	if (!*path || (slash && !slash[1])) {
		snprintf(why, whylen, "%s: not a file name", path);
		return -EINVAL;
	}
	sf->path = strdup(path);
	if (!slash)
		sf->dir = strdup(".");
	else if (slash == path)
		sf->dir = strdup("/");
	else
		sf->dir = strndup(path, (size_t)(slash - path));
	sf->base = strdup(slash ? slash + 1 : path);
	if (!sf->path || !sf->dir || !sf->base) {
		seedfile_close(sf);
		snprintf(why, whylen, "out of memory");
		return -ENOMEM;
	}
	sf->dirfd = open(sf->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (sf->dirfd < 0) {
		int r = -errno;

		snprintf(why, whylen, "cannot open directory %s of seed file %s: %s", sf->dir, path,
			 strerror(errno));
		seedfile_close(sf);
		return r;
	}
	return 0;
}

void seedfile_close(struct seedfile *sf)
{
	closep(&sf->lockfd);
	closep(&sf->dirfd);
	free(sf->path);
	free(sf->dir);
	free(sf->base);
	*sf = (struct seedfile){ .dirfd = -1, .lockfd = -1 };
}

int seedfile_lock(struct seedfile *sf, pid_t *holder)
{
	char name[NAME_MAX + 1], pid[32];
	int n, fd, writable = 1;

	*holder = 0;
	n = snprintf(name, sizeof(name), "%s.lock", sf->base);
	if (n < 0 || (size_t)n >= sizeof(name))
		return -ENAMETOOLONG;
	fd = openat(sf->dirfd, name, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600);
	/* A read-only dir: lock anyway, so that the failure comes from the write. */
	if (fd < 0 && (errno == EROFS || errno == EACCES)) {
		writable = 0;
		fd = openat(sf->dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
	}
	if (fd < 0)
		return -errno;
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int r = -errno;

		n = (int)pread(fd, pid, sizeof(pid) - 1, 0);
		if (n > 0) {
			pid[n] = '\0';
			*holder = (pid_t)strtol(pid, NULL, 10);
		}
		close(fd);
		return r;
	}
	n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	if (writable && (ftruncate(fd, 0) < 0 || pwrite(fd, pid, (size_t)n, 0) != n)) {
		int r = -errno;

		close(fd);
		return r;
	}
	sf->lockfd = fd;

	/* We hold the lock, so a temp file can only be a killed writer's. */
	if (tmp_name(name, sizeof(name), sf->base) == 0 && unlinkat(sf->dirfd, name, 0) < 0 &&
	    errno != ENOENT && errno != EROFS)
		return -errno;
	return 0;
}

int seedfile_check_bytes(const uint8_t *buf, size_t len, char *why, size_t whylen)
{
	size_t i;

	if (!seedfile_size_ok(len)) {
		snprintf(why, whylen, "has %zu bytes; a seed file holds exactly 32 or 64", len);
		return -EINVAL;
	}
	for (i = 1; i < len && buf[i] == buf[0]; i++)
		;
	if (i == len) {
		snprintf(why, whylen, "all %zu bytes are equal: not a random seed", len);
		return -EINVAL;
	}
	return 0;
}

int seedfile_load(struct seedfile *sf, uid_t uid, uint8_t buf[SEEDFILE_MAX], size_t *len,
		  char *why, size_t whylen)
{
	_cleanup_close_ int fd = -1;
	struct stat st;
	ssize_t n;

	fd = openat(sf->dirfd, sf->base, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
	if (fd < 0) {
		int r = -errno;

		if (errno == ELOOP)
			snprintf(why, whylen, "is a symbolic link; refusing to follow it");
		else
			snprintf(why, whylen, "cannot open: %s", strerror(errno));
		return r == -ELOOP ? -EINVAL : r;
	}
	if (fstat(fd, &st) < 0) {
		snprintf(why, whylen, "cannot stat: %s", strerror(errno));
		return -errno;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(why, whylen, "is not a regular file");
		return -EINVAL;
	}
	if (st.st_uid != uid) {
		snprintf(why, whylen, "is owned by uid %u, not by uid %u that seedd runs as",
			 (unsigned)st.st_uid, (unsigned)uid);
		return -EINVAL;
	}
	if (st.st_mode & 077) {
		snprintf(why, whylen,
			 "has mode %04o: group or others can access it (chmod 600 it, or provision a new one)",
			 (unsigned)(st.st_mode & 07777));
		return -EINVAL;
	}
	if (!seedfile_size_ok((size_t)st.st_size)) {
		snprintf(why, whylen, "has %lld bytes; a seed file holds exactly 32 or 64",
			 (long long)st.st_size);
		return -EINVAL;
	}
	do {
		n = pread(fd, buf, (size_t)st.st_size, 0);
	} while (n < 0 && errno == EINTR);
	if (n < 0) {
		snprintf(why, whylen, "cannot read: %s", strerror(errno));
		return -errno;
	}
	if (seedfile_check_bytes(buf, (size_t)n, why, whylen) < 0) {
		explicit_bzero(buf, SEEDFILE_MAX);
		return -EINVAL;
	}
	*len = (size_t)n;
	return 0;
}

static int write_all(int fd, const uint8_t *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

int seedfile_write_at(int dirfd, const char *name, const uint8_t *buf, size_t len, unsigned flags)
{
	char tmp[NAME_MAX + 1];
	int fd, r;

	r = tmp_name(tmp, sizeof(tmp), name);
	if (r < 0)
		return r;
	if (unlinkat(dirfd, tmp, 0) < 0 && errno != ENOENT)
		return -errno;
	fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600);
	if (fd < 0)
		return -errno;
	r = write_all(fd, buf, len);
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r == 0 && renameat2(dirfd, tmp, dirfd, name,
				(flags & SEEDFILE_NOREPLACE) ? RENAME_NOREPLACE : 0) < 0)
		r = -errno;
	if (r < 0) {
		unlinkat(dirfd, tmp, 0);
		return r;
	}
	/* The rename is durable only once the directory is. */
	if (fsync(dirfd) < 0)
		return -errno;
	return 0;
}

int seedfile_store(struct seedfile *sf, const uint8_t *buf, size_t len)
{
	return seedfile_write_at(sf->dirfd, sf->base, buf, len, 0);
}
