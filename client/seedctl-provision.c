// SPDX-License-Identifier: MIT
/* seedctl provision: new seed files, one or a batch, raw or sealed. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "seal.h"
#include "seedctl.h"
#include "seedfile.h"
#include "util.h"

#define PROVISION_MAX 100000
#define BATCH_NAME "seedfile-%06u" /* fits PROVISION_MAX */

/* The bytes to store for seed: itself, or sealed with key (machine unknown: zeros). */
static int seal_maybe(const struct seal_key *key, const uint8_t *seed, size_t bytes,
		      uint8_t out[SEAL_MAX], size_t *len)
{
	static const uint8_t unknown[SEAL_HASH_SIZE];
	int n;

	if (!key) {
		memcpy(out, seed, bytes);
		*len = bytes;
		return 0;
	}
	n = seal_seal(key, seed, bytes, unknown, out);
	if (n < 0)
		return n;
	*len = (size_t)n;
	return 0;
}

/* Writes one seed to path, holding the seedfile lock so a running seedd is not overwritten. */
static int provision_one(const char *path, const uint8_t *seed, size_t bytes, int force,
			 const struct seal_key *key)
{
	struct seedfile_owners owners;
	uint8_t out[SEAL_MAX];
	struct seedfile sf;
	char why[1024];
	size_t len;
	pid_t holder;
	int r;

	cli_owners(&owners, geteuid());
	if (seedfile_open(&sf, path, why, sizeof(why)) < 0) {
		cli_error("%s", why);
		return EXIT_FAIL;
	}
	if (seedfile_trust_dir(sf.dirfd, sf.dir, &owners, why, sizeof(why)) < 0) {
		cli_error("refusing to write %s: %s", path, why);
		seedfile_close(&sf);
		return EXIT_FAIL;
	}
	r = seedfile_lock(&sf, &owners, &holder, why, sizeof(why));
	if (r < 0) {
		if (r == -EWOULDBLOCK)
			cli_error("%s is in use by seedd (pid %ld); stop it first", path,
				  (long)holder);
		else
			cli_error("%s", why);
		seedfile_close(&sf);
		return EXIT_FAIL;
	}
	r = seal_maybe(key, seed, bytes, out, &len);
	if (r == 0)
		r = seedfile_write_at(sf.dirfd, sf.base, out, len, force ? 0 : SEEDFILE_NOREPLACE);
	explicit_bzero(out, sizeof(out));
	if (r == -EEXIST)
		cli_error("%s exists; use --force to replace it", path);
	else if (r < 0)
		cli_error("cannot write %s: %s", path, strerror(-r));
	seedfile_close(&sf);
	return r < 0 ? EXIT_FAIL : EXIT_OK;
}

static int random_seed(uint8_t *seed, size_t bytes)
{
	char why[512];

	if (seedfile_generate(seed, bytes, why, sizeof(why)) < 0) {
		cli_error("%s", why);
		return -1;
	}
	return 0;
}

/* Reads a seed from a provisioning host or HSM on stdin: all of it, 32 or 64 bytes. */
static int stdin_seed(uint8_t seed[SEEDFILE_MAX], uint64_t want, size_t *bytes)
{
	uint8_t buf[SEEDFILE_MAX + 1];
	char why[256];
	size_t len = 0;
	ssize_t n;

	if (isatty(STDIN_FILENO)) {
		cli_error("refusing to read a seed from a terminal; pipe it in");
		return -1;
	}
	while (len < sizeof(buf)) {
		n = read(STDIN_FILENO, buf + len, sizeof(buf) - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			cli_error("cannot read stdin: %s", strerror(errno));
			explicit_bzero(buf, sizeof(buf));
			return -1;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > SEEDFILE_MAX)
		snprintf(why, sizeof(why), "more than %d bytes; a seed file holds exactly 32 or 64",
			 SEEDFILE_MAX);
	else if (want && len != want)
		snprintf(why, sizeof(why), "%zu bytes, not the %llu of --bytes", len,
			 (unsigned long long)want);
	else if (seedfile_check_bytes(buf, len, why, sizeof(why)) == 0)
		why[0] = '\0';
	if (why[0]) {
		cli_error("refusing the seed on stdin: %s", why);
		explicit_bzero(buf, sizeof(buf));
		return -1;
	}
	memcpy(seed, buf, len);
	*bytes = len;
	explicit_bzero(buf, sizeof(buf));
	return 0;
}

/* One seed of a batch; the tail of a 32-byte seed is zero. */
struct seed {
	uint8_t b[SEEDFILE_MAX];
};

static int cmp_seed_ptr(const void *a, const void *b)
{
	const struct seed *const *x = a, *const *y = b;

	return memcmp((*x)->b, (*y)->b, sizeof((*x)->b));
}

/* Opens DIR for a batch, creating it (0700) when missing; its parent must exist. */
static int open_out_dir(const char *dir, int *created)
{
	char why[PATH_MAX + 128];
	int fd = seedfile_open_dir(dir, why, sizeof(why));

	*created = 0;
	if (fd == -ENOENT) {
		/* mkdir(2) makes no directory through a symlink at its last component. */
		if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
			cli_error("cannot create directory %s: %s", dir, strerror(errno));
			return -1;
		}
		*created = 1;
		/*
		 * Whatever is there by now is opened without following a symlink
		 * at any component, then checked by seedfile_trust_dir().
		 */
		fd = seedfile_open_dir(dir, why, sizeof(why));
	}
	if (fd < 0)
		cli_error("refusing to write to %s: %s", dir, why);
	return fd < 0 ? -1 : fd;
}

