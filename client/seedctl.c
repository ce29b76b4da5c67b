// SPDX-License-Identifier: MIT
/* seedctl: health queries, fresh bytes and seed provisioning from the command line. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "config.h"
#include "ids.h"
#include "seal.h"
#include "seedclient.h"
#include "seedd-protocol.h"
#include "seedfile.h"
#include "util.h"

enum {
	EXIT_OK = 0,
	EXIT_FAIL = 1, /* error, or the daemon is degraded */
	EXIT_USAGE = 2,
	EXIT_UNREACHABLE = 3,
};

#define GET_MAX 65536
#define PROVISION_MAX 100000
#define BATCH_NAME "seedfile-%06u" /* fits PROVISION_MAX */
#define WAIT_POLL_MS 100

static const char *socket_path;
/* "+": global options stop at the command; a command takes options anywhere. */
static const char *optstring = "+s:hV";

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: seedctl [--socket PATH] COMMAND [OPTION]...\n"
		"Queries and feeds the seedd daemon.\n"
		"\n"
		"Commands:\n"
		"  status [--json]                       health of the daemon (exit 0 healthy,\n"
		"                                        1 degraded, 3 unreachable)\n"
		"  get [--bytes N] [--raw]               N fresh bytes (default 32), hex or raw\n"
		"  provision PATH [--bytes 32|64] [--force] [--stdin] [--key-file KEY]\n"
		"                                        write a new seed file from getrandom(2),\n"
		"                                        or from 32 or 64 bytes on stdin;\n"
		"                                        encrypted with KEY if given\n"
		"  provision --count N --out-dir DIR [--bytes 32|64] [--force] [--key-file KEY]\n"
		"                                        write N distinct seed files DIR/seedfile-NNNNNN\n"
		"  check PATH [--key-file KEY] [--owner UID]\n"
		"                                        validate a seed file offline (exit 0 ok,\n"
		"                                        1 refused); with KEY, it must be encrypted\n"
		"                                        with KEY\n"
		"  wait [--timeout SEC]                  wait until the daemon answers (default 30)\n"
		"\n"
		"Options:\n"
		"  -s, --socket PATH   daemon socket (default $SEEDD_SOCKET, else %s)\n"
		"  -h, --help          show this help and exit\n"
		"  -V, --version       show the version and exit\n",
		SEEDD_DEFAULT_SOCKET);
}

__attribute__((format(printf, 1, 2))) static int usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "seedctl: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'seedctl --help'.\n");
	return EXIT_USAGE;
}

/*
 * Parses the options of a command: the global ones, plus "bytes", "raw",
 * "force", "json" and "timeout" where the command's option table has them.
 * Returns the option character, -1 at the end, or -2 after printing help or
 * an error.
 */
static int next_opt(int argc, char **argv, const struct option *cmd_opts, int *exit_code)
{
	int c = getopt_long(argc, argv, optstring, cmd_opts, NULL);

	switch (c) {
	case 's':
		socket_path = optarg;
		return next_opt(argc, argv, cmd_opts, exit_code);
	case 'h':
		usage(stdout);
		*exit_code = EXIT_OK;
		return -2;
	case 'V':
		printf("seedctl %s\n", SEEDD_VERSION);
		*exit_code = EXIT_OK;
		return -2;
	case '?':
		fprintf(stderr, "Try 'seedctl --help'.\n");
		*exit_code = EXIT_USAGE;
		return -2;
	default:
		return c;
	}
}

#define COMMON_OPTS                                                                                \
	{ "socket", required_argument, NULL, 's' }, { "help", no_argument, NULL, 'h' },            \
	{                                                                                          \
		"version", no_argument, NULL, 'V'                                                  \
	}

static int query_status(struct seedd_status_info *info, int timeout_ms)
{
	int r =
	    client_request(socket_path, SEEDD_OP_STATUS, NULL, 0, info, sizeof(*info), timeout_ms);

	if (r < 0)
		return r;
	info->version[sizeof(info->version) - 1] = '\0';
	info->seed_file[sizeof(info->seed_file) - 1] = '\0';
	return 0;
}

