// SPDX-License-Identifier: MIT
/*
 * The seedfile parser and validation. The first input byte picks what sits
 * at the seedfile's path (a file with some mode, a symlink, a directory, a
 * FIFO) and the rest is the content. Read as seedd reads a raw seed file
 * (seedfile_read_at, seedfile_check_bytes), it must accept exactly the
 * files the contract accepts and return their bytes unchanged; an accepted
 * seed must survive seedfile_write_at and load again identically. A path
 * split is checked too: seedfile_open on the input as a path.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"
#include "seedfile.h"

#define NAME "seedfile"
#define MAX_CONTENT 200

/* tmpfs when there is one: the writer fsyncs on every input. */
static char dir[] = "/dev/shm/seedd-fuzz-XXXXXX";
static int dirfd = -1;

static void clear(void)
{
	if (unlinkat(dirfd, NAME, 0) < 0 && errno == EISDIR)
		unlinkat(dirfd, NAME, AT_REMOVEDIR);
	unlinkat(dirfd, "target", 0);
}

static void cleanup(void)
{
	clear();
	close(dirfd);
	rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (!mkdtemp(dir)) {
		memcpy(dir, "/tmp/seedd-fuzz-XXXXXX", sizeof("/tmp/seedd-fuzz-XXXXXX"));
		fuzz_assert(mkdtemp(dir) != NULL);
	}
	dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	fuzz_assert(dirfd >= 0);
	atexit(cleanup);
	return 0;
}

static int all_equal(const uint8_t *b, size_t n)
{
	for (size_t i = 1; i < n; i++)
		if (b[i] != b[0])
			return 0;
	return 1;
}

static void write_file(const char *name, const uint8_t *data, size_t n, mode_t mode)
{
	int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	fuzz_assert(fd >= 0);
	fuzz_assert(write(fd, data, n) == (ssize_t)n);
	fuzz_assert(fchmod(fd, mode) == 0);
	close(fd);
}

static void check_untouched(const uint8_t *data, size_t n, mode_t mode)
{
	uint8_t now[MAX_CONTENT + 1];
	struct stat st;
	int fd = openat(dirfd, NAME, O_RDONLY | O_CLOEXEC);

	fuzz_assert(fd >= 0 && fstat(fd, &st) == 0);
	fuzz_assert((st.st_mode & 07777) == mode && (size_t)st.st_size == n);
	fuzz_assert(read(fd, now, sizeof(now)) == (ssize_t)n && memcmp(now, data, n) == 0);
	close(fd);
}

/* The file checks, then the checks on its bytes. */
static int read_seed(struct seedfile *sf, uint8_t buf[SEEDFILE_MAX], size_t *len, char why[512])
{
	int r = seedfile_read_at(sf->dirfd, sf->base, geteuid(), SEEDFILE_ONE_LINK, buf,
				 SEEDFILE_MAX, len, why, 512);

	return r == 0 ? seedfile_check_bytes(buf, *len, why, 512) : r;
}

static void fuzz_path(const uint8_t *data, size_t size)
{
	char path[PATH_MAX], why[512];
	struct seedfile sf;

	if (size >= sizeof(path))
		return;
	memcpy(path, data, size);
	path[size] = '\0';
	if (seedfile_open(&sf, path, why, sizeof(why)) < 0)
		return;
	const char *slash = strrchr(path, '/');

	fuzz_assert(*sf.base && !strchr(sf.base, '/'));
	fuzz_assert(strcmp(sf.path, path) == 0);
	fuzz_assert(strcmp(sf.base, slash ? slash + 1 : path) == 0);
	seedfile_close(&sf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t buf[SEEDFILE_MAX], again[SEEDFILE_MAX];
	char path[64], why[512];
	struct seedfile sf;
	size_t len = 0, n;
	uint8_t kind;
	mode_t mode;
	int r, valid, content_ok;

	if (size < 1)
		return 0;
	kind = data[0];
	data++;
	size--;
	if ((kind & 0xc0) == 0xc0) {
		fuzz_path(data, size);
		return 0;
	}
	n = size < MAX_CONTENT ? size : MAX_CONTENT;
	mode = 0600 | (kind & 077);

	clear();
	switch (kind >> 6) {
	case 0: /* a regular file */
		write_file(NAME, data, n, mode);
		break;
	case 1: /* a symlink to a regular file, or a dangling one */
		if (kind & 1)
			write_file("target", data, n, 0600);
		fuzz_assert(symlinkat("target", dirfd, NAME) == 0);
		break;
	default: /* a directory or a FIFO */
		if (kind & 1)
			fuzz_assert(mkdirat(dirfd, NAME, 0700) == 0);
		else
			fuzz_assert(mkfifoat(dirfd, NAME, 0600) == 0);
		break;
	}

	snprintf(path, sizeof(path), "%s/" NAME, dir);
	fuzz_assert(seedfile_open(&sf, path, why, sizeof(why)) == 0);
	memset(buf, 0xee, sizeof(buf));
	/* The content rules are seedfile_check_bytes()'s; at least size and not all equal. */
	content_ok = seedfile_check_bytes(data, n, why, sizeof(why)) == 0;
	fuzz_assert(!content_ok || (seedfile_size_ok(n) && !all_equal(data, n)));
	valid = (kind >> 6) == 0 && mode == 0600 && content_ok;
	memset(why, 0, sizeof(why));
	r = read_seed(&sf, buf, &len, why);
	fuzz_assert((r == 0) == valid);
	if (r < 0) {
		/* A refused file is never touched. */
		fuzz_assert(why[0] != '\0');
		if ((kind >> 6) == 0)
			check_untouched(data, n, mode);
		seedfile_close(&sf);
		return 0;
	}
	fuzz_assert(len == n && memcmp(buf, data, n) == 0);

	/* Round trip through the atomic writer. */
	fuzz_assert(seedfile_write(&sf, data, n) == 0);
	fuzz_assert(faccessat(dirfd, "." NAME ".tmp", F_OK, 0) < 0);
	fuzz_assert(read_seed(&sf, again, &len, why) == 0);
	fuzz_assert(len == n && memcmp(again, data, n) == 0);
	fuzz_assert(seedfile_write_at(sf.dirfd, NAME, data, n, SEEDFILE_NOREPLACE) == -EEXIST);
	seedfile_close(&sf);
	return 0;
}