/* fsync(2) of the directory above dirfd, reached through "..". 0, or -1 with errno set. */
static int sync_parent(int dirfd)
{
	int fd = openat(dirfd, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int r;

	if (fd < 0)
		return -1;
	r = fsync(fd);
	close(fd);
	return r;
}

/* Without force, no file of the batch may exist yet. 0, or -1 after a message. */
static int batch_absent(int dirfd, const char *dir, uint64_t count)
{
	char name[64];
	struct stat st;

	for (uint64_t i = 1; i <= count; i++) {
		snprintf(name, sizeof(name), BATCH_NAME, (unsigned)i);
		if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
			cli_error("%s/%s exists; use --force to replace it", dir, name);
			return -1;
		}
	}
	return 0;
}

/*
 * count seeds, kept in the order they were made: sorted, file k would hold
 * about the k/count quantile, and its name would tell the top bits of its
 * seed. Pointers to them are sorted instead, to find equal ones, which mean a
 * broken RNG (odds 2^-256 otherwise). 0, or -1 after a message.
 */
static int batch_seeds(struct seed *seeds, uint64_t count, size_t bytes)
{
	const struct seed **order;
	int r = 0;

	for (uint64_t i = 0; i < count; i++)
		if (random_seed(seeds[i].b, bytes) < 0)
			return -1;
	order = calloc((size_t)count, sizeof(*order));
	if (!order) {
		cli_error("out of memory");
		return -1;
	}
	for (uint64_t i = 0; i < count; i++)
		order[i] = &seeds[i];
	qsort(order, (size_t)count, sizeof(*order), cmp_seed_ptr);
	for (uint64_t i = 1; i < count && r == 0; i++) {
		if (memcmp(order[i - 1]->b, order[i]->b, bytes) == 0) {
			cli_error("the platform RNG gave two equal seeds; wrote nothing");
			r = -1;
		}
	}
	free(order);
	return r;
}

/* "written/total (percent)" on stderr when it is a terminal, at most every PROGRESS_MS. */
struct progress {
	int on;
	int64_t next_ms;
	uint64_t total;
};

#define PROGRESS_MS 100

static void progress_show(struct progress *p, uint64_t done)
{
	int64_t now;

	if (!p->on)
		return;
	now = now_ms();
	if (done != 0 && done != p->total && now < p->next_ms)
		return;
	p->next_ms = now + PROGRESS_MS;
	fprintf(stderr, "\rwriting seed files: %llu/%llu (%llu%%)", (unsigned long long)done,
		(unsigned long long)p->total, (unsigned long long)(done * 100 / p->total));
	if (done == p->total)
		fputc('\n', stderr);
}

/* Ends the progress line, so that a message after it starts a line of its own. */
static void progress_break(const struct progress *p)
{
	if (p->on)
		fputc('\n', stderr);
}

/* What the manifest says of every file of a batch: all are alike but for the name. */
struct batch_info {
	size_t file_len;
	struct seal_info seal; /* what the files hold, as seedctl check reads it */
};

