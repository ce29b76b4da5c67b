// SPDX-License-Identifier: MIT
/* Seedfile validation, locking and atomic replacement on a temp dir. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "seedfile.h"
#include "test.h"

static char dir[] = "/tmp/seedd-unit-XXXXXX";
static char path[256];

static void put(const char *name, const uint8_t *data, size_t len, mode_t mode)
{
	char p[300];
	int fd;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	unlink(p);
	fd = open(p, O_WRONLY | O_CREAT | O_EXCL, mode);
	CHECK(fd >= 0);
	CHECK(write(fd, data, len) == (ssize_t)len);
	fchmod(fd, mode);
	close(fd);
}

/* Irregular bytes, so that any quality screen passes them. */
static void fill(uint8_t *b, size_t n, uint32_t x)
{
	for (size_t i = 0; i < n; i++) {
		x = x * 1103515245u + 12345u;
		b[i] = (uint8_t)(x >> 16);
	}
}

/* As seedd reads a raw seed file: the checks on the file, then on its bytes. */
static int read_seed(struct seedfile *sf, uid_t uid, uint8_t buf[SEEDFILE_MAX], size_t *len,
		     char why[256])
{
	int r = seedfile_read_at(sf->dirfd, sf->base, uid, SEEDFILE_ONE_LINK, buf, SEEDFILE_MAX,
				 len, why, 256);

	if (r == 0 && seedfile_check_bytes(buf, *len, why, 256) < 0)
		return -EINVAL;
	return r;
}

static int load(struct seedfile *sf, char *why, size_t *len)
{
	uint8_t buf[SEEDFILE_MAX];

	return read_seed(sf, geteuid(), buf, len, why);
}

static void test_validation(struct seedfile *sf)
{
	uint8_t seed[64], buf[SEEDFILE_MAX], same[64];
	char why[256];
	size_t len = 0;

	fill(seed, sizeof(seed), 12345);
	memset(same, 0x41, sizeof(same));

	CHECK_EQ(load(sf, why, &len), -ENOENT);

	put("seedfile", seed, 64, 0600);
	CHECK_EQ(read_seed(sf, geteuid(), buf, &len, why), 0);
	CHECK_EQ(len, 64);
	CHECK(memcmp(buf, seed, 64) == 0);

	put("seedfile", seed, 32, 0600);
	CHECK_EQ(load(sf, why, &len), 0);
	CHECK_EQ(len, 32);

	put("seedfile", seed, 64, 0644);
	CHECK_EQ(load(sf, why, &len), -EINVAL);
	CHECK(strstr(why, "mode 0644") != NULL);
	put("seedfile", seed, 64, 0660);
	CHECK_EQ(load(sf, why, &len), -EINVAL);
	CHECK(strstr(why, "group or others") != NULL);

	put("seedfile", seed, 48, 0600);
	CHECK_EQ(load(sf, why, &len), -EINVAL);
	CHECK(strstr(why, "48 bytes") != NULL);
	put("seedfile", seed, 0, 0600);
	CHECK_EQ(load(sf, why, &len), -EINVAL);
	CHECK(strstr(why, "0 bytes") != NULL);

	put("seedfile", same, 64, 0600);
	CHECK_EQ(load(sf, why, &len), -EINVAL);
	CHECK(strstr(why, "all 64 bytes are equal") != NULL);

	put("target", seed, 64, 0600);
	unlink(path);
	CHECK(symlink("target", path) == 0);
	CHECK_EQ(load(sf, why, &len), -EINVAL);
	CHECK(strstr(why, "symbolic link") != NULL);

	unlink(path);
	CHECK(mkfifo(path, 0600) == 0);
	CHECK_EQ(load(sf, why, &len), -EINVAL);
	CHECK(strstr(why, "not a regular file") != NULL);
	unlink(path);
	CHECK(mkdir(path, 0700) == 0);
	CHECK_EQ(load(sf, why, &len), -EINVAL);
	CHECK(strstr(why, "not a regular file") != NULL);
	rmdir(path);

	put("seedfile", seed, 64, 0600);
	CHECK_EQ(read_seed(sf, geteuid() + 1, buf, &len, why), -EINVAL);
	CHECK(strstr(why, "owned by uid") != NULL);
}

