// SPDX-License-Identifier: MIT
/* seedd: parses the options, then wires the store, the pool, the server and systemd together. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "config.h"
#include "ids.h"
#include "log.h"
#include "pool.h"
#include "saver.h"
#include "server.h"
#include "store.h"
#include "systemd.h"
#include "util.h"

enum {
	EXIT_OK = 0,
	EXIT_CONFIG = 1,
	EXIT_USAGE = 2,
	EXIT_RUNTIME = 3,
};

#define MAX_IDS 64
/* Where --help starts the description of an option. */
#define HELP_COLUMN 30

struct config {
	const char *socket;
	unsigned save_interval_s;
	struct store_opts store;
	struct server_opts server;
	uid_t uids[MAX_IDS];
	gid_t gids[MAX_IDS];
};

struct daemon {
	struct config *cfg;
	int64_t start_ms; /* monotonic */
	struct store store;
	struct pool *pool;
	struct event_base *base;
	struct server *server;
	struct saver *saver;
	struct event *watchdog_ev;
	struct event *sigterm_ev;
	struct event *sigint_ev;
	struct event *sighup_ev;
	int listen_fd;		     /* until the server owns it */
	int own_socket;		     /* we bound it, rather than systemd */
	struct server_socket socket; /* the one we bound, to remove at exit while ours */
};

enum opt_kind {
	OPT_STRING, /* sets a const char * */
	OPT_CLEAR,  /* sets an int to 0 */
	OPT_SET,    /* sets an int to 1 */
	OPT_NUMBER, /* sets an unsigned in min..max */
	OPT_UID,
	OPT_GID,
	OPT_HELP,
	OPT_VERSION,
};

/* One option: how getopt knows it, what it sets in struct config, and its --help text. */
struct opt {
	const char *name;
	char key;	 /* the short option, or 0 */
	const char *arg; /* the argument's name in --help; NULL: none */
	enum opt_kind kind;
	size_t field; /* offsetof(struct config, ...) for STRING to NUMBER */
	unsigned min, max;
	const char *unit; /* NUMBER: what the number is, for messages */
	const char *help; /* a "\n" starts a line under the first */
};

#define FIELD(f) offsetof(struct config, f)
#define SECONDS "a number of seconds"

static const struct opt opts[] = {
	{ "seed-file", 'f', "PATH", OPT_STRING, FIELD(store.path), 0, 0, NULL,
	  "seed file (default " SEEDD_DEFAULT_SEED_FILE ")" },
	{ "socket", 's', "PATH", OPT_STRING, FIELD(socket), 0, 0, NULL,
	  "listening socket (default " SEEDD_DEFAULT_SOCKET ")" },
	{ "no-create", 0, NULL, OPT_CLEAR, FIELD(store.create), 0, 0, NULL,
	  "refuse to start when the seed file is missing" },
	{ "no-platform-entropy", 0, NULL, OPT_CLEAR, FIELD(store.platform_entropy), 0, 0, NULL,
	  "do not add getrandom(2) to the pool" },
	{ "key-file", 0, "PATH", OPT_STRING, FIELD(store.key_file), 0, 0, NULL,
	  "encrypt and authenticate the seed file at rest with\n"
	  "this 32-byte key; a raw seed file is then refused\n"
	  "(default: the credential " STORE_CREDENTIAL_KEY " if present)" },
	{ "migrate-raw", 0, NULL, OPT_SET, FIELD(store.migrate_raw), 0, 0, NULL,
	  "with a key, encrypt a raw seed file once instead of\n"
	  "refusing it" },
	{ "machine-id-file", 0, "PATH", OPT_STRING, FIELD(store.machine_id_file), 0, 0, NULL,
	  "machine identity for clone detection\n"
	  "(default " STORE_MACHINE_ID_FILE ")" },
	{ "save-interval", 0, "SEC", OPT_NUMBER, FIELD(save_interval_s), 1, 86400 * 365, SECONDS,
	  "save a fresh seed every SEC seconds (default 600)" },
	{ "max-clients", 0, "N", OPT_NUMBER, FIELD(server.max_clients), 1, 1000000, "a number",
	  "concurrent connections (default 1024)" },
	{ "max-clients-per-uid", 0, "N", OPT_NUMBER, FIELD(server.max_clients_per_uid), 1, 1000000,
	  "a number",
	  "connections of one user other than root and\n"
	  "seedd's own (default: max-clients / 4)" },
	{ "idle-timeout", 0, "SEC", OPT_NUMBER, FIELD(server.idle_timeout_s), 0, 86400, SECONDS,
	  "close idle connections after SEC seconds, 0 never\n"
	  "(default 60)" },
	{ "allow-uid", 0, "UID", OPT_UID, 0, 0, 0, NULL,
	  "only serve this user (repeatable; with --allow-gid)" },
	{ "allow-gid", 0, "GID", OPT_GID, 0, 0, 0, NULL, "only serve this group (repeatable)" },
	{ "help", 'h', NULL, OPT_HELP, 0, 0, 0, NULL, "show this help and exit" },
	{ "version", 'V', NULL, OPT_VERSION, 0, 0, 0, NULL, "show the version and exit" },
};