/* Writes the batch as DIR/seedfile-000001 onwards. 0, or -1 after a message. */
static int batch_write(int dirfd, const char *dir, const struct seed *seeds, uint64_t count,
		       size_t bytes, int force, const struct seal_key *key, struct batch_info *info)
{
	struct progress progress = { .on = isatty(STDERR_FILENO), .total = count };
	uint8_t out[SEAL_MAX];
	char name[64], why[256];
	size_t len = 0;
	int r = 0;

	progress_show(&progress, 0);
	for (uint64_t i = 0; i < count && r == 0; i++) {
		snprintf(name, sizeof(name), BATCH_NAME, (unsigned)i + 1);
		r = seal_maybe(key, seeds[i].b, bytes, out, &len);
		if (r == 0 && i == 0)
			r = seal_parse(out, len, &info->seal, why, sizeof(why));
		if (r == 0)
			r = seedfile_write_at(dirfd, name, out, len,
					      force ? 0 : SEEDFILE_NOREPLACE);
		if (r < 0) {
			progress_break(&progress);
			cli_error("cannot write %s/%s: %s (%llu of %llu written)", dir, name,
				  strerror(-r), (unsigned long long)i, (unsigned long long)count);
		} else {
			progress_show(&progress, i + 1);
		}
	}
	info->file_len = len;
	explicit_bzero(out, sizeof(out));
	return r < 0 ? -1 : 0;
}

/*
 * The manifest's file, made before any seed is written, so that a path that
 * cannot be written stops the batch before it starts. Replaced only with
 * force, and then only a regular file of ours with one link: the path may be
 * in a directory others can write, such as /tmp. The fd, or -1 after a
 * message; *created says whether to remove it when the batch fails.
 */
