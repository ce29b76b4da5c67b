// SPDX-License-Identifier: MIT
/* seedctl status, wait and get: the commands that ask the daemon. */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "seedclient.h"
#include "seedctl.h"
#include "seedd-protocol.h"
#include "util.h"

#define GET_MAX 65536
#define WAIT_POLL_MS 100

/* The USERS table as read: every page of it; ok once all were. */
struct users {
	struct seedd_user_stat *e;
	size_t n;
	int ok;
};

/* The most entries seedctl reads: more users than any host has. */
#define USERS_MAX 100000

/* Every page of the USERS table on fd. 0, or -errno. */
static int query_users(int fd, struct users *u, int64_t deadline)
{
	struct seedd_users_req req = { .from_uid = 0 };
	struct seedd_users_info page;
	size_t len;
	int r;

	do {
		struct seedd_user_stat *e;

		r = client_call_upto(fd, SEEDD_OP_USERS, &req, sizeof(req), &page,
				     SEEDD_USERS_SIZE(0), sizeof(page), &len, deadline);
		if (r < 0)
			return r;
		if (page.n > SEEDD_USERS_MAX || len != SEEDD_USERS_SIZE(page.n) ||
		    u->n + page.n > USERS_MAX)
			return -EPROTO;
		if (!page.n)
			break;
		e = realloc(u->e, (u->n + page.n) * sizeof(*e));
		if (!e)
			return -ENOMEM;
		u->e = e;
		memcpy(u->e + u->n, page.user, page.n * sizeof(*e));
		u->n += page.n;
		/* Pages go up in uid order; a daemon that does not is not followed. */
		if (page.user[page.n - 1].uid == UINT32_MAX ||
		    page.user[page.n - 1].uid < req.from_uid)
			break;
		req.from_uid = page.user[page.n - 1].uid + 1;
	} while (page.more);
	u->ok = 1;
	return 0;
}

/*
 * The daemon's status on one connection, and when users is given and the
 * daemon shows us its details, its USERS table (users->ok says whether it
 * could be read). *len is the status payload's length:
 * SEEDD_STATUS_INFO_V1_SIZE from a daemon without the connection counters,
 * whose fields are then zero.
 */
static int query_status(const char *socket, struct seedd_status_info *info, size_t *len,
			struct users *users, int timeout_ms)
{
	int64_t deadline = now_ms() + timeout_ms;
	int r, fd = client_connect(socket, timeout_ms, deadline);

	if (fd < 0)
		return fd;
	memset(info, 0, sizeof(*info));
	r = client_call_upto(fd, SEEDD_OP_STATUS, NULL, 0, info, SEEDD_STATUS_INFO_V1_SIZE,
			     sizeof(*info), len, deadline);
	/* The status is the answer; without the table it still is. */
	if (r == 0 && users && *len == sizeof(*info) && !(info->flags & SEEDD_STATUS_LIMITED) &&
	    query_users(fd, users, deadline) < 0)
		users->n = 0;
	close(fd);
	if (r < 0)
		return r;
	info->version[sizeof(info->version) - 1] = '\0';
	info->seed_file[sizeof(info->seed_file) - 1] = '\0';
	return 0;
}

/*
 * The bytes at s that make one character of UTF-8 (RFC 3629: no overlong
 * forms, no surrogates, nothing past U+10FFFF), *ok set; or, when they are
 * not well-formed, the bytes that stand for one U+FFFD (the longest start of
 * a valid sequence, at least one byte, as Unicode recommends), *ok clear.
 */
static size_t utf8_char(const unsigned char *s, bool *ok)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t n;

	*ok = s[0] < 0x80;
	if (*ok)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4;
	else
		return 1;
	/* The second byte's range rules out the overlong, surrogate and too-large forms. */
	if (s[0] == 0xe0)
		lo = 0xa0;
	else if (s[0] == 0xed)
		hi = 0x9f;
	else if (s[0] == 0xf0)
		lo = 0x90;
	else if (s[0] == 0xf4)
		hi = 0x8f;
	/* A NUL is out of range: nothing is read past the end. */
	for (size_t i = 1; i < n; i++, lo = 0x80, hi = 0xbf)
		if (s[i] < lo || s[i] > hi)
			return i;
	*ok = true;
	return n;
}

/*
 * A JSON string: valid JSON whatever the bytes (a path is any bytes but NUL).
 * What is not well-formed UTF-8 becomes U+FFFD, as JSON text must be
 * Unicode; quotes, backslashes and controls are escaped.
 */
