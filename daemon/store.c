// SPDX-License-Identifier: MIT
/*
 * The seed as stored: the seed file's directory and lock, raw or sealed, the
 * key, the machine identity, migration, and a seed file made when missing.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "seedd-protocol.h"
#include "store.h"
#include "util.h"

/* Where a key comes from, for messages. */
#define KEY_HINT "(--key-file, or the credential " STORE_CREDENTIAL_KEY ")"

static const uint8_t unknown[SEAL_HASH_SIZE];

int store_open(struct store *st, const struct store_opts *opts)
{
	/* The state directory and the lock file are ours alone. */
	const struct seedfile_owners owners = { .uid = { geteuid() }, .n = 1 };
	char why[1024];
	pid_t holder;
	int r;

	*st = (struct store){ .opts = *opts };
	r = seedfile_open(&st->sf, opts->path, why, sizeof(why));
	if (r == 0)
		r = seedfile_trust_dir(st->sf.dirfd, st->sf.dir, &owners, why, sizeof(why));
	if (r < 0) {
		log_err("refusing seed file %s: %s", opts->path, why);
		return -1;
	}
	r = seedfile_lock(&st->sf, &owners, &holder, why, sizeof(why));
	if (r == -EWOULDBLOCK && holder > 0)
		log_err("seed file %s is in use by another seedd (pid %ld)", opts->path,
			(long)holder);
	else if (r == -EWOULDBLOCK)
		log_err("seed file %s is in use by another seedd", opts->path);
	else if (r < 0)
		log_err("%s", why);
	return r < 0 ? -1 : 0;
}

int store_write(void *ctx, const uint8_t *seed, size_t len)
{
	struct store *st = ctx;
	uint8_t buf[SEAL_MAX];
	char why[128];
	int r, n;

	if (!st->key) {
		/* Never write a seed that store_read() would refuse to read back. */
		if (seedfile_check_bytes(seed, len, why, sizeof(why)) < 0)
			return -EINVAL;
		r = seedfile_write(&st->sf, seed, len);
		if (r < 0 || memcmp(st->machine, unknown, sizeof(unknown)) == 0)
			return r;
		/* Only diagnostics depend on it: a failure here does not fail the save. */
		n = seedfile_machine_write(&st->sf, st->machine);
		if (n < 0)
			log_warn("cannot record the machine of %s in %s.machine: %s", st->sf.path,
				 st->sf.path, strerror(-n));
		return 0;
	}
	n = seal_seal(st->key, seed, len, st->machine, buf);
	if (n < 0)
		return n;
	r = seedfile_write(&st->sf, buf, (size_t)n);
	explicit_bzero(buf, sizeof(buf));
	if (r == 0 && st->migrate) {
		st->migrate = 0;
		log_notice("migrated seed file %s to the encrypted format", st->sf.path);
		n = seedfile_machine_remove(&st->sf);
		if (n < 0)
			log_warn("cannot remove %s.machine: %s", st->sf.path, strerror(-n));
	}
	return r;
}

/* The key from key_file, else the credential; none at all is fine. 0, or -1 after logging. */
static int read_key(struct store *st, const char *key_file)
{
	const char *creds = getenv("CREDENTIALS_DIRECTORY");
	char path[4096], why[256];
	unsigned flags = 0;
	int r;

	if (key_file) {
		snprintf(path, sizeof(path), "%s", key_file);
	} else if (creds && *creds) {
		r = snprintf(path, sizeof(path), "%s/" STORE_CREDENTIAL_KEY, creds);
		if (r < 0 || (size_t)r >= sizeof(path) || access(path, F_OK) < 0)
			return 0;
		/* systemd owns credential files as root and grants us read access by ACL. */
		flags = SEEDFILE_ROOT_OK;
	} else {
		return 0;
	}
	st->key = key_file ? seal_key_file(path, why, sizeof(why))
			   : seal_key_read(path, geteuid(), flags, why, sizeof(why));
	if (!st->key) {
		log_err("refusing key file %s: %s", path, why);
		return -1;
	}
	return 0;
}

/* The machine identity from file (which must be usable), else from /etc/machine-id. */
static int read_machine_id(struct store *st, const char *file)
{
	const char *path = file ? file : STORE_MACHINE_ID_FILE;
	_cleanup_close_ int fd = -1;
	ssize_t n;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	n = fd < 0 ? -1 : read(fd, st->machine_id, sizeof(st->machine_id));
	while (n > 0 && (st->machine_id[n - 1] == '\n' || st->machine_id[n - 1] == ' '))
		n--;
	/* An image ships an empty file or "uninitialized" until first boot sets it. */
	if (n <= 0 || (n == 13 && memcmp(st->machine_id, "uninitialized", 13) == 0)) {
		if (file) {
			log_err("cannot use machine id file %s: %s", path,
				fd < 0 || n < 0 ? strerror(errno) : "empty or uninitialized");
			return -1;
		}
		log_warn("no machine id in %s; clone detection is off", path);
		return 0;
	}
	st->machine_id_len = (size_t)n;
	if (seal_machine_hash(st->machine_id, st->machine_id_len, st->machine) < 0) {
		log_err("cannot hash the machine id");
		return -1;
	}
	return 0;
}