static void json_string(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

static const char *yes(int b)
{
	return b ? "true" : "false";
}

/* How the daemon loaded its seed: a JSON value, or words for people. */
static const char *seed_origin(uint32_t flags, int human)
{
	switch (flags & SEEDD_STATUS_ORIGIN_MASK) {
	case SEEDD_STATUS_ORIGIN_FILE:
		if (flags & SEEDD_STATUS_ENCRYPTED)
			return human ? "read from the encrypted seed file" : "encrypted";
		return human ? "read from the raw seed file" : "raw";
	case SEEDD_STATUS_ORIGIN_MIGRATED:
		return human ? "read from a raw seed file, now encrypted (--migrate-raw)"
			     : "migrated";
	case SEEDD_STATUS_ORIGIN_CREATED:
		return human ? "created from getrandom(2): there was no seed file" : "created";
	default:
		return "unknown";
	}
}

/* A "key":value pair after the first; null when the daemon withheld the value. */
__attribute__((format(printf, 3, 4))) static void json_field(const char *key, int withheld,
							     const char *fmt, ...)
{
	va_list ap;

	printf(",\"%s\":", key);
	if (withheld) {
		fputs("null", stdout);
		return;
	}
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
}

static void json_string_field(const char *key, int withheld, const char *s)
{
	printf(",\"%s\":", key);
	if (withheld)
		fputs("null", stdout);
	else
		json_string(s);
}

/* A limited reply keeps every key: the withheld values are null. */
static void print_status_json(const struct seedd_status_info *i, int healthy)
{
	int lim = !!(i->flags & SEEDD_STATUS_LIMITED);

	printf("{\"version\":");
	json_string(i->version);
	printf(",\"protocol\":%d,\"healthy\":%s,\"seeded\":%s", SEEDD_PROTO_VERSION, yes(healthy),
	       yes(i->flags & SEEDD_STATUS_SEEDED));
	json_string_field("seed_file", lim, i->seed_file);
	json_field("seed_size", lim, "%u", i->seed_size);
	json_field("last_save_unix", lim, "%lld", (long long)i->last_save_unix);
	printf(",\"last_save_ok\":%s", yes(i->flags & SEEDD_STATUS_LAST_SAVE_OK));
	json_string_field("last_save_error", lim,
			  i->last_save_error ? strerror(i->last_save_error) : "");
	json_field("saves", lim, "%llu", (unsigned long long)i->saves);
	json_field("save_failures", lim, "%llu", (unsigned long long)i->save_failures);
	json_field("uptime_s", lim, "%llu", (unsigned long long)i->uptime_s);
	json_field("requests", lim, "%llu", (unsigned long long)i->requests);
	json_field("bytes_served", lim, "%llu", (unsigned long long)i->bytes_served);
	json_field("clients", lim, "%u", i->clients);
	json_field("encrypted", lim, "%s", yes(i->flags & SEEDD_STATUS_ENCRYPTED));
	json_field("clone_suspected", lim, "%s", yes(i->flags & SEEDD_STATUS_CLONE_SUSPECTED));
	json_field("seed_origin", lim, "\"%s\"", seed_origin(i->flags, 0));
	printf(",\"limited\":%s}\n", yes(lim));
}

static void print_status_human(const struct seedd_status_info *i, int healthy)
{
	time_t t = (time_t)i->last_save_unix;
	char when[64] = "never";
	struct tm tm;

	printf("seedd %s (protocol %d): %s\n", i->version, SEEDD_PROTO_VERSION,
	       healthy ? "healthy" : "DEGRADED");
	if (i->flags & SEEDD_STATUS_LIMITED) {
		printf("  last save:  %s\n",
		       i->flags & SEEDD_STATUS_LAST_SAVE_OK ? "ok" : "FAILED");
		printf(
		    "  details:    withheld; root, seedd's user and its allowed users see them\n");
		return;
	}
	/* A 32-bit time_t (Debian 12 armhf) ends in 2038: print what it cannot hold. */
	if ((int64_t)t != i->last_save_unix)
		snprintf(when, sizeof(when), "%lld (Unix time)", (long long)i->last_save_unix);
	else if (t && gmtime_r(&t, &tm))
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm);
	printf("  seed file:  %s (%u bytes%s)\n", i->seed_file, i->seed_size,
	       i->flags & SEEDD_STATUS_ENCRYPTED ? ", encrypted" : "");
	printf("  seed:       %s\n", seed_origin(i->flags, 1));
	if (i->flags & SEEDD_STATUS_LAST_SAVE_OK)
		printf("  last save:  %s, ok\n", when);
	else
		printf("  last save:  %s, FAILED: %s\n", when, strerror(i->last_save_error));
	printf("  saves:      %llu (%llu failed)\n", (unsigned long long)i->saves,
	       (unsigned long long)i->save_failures);
	printf("  uptime:     %llus\n", (unsigned long long)i->uptime_s);
	printf("  requests:   %llu (%llu bytes served)\n", (unsigned long long)i->requests,
	       (unsigned long long)i->bytes_served);
	printf("  clients:    %u\n", i->clients);
	if (i->flags & SEEDD_STATUS_CLONE_SUSPECTED)
		printf("  warning:    the seed file was last updated on another machine\n");
}

