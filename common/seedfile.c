// SPDX-License-Identifier: MIT
/* The seed file on disk: directory trust, lock, raw format, atomic replacement. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/openat2.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "seedfile.h"
#include "util.h"

#define TMP_PREFIX "."
#define TMP_SUFFIX ".tmp"
#define MACHINE_SUFFIX ".machine"

/*
 * The longest name made from a seed file's: the machine file's temp name.
 * A longer base name would make a seed file whose lock, temp or machine file
 * cannot exist, so every later start would fail where the first did not.
 */
#define BASE_MAX (NAME_MAX - (sizeof(TMP_PREFIX MACHINE_SUFFIX TMP_SUFFIX) - 1))

static int tmp_name(char *out, size_t cap, const char *name)
{
	int n = snprintf(out, cap, TMP_PREFIX "%s" TMP_SUFFIX, name);

	return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

/*
 * The root directory, reached from the working directory through "..": an
 * O_PATH fd, or -1. Not open("/"), which qemu-user's -L maps to its sysroot.
 */
static int root_fd(void)
{
	struct stat st, up_st;
	int fd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC), up;

	while (fd >= 0 && fstat(fd, &st) == 0) {
		up = openat(fd, "..", O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (up >= 0 && fstat(up, &up_st) < 0) {
			close(up);
			up = -1;
		}
		if (up < 0)
			break;
		if (up_st.st_dev == st.st_dev && up_st.st_ino == st.st_ino) {
			close(up);
			return fd;
		}
		close(fd);
		fd = up;
	}
	closep(&fd);
	return -1;
}

/* A directory by a walk of path, one component at a time, none followed if a symlink. */
static int walk_nofollow(const char *path)
{
	char buf[PATH_MAX], *save = NULL, *comp;
	int fd, next, e;
	struct stat st;

	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	fd = *path == '/' ? root_fd() : open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	for (comp = strtok_r(buf, "/", &save); comp && fd >= 0; comp = strtok_r(NULL, "/", &save)) {
		/* O_NOFOLLOW with O_DIRECTORY fails on a symlink; the look before says why. */
		if (fstatat(fd, comp, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode)) {
			close(fd);
			errno = ELOOP;
			return -1;
		}
		next = openat(fd, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		e = errno;
		close(fd);
		errno = e;
		fd = next;
	}
	if (fd < 0)
		return -1;
	next = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	e = errno;
	close(fd);
	errno = e;
	return next;
}

/* How much of path names its first symlink: for a message, once one was refused. 0: none. */
static size_t symlink_part(const char *path)
{
	char buf[PATH_MAX];
	struct stat st;
	size_t n = 0;

	while (path[n]) {
		n += strspn(path + n, "/");
		n += strcspn(path + n, "/");
		if (n >= sizeof(buf))
			return 0;
		memcpy(buf, path, n);
		buf[n] = '\0';
		if (lstat(buf, &st) == 0 && S_ISLNK(st.st_mode))
			return n;
	}
	return 0;
}

int seedfile_open_dir(const char *path, char *why, size_t whylen)
{
	struct open_how how = {
		.flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC,
		.resolve = RESOLVE_NO_SYMLINKS,
	};
	int fd, r;
	size_t n;

	/* Without openat2(2) (before Linux 5.6, or filtered out): the walk. */
	fd = (int)syscall(SYS_openat2, AT_FDCWD, path, &how, sizeof(how));
	if (fd < 0 && (errno == ENOSYS || errno == EPERM))
		fd = walk_nofollow(path);
	if (fd >= 0)
		return fd;
	r = -errno;
	n = r == -ELOOP ? symlink_part(path) : 0;
	if (r == -ELOOP && n)
		snprintf(why, whylen,
			 "%.*s is a symbolic link; refusing to follow it (no component of %s may be one)",
			 (int)n, path, path);
	else if (r == -ELOOP)
		snprintf(why, whylen, "%s: a component is a symbolic link; refusing to follow it",
			 path);
	else
		snprintf(why, whylen, "cannot open directory %s: %s", path, strerror(-r));
	return r;
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
	if (strlen(sf->base) > BASE_MAX) {
		snprintf(why, whylen,
			 "%s: a file name of %zu bytes is too long: at most %zu leave room for the names made from it (" TMP_PREFIX
			 "NAME" MACHINE_SUFFIX TMP_SUFFIX ")",
			 path, strlen(sf->base), BASE_MAX);
		seedfile_close(sf);
		return -ENAMETOOLONG;
	}
	sf->dirfd = seedfile_open_dir(sf->dir, why, whylen);
	if (sf->dirfd < 0) {
		int r = sf->dirfd;

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

static int owned_by(uid_t uid, const struct seedfile_owners *owners)
{
	for (size_t i = 0; i < owners->n; i++)
		if (owners->uid[i] == uid)
			return 1;
	return 0;
}

/* "uid 1000" or "uid 1000, 998 or 0", for messages. */
static const char *owners_str(const struct seedfile_owners *owners, char *buf, size_t cap)
{
	size_t n = (size_t)snprintf(buf, cap, "uid");

	for (size_t i = 0; i < owners->n && n < cap; i++)
		n += (size_t)snprintf(buf + n, cap - n, "%s %u",
				      i == 0		   ? ""
				      : i + 1 == owners->n ? " or"
							   : ",",
				      (unsigned)owners->uid[i]);
	return buf;
}

/* Group or others may write it, and it is not a sticky directory of root's (like /tmp). */
static int others_can_replace(const struct stat *st)
{
	return (st->st_mode & 022) && !((st->st_mode & S_ISVTX) && st->st_uid == 0);
}

/* name, a canonical path, becomes its parent; a name realpath() could not make gets "/..". */
static void parent_name(char *name, size_t cap, int canonical)
{
	char *slash = strrchr(name, '/');
	size_t n = strlen(name);

	if (!canonical)
		snprintf(name + n, cap - n, "/..");
	else if (slash == name)
		name[1] = '\0';
	else if (slash)
		*slash = '\0';
}

int seedfile_trust_dir(int dirfd, const char *dir, const struct seedfile_owners *owners, char *why,
		       size_t whylen)
{
	_cleanup_close_ int fd = -1;
	char name[PATH_MAX], who[64];
	struct stat st, up;
	int canonical, cur = dirfd;

	if (fstat(dirfd, &st) < 0) {
		int r = -errno;

		snprintf(why, whylen, "cannot stat directory %s: %s", dir, strerror(-r));
		return r;
	}
	if (st.st_uid != 0 && !owned_by(st.st_uid, owners)) {
		snprintf(why, whylen,
			 "directory %s is owned by uid %u, not by root or %s: its owner could replace the seed file",
			 dir, (unsigned)st.st_uid, owners_str(owners, who, sizeof(who)));
		return -EPERM;
	}
	if (st.st_mode & 022) {
		snprintf(why, whylen,
			 "directory %s has mode %04o: group or others can write it, so they could replace the seed file (chmod 700 it)",
			 dir, (unsigned)(st.st_mode & 07777));
		return -EPERM;
	}

	/*
	 * Up through "..", from the directory actually opened rather than along
	 * the path, which may name another directory by now; realpath() only
	 * names them in messages.
	 */
	canonical = realpath(dir, name) != NULL;
	if (!canonical)
		snprintf(name, sizeof(name), "%s", dir);
	for (;;) {
		/* O_PATH: search permission is all that walking up needs. */
		int fd_up = openat(cur, "..", O_PATH | O_DIRECTORY | O_CLOEXEC);

		if (fd_up < 0 || fstat(fd_up, &up) < 0) {
			int r = -errno;

			snprintf(why, whylen, "cannot open the directory above %s: %s", name,
				 strerror(errno));
			if (fd_up >= 0)
				close(fd_up);
			return r;
		}
		closep(&fd);
		fd = cur = fd_up;
		if (up.st_dev == st.st_dev && up.st_ino == st.st_ino)
			return 0; /* "/" is its own parent */
		parent_name(name, sizeof(name), canonical);
		if (others_can_replace(&up)) {
			snprintf(why, whylen,
				 "directory %s above %s has mode %04o and owner uid %u: group or others can write it and it is not a sticky directory owned by root, so they could replace the seed file's directory",
				 name, dir, (unsigned)(up.st_mode & 07777), (unsigned)up.st_uid);
			return -EPERM;
		}
		/* Its owner could rename the directory below and put another in its place. */
		if (up.st_uid != 0 && !owned_by(up.st_uid, owners)) {
			snprintf(why, whylen,
				 "directory %s above %s is owned by uid %u, not by root or %s: its owner could replace the seed file's directory",
				 name, dir, (unsigned)up.st_uid,
				 owners_str(owners, who, sizeof(who)));
			return -EPERM;
		}
		st = up;
	}
}

int seedfile_lock(struct seedfile *sf, const struct seedfile_owners *owners, pid_t *holder,
		  char *why, size_t whylen)
{
	const int flags = O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK;
	char name[NAME_MAX + 1], pid[32], who[64];
	_cleanup_close_ int fd = -1;
	int n, r, writable = 1;
	struct stat st;

	*holder = 0;
	n = snprintf(name, sizeof(name), "%s.lock", sf->base);
	if (n < 0 || (size_t)n >= sizeof(name)) {
		snprintf(why, whylen, "%s.lock: file name too long", sf->path);
		return -ENAMETOOLONG;
	}
	/* O_NONBLOCK: a FIFO planted as the lock file must not hang the open. */
	fd = openat(sf->dirfd, name, O_RDWR | O_CREAT | flags, 0600);
	/* A read-only dir: lock anyway, so that the failure comes from the write. */
	if (fd < 0 && (errno == EROFS || errno == EACCES)) {
		writable = 0;
		fd = openat(sf->dirfd, name, O_RDONLY | flags);
	}
	if (fd < 0) {
		r = -errno;
		if (errno == ELOOP)
			snprintf(why, whylen,
				 "lock file %s.lock is a symbolic link; refusing to follow it",
				 sf->path);
		else
			snprintf(why, whylen, "cannot open lock file %s.lock: %s", sf->path,
				 strerror(errno));
		return r == -ELOOP ? -EPERM : r;
	}
	if (fstat(fd, &st) < 0) {
		r = -errno;
		snprintf(why, whylen, "cannot stat lock file %s.lock: %s", sf->path,
			 strerror(errno));
		return r;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(why, whylen, "lock file %s.lock is not a regular file", sf->path);
		return -EPERM;
	}
	if (!owned_by(st.st_uid, owners)) {
		snprintf(why, whylen, "lock file %s.lock is owned by uid %u, not by %s", sf->path,
			 (unsigned)st.st_uid, owners_str(owners, who, sizeof(who)));
		return -EPERM;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		r = -errno;
		n = (int)pread(fd, pid, sizeof(pid) - 1, 0);
		if (n > 0) {
			pid[n] = '\0';
			*holder = (pid_t)strtol(pid, NULL, 10);
		}
		snprintf(why, whylen, "cannot lock %s.lock: %s", sf->path, strerror(-r));
		return r;
	}
	n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	if (writable && (ftruncate(fd, 0) < 0 || pwrite(fd, pid, (size_t)n, 0) != n)) {
		r = -errno;
		snprintf(why, whylen, "cannot write %s.lock: %s", sf->path, strerror(errno));
		return r;
	}
	sf->lockfd = fd;
	fd = -1;

	/* We hold the lock, so a temp file can only be a killed writer's. */
	if (tmp_name(name, sizeof(name), sf->base) == 0 && unlinkat(sf->dirfd, name, 0) < 0 &&
	    errno != ENOENT && errno != EROFS) {
		r = -errno;
		snprintf(why, whylen, "cannot remove the stale temp file %s/%s: %s", sf->dir, name,
			 strerror(errno));
		return r;
	}
	return 0;
}

/* How many different values a[0..n) takes. */
static size_t distinct(const uint8_t *a, size_t n)
{
	uint8_t seen[256] = { 0 };
	size_t d = 0;

	for (size_t i = 0; i < n; i++) {
		d += !seen[a[i]];
		seen[a[i]] = 1;
	}
	return d;
}

/* Too few distinct values or steps for random bytes; see seedfile_check_bytes(). */
static int screen(const uint8_t *buf, size_t len, char *why, size_t whylen)
{
	uint8_t step[SEEDFILE_MAX];
	size_t d, n = len < SEEDFILE_MAX ? len : SEEDFILE_MAX;

	/* n random bytes take about 0.9 n distinct values for n <= 64: half is far out. */
	d = distinct(buf, n);
	if (d < n / 2) {
		snprintf(why, whylen,
			 "only %zu distinct byte values in %zu bytes (at least %zu expected): not a random seed",
			 d, n, n / 2);
		return -EINVAL;
	}
	if (n < 2)
		return 0;
	for (size_t i = 1; i < n; i++)
		step[i - 1] = (uint8_t)(buf[i] - buf[i - 1]);
	d = distinct(step, n - 1);
	if (d < n / 2) {
		snprintf(why, whylen,
			 "only %zu distinct steps between neighbouring bytes (at least %zu expected): a counter or pattern, not a random seed",
			 d, n / 2);
		return -EINVAL;
	}
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
	return screen(buf, len, why, whylen);
}

int seedfile_generate(uint8_t *seed, size_t len, char *why, size_t whylen)
{
	char bad[256];
	ssize_t n;

	do {
		n = getrandom(seed, len, 0);
	} while (n < 0 && errno == EINTR);
	if (n != (ssize_t)len) {
		int r = n < 0 ? -errno : -EIO;

		snprintf(why, whylen, "getrandom: %s", n < 0 ? strerror(errno) : "short read");
		explicit_bzero(seed, len);
		return r;
	}
	if (seedfile_check_bytes(seed, len, bad, sizeof(bad)) < 0) {
		snprintf(why, whylen, "the platform RNG gave a bad seed: %s", bad);
		explicit_bzero(seed, len);
		return -EINVAL;
	}
	return 0;
}

/*
 * Whether the only other name of the file st is name's own temp name: a
 * replacement without RENAME_NOREPLACE (see rename_noreplace()) interrupted
 * between its link and its unlink, which seedfile_lock() finishes.
 */
static int temp_link(int dirfd, const char *name, const struct stat *st)
{
	char tmp[NAME_MAX + 1];
	struct stat ts;

	return st->st_nlink == 2 && tmp_name(tmp, sizeof(tmp), name) == 0 &&
	       fstatat(dirfd, tmp, &ts, AT_SYMLINK_NOFOLLOW) == 0 && ts.st_dev == st->st_dev &&
	       ts.st_ino == st->st_ino;
}

/*
 * Opens name in dirfd for reading after the checks every secret file gets:
 * no symlink, a regular file, owned by uid, no access for group or others,
 * and with SEEDFILE_ONE_LINK no second name. Returns the fd with *st filled
 * in, or -errno with why set.
 */
static int open_checked(int dirfd, const char *name, uid_t uid, unsigned flags, struct stat *st,
			char *why, size_t whylen)
{
	_cleanup_close_ int fd = -1;
	mode_t forbidden = (flags & SEEDFILE_ROOT_OK) ? 007 : 077;
	int r;

	fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
	if (fd < 0) {
		r = -errno;
		if (errno == ELOOP)
			snprintf(why, whylen, "is a symbolic link; refusing to follow it");
		else
			snprintf(why, whylen, "cannot open: %s", strerror(errno));
		return r == -ELOOP ? -EINVAL : r;
	}
	if (fstat(fd, st) < 0) {
		snprintf(why, whylen, "cannot stat: %s", strerror(errno));
		return -errno;
	}
	if (!S_ISREG(st->st_mode)) {
		snprintf(why, whylen, "is not a regular file");
		return -EINVAL;
	}
	if (st->st_uid != uid && !((flags & SEEDFILE_ROOT_OK) && st->st_uid == 0)) {
		snprintf(why, whylen, "is owned by uid %u, not by uid %u that seedd runs as",
			 (unsigned)st->st_uid, (unsigned)uid);
		return -EINVAL;
	}
	if (st->st_mode & forbidden) {
		snprintf(why, whylen,
			 "has mode %04o: group or others can access it (chmod 600 it, or provision a new one)",
			 (unsigned)(st->st_mode & 07777));
		return -EINVAL;
	}
	/* Another name would keep a seed after its replacement, or alias a file of somebody's. */
	if ((flags & SEEDFILE_ONE_LINK) && st->st_nlink != 1 && !temp_link(dirfd, name, st)) {
		snprintf(why, whylen,
			 "has %lu hard links: another name for it could keep or alias the seed (provision a new one)",
			 (unsigned long)st->st_nlink);
		return -EINVAL;
	}
	r = fd;
	fd = -1;
	return r;
}

static int read_full(int fd, uint8_t *buf, size_t len, char *why, size_t whylen)
{
	ssize_t n;

	do {
		n = pread(fd, buf, len, 0);
	} while (n < 0 && errno == EINTR);
	if (n < 0) {
		snprintf(why, whylen, "cannot read: %s", strerror(errno));
		return -errno;
	}
	if ((size_t)n != len) {
		snprintf(why, whylen, "changed size while being read");
		return -EIO;
	}
	return 0;
}

int seedfile_read_at(int dirfd, const char *name, uid_t uid, unsigned flags, uint8_t *buf,
		     size_t cap, size_t *len, char *why, size_t whylen)
{
	_cleanup_close_ int fd = -1;
	struct stat st;
	int r;

	fd = open_checked(dirfd, name, uid, flags, &st, why, whylen);
	if (fd < 0)
		return fd;
	if ((uint64_t)st.st_size > cap) {
		snprintf(why, whylen, "has %lld bytes; too large to be a seed or key file",
			 (long long)st.st_size);
		return -EINVAL;
	}
	r = read_full(fd, buf, (size_t)st.st_size, why, whylen);
	if (r < 0)
		return r;
	*len = (size_t)st.st_size;
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

/*
 * Renames tmp to name unless name exists (-EEXIST). Where the file system
 * has no RENAME_NOREPLACE (EINVAL: FUSE's libfuse 2 API, some network file
 * systems), link() gives the same guarantee, as it never replaces either;
 * the temp name is then unlinked. Both are in one directory, made durable by
 * the same fsync of it, and a crash between the two leaves the seed under
 * both names, which seedfile_lock() tidies like any stale temp file.
 */
static int rename_noreplace(int dirfd, const char *tmp, const char *name)
{
	if (renameat2(dirfd, tmp, dirfd, name, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -errno;
	if (linkat(dirfd, tmp, dirfd, name, 0) < 0)
		return -errno;
	return unlinkat(dirfd, tmp, 0) < 0 ? -errno : 0;
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
	fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY,
		    0600);
	if (fd < 0)
		return -errno;
	r = write_all(fd, buf, len);
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r == 0 && (flags & SEEDFILE_NOREPLACE))
		r = rename_noreplace(dirfd, tmp, name);
	else if (r == 0 && renameat(dirfd, tmp, dirfd, name) < 0)
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

int seedfile_write(struct seedfile *sf, const uint8_t *buf, size_t len)
{
	return seedfile_write_at(sf->dirfd, sf->base, buf, len, 0);
}

static int machine_name(const struct seedfile *sf, char name[NAME_MAX + 1])
{
	int n = snprintf(name, NAME_MAX + 1, "%s" MACHINE_SUFFIX, sf->base);

	return n < 0 || n > NAME_MAX ? -ENAMETOOLONG : 0;
}

int seedfile_machine_read(struct seedfile *sf, uid_t uid, uint8_t hash[SEEDFILE_MACHINE_SIZE],
			  char *why, size_t whylen)
{
	char name[NAME_MAX + 1], hex[2 * SEEDFILE_MACHINE_SIZE + 2];
	_cleanup_close_ int fd = -1;
	struct stat st;
	ssize_t n;
	int r;

	r = machine_name(sf, name);
	if (r < 0) {
		snprintf(why, whylen, "%s.machine: file name too long", sf->path);
		return r;
	}
	fd = openat(sf->dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
	if (fd < 0 && errno == ENOENT)
		return -ENOENT;
	if (fd < 0 && errno == ELOOP) {
		snprintf(why, whylen, "%s.machine is a symbolic link; refusing to follow it",
			 sf->path);
		return -EPERM;
	}
	if (fd < 0 || fstat(fd, &st) < 0) {
		r = -errno;
		snprintf(why, whylen, "cannot read %s.machine: %s", sf->path, strerror(errno));
		return r;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(why, whylen, "%s.machine is not a regular file", sf->path);
		return -EPERM;
	}
	if (st.st_uid != uid) {
		snprintf(why, whylen,
			 "%s.machine is owned by uid %u, not by uid %u that seedd runs as",
			 sf->path, (unsigned)st.st_uid, (unsigned)uid);
		return -EPERM;
	}
	do {
		n = read(fd, hex, sizeof(hex));
	} while (n < 0 && errno == EINTR);
	/* Exactly the hex digits and a newline. */
	if (n != (ssize_t)sizeof(hex) - 1 || hex[n - 1] != '\n')
		return -EINVAL;
	for (size_t i = 0; i < 2 * SEEDFILE_MACHINE_SIZE; i++)
		if (!isxdigit((unsigned char)hex[i]))
			return -EINVAL;
	for (size_t i = 0; i < SEEDFILE_MACHINE_SIZE; i++) {
		char pair[3] = { hex[2 * i], hex[2 * i + 1], '\0' };

		hash[i] = (uint8_t)strtoul(pair, NULL, 16);
	}
	return 0;
}

int seedfile_machine_write(struct seedfile *sf, const uint8_t hash[SEEDFILE_MACHINE_SIZE])
{
	char name[NAME_MAX + 1], hex[2 * SEEDFILE_MACHINE_SIZE + 2];
	int r;

	r = machine_name(sf, name);
	if (r < 0)
		return r;
	for (size_t i = 0; i < SEEDFILE_MACHINE_SIZE; i++)
		snprintf(hex + 2 * i, 3, "%02x", hash[i]);
	hex[2 * SEEDFILE_MACHINE_SIZE] = '\n';
	return seedfile_write_at(sf->dirfd, name, (const uint8_t *)hex, sizeof(hex) - 1, 0);
}

int seedfile_machine_remove(struct seedfile *sf)
{
	char name[NAME_MAX + 1];
	int r;

	r = machine_name(sf, name);
	if (r < 0)
		return r;
	if (unlinkat(sf->dirfd, name, 0) < 0)
		return errno == ENOENT ? 0 : -errno;
	return fsync(sf->dirfd) < 0 ? -errno : 0;
}