static void json_string(const char *str)
{
	const unsigned char *s = (const unsigned char *)str;

	putchar('"');
	while (*s) {
		bool ok;
		size_t n = utf8_char(s, &ok);

		if (!ok)
			fputs("\\ufffd", stdout);
		else if (*s == '"' || *s == '\\')
			printf("\\%c", *s);
		else if (*s < 0x20 || *s == 0x7f)
			printf("\\u%04x", *s);
		else
			fwrite(s, 1, n, stdout);
		s += n;
	}
	putchar('"');
}

/* A string for people: what is not printable UTF-8 (a newline, an escape, a stray byte) as \xNN. */
static void print_safe(const char *str)
{
	const unsigned char *s = (const unsigned char *)str;

	while (*s) {
		bool ok;
		size_t n = utf8_char(s, &ok);

		if (ok && *s >= 0x20 && *s != 0x7f)
			fwrite(s, 1, n, stdout);
		else
			for (size_t i = 0; i < n; i++)
				printf("\\x%02x", s[i]);
		s += n;
	}
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

/* The connection counters: null when withheld, or when the daemon predates them. */
static void print_counters_json(const struct seedd_status_info *i, int none, const struct users *u)
{
	json_field("pid", none, "%u", i->pid);
	json_field("refused", none, "%llu", (unsigned long long)i->refused);
	json_field("evicted", none, "%llu", (unsigned long long)i->evicted);
	json_field("idle_closed", none, "%llu", (unsigned long long)i->idle_closed);
	fputs(",\"users\":", stdout);
	if (none || !u->ok) {
		fputs("null", stdout);
		return;
	}
	putchar('[');
	for (size_t k = 0; k < u->n; k++)
		printf("%s{\"uid\":%u,\"clients\":%u,\"refused\":%llu,\"evicted\":%llu}",
		       k ? "," : "", u->e[k].uid, u->e[k].clients,
		       (unsigned long long)u->e[k].refused, (unsigned long long)u->e[k].evicted);
	putchar(']');
}

/* A limited reply keeps every key: the withheld values are null. */
static void print_status_json(const struct seedd_status_info *i, size_t len, const struct users *u,
			      const char *socket, int healthy)
{
	int lim = !!(i->flags & SEEDD_STATUS_LIMITED), err = i->last_save_error;

	printf("{\"version\":");
	json_string(i->version);
	printf(",\"protocol\":%d,\"socket\":", SEEDD_PROTO_VERSION);
	json_string(socket);
	printf(",\"healthy\":%s,\"seeded\":%s", yes(healthy), yes(i->flags & SEEDD_STATUS_SEEDED));
	json_string_field("seed_file", lim, i->seed_file);
	json_field("seed_size", lim, "%u", i->seed_size);
	json_field("last_save_unix", lim, "%lld", (long long)i->last_save_unix);
	printf(",\"last_save_ok\":%s", yes(i->flags & SEEDD_STATUS_LAST_SAVE_OK));
	json_string_field("last_save_error", lim, err ? strerror(err) : "");
	json_string_field("last_save_errno", lim, err ? cli_errno_name(err) : "");
	json_field("saves", lim, "%llu", (unsigned long long)i->saves);
	json_field("save_failures", lim, "%llu", (unsigned long long)i->save_failures);
	json_field("uptime_s", lim, "%llu", (unsigned long long)i->uptime_s);
	json_field("requests", lim, "%llu", (unsigned long long)i->requests);
	json_field("bytes_served", lim, "%llu", (unsigned long long)i->bytes_served);
	json_field("clients", lim, "%u", i->clients);
	json_field("encrypted", lim, "%s", yes(i->flags & SEEDD_STATUS_ENCRYPTED));
	json_field("clone_suspected", lim, "%s", yes(i->flags & SEEDD_STATUS_CLONE_SUSPECTED));
	json_field("seed_origin", lim, "\"%s\"", seed_origin(i->flags, 0));
	print_counters_json(i, lim || len < sizeof(*i), u);
	printf(",\"limited\":%s}\n", yes(lim));
}

/* Without an answer there is still one object: where we asked, and why it failed. */
static void print_error_json(const char *socket, int err, const char *why)
{
	fputs("{\"socket\":", stdout);
	json_string(socket);
	fputs(",\"healthy\":false,\"error\":", stdout);
	json_string(why);
	fputs(",\"errno\":", stdout);
	json_string(cli_errno_name(-err));
	fputs("}\n", stdout);
}

/* "1d 2h 3min 4s": the units that are not zero. */
static void print_duration(uint64_t s)
{
	static const struct {
		uint64_t secs;
		const char *unit;
	} units[] = { { 86400, "d" }, { 3600, "h" }, { 60, "min" }, { 1, "s" } };
	const char *sep = "";

	if (s == 0) {
		fputs("0s", stdout);
		return;
	}
	for (size_t i = 0; i < ARRAY_SIZE(units); i++) {
		if (s / units[i].secs == 0)
			continue;
		printf("%s%llu%s", sep, (unsigned long long)(s / units[i].secs), units[i].unit);
		s %= units[i].secs;
		sep = " ";
	}
}

/* The connection counters, and the users whose connections were refused or closed. */
static void print_counters_human(const struct seedd_status_info *i, const struct users *u)
{
	printf("  pid:        %u\n", i->pid);
	printf("  clients:    %u (since the start %llu refused, %llu closed for newcomers, %llu closed idle)\n",
	       i->clients, (unsigned long long)i->refused, (unsigned long long)i->evicted,
	       (unsigned long long)i->idle_closed);
	for (size_t k = 0; k < u->n; k++) {
		const struct seedd_user_stat *e = &u->e[k];
		char who[32];

		if (!e->refused && !e->evicted)
			continue;
		if (e->uid == SEEDD_USERS_OTHERS)
			snprintf(who, sizeof(who), "others:");
		else
			snprintf(who, sizeof(who), "uid %u:", e->uid);
		printf("  %-11s %llu refused, %llu closed for newcomers, %u connected\n", who,
		       (unsigned long long)e->refused, (unsigned long long)e->evicted, e->clients);
	}
}

static void print_status_human(const struct seedd_status_info *i, size_t len, const struct users *u,
			       const char *socket, int healthy)
{
	time_t t = (time_t)i->last_save_unix;
	char when[64] = "never";
	struct tm tm;

	fputs("seedd ", stdout);
	print_safe(i->version);
	printf(" (protocol %d): %s\n", SEEDD_PROTO_VERSION, healthy ? "healthy" : "DEGRADED");
	fputs("  socket:     ", stdout);
	print_safe(socket);
	putchar('\n');
	if (i->flags & SEEDD_STATUS_LIMITED) {
		printf("  last save:  %s\n",
		       i->flags & SEEDD_STATUS_LAST_SAVE_OK ? "ok" : "FAILED");
		puts("  details:    withheld; root, seedd's user and its allowed users see them");
		return;
	}
	/* A 32-bit time_t (Debian 12 armhf) ends in 2038: print what it cannot hold. */
	if ((int64_t)t != i->last_save_unix)
		snprintf(when, sizeof(when), "%lld (Unix time)", (long long)i->last_save_unix);
	else if (t && gmtime_r(&t, &tm))
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm);
	fputs("  seed file:  ", stdout);
	print_safe(i->seed_file);
	printf(" (%u bytes%s)\n", i->seed_size,
	       i->flags & SEEDD_STATUS_ENCRYPTED ? ", encrypted" : "");
	printf("  seed:       %s\n", seed_origin(i->flags, 1));
	if (i->flags & SEEDD_STATUS_LAST_SAVE_OK)
		printf("  last save:  %s, ok\n", when);
	else
		printf("  last save:  %s, FAILED: %s (%s)\n", when, strerror(i->last_save_error),
		       cli_errno_name(i->last_save_error)[0] ? cli_errno_name(i->last_save_error)
							     : "unknown errno");
	printf("  saves:      %llu (%llu failed)\n", (unsigned long long)i->saves,
	       (unsigned long long)i->save_failures);
	fputs("  uptime:     ", stdout);
	print_duration(i->uptime_s);
	putchar('\n');
	printf("  requests:   %llu (%llu bytes served)\n", (unsigned long long)i->requests,
	       (unsigned long long)i->bytes_served);
	if (len < sizeof(*i))
		printf("  clients:    %u\n", i->clients);
	else
		print_counters_human(i, u);
	if (i->flags & SEEDD_STATUS_CLONE_SUSPECTED)
		printf("  warning:    the seed file was last updated on another machine\n");
}