static int cmd_status(int argc, char **argv)
{
	static const struct option opts[] = { COMMON_OPTS,
					      { "json", no_argument, NULL, 'j' },
					      { 0 } };
	struct seedd_status_info info;
	int json = 0, c, rc = EXIT_OK, r, healthy;

	while ((c = next_opt(argc, argv, opts, &rc)) != -1) {
		if (c == -2)
			return rc;
		json = 1;
	}
	if (optind < argc)
		return usage_error("status: unexpected argument '%s'", argv[optind]);
	r = query_status(&info, seedd_timeout_ms());
	if (r < 0) {
		fprintf(stderr, "seedctl: cannot reach seedd at %s: %s\n", socket_path,
			strerror(-r));
		return EXIT_UNREACHABLE;
	}
	healthy = (info.flags & SEEDD_STATUS_SEEDED) && (info.flags & SEEDD_STATUS_LAST_SAVE_OK);
	if (json)
		print_status_json(&info, healthy);
	else
		print_status_human(&info, healthy);
	return healthy ? EXIT_OK : EXIT_FAIL;
}

static void print_hex(const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		printf("%02x", b[i]);
}

static int cmd_get(int argc, char **argv)
{
	static const struct option opts[] = { COMMON_OPTS,
					      { "bytes", required_argument, NULL, 'b' },
					      { "raw", no_argument, NULL, 'r' },
					      { 0 } };
	static unsigned char buf[GET_MAX];
	uint64_t bytes = 32;
	int raw = 0, c, rc = EXIT_OK, r;

	while ((c = next_opt(argc, argv, opts, &rc)) != -1) {
		if (c == -2)
			return rc;
		if (c == 'r')
			raw = 1;
		else if (parse_u64(optarg, 1, GET_MAX, &bytes) < 0)
			return usage_error("get: --bytes '%s' is not a number in 1..65536", optarg);
	}
	if (optind < argc)
		return usage_error("get: unexpected argument '%s'", argv[optind]);
	r = seedclient_read(socket_path, buf, bytes);
	if (r < 0) {
		fprintf(stderr, "seedctl: cannot get bytes from seedd at %s: %s\n", socket_path,
			strerror(-r));
		return r == -ECONNREFUSED || r == -ENOENT || r == -ETIMEDOUT ? EXIT_UNREACHABLE
									     : EXIT_FAIL;
	}
	if (raw) {
		rc = fwrite(buf, 1, bytes, stdout) == bytes ? EXIT_OK : EXIT_FAIL;
	} else {
		print_hex(buf, bytes);
		putchar('\n');
	}
	explicit_bzero(buf, bytes);
	if (fflush(stdout) != 0) {
		fprintf(stderr, "seedctl: cannot write to stdout: %s\n", strerror(errno));
		return EXIT_FAIL;
	}
	return rc;
}

