// SPDX-License-Identifier: MIT
/* seedctl: health queries, fresh bytes and seed provisioning from the command line. */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

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
		"  provision PATH [--bytes 32|64] [--force]\n"
		"                                        write a new seed file from getrandom(2)\n"
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

#define COMMON_OPTS                                         \
	{ "socket", required_argument, NULL, 's' },         \
	{ "help", no_argument, NULL, 'h' },                 \
	{ "version", no_argument, NULL, 'V' }

static int query_status(struct seedd_status_info *info, int timeout_ms)
{
	uint8_t req[sizeof(struct seedd_hdr)], reply[SEEDD_PROTO_MAX_MSG];
	int64_t deadline = now_ms() + timeout_ms;
	struct proto_msg msg;
	_cleanup_close_ int fd = -1;
	ssize_t n;
	int r;

	fd = sock_connect(socket_path, deadline);
	if (fd < 0)
		return fd;
	n = sock_call(fd, req, proto_put_hdr(req, SEEDD_OP_STATUS, SEEDD_ST_OK, 0), reply,
		      sizeof(reply), deadline);
	if (n < 0)
		return (int)n;
	r = proto_parse_reply(reply, (size_t)n, SEEDD_OP_STATUS, &msg);
	if (r < 0)
		return r;
	if (msg.len != sizeof(*info))
		return -EPROTO;
	memcpy(info, msg.payload, sizeof(*info));
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

static void print_status_json(const struct seedd_status_info *i, int healthy)
{
	printf("{\"version\":");
	json_string(i->version);
	printf(",\"protocol\":%d,\"healthy\":%s,\"seeded\":%s,\"seed_file\":", SEEDD_PROTO_VERSION,
	       yes(healthy), yes(i->flags & SEEDD_STATUS_SEEDED));
	json_string(i->seed_file);
	printf(",\"seed_size\":%u,\"last_save_unix\":%lld,\"last_save_ok\":%s,\"last_save_error\":",
	       i->seed_size, (long long)i->last_save_unix, yes(i->flags & SEEDD_STATUS_LAST_SAVE_OK));
	json_string(i->last_save_error ? strerror(i->last_save_error) : "");
	printf(",\"saves\":%llu,\"save_failures\":%llu,\"uptime_s\":%llu,\"requests\":%llu,"
	       "\"bytes_served\":%llu,\"clients\":%u,\"encrypted\":%s,\"clone_suspected\":%s}\n",
	       (unsigned long long)i->saves, (unsigned long long)i->save_failures,
	       (unsigned long long)i->uptime_s, (unsigned long long)i->requests,
	       (unsigned long long)i->bytes_served, i->clients, yes(i->flags & SEEDD_STATUS_ENCRYPTED),
	       yes(i->flags & SEEDD_STATUS_CLONE_SUSPECTED));
}

static void print_status_human(const struct seedd_status_info *i, int healthy)
{
	time_t t = (time_t)i->last_save_unix;
	char when[64] = "never";
	struct tm tm;

	if (t && gmtime_r(&t, &tm))
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm);
	printf("seedd %s (protocol %d): %s\n", i->version, SEEDD_PROTO_VERSION,
	       healthy ? "healthy" : "DEGRADED");
	printf("  seed file:  %s (%u bytes%s)\n", i->seed_file, i->seed_size,
	       i->flags & SEEDD_STATUS_ENCRYPTED ? ", encrypted" : "");
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
	static const struct option opts[] = { COMMON_OPTS, { "json", no_argument, NULL, 'j' }, { 0 } };
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
		fprintf(stderr, "seedctl: cannot reach seedd at %s: %s\n", socket_path, strerror(-r));
		return EXIT_UNREACHABLE;
	}
	healthy = (info.flags & SEEDD_STATUS_SEEDED) && (info.flags & SEEDD_STATUS_LAST_SAVE_OK);
	if (json)
		print_status_json(&info, healthy);
	else
		print_status_human(&info, healthy);
	return healthy ? EXIT_OK : EXIT_FAIL;
}

static int cmd_get(int argc, char **argv)
{
	static const struct option opts[] = { COMMON_OPTS, { "bytes", required_argument, NULL, 'b' },
					      { "raw", no_argument, NULL, 'r' }, { 0 } };
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
		for (size_t i = 0; i < bytes; i++)
			printf("%02x", buf[i]);
		putchar('\n');
	}
	explicit_bzero(buf, bytes);
	if (fflush(stdout) != 0) {
		fprintf(stderr, "seedctl: cannot write to stdout: %s\n", strerror(errno));
		return EXIT_FAIL;
	}
	return rc;
}

static int cmd_provision(int argc, char **argv)
{
	static const struct option opts[] = { COMMON_OPTS, { "bytes", required_argument, NULL, 'b' },
					      { "force", no_argument, NULL, 'f' }, { 0 } };
	uint8_t seed[SEEDFILE_MAX];
	struct seedfile sf;
	uint64_t bytes = SEEDFILE_MAX;
	char why[512];
	const char *path;
	int force = 0, c, rc = EXIT_OK, r;
	pid_t holder;

	while ((c = next_opt(argc, argv, opts, &rc)) != -1) {
		if (c == -2)
			return rc;
		if (c == 'f')
			force = 1;
		else if (parse_u64(optarg, 32, 64, &bytes) < 0 || !seedfile_size_ok(bytes))
			return usage_error("provision: --bytes must be 32 or 64, not '%s'", optarg);
	}
	if (optind + 1 != argc)
		return usage_error("provision: expected one seed file PATH");
	path = argv[optind];

	if (seedfile_open(&sf, path, why, sizeof(why)) < 0) {
		fprintf(stderr, "seedctl: %s\n", why);
		return EXIT_FAIL;
	}
	r = seedfile_lock(&sf, &holder);
	if (r < 0) {
		if (r == -EWOULDBLOCK)
			fprintf(stderr, "seedctl: %s is in use by seedd (pid %ld); stop it first\n", path,
				(long)holder);
		else
			fprintf(stderr, "seedctl: cannot lock %s.lock: %s\n", path, strerror(-r));
		seedfile_close(&sf);
		return EXIT_FAIL;
	}
	if (getrandom(seed, bytes, 0) != (ssize_t)bytes) {
		fprintf(stderr, "seedctl: getrandom: %s\n", strerror(errno));
		rc = EXIT_FAIL;
	} else if (seedfile_check_bytes(seed, bytes, why, sizeof(why)) < 0) {
		fprintf(stderr, "seedctl: the platform RNG gave a bad seed: %s\n", why);
		rc = EXIT_FAIL;
	} else {
		r = seedfile_write_at(sf.dirfd, sf.base, seed, bytes, force ? 0 : SEEDFILE_NOREPLACE);
		if (r == -EEXIST)
			fprintf(stderr, "seedctl: %s exists; use --force to replace it\n", path);
		else if (r < 0)
			fprintf(stderr, "seedctl: cannot write %s: %s\n", path, strerror(-r));
		else
			printf("wrote a new %u-byte seed to %s\n", (unsigned)bytes, path);
		rc = r < 0 ? EXIT_FAIL : EXIT_OK;
	}
	explicit_bzero(seed, sizeof(seed));
	seedfile_close(&sf);
	return rc;
}

static int cmd_wait(int argc, char **argv)
{
	static const struct option opts[] = { COMMON_OPTS, { "timeout", required_argument, NULL, 't' },
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
		{ "status", cmd_status },
		{ "get", cmd_get },
		{ "provision", cmd_provision },
		{ "wait", cmd_wait },
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