static void usage(FILE *f)
{
	fputs("Usage: seedd [OPTION]...\n"
	      "Owns the Mbed TLS NV seed file and serves fresh seed material to libseedclient.\n"
	      "\n",
	      f);
	for (size_t i = 0; i < ARRAY_SIZE(opts); i++) {
		const struct opt *o = &opts[i];
		const char *help = o->help, *nl;
		int n;

		if (o->key)
			n = fprintf(f, "  -%c, --%s", o->key, o->name);
		else
			n = fprintf(f, "      --%s", o->name);
		if (o->arg)
			n += fprintf(f, " %s", o->arg);
		/* A name that reaches the description's column puts it on the next line. */
		if (n + 2 > HELP_COLUMN) {
			fputc('\n', f);
			n = 0;
		}
		for (; (nl = strchr(help, '\n')); help = nl + 1, n = 0)
			fprintf(f, "%*s%.*s\n", HELP_COLUMN - n, "", (int)(nl - help), help);
		fprintf(f, "%*s%s\n", HELP_COLUMN - n, "", help);
	}
}

/* Applies option o with argument arg to cfg. 0, or -1 after a message. */
static int apply(const struct opt *o, const char *arg, struct config *cfg)
{
	char *field = (char *)cfg + o->field;
	int grp = o->kind == OPT_GID;
	size_t *n = grp ? &cfg->server.n_allow_gid : &cfg->server.n_allow_uid;
	uint64_t v;

	switch (o->kind) {
	case OPT_STRING:
		*(const char **)field = arg;
		return 0;
	case OPT_CLEAR:
	case OPT_SET:
		*(int *)field = o->kind == OPT_SET;
		return 0;
	case OPT_NUMBER:
		if (parse_u64(arg, o->min, o->max, &v) < 0) {
			fprintf(stderr, "seedd: --%s: '%s' is not %s in %u..%u\n", o->name, arg,
				o->unit, o->min, o->max);
			return -1;
		}
		*(unsigned *)field = (unsigned)v;
		return 0;
	case OPT_UID:
	case OPT_GID:
		if (*n == MAX_IDS) {
			fprintf(stderr, "seedd: at most %d --%s options\n", MAX_IDS, o->name);
			return -1;
		}
		if ((grp ? ids_gid(arg, &cfg->gids[*n]) : ids_uid(arg, &cfg->uids[*n])) < 0) {
			fprintf(stderr, "seedd: --%s: no such %s '%s'\n", o->name,
				grp ? "group" : "user", arg);
			return -1;
		}
		(*n)++;
		return 0;
	default:
		return 0;
	}
}