/*
 * Who may own the directories seedctl writes to or checks, and their lock
 * files: whoever runs it, root, the daemon's user (a file provisioned for
 * it), and extra (check --owner).
 */
static void owners_add(struct seedfile_owners *o, uid_t uid)
{
	for (size_t i = 0; i < o->n; i++)
		if (o->uid[i] == uid)
			return;
	o->uid[o->n++] = uid;
}

static void owners_init(struct seedfile_owners *o, uid_t extra)
{
	uid_t daemon;

	*o = (struct seedfile_owners){ .n = 0 };
	owners_add(o, extra);
	owners_add(o, geteuid());
	owners_add(o, 0);
	if (ids_uid(SEEDD_DAEMON_USER, &daemon) == 0)
		owners_add(o, daemon);
}

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

	owners_init(&owners, geteuid());
	if (seedfile_open(&sf, path, why, sizeof(why)) < 0) {
		fprintf(stderr, "seedctl: %s\n", why);
		return EXIT_FAIL;
	}
	if (seedfile_trust_dir(sf.dirfd, sf.dir, &owners, why, sizeof(why)) < 0) {
		fprintf(stderr, "seedctl: refusing to write %s: %s\n", path, why);
		seedfile_close(&sf);
		return EXIT_FAIL;
	}
	r = seedfile_lock(&sf, &owners, &holder, why, sizeof(why));
	if (r < 0) {
		if (r == -EWOULDBLOCK)
			fprintf(stderr, "seedctl: %s is in use by seedd (pid %ld); stop it first\n",
				path, (long)holder);
		else
			fprintf(stderr, "seedctl: %s\n", why);
		seedfile_close(&sf);
		return EXIT_FAIL;
	}
	r = seal_maybe(key, seed, bytes, out, &len);
	if (r == 0)
		r = seedfile_write_at(sf.dirfd, sf.base, out, len, force ? 0 : SEEDFILE_NOREPLACE);
	explicit_bzero(out, sizeof(out));
	if (r == -EEXIST)
		fprintf(stderr, "seedctl: %s exists; use --force to replace it\n", path);
	else if (r < 0)
		fprintf(stderr, "seedctl: cannot write %s: %s\n", path, strerror(-r));
	seedfile_close(&sf);
	return r < 0 ? EXIT_FAIL : EXIT_OK;
}

static int random_seed(uint8_t *seed, size_t bytes)
{
	char why[512];

	if (seedfile_generate(seed, bytes, why, sizeof(why)) < 0) {
		fprintf(stderr, "seedctl: %s\n", why);
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
		fprintf(stderr, "seedctl: refusing to read a seed from a terminal; pipe it in\n");
		return -1;
	}
	while (len < sizeof(buf)) {
		n = read(STDIN_FILENO, buf + len, sizeof(buf) - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			fprintf(stderr, "seedctl: cannot read stdin: %s\n", strerror(errno));
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
		fprintf(stderr, "seedctl: refusing the seed on stdin: %s\n", why);
		explicit_bzero(buf, sizeof(buf));
		return -1;
	}
	memcpy(seed, buf, len);
	*bytes = len;
	explicit_bzero(buf, sizeof(buf));
	return 0;
}

static size_t cmp_len;

static int cmp_seed(const void *a, const void *b)
{
	return memcmp(a, b, cmp_len);
}

/* Opens DIR for a batch, creating it (0700) when missing; its parent must exist. */
static int open_out_dir(const char *dir, int *created)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	*created = 0;
	if (fd < 0 && errno == ENOENT) {
		if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
			fprintf(stderr, "seedctl: cannot create directory %s: %s\n", dir,
				strerror(errno));
			return -1;
		}
		*created = 1;
		/* Whatever is there by now is checked by seedfile_trust_dir(). */
		fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	}
	if (fd < 0)
		fprintf(stderr, "seedctl: cannot open directory %s: %s\n", dir, strerror(errno));
	return fd;
}

