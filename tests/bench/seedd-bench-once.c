// SPDX-License-Identifier: MIT
/*
 * A fresh process that fetches one seed and exits, as a short-lived tool
 * linking libseedclient would:
 *
 *   seedd-bench-once [seed|read|getrandom|file PATH] [COUNT]
 *
 * "seed" calls seedclient_nv_seed_read, "read" calls seedclient_read (which
 * says why it failed), "getrandom" asks the kernel instead: the same process
 * start-up cost, without the daemon. "file" reads PATH as Mbed TLS's NV seed
 * option 1 does (3.6's mbedtls_platform_std_nv_seed_read: fopen "rb",
 * unbuffered, fread, fclose), for seedfs and a plain file. COUNT (default 1)
 * reads in all, on one connection, for the system call counts of syscalls.py.
 *
 * The first read is timed inside the process; the record (bench.h) goes to
 * the fd in $SEEDD_BENCH_REPORT_FD when that is set. Exits 0 when every read
 * succeeded.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "bench.h"
#include "measure.h"
#include "seedclient.h"

#define SEED_BYTES 64

enum method { METHOD_SEED, METHOD_READ, METHOD_GETRANDOM, METHOD_FILE };

/* Option 1's read of the seed file: 0 or a positive errno (EIO for a short read). */
static int read_file(const char *path, unsigned char *buf)
{
	FILE *f = fopen(path, "rb");
	size_t n;
	int e;

	if (!f)
		return errno;
	setvbuf(f, NULL, _IONBF, 0);
	n = fread(buf, 1, SEED_BYTES, f);
	e = n == SEED_BYTES ? 0 : ferror(f) && errno ? errno : EIO;
	fclose(f);
	return e;
}

/* Returns 0 or a positive errno; EIO where the call does not say why. */
static int read_seed(enum method m, const char *path, unsigned char *buf)
{
	ssize_t r;

	switch (m) {
	case METHOD_FILE:
		return read_file(path, buf);
	case METHOD_SEED:
		return seedclient_nv_seed_read(buf, SEED_BYTES) == SEED_BYTES ? 0 : EIO;
	case METHOD_READ:
		r = seedclient_read(NULL, buf, SEED_BYTES);
		return r < 0 ? (int)-r : 0;
	default:
		r = getrandom(buf, SEED_BYTES, 0);
		return r == SEED_BYTES ? 0 : r < 0 ? errno : EIO;
	}
}

static uint64_t fnv1a(const unsigned char *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	return h;
}

/* An fd number from the environment, or -1 when the variable is unset. */
static long env_long(const char *name)
{
	const char *v = getenv(name);
	char *end;
	long n;

	if (!v)
		return -1;
	errno = 0;
	n = strtol(v, &end, 10);
	if (errno || *end || end == v || n < 0) {
		fprintf(stderr, "seedd-bench-once: %s=%s is not a number\n", name, v);
		exit(2);
	}
	return n;
}

static int report(const struct bench_record *rec)
{
	long fd = env_long(BENCH_ENV_REPORT_FD), slot = env_long(BENCH_ENV_SLOT);
	long done = env_long(BENCH_ENV_DONE_FD);
	ssize_t n;

	if (fd < 0)
		return 0;
	if (slot >= 0)
		n = pwrite((int)fd, rec, sizeof(*rec), (off_t)slot * (off_t)sizeof(*rec));
	else
		n = write((int)fd, rec, sizeof(*rec));
	if (n != (ssize_t)sizeof(*rec))
		return -1;
	if (done >= 0 && write((int)done, "", 1) != 1)
		return -1;
	return 0;
}

/* Stays alive until the starter closes the other end: see the crowd case. */
static void hold(void)
{
	long fd = env_long(BENCH_ENV_HOLD_FD);
	char c;

	if (fd < 0)
		return;
	for (;;) {
		ssize_t n = read((int)fd, &c, 1);

		if (n == 0 || (n < 0 && errno != EINTR))
			return;
	}
}

int main(int argc, char **argv)
{
	struct bench_record rec = { .main_ns = measure_now_ns() };
	unsigned char buf[SEED_BYTES];
	enum method m = METHOD_SEED;
	const char *path = NULL;
	unsigned long count = 1;
	int failed, arg = 2;

	if (argc > 1 && strcmp(argv[1], "read") == 0) {
		m = METHOD_READ;
	} else if (argc > 1 && strcmp(argv[1], "getrandom") == 0) {
		m = METHOD_GETRANDOM;
	} else if (argc > 2 && strcmp(argv[1], "file") == 0) {
		m = METHOD_FILE;
		path = argv[arg++];
	} else if (argc > 1 && strcmp(argv[1], "seed") != 0) {
		argc = 0;
	}
	if (argc > arg) {
		char *end;

		count = strtoul(argv[arg], &end, 10);
		if (*end || count < 1)
			argc = 0;
	}
	if (argc == 0 || argc > arg + 1) {
		fprintf(stderr,
			"usage: seedd-bench-once [seed|read|getrandom|file PATH] [COUNT]\n");
		return 2;
	}

	rec.before_ns = measure_now_ns();
	rec.error = read_seed(m, path, buf);
	rec.after_ns = measure_now_ns();
	rec.digest = rec.error ? 0 : fnv1a(buf, sizeof(buf));
	rec.done = 1;
	failed = rec.error != 0;
	for (unsigned long i = 1; i < count; i++)
		failed |= read_seed(m, path, buf) != 0;
	explicit_bzero(buf, sizeof(buf));
	if (report(&rec) < 0) {
		perror("seedd-bench-once: report");
		return 1;
	}
	hold();
	return failed;
}