/* Warns when the seedfile was last written on a machine with another id. */
static void check_clone(struct store *st, const uint8_t stored[SEAL_HASH_SIZE])
{
	if (memcmp(st->machine, unknown, sizeof(unknown)) == 0 ||
	    memcmp(stored, unknown, sizeof(unknown)) == 0 ||
	    memcmp(stored, st->machine, SEAL_HASH_SIZE) == 0)
		return;
	st->clone_suspected = 1;
	log_warn("seed file %s was last updated on another machine (a cloned image?); "
		 "this machine's id is mixed into the pool, so its output differs from the clone's",
		 st->sf.path);
}

/* The seed file in either format, and its ".machine" sibling. 0, -ENOENT, or -1 after logging. */
static int read_seed(struct store *st, uint8_t seed[SEEDFILE_MAX], size_t *len)
{
	uint8_t buf[SEAL_MAX], stored[SEAL_HASH_SIZE] = { 0 }, recorded[SEAL_HASH_SIZE];
	struct seal_info info;
	char why[512];
	size_t n = 0;
	int r, m;

	r = seedfile_read_at(st->sf.dirfd, st->sf.base, geteuid(), SEEDFILE_ONE_LINK, buf,
			     sizeof(buf), &n, why, sizeof(why));
	if (r == -ENOENT)
		return r;
	if (r == 0)
		r = seal_parse(buf, n, &info, why, sizeof(why));
	if (r == 0 && info.encrypted && !st->key) {
		snprintf(why, sizeof(why), "is encrypted, and no key is configured " KEY_HINT);
		r = -EINVAL;
	}
	if (r == 0 && !info.encrypted && st->key && !st->opts.migrate_raw) {
		snprintf(why, sizeof(why),
			 "is not encrypted, but a key is configured: a raw seed file is not authenticated, so whoever wrote it chose the seed; encrypt it once by starting seedd with --migrate-raw, or replace it with 'seedctl provision --key-file KEY --force %s'",
			 st->sf.path);
		r = -EINVAL;
	}
	if (r == 0) {
		/* Checked in either format: a sibling seedd would not have written is refused. */
		m = seedfile_machine_read(&st->sf, geteuid(), recorded, why, sizeof(why));
		if (m == -EINVAL)
			log_warn("ignoring malformed %s.machine", st->sf.path);
		else if (m < 0 && m != -ENOENT)
			r = m;
		else if (m == 0 && !info.encrypted)
			memcpy(stored, recorded, sizeof(stored));
	}
	if (r == 0 && info.encrypted) {
		r = seal_open(st->key, buf, n, seed, len, stored, why, sizeof(why));
		if (r == 0 && st->opts.migrate_raw)
			log_notice("seed file %s is encrypted already; --migrate-raw is not needed",
				   st->sf.path);
	} else if (r == 0) {
		memcpy(seed, buf, n);
		*len = n;
		if (st->key) {
			st->migrate = 1;
			log_notice("seed file %s is not encrypted; encrypting it with the first update (--migrate-raw)",
				   st->sf.path);
		}
	}
	explicit_bzero(buf, sizeof(buf));
	if (r < 0) {
		log_err("refusing seed file %s: %s", st->sf.path, why);
		return -1;
	}
	check_clone(st, stored);
	return 0;
}

/* A missing seed file, made from getrandom(2) where the options allow. 0, or -1 after logging. */
static int create_seed(struct store *st, uint8_t seed[SEEDFILE_MAX], size_t *len)
{
	const char *path = st->opts.path;
	char why[512];
	int r;

	if (!st->opts.create || !st->opts.platform_entropy) {
		log_err("seed file %s does not exist%s; create one with 'seedctl provision %s'",
			path,
			st->opts.create ? " and platform entropy is off"
					: " and --no-create is given",
			path);
		return -1;
	}
	*len = SEEDFILE_MAX;
	if (seedfile_generate(seed, *len, why, sizeof(why)) < 0) {
		log_err("cannot create %s: %s", path, why);
		return -1;
	}
	r = store_write(st, seed, *len);
	if (r < 0) {
		log_err("cannot create seed file %s: %s", path, strerror(-r));
		explicit_bzero(seed, SEEDFILE_MAX);
		return -1;
	}
	log_notice("created seed file %s from getrandom(2)", path);
	st->origin = SEEDD_STATUS_ORIGIN_CREATED;
	return 0;
}

int store_read(struct store *st, uint8_t seed[SEEDFILE_MAX], size_t *len)
{
	int r;

	if (read_key(st, st->opts.key_file) < 0 ||
	    read_machine_id(st, st->opts.machine_id_file) < 0)
		return -1;
	if (st->opts.migrate_raw && !st->key) {
		log_err("--migrate-raw encrypts a raw seed file, but no key is configured %s",
			KEY_HINT);
		return -1;
	}
	r = read_seed(st, seed, len);
	st->origin = st->migrate ? SEEDD_STATUS_ORIGIN_MIGRATED : SEEDD_STATUS_ORIGIN_FILE;
	return r == -ENOENT ? create_seed(st, seed, len) : r;
}

void store_status(const struct store *st, struct seedd_status_info *info)
{
	if (st->key)
		info->flags |= SEEDD_STATUS_ENCRYPTED;
	if (st->clone_suspected)
		info->flags |= SEEDD_STATUS_CLONE_SUSPECTED;
	info->flags |= st->origin & SEEDD_STATUS_ORIGIN_MASK;
	snprintf(info->seed_file, sizeof(info->seed_file), "%s", st->opts.path);
}

void store_close(struct store *st)
{
	seal_key_free(st->key);
	st->key = NULL;
	seedfile_close(&st->sf);
}