/* N per-device seedfiles for an image pipeline: all checked distinct before any is written. */
static int provision_batch(const char *dir, uint64_t count, size_t bytes, int force,
			   const struct seal_key *key)
{
	char name[64], why[1024];
	_cleanup_close_ int dirfd = -1;
	struct seedfile_owners owners;
	uint8_t *seeds, out[SEAL_MAX];
	size_t size = (size_t)count * bytes, len;
	int rc = EXIT_FAIL, r, created;
	uint64_t i, written = 0;
	struct stat st;

	dirfd = open_out_dir(dir, &created);
	if (dirfd < 0)
		return EXIT_FAIL;
	owners_init(&owners, geteuid());
	if (seedfile_trust_dir(dirfd, dir, &owners, why, sizeof(why)) < 0) {
		fprintf(stderr, "seedctl: refusing to write to %s: %s\n", dir, why);
		/* Only an empty directory goes: at worst one that was swapped in. */
		if (created)
			rmdir(dir);
		return EXIT_FAIL;
	}
	for (i = 1; i <= count && !force; i++) {
		snprintf(name, sizeof(name), BATCH_NAME, (unsigned)i);
		if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
			fprintf(stderr, "seedctl: %s/%s exists; use --force to replace it\n", dir,
				name);
			return EXIT_FAIL;
		}
	}
	seeds = malloc(size);
	if (!seeds) {
		fprintf(stderr, "seedctl: out of memory\n");
		return EXIT_FAIL;
	}
	for (i = 0; i < count; i++)
		if (random_seed(seeds + i * bytes, bytes) < 0)
			goto out;
	/* Equal seeds mean a broken RNG (odds 2^-256 otherwise): write none of them. */
	cmp_len = bytes;
	qsort(seeds, (size_t)count, bytes, cmp_seed);
	for (i = 1; i < count; i++) {
		if (memcmp(seeds + (i - 1) * bytes, seeds + i * bytes, bytes) == 0) {
			fprintf(stderr,
				"seedctl: the platform RNG gave two equal seeds; wrote nothing\n");
			goto out;
		}
	}
	for (i = 0; i < count; i++) {
		snprintf(name, sizeof(name), BATCH_NAME, (unsigned)i + 1);
		r = seal_maybe(key, seeds + i * bytes, bytes, out, &len);
		if (r == 0)
			r = seedfile_write_at(dirfd, name, out, len,
					      force ? 0 : SEEDFILE_NOREPLACE);
		if (r < 0) {
			fprintf(stderr, "seedctl: cannot write %s/%s: %s (%llu of %llu written)\n",
				dir, name, strerror(-r), (unsigned long long)written,
				(unsigned long long)count);
			goto out;
		}
		written++;
	}
	printf("wrote %llu distinct %zu-byte seed files%s to %s (" BATCH_NAME " .. " BATCH_NAME
	       ")\n",
	       (unsigned long long)count, bytes, key ? ", encrypted," : "", dir, 1u,
	       (unsigned)count);
	rc = EXIT_OK;
out:
	explicit_bzero(out, sizeof(out));
	explicit_bzero(seeds, size);
	free(seeds);
	return rc;
}

/* The key for check and provision: as seedd reads it, a credential owned by root included. */
static struct seal_key *read_key(const char *key_file)
{
	struct seal_key *key;
	char why[512];