static int manifest_open(const char *path, int force, int *created)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	struct stat st;

	*created = fd >= 0;
	if (fd < 0 && errno == EEXIST && force)
		fd = open(path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		if (errno == EEXIST)
			cli_error("manifest %s exists; use --force to replace it", path);
		else
			cli_error("cannot create manifest %s: %s", path, strerror(errno));
		return -1;
	}
	if (!*created && (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
			  st.st_nlink != 1)) {
		cli_error("refusing to replace manifest %s: not a regular file of this user with one link",
			  path);
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * One line per file: its name in the batch's directory, the seed's and the
 * file's size, sealed or raw, and the key id (what seedctl check prints);
 * never the seed or anything derived from it. 0, or -1 after a message.
 */
static int manifest_write(int fd, const char *path, uint64_t count, size_t bytes,
			  const struct batch_info *info)
{
	char key_id[2 * SEAL_KEY_ID_SIZE + 1] = "-";
	FILE *f;
	int err = 0;

	if (info->seal.encrypted)
		for (size_t i = 0; i < SEAL_KEY_ID_SIZE; i++)
			snprintf(key_id + 2 * i, 3, "%02x", info->seal.key_id[i]);
	if (ftruncate(fd, 0) < 0 || !(f = fdopen(fd, "w"))) {
		cli_error("cannot write manifest %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	errno = 0;
	fputs("file\tseed_bytes\tfile_bytes\tformat\tkey_id\n", f);
	for (uint64_t i = 1; i <= count; i++)
		fprintf(f, BATCH_NAME "\t%zu\t%zu\t%s\t%s\n", (unsigned)i, bytes, info->file_len,
			info->seal.encrypted ? "sealed" : "raw", key_id);
	if (fflush(f) != 0 || ferror(f))
		err = errno ? errno : EIO;
	else if (fsync(fileno(f)) < 0)
		err = errno;
	if (fclose(f) != 0 && !err)
		err = errno;
	if (err)
		cli_error("cannot write manifest %s: %s", path, strerror(err));
	return err ? -1 : 0;
}

/* N per-device seedfiles for an image pipeline: all checked distinct before any is written. */
static int provision_batch(const char *dir, uint64_t count, size_t bytes, int force,
			   const struct seal_key *key, const char *manifest)
{
	_cleanup_close_ int dirfd = -1;
	struct seedfile_owners owners;
	struct batch_info info = { 0 };
	struct seed *seeds;
	char why[1024];
	int created, r, mfd = -1, mcreated = 0;

	dirfd = open_out_dir(dir, &created);
	if (dirfd < 0)
		return EXIT_FAIL;
	cli_owners(&owners, geteuid());
	if (seedfile_trust_dir(dirfd, dir, &owners, why, sizeof(why)) < 0) {
		cli_error("refusing to write to %s: %s", dir, why);
		/* Only an empty directory goes: at worst one that was swapped in. */
		if (created)
			rmdir(dir);
		return EXIT_FAIL;
	}
	/* A directory made here survives a power cut only once its parent is synced. */
	if (created && sync_parent(dirfd) < 0) {
		cli_error("cannot sync the directory above %s: %s", dir, strerror(errno));
		return EXIT_FAIL;
	}
	if (!force && batch_absent(dirfd, dir, count) < 0)
		return EXIT_FAIL;
	if (manifest && (mfd = manifest_open(manifest, force, &mcreated)) < 0) {
		if (created)
			rmdir(dir);
		return EXIT_FAIL;
	}
	seeds = calloc((size_t)count, sizeof(*seeds));
	if (!seeds) {
		cli_error("out of memory");
		r = -1;
	} else {
		r = batch_seeds(seeds, count, bytes);
		if (r == 0)
			r = batch_write(dirfd, dir, seeds, count, bytes, force, key, &info);
		explicit_bzero(seeds, (size_t)count * sizeof(*seeds));
		free(seeds);
	}
	if (mfd >= 0 && r == 0) {
		r = manifest_write(mfd, manifest, count, bytes, &info);
	} else if (mfd >= 0) {
		close(mfd);
		if (mcreated)
			unlink(manifest);
	}
	if (r < 0)
		return EXIT_FAIL;
	printf("wrote %llu distinct %zu-byte seed files%s to %s (" BATCH_NAME " .. " BATCH_NAME
	       ")%s%s\n",
	       (unsigned long long)count, bytes, key ? ", encrypted," : "", dir, 1u,
	       (unsigned)count, manifest ? ", listed in " : "", manifest ? manifest : "");
	return EXIT_OK;
}

int cmd_provision(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = { { "bytes", required_argument, NULL, 'b' },
					      { "force", no_argument, NULL, 'f' },
					      { "stdin", no_argument, NULL, 'i' },
					      { "count", required_argument, NULL, 'n' },
					      { "out-dir", required_argument, NULL, 'o' },
					      { "key-file", required_argument, NULL, 'k' },
					      { "manifest", required_argument, NULL, 'm' },
					      { 0 } };
	uint8_t seed[SEEDFILE_MAX];
	uint64_t bytes = 0, count = 0;
	const char *path, *out_dir = NULL, *key_file = NULL, *manifest = NULL;
	struct seal_key *key = NULL;
	int force = 0, from_stdin = 0, c, rc = EXIT_OK, r;
	size_t len = SEEDFILE_MAX;

	while ((c = cli_next_opt(cli, argc, argv, opts, &rc)) != -1) {
		if (c == -2)
			return rc;
		if (c == 'f')
			force = 1;
		else if (c == 'i')
			from_stdin = 1;
		else if (c == 'o')
			out_dir = optarg;
		else if (c == 'k')
			key_file = optarg;
		else if (c == 'm')
			manifest = optarg;
		else if (c == 'n' && parse_u64(optarg, 1, PROVISION_MAX, &count) < 0)
			return cli_usage_error("--count '%s' is not a number in 1..%d", optarg,
					       PROVISION_MAX);
		else if (c == 'b' &&
			 (parse_u64(optarg, 32, 64, &bytes) < 0 || !seedfile_size_ok(bytes)))
			return cli_usage_error("--bytes must be 32 or 64, not '%s'", optarg);
	}
	if (!count != !out_dir)
		return cli_usage_error("--count and --out-dir go together");
	if (manifest && !count)
		return cli_usage_error("--manifest lists a batch: it needs --count and --out-dir");
	if (count && from_stdin)
		return cli_usage_error("--stdin gives one seed, not --count");
	if (count && optind != argc)
		return cli_usage_error("--out-dir replaces PATH");
	if (!count && optind + 1 != argc)
		return cli_usage_error("expected one seed file PATH");
	if (key_file) {
		key = cli_read_key(key_file);
		if (!key)
			return EXIT_FAIL;
	}
	if (count) {
		rc = provision_batch(out_dir, count, bytes ? bytes : SEEDFILE_MAX, force, key,
				     manifest);
		seal_key_free(key);
		return rc;
	}
	path = argv[optind];

	if (bytes)
		len = bytes;
	r = from_stdin ? stdin_seed(seed, bytes, &len) : random_seed(seed, len);
	rc = r < 0 ? EXIT_FAIL : provision_one(path, seed, len, force, key);
	if (rc == EXIT_OK)
		printf("wrote a new %zu-byte seed%s%s to %s\n", len,
		       from_stdin ? " from stdin" : "", key ? ", encrypted," : "", path);
	explicit_bzero(seed, sizeof(seed));
	seal_key_free(key);
	return rc;
}