int cmd_status(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = { { "json", no_argument, NULL, 'j' }, { 0 } };
	struct seedd_status_info info;
	struct users users = { 0 };
	int json = 0, c, rc = EXIT_OK, r, healthy;
	char why[512];
	size_t len;

	while ((c = cli_next_opt(cli, argc, argv, opts, &rc)) != -1) {
		if (c == -2)
			return rc;
		json = 1;
	}
	if (optind < argc)
		return cli_usage_error("unexpected argument '%s'", argv[optind]);
	r = query_status(cli->socket, &info, &len, &users, seedd_timeout_ms());
	if (r < 0) {
		free(users.e);
		rc = cli_daemon_error(cli->socket, r, why, sizeof(why));
		cli_error("%s", why);
		if (json)
			print_error_json(cli->socket, r, why);
		return rc;
	}
	healthy = (info.flags & SEEDD_STATUS_SEEDED) && (info.flags & SEEDD_STATUS_LAST_SAVE_OK);
	if (json)
		print_status_json(&info, len, &users, cli->socket, healthy);
	else
		print_status_human(&info, len, &users, cli->socket, healthy);
	free(users.e);
	return healthy ? EXIT_OK : EXIT_FAIL;
}

/* Polls until the daemon answers; a refusal or a wrong daemon ends it at once. */
int cmd_wait(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = { { "timeout", required_argument, NULL, 't' }, { 0 } };
	struct seedd_status_info info;
	uint64_t timeout = 30;
	int64_t deadline;
	int c, rc = EXIT_OK, r;
	char why[512];
	size_t len;

	while ((c = cli_next_opt(cli, argc, argv, opts, &rc)) != -1) {
		if (c == -2)
			return rc;
		if (parse_u64(optarg, 0, 86400, &timeout) < 0)
			return cli_usage_error("--timeout '%s' is not a number of seconds in 0..86400",
					       optarg);
	}
	if (optind < argc)
		return cli_usage_error("unexpected argument '%s'", argv[optind]);
	deadline = now_ms() + (int64_t)timeout * 1000;
	for (;;) {
		int left = ms_left(deadline);

		r = query_status(cli->socket, &info, &len, NULL, left > 0 ? left : 1);
		if (r == 0)
			return EXIT_OK;
		if (!cli_transient(r)) {
			rc = cli_daemon_error(cli->socket, r, why, sizeof(why));
			cli_error("%s", why);
			return rc;
		}
		if (ms_left(deadline) == 0)
			break;
		struct timespec ts = { .tv_nsec = WAIT_POLL_MS * 1000000L };

		nanosleep(&ts, NULL);
	}
	cli_error("seedd at %s did not answer within %llus: %s", cli->socket,
		  (unsigned long long)timeout, strerror(-r));
	return EXIT_UNREACHABLE;
}

