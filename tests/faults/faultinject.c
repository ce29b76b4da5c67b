// SPDX-License-Identifier: MIT
/*
 * LD_PRELOAD fault injector for the storage calls of seedd's atomic writer.
 * Test-only; configured by the environment of the process it is loaded in:
 *
 *   SEEDD_FAULT=CALL[,CALL]  calls to fail: open (an O_EXCL create, i.e. the
 *                            temp file), write (to a regular file), fsync (a
 *                            file), fsyncdir (fsync of a directory), rename
 *   SEEDD_FAULT_ERRNO=NAME   errno to fail with (ENOSPC, EIO, EROFS, EACCES,
 *                            EDQUOT or a number); default ENOSPC
 *   SEEDD_FAULT_SHORT=1      a failing write first writes half of its bytes
 *                            and returns that, like a disk filling up
 *   SEEDD_FAULT_SKIP=N       let the first N matching calls through
 *   SEEDD_FAULT_SWITCH=PATH  faults are active only while PATH exists
 *   SEEDD_FAULT_KILL=N       SIGKILL the process just before its Nth storage
 *                            call of any kind above (a crash point)
 *   SEEDD_FAULT_DELAY_US=N   sleep N us before every storage call, to widen
 *                            the windows random kills aim at
 *   SEEDD_FAULT_TRACE=PATH   append one line per storage call to PATH
 *   SEEDD_FAULT_SWAP=DIR:NEW at the first connect(2), before it runs, rename
 *                            DIR to DIR.checked and NEW to DIR: the rename
 *                            race against a daemon's stale-socket probe
 */
/* Define openat and openat64 separately, whatever the build asks for. */
#undef _FILE_OFFSET_BITS
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

enum call {
	CALL_OPEN = 1 << 0,
	CALL_WRITE = 1 << 1,
	CALL_FSYNC = 1 << 2,
	CALL_FSYNCDIR = 1 << 3,
	CALL_RENAME = 1 << 4,
};

static const struct {
	const char *name;
	enum call call;
} call_names[] = {
	{ "open", CALL_OPEN },	       { "write", CALL_WRITE },	  { "fsync", CALL_FSYNC },
	{ "fsyncdir", CALL_FSYNCDIR }, { "rename", CALL_RENAME },
};

static const struct {
	const char *name;
	int value;
} errno_names[] = {
	{ "ENOSPC", ENOSPC }, { "EIO", EIO },	    { "EROFS", EROFS },
	{ "EACCES", EACCES }, { "EDQUOT", EDQUOT }, { "EPERM", EPERM },
};

static struct {
	int init;
	unsigned calls;
	int err;
	int shorten;
	long skip;
	long kill_at;
	long delay_us;
	const char *gate;
	const char *trace;
	long seen; /* storage calls so far */
	long short_done;
} cfg;

static void setup(void)
{
	const char *s;

	if (cfg.init)
		return;
	cfg.init = 1;
	cfg.err = ENOSPC;
	s = getenv("SEEDD_FAULT");
	if (s) {
		for (size_t i = 0; i < sizeof(call_names) / sizeof(call_names[0]); i++) {
			const char *p = s;
			size_t len = strlen(call_names[i].name);

			while ((p = strstr(p, call_names[i].name))) {
				if ((p == s || p[-1] == ',') && (p[len] == ',' || p[len] == '\0'))
					cfg.calls |= call_names[i].call;
				p += len;
			}
		}
	}
	s = getenv("SEEDD_FAULT_ERRNO");
	if (s) {
		cfg.err = atoi(s) > 0 ? atoi(s) : EIO;
		for (size_t i = 0; i < sizeof(errno_names) / sizeof(errno_names[0]); i++)
			if (!strcmp(s, errno_names[i].name))
				cfg.err = errno_names[i].value;
	}
	cfg.shorten = getenv("SEEDD_FAULT_SHORT") != NULL;
	cfg.skip = (s = getenv("SEEDD_FAULT_SKIP")) ? atol(s) : 0;
	cfg.kill_at = (s = getenv("SEEDD_FAULT_KILL")) ? atol(s) : 0;
	cfg.delay_us = (s = getenv("SEEDD_FAULT_DELAY_US")) ? atol(s) : 0;
	cfg.gate = getenv("SEEDD_FAULT_SWITCH");
	cfg.trace = getenv("SEEDD_FAULT_TRACE");
}

static void *next(const char *name)
{
	void *f = dlsym(RTLD_NEXT, name);

	if (!f)
		abort();
	return f;
}

static void trace(const char *what, const char *arg, int failing)
{
	char line[512];
	int fd, n;

	if (!cfg.trace)
		return;
	n = snprintf(line, sizeof(line), "%ld %s %s%s\n", cfg.seen, what, arg ? arg : "",
		     failing ? " FAIL" : "");
	fd = open(cfg.trace, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd >= 0) {
		/* Not write(): that is ours. */
		if (syscall(SYS_write, fd, line, (size_t)n) < 0)
			n = 0;
		close(fd);
	}
}