/* Fills cfg from the command line. 0 to go on, 1 when done (--help, --version), -1 on errors. */
static int parse_args(int argc, char **argv, struct config *cfg)
{
	struct option longopts[ARRAY_SIZE(opts) + 1] = { { 0 } };
	char shortopts[2 * ARRAY_SIZE(opts) + 1] = "", *p = shortopts;
	int c;

	/* A long-only option is known to getopt by 256 + its index. */
	for (size_t i = 0; i < ARRAY_SIZE(opts); i++) {
		longopts[i].name = opts[i].name;
		longopts[i].has_arg = opts[i].arg ? required_argument : no_argument;
		longopts[i].val = opts[i].key ? opts[i].key : 256 + (int)i;
		if (opts[i].key) {
			*p++ = opts[i].key;
			if (opts[i].arg)
				*p++ = ':';
		}
	}
	while ((c = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
		const struct opt *o = NULL;

		for (size_t i = 0; i < ARRAY_SIZE(opts) && !o; i++)
			if (longopts[i].val == c)
				o = &opts[i];
		if (!o) {
			fprintf(stderr, "Try 'seedd --help'.\n");
			return -1;
		}
		if (o->kind == OPT_HELP) {
			usage(stdout);
			return 1;
		}
		if (o->kind == OPT_VERSION) {
			printf("seedd %s (Mbed TLS %s%s)\n", SEEDD_VERSION, pool_mbedtls_version(),
			       pool_uses_nv_seed() ? ", NV seed" : "");
			return 1;
		}
		if (apply(o, optarg, cfg) < 0)
			return -1;
	}
	if (optind < argc) {
		fprintf(stderr, "seedd: unexpected argument '%s'\nTry 'seedd --help'.\n",
			argv[optind]);
		return -1;
	}
	if (cfg->server.max_clients_per_uid > cfg->server.max_clients) {
		fprintf(stderr, "seedd: --max-clients-per-uid %u is more than --max-clients %u\n",
			cfg->server.max_clients_per_uid, cfg->server.max_clients);
		return -1;
	}
	return 0;
}

/* The saver's hook: systemd shows how the last save went. */
static void saved(void *arg)
{
	struct daemon *d = arg;

	systemd_saved(d->cfg->socket, d->cfg->store.path, saver_last_error(d->saver));
}

/* STATUS from its owners: the server adds its counters to the store's and the saver's part. */
static void fill_status(void *arg, struct seedd_status_info *info)
{
	struct daemon *d = arg;

	info->uptime_s = (uint64_t)((now_ms() - d->start_ms) / 1000);
	store_status(&d->store, info);
	saver_status(d->saver, info);
}

static void watchdog_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	systemd_watchdog();
}

/* The signals seedd handles, by the names kill(1) and systemd use; strsignal() says "Terminated". */
static const char *signal_name(int sig)
{
	switch (sig) {
	case SIGTERM:
		return "SIGTERM";
	case SIGINT:
		return "SIGINT";
	case SIGHUP:
		return "SIGHUP";
	default:
		return "a signal";
	}
}

static void stop_cb(evutil_socket_t sig, short what, void *arg)
{
	struct daemon *d = arg;

	(void)what;
	log_info("received %s, stopping", signal_name((int)sig));
	event_base_loopbreak(d->base);
}

/*
 * logrotate and init systems send SIGHUP to mean "reload": every setting
 * comes from the command line, read once, so there is nothing to read again,
 * and the log is a stream seedd never opened itself.
 */
static void hup_cb(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	(void)arg;
	log_notice("received %s: nothing to reload (options are read at start only; restart seedd to change them); still serving",
		   signal_name((int)sig));
}

/*
 * SIGTERM or SIGINT before the event loop handles them (the socket listens
 * from the start on, so a client may be waiting): a clean stop, with a final
 * save, as soon as it runs.
 */
static volatile sig_atomic_t early_stop;

static void early_stop_handler(int sig)
{
	early_stop = sig;
}

static void catch_early_stop(void)
{
	struct sigaction sa = { .sa_handler = early_stop_handler };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
}

/* The socket systemd passed, else ours, bound and listening. 0, or -1 after logging. */
static int open_socket(struct daemon *d)
{
	char why[1024];

	d->listen_fd = systemd_listen_fd(why, sizeof(why));
	if (d->listen_fd == 0) {
		d->listen_fd = server_bind(d->cfg->socket, &d->socket, why, sizeof(why));
		d->own_socket = d->listen_fd >= 0;
	}
	if (d->listen_fd < 0) {
		log_err("%s", why);
		return -1;
	}
	return 0;
}