/* Straight to stdout, past stdio: no copy of the bytes stays in its buffer. 0 or -errno. */
static int write_out(const void *buf, size_t n)
{
	const char *p = buf;

	while (n) {
		ssize_t w = write(STDOUT_FILENO, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* The bytes as they are, or as one line of hex. 0 or -errno. */
static int write_bytes(const uint8_t *b, size_t n, int raw)
{
	static char hex[2 * GET_MAX + 1];
	static const char digits[] = "0123456789abcdef";
	int r;

	if (raw)
		return write_out(b, n);
	for (size_t i = 0; i < n; i++) {
		hex[2 * i] = digits[b[i] >> 4];
		hex[2 * i + 1] = digits[b[i] & 15];
	}
	hex[2 * n] = '\n';
	r = write_out(hex, 2 * n + 1);
	explicit_bzero(hex, 2 * n + 1);
	return r;
}

int cmd_get(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = { { "bytes", required_argument, NULL, 'b' },
					      { "raw", no_argument, NULL, 'r' },
					      { 0 } };
	static uint8_t buf[GET_MAX];
	uint64_t bytes = 32;
	int raw = 0, c, rc = EXIT_OK, r;
	char why[512];

	while ((c = cli_next_opt(cli, argc, argv, opts, &rc)) != -1) {
		if (c == -2)
			return rc;
		if (c == 'r')
			raw = 1;
		else if (parse_u64(optarg, 1, GET_MAX, &bytes) < 0)
			return cli_usage_error("--bytes '%s' is not a number in 1..65536", optarg);
	}
	if (optind < argc)
		return cli_usage_error("unexpected argument '%s'", argv[optind]);
	r = seedclient_read(cli->socket, buf, bytes);
	if (r < 0) {
		rc = cli_daemon_error(cli->socket, r, why, sizeof(why));
		cli_error("%s", why);
		return rc;
	}
	r = write_bytes(buf, bytes, raw);
	explicit_bzero(buf, bytes);
	if (r < 0) {
		cli_error("cannot write to standard output: %s", strerror(-r));
		return EXIT_FAIL;
	}
	return EXIT_OK;
}