	key = seal_key_read(key_file, geteuid(), SEEDFILE_ROOT_OK, why, sizeof(why));
	if (!key)
		fprintf(stderr, "seedctl: refusing key file %s: %s\n", key_file, why);
	return key;
}

static int cmd_provision(int argc, char **argv)
{
	static const struct option opts[] = { COMMON_OPTS,
					      { "bytes", required_argument, NULL, 'b' },
					      { "force", no_argument, NULL, 'f' },
					      { "stdin", no_argument, NULL, 'i' },
					      { "count", required_argument, NULL, 'n' },
					      { "out-dir", required_argument, NULL, 'o' },
					      { "key-file", required_argument, NULL, 'k' },
					      { 0 } };
	uint8_t seed[SEEDFILE_MAX];
	uint64_t bytes = 0, count = 0;
	const char *path, *out_dir = NULL, *key_file = NULL;
	struct seal_key *key = NULL;
	int force = 0, from_stdin = 0, c, rc = EXIT_OK, r;
	size_t len = SEEDFILE_MAX;

	while ((c = next_opt(argc, argv, opts, &rc)) != -1) {
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
		else if (c == 'n' && parse_u64(optarg, 1, PROVISION_MAX, &count) < 0)
			return usage_error("provision: --count '%s' is not a number in 1..%d",
					   optarg, PROVISION_MAX);
		else if (c == 'b' &&
			 (parse_u64(optarg, 32, 64, &bytes) < 0 || !seedfile_size_ok(bytes)))
			return usage_error("provision: --bytes must be 32 or 64, not '%s'", optarg);
	}
	if (!count != !out_dir)
		return usage_error("provision: --count and --out-dir go together");
	if (count && from_stdin)
		return usage_error("provision: --stdin gives one seed, not --count");
	if (count && optind != argc)
		return usage_error("provision: --out-dir replaces PATH");
	if (!count && optind + 1 != argc)
		return usage_error("provision: expected one seed file PATH");
	if (key_file) {
		key = read_key(key_file);
		if (!key)
			return EXIT_FAIL;
	}
	if (count) {
		rc = provision_batch(out_dir, count, bytes ? bytes : SEEDFILE_MAX, force, key);
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

/* Offline validation for image CI: exit 0 ok, 1 refused, 2 usage. */
static int cmd_check(int argc, char **argv)
{
	static const struct option opts[] = { COMMON_OPTS,
					      { "key-file", required_argument, NULL, 'k' },
					      { "owner", required_argument, NULL, 'u' },
					      { 0 } };
	uint8_t buf[SEAL_MAX], seed[SEEDFILE_MAX], machine[SEAL_HASH_SIZE];
	struct seedfile_owners owners;
	struct seal_key *key = NULL;
	struct seal_info info;
	struct seedfile sf;
	const char *path, *key_file = NULL;
	uid_t owner = geteuid();
	char why[1024];
	size_t n = 0, seed_len;
	int c, rc = EXIT_OK, r;

	while ((c = next_opt(argc, argv, opts, &rc)) != -1) {
		if (c == -2)
			return rc;
		if (c == 'k')
			key_file = optarg;
		else if (ids_uid(optarg, &owner) < 0)
			return usage_error("check: --owner '%s' is not a user name or uid", optarg);
	}
	if (optind + 1 != argc)
		return usage_error("check: expected one seed file PATH");
	path = argv[optind];

	if (seedfile_open(&sf, path, why, sizeof(why)) < 0) {
		fprintf(stderr, "seedctl: %s: refused: %s\n", path, why);
		return EXIT_FAIL;
	}
	/* The directory may belong to the seed file's owner, as seedd's own does. */
	owners_init(&owners, owner);
	r = seedfile_trust_dir(sf.dirfd, sf.dir, &owners, why, sizeof(why));
	if (r == 0)
		r = seedfile_read_at(sf.dirfd, sf.base, owner, SEEDFILE_ONE_LINK, buf, sizeof(buf),
				     &n, why, sizeof(why));
	if (r == 0) {
		r = seedfile_machine_read(&sf, owner, machine, why, sizeof(why));
		r = r == -ENOENT || r == -EINVAL ? 0 : r;
	}
	seedfile_close(&sf);
	if (r == 0)
		r = seal_parse(buf, n, &info, why, sizeof(why));
	if (r == 0 && key_file) {
		key = read_key(key_file);
		if (!key) {
			explicit_bzero(buf, sizeof(buf));
			return EXIT_FAIL;
		}
		if (info.encrypted) {
			r = seal_open(key, buf, n, seed, &seed_len, machine, why, sizeof(why));
		} else {
			snprintf(why, sizeof(why),
				 "is not encrypted, and seedd with a key refuses a raw seed file (unless started once with --migrate-raw); provision it with --key-file");
			r = -EINVAL;
		}
		explicit_bzero(seed, sizeof(seed));
		seal_key_free(key);
	}
	explicit_bzero(buf, sizeof(buf));
	if (r < 0) {
		fprintf(stderr, "seedctl: %s: refused: %s\n", path, why);
		return EXIT_FAIL;
	}
	if (!info.encrypted) {
		printf("%s: ok: raw %zu-byte seed, not encrypted\n", path, info.seed_len);
		return EXIT_OK;
	}
	printf("%s: ok: encrypted, format 1, AES-256-GCM, %zu-byte seed, key id ", path,
	       info.seed_len);
	print_hex(info.key_id, sizeof(info.key_id));
	printf(key_file ? ", verified with %s\n" : ", not verified (no --key-file)\n", key_file);
	return EXIT_OK;
}

static int cmd_wait(int argc, char **argv)
{
	static const struct option opts[] = { COMMON_OPTS,
					      { "timeout", required_argument, NULL, 't' },
					      { 0 } };
	struct seedd_status_info info;
	uint64_t timeout = 30;
	int64_t deadline;
	int c, rc = EXIT_OK, r;

	while ((c = next_opt(argc, argv, opts, &rc)) != -1) {
		if (c == -2)
			return rc;
		if (parse_u64(optarg, 0, 86400, &timeout) < 0)
			return usage_error("wait: --timeout '%s' is not a number of seconds in 0..86400",
					   optarg);
	}
	if (optind < argc)
		return usage_error("wait: unexpected argument '%s'", argv[optind]);
	deadline = now_ms() + (int64_t)timeout * 1000;
	for (;;) {
		int left = ms_left(deadline);

		r = query_status(&info, left > 0 ? left : 1);
		if (r == 0)
			return EXIT_OK;
		if (ms_left(deadline) == 0)
			break;
		struct timespec ts = { .tv_nsec = WAIT_POLL_MS * 1000000L };

		nanosleep(&ts, NULL);
	}
	fprintf(stderr, "seedctl: seedd at %s did not answer within %llus: %s\n", socket_path,
		(unsigned long long)timeout, strerror(-r));
	return EXIT_UNREACHABLE;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = { COMMON_OPTS, { 0 } };
	static const struct {
		const char *name;
		int (*fn)(int, char **);
	} cmds[] = {
		{ "status", cmd_status }, { "get", cmd_get },	{ "provision", cmd_provision },
		{ "check", cmd_check },	  { "wait", cmd_wait },
	};
	int c, rc = EXIT_OK;

	socket_path = seedd_socket_path();
	while ((c = next_opt(argc, argv, opts, &rc)) != -1)
		if (c == -2)
			return rc;
	if (optind >= argc)
		return usage_error("no command given");
	for (size_t i = 0; i < ARRAY_SIZE(cmds); i++) {
		if (strcmp(argv[optind], cmds[i].name) == 0) {
			argc -= optind;
			argv += optind;
			optind = 0;
			optstring = "s:hV";
			return cmds[i].fn(argc, argv);
		}
	}
	return usage_error("unknown command '%s'", argv[optind]);
}