/* Everything up to a durably updated seed: 0 when serving may begin, else the exit code. */
static int start(struct daemon *d)
{
	struct pool_opts popts = {
		.name = d->cfg->store.path,
		.write = store_write,
		.write_ctx = &d->store,
		.platform_entropy = d->cfg->store.platform_entropy,
	};
	uint8_t seed[SEEDFILE_MAX];
	char why[1024];
	size_t len = 0;

	/* Before the seed file is touched: an option this build cannot honour is refused. */
	if (pool_check_platform_entropy(d->cfg->store.platform_entropy, why, sizeof(why)) < 0) {
		log_err("%s", why);
		return EXIT_CONFIG;
	}
	if (store_open(&d->store, &d->cfg->store) < 0)
		return EXIT_CONFIG;
	/* The socket next, so that a bad --socket is refused before the seed moves on. */
	if (open_socket(d) < 0 || store_read(&d->store, seed, &len) < 0)
		return EXIT_CONFIG;
	popts.identity = d->store.machine_id;
	popts.identity_len = d->store.machine_id_len;
	d->pool = pool_new(seed, len, &popts, why, sizeof(why));
	explicit_bzero(seed, sizeof(seed));
	if (!d->pool) {
		log_err("%s; serving nothing", why);
		return EXIT_RUNTIME;
	}
	return EXIT_OK;
}

/* Pinged from the loop itself: a stuck loop stops the pings. 0, or -1 after logging. */
static int start_watchdog(struct daemon *d)
{
	uint64_t wd = systemd_watchdog_usec();
	struct timeval tv = { .tv_sec = (time_t)(wd / 2 / 1000000),
			      .tv_usec = (suseconds_t)(wd / 2 % 1000000) };

	if (!wd)
		return 0;
	d->watchdog_ev = event_new(d->base, -1, EV_PERSIST, watchdog_cb, d);
	if (!d->watchdog_ev || event_add(d->watchdog_ev, &tv) < 0) {
		log_err("cannot set up the watchdog timer");
		return -1;
	}
	return 0;
}

/*
 * fds seedd needs at once beyond those it holds when it starts serving and
 * its connections: a save's temp file, sd_notify's socket, /etc/subuid and
 * the user database being read, libevent's signal pipe, and a newcomer
 * accepted at the limit while a connection is closed for it.
 */
#define FD_SPARE 16
/* fds looked at to count those open: seedd opens a handful before it serves. */
#define FD_SCAN 256

/*
 * Raises the soft fd limit to the hard one, and caps --max-clients (and
 * --max-clients-per-uid) to what the limit holds, so that every slot, those
 * kept for root, seedd's user and the allow lists too, has its fd.
 */
static void fit_fd_limit(struct server_opts *o)
{
	unsigned used = 0, fit;
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		rlim_t soft = rl.rlim_cur;

		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			rl.rlim_cur = soft;
	}
	if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= (rlim_t)o->max_clients + FD_SCAN)
		return;
	for (int fd = 0; fd < FD_SCAN; fd++)
		used += fcntl(fd, F_GETFD) >= 0;
	fit = rl.rlim_cur > used + FD_SPARE ? (unsigned)(rl.rlim_cur - used - FD_SPARE) : 1;
	if (o->max_clients > fit) {
		log_warn("--max-clients %u does not fit RLIMIT_NOFILE %llu (%u fds open, %u kept spare): "
			 "serving at most %u connections; raise the limit (LimitNOFILE=, ulimit -n) "
			 "for more",
			 o->max_clients, (unsigned long long)rl.rlim_cur, used, FD_SPARE, fit);
		o->max_clients = fit;
	}
	if (o->max_clients_per_uid > o->max_clients) {
		log_warn("--max-clients-per-uid %u is more than the %u connections RLIMIT_NOFILE "
			 "%llu holds: at most %u",
			 o->max_clients_per_uid, o->max_clients, (unsigned long long)rl.rlim_cur,
			 o->max_clients);
		o->max_clients_per_uid = o->max_clients;
	}
}