static void test_atomic_replace(struct seedfile *sf)
{
	uint8_t a[64], b[64], buf[SEEDFILE_MAX];
	char why[256], tmp[300];
	struct stat before, after;
	size_t len;

	fill(a, sizeof(a), 1);
	fill(b, sizeof(b), 2);
	put("seedfile", a, 64, 0600);
	CHECK(stat(path, &before) == 0);

	/* A temp file left by a killed writer does not get in the way. */
	snprintf(tmp, sizeof(tmp), "%s/.seedfile.tmp", dir);
	put(".seedfile.tmp", a, 10, 0600);
	CHECK_EQ(seedfile_write(sf, b, 64), 0);
	CHECK(stat(path, &after) == 0);
	CHECK(before.st_ino != after.st_ino);
	CHECK_EQ(after.st_mode & 07777, 0600);
	CHECK_EQ(read_seed(sf, geteuid(), buf, &len, why), 0);
	CHECK(memcmp(buf, b, 64) == 0);
	CHECK(access(tmp, F_OK) < 0 && errno == ENOENT);

	/* NOREPLACE keeps an existing file and leaves no temp behind. */
	CHECK_EQ(seedfile_write_at(sf->dirfd, sf->base, a, 64, SEEDFILE_NOREPLACE), -EEXIST);
	CHECK_EQ(read_seed(sf, geteuid(), buf, &len, why), 0);
	CHECK(memcmp(buf, b, 64) == 0);
	CHECK(access(tmp, F_OK) < 0 && errno == ENOENT);

	/* Without write permission on the dir the old file stays (root ignores modes). */
	if (geteuid() != 0) {
		chmod(dir, 0500);
		CHECK_EQ(seedfile_write(sf, a, 64), -EACCES);
		chmod(dir, 0700);
		CHECK_EQ(read_seed(sf, geteuid(), buf, &len, why), 0);
		CHECK(memcmp(buf, b, 64) == 0);
	}
}

static void test_lock(struct seedfile *sf)
{
	const struct seedfile_owners me = { .uid = { geteuid() }, .n = 1 };
	struct seedfile other;
	char why[256], tmp[300];
	uint8_t junk[3] = { 1, 2, 3 };
	pid_t holder = -1;

	put(".seedfile.tmp", junk, sizeof(junk), 0600);
	CHECK_EQ(seedfile_lock(sf, &me, &holder, why, sizeof(why)), 0);
	snprintf(tmp, sizeof(tmp), "%s/.seedfile.tmp", dir);
	CHECK(access(tmp, F_OK) < 0 && errno == ENOENT);

	/* flock() conflicts between open file descriptions, even in one process. */
	CHECK_EQ(seedfile_open(&other, path, why, sizeof(why)), 0);
	CHECK_EQ(seedfile_lock(&other, &me, &holder, why, sizeof(why)), -EWOULDBLOCK);
	CHECK_EQ(holder, getpid());
	seedfile_close(&other);

	/* The lock outlives the atomic replacement of the seedfile. */
	uint8_t next[32];

	fill(next, sizeof(next), 3);
	CHECK_EQ(seedfile_write(sf, next, sizeof(next)), 0);
	CHECK_EQ(seedfile_open(&other, path, why, sizeof(why)), 0);
	CHECK_EQ(seedfile_lock(&other, &me, &holder, why, sizeof(why)), -EWOULDBLOCK);
	seedfile_close(&other);
}

static void test_open_errors(void)
{
	struct seedfile sf;
	char why[256];

	CHECK_EQ(seedfile_open(&sf, "/nonexistent-seedd-dir/seedfile", why, sizeof(why)), -ENOENT);
	CHECK(strstr(why, "/nonexistent-seedd-dir") != NULL);
	CHECK_EQ(seedfile_open(&sf, "/tmp/", why, sizeof(why)), -EINVAL);
	CHECK_EQ(seedfile_open(&sf, "", why, sizeof(why)), -EINVAL);
}

static void test_check_bytes(void)
{
	uint8_t b[64] = { 0 };
	char why[128];

	CHECK_EQ(seedfile_check_bytes(b, 64, why, sizeof(why)), -EINVAL);
	fill(b, sizeof(b), 4);
	CHECK_EQ(seedfile_check_bytes(b, 64, why, sizeof(why)), 0);
	CHECK_EQ(seedfile_check_bytes(b, 63, why, sizeof(why)), -EINVAL);
	CHECK_EQ(seedfile_check_bytes(b, 65, why, sizeof(why)), -EINVAL);
}

int main(void)
{
	struct seedfile sf;
	char why[256];

	if (!mkdtemp(dir))
		return 99;
	snprintf(path, sizeof(path), "%s/seedfile", dir);
	CHECK_EQ(seedfile_open(&sf, path, why, sizeof(why)), 0);
	test_validation(&sf);
	test_atomic_replace(&sf);
	test_lock(&sf);
	test_open_errors();
	test_check_bytes();
	seedfile_close(&sf);
	unlink(path);
	char p[300];
	snprintf(p, sizeof(p), "%s/seedfile.lock", dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/target", dir);
	unlink(p);
	rmdir(dir);
	return TEST_DONE();
}