/* Counts a storage call (maybe dying first); 1 when this call must fail. */
static int storage_call(enum call c, const char *what, const char *arg)
{
	int failing = 0;

	setup();
	cfg.seen++;
	if (cfg.delay_us > 0) {
		struct timespec ts = { cfg.delay_us / 1000000, (cfg.delay_us % 1000000) * 1000 };

		nanosleep(&ts, NULL);
	}
	if (cfg.kill_at && cfg.seen == cfg.kill_at) {
		trace(what, arg, 0);
		raise(SIGKILL);
	}
	if ((cfg.calls & c) && (!cfg.gate || access(cfg.gate, F_OK) == 0)) {
		if (cfg.skip > 0)
			cfg.skip--;
		else
			failing = 1;
	}
	trace(what, arg, failing);
	return failing;
}

static int is_dir(int fd)
{
	struct stat st;

	return fstat(fd, &st) == 0 && S_ISDIR(st.st_mode);
}

static int is_reg(int fd)
{
	struct stat st;

	return fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
}

static int do_openat(const char *sym, int dirfd, const char *path, int flags, mode_t mode)
{
	int (*real)(int, const char *, int, ...) = next(sym);

	if ((flags & (O_CREAT | O_EXCL)) == (O_CREAT | O_EXCL) &&
	    storage_call(CALL_OPEN, "open", path)) {
		errno = cfg.err;
		return -1;
	}
	return real(dirfd, path, flags, mode);
}

int openat(int dirfd, const char *path, int flags, ...)
{
	mode_t mode = 0;
	va_list ap;

	if (flags & (O_CREAT | O_TMPFILE)) {
		va_start(ap, flags);
		mode = va_arg(ap, mode_t);
		va_end(ap);
	}
	return do_openat("openat", dirfd, path, flags, mode);
}

int openat64(int dirfd, const char *path, int flags, ...)
{
	mode_t mode = 0;
	va_list ap;

	if (flags & (O_CREAT | O_TMPFILE)) {
		va_start(ap, flags);
		mode = va_arg(ap, mode_t);
		va_end(ap);
	}
	return do_openat("openat64", dirfd, path, flags, mode);
}

ssize_t write(int fd, const void *buf, size_t len)
{
	ssize_t (*real)(int, const void *, size_t) = next("write");

	if (fd <= STDERR_FILENO || !is_reg(fd) || !storage_call(CALL_WRITE, "write", NULL))
		return real(fd, buf, len);
	/* A disk filling up: part of the data fits, then nothing does. */
	if (cfg.shorten && !cfg.short_done && len > 1) {
		cfg.short_done = 1;
		return real(fd, buf, len / 2);
	}
	errno = cfg.err;
	return -1;
}

int fsync(int fd)
{
	int (*real)(int) = next("fsync");
	int dir = is_dir(fd);

	if (storage_call(dir ? CALL_FSYNCDIR : CALL_FSYNC, dir ? "fsyncdir" : "fsync", NULL)) {
		errno = cfg.err;
		return -1;
	}
	return real(fd);
}

int renameat2(int olddirfd, const char *oldpath, int newdirfd, const char *newpath,
	      unsigned int flags)
{
	int (*real)(int, const char *, int, const char *, unsigned int) = next("renameat2");

	if (storage_call(CALL_RENAME, "rename", newpath)) {
		errno = cfg.err;
		return -1;
	}
	return real(olddirfd, oldpath, newdirfd, newpath, flags);
}

int renameat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath)
{
	int (*real)(int, const char *, int, const char *) = next("renameat");

	if (storage_call(CALL_RENAME, "rename", newpath)) {
		errno = cfg.err;
		return -1;
	}
	return real(olddirfd, oldpath, newdirfd, newpath);
}

int rename(const char *oldpath, const char *newpath)
{
	int (*real)(const char *, const char *) = next("rename");

	if (storage_call(CALL_RENAME, "rename", newpath)) {
		errno = cfg.err;
		return -1;
	}
	return real(oldpath, newpath);
}

int connect(int fd, const struct sockaddr *addr, socklen_t len)
{
	int (*real)(int, const struct sockaddr *, socklen_t) = next("connect");
	/* Not our rename(): this is no storage call of the process. */
	int (*real_rename)(const char *, const char *) = next("rename");
	static int swapped;
	const char *swap = getenv("SEEDD_FAULT_SWAP");
	char dir[4096], moved[4200];
	const char *colon;

	if (swap && !swapped && (colon = strchr(swap, ':')) &&
	    (size_t)(colon - swap) < sizeof(dir)) {
		swapped = 1;
		snprintf(dir, sizeof(dir), "%.*s", (int)(colon - swap), swap);
		snprintf(moved, sizeof(moved), "%s.checked", dir);
		if (real_rename(dir, moved) < 0 || real_rename(colon + 1, dir) < 0)
			abort();
	}
	return real(fd, addr, len);
}