static int run(struct daemon *d)
{
	int fd = d->listen_fd;

	d->base = event_base_new();
	if (!d->base) {
		log_err("cannot create the event loop");
		return EXIT_RUNTIME;
	}
	fit_fd_limit(&d->cfg->server);
	d->server = server_new(d->base, fd, d->pool, &d->cfg->server, fill_status, d);
	d->listen_fd = -1;
	d->saver =
	    saver_new(d->base, d->pool, d->cfg->store.path, d->cfg->save_interval_s, saved, d);
	d->sigterm_ev = evsignal_new(d->base, SIGTERM, stop_cb, d);
	d->sigint_ev = evsignal_new(d->base, SIGINT, stop_cb, d);
	d->sighup_ev = evsignal_new(d->base, SIGHUP, hup_cb, d);
	if (!d->server || !d->saver || !d->sigterm_ev || !d->sigint_ev || !d->sighup_ev ||
	    event_add(d->sigterm_ev, NULL) < 0 || event_add(d->sigint_ev, NULL) < 0 ||
	    event_add(d->sighup_ev, NULL) < 0) {
		log_err("cannot set up the event loop");
		return EXIT_RUNTIME;
	}
	if (start_watchdog(d) < 0)
		return EXIT_RUNTIME;

	log_info("serving %s on %s (%zu-byte seed, Mbed TLS %s)", d->cfg->store.path,
		 d->cfg->socket, pool_seed_size(d->pool), pool_mbedtls_version());
	systemd_ready("Seed updated; serving");
	saved(d);

	/* libevent has the signals now: one that came before is handled here. */
	if (early_stop)
		log_info("received %s during start-up, stopping", signal_name(early_stop));
	else if (event_base_dispatch(d->base) < 0) {
		log_err("event loop failed");
		return EXIT_RUNTIME;
	}
	systemd_stopping();
	saver_final(d->saver);
	return EXIT_OK;
}

static void cleanup(struct daemon *d)
{
	server_free(d->server);
	saver_free(d->saver);
	if (d->watchdog_ev)
		event_free(d->watchdog_ev);
	if (d->sigterm_ev)
		event_free(d->sigterm_ev);
	if (d->sigint_ev)
		event_free(d->sigint_ev);
	if (d->sighup_ev)
		event_free(d->sighup_ev);
	if (d->base)
		event_base_free(d->base);
	pool_free(d->pool);
	closep(&d->listen_fd);
	if (d->own_socket && server_unbind(&d->socket, d->cfg->socket) == 0)
		log_notice("left %s in place: it is no longer the socket seedd made",
			   d->cfg->socket);
	store_close(&d->store);
}

int main(int argc, char **argv)
{
	struct config cfg = {
		.socket = SEEDD_DEFAULT_SOCKET,
		.save_interval_s = 600,
		.store = { .path = SEEDD_DEFAULT_SEED_FILE, .create = 1, .platform_entropy = 1 },
		.server = { .max_clients = 1024, .idle_timeout_s = 60 },
	};
	struct daemon d = { .cfg = &cfg, .listen_fd = -1, .socket = { .dirfd = -1 } };
	int rc;

	cfg.server.allow_uid = cfg.uids;
	cfg.server.allow_gid = cfg.gids;
	rc = parse_args(argc, argv, &cfg);
	if (rc != 0)
		return rc < 0 ? EXIT_USAGE : EXIT_OK;

	log_init();
	/* No core dumps or ptrace by other users: memory holds the DRBG state. */
	prctl(PR_SET_DUMPABLE, 0);
	signal(SIGPIPE, SIG_IGN);
	/* Until the event loop handles it: a SIGHUP during start-up must not kill seedd. */
	signal(SIGHUP, SIG_IGN);
	catch_early_stop();
	d.start_ms = now_ms();

	rc = start(&d);
	if (rc == EXIT_OK)
		rc = run(&d);
	cleanup(&d);
	return rc;
}
