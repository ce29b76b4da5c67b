// SPDX-License-Identifier: MIT
/* seedd: wires the seedfile, the entropy pool, the server and systemd together. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "config.h"
#include "ids.h"
#include "log.h"
#include "pool.h"
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
#define SAVE_RETRY_S 10

struct config {
	const char *seed_file;
	const char *socket;
	const char *key_file;
	const char *machine_id_file; /* NULL: STORE_MACHINE_ID_FILE, optional */
	int create;
	int platform_entropy;
	int migrate_raw;
	unsigned save_interval_s;
	struct server_opts server;
	uid_t uids[MAX_IDS];
	gid_t gids[MAX_IDS];
};

struct daemon {
	struct config *cfg;
	struct store store;
	struct pool *pool;
	struct event_base *base;
	struct server *server;
	struct event *save_ev;
	struct event *watchdog_ev;
	struct event *sigterm_ev;
	struct event *sigint_ev;
	struct seedd_stats stats;
	int own_socket;
	int socket_dirfd; /* of the socket we bound, to remove it by name at exit */
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: seedd [OPTION]...\n"
		"Owns the Mbed TLS NV seed file and serves fresh seed material to libseedclient.\n"
		"\n"
		"  -f, --seed-file PATH        seed file (default %s)\n"
		"  -s, --socket PATH           listening socket (default %s)\n"
		"      --no-create             refuse to start when the seed file is missing\n"
		"      --no-platform-entropy   do not add getrandom(2) to the pool\n"
		"      --key-file PATH         encrypt and authenticate the seed file at rest with\n"
		"                              this 32-byte key; a raw seed file is then refused\n"
		"                              (default: the credential " STORE_CREDENTIAL_KEY
		" if present)\n"
		"      --migrate-raw           with a key, encrypt a raw seed file once instead of\n"
		"                              refusing it\n"
		"      --machine-id-file PATH  machine identity for clone detection\n"
		"                              (default " STORE_MACHINE_ID_FILE ")\n"
		"      --save-interval SEC     save a fresh seed every SEC seconds (default 600)\n"
		"      --max-clients N         concurrent connections (default 1024)\n"
		"      --max-clients-per-uid N\n"
		"                              connections of one user other than root and\n"
		"                              seedd's own (default: max-clients / 4)\n"
		"      --idle-timeout SEC      close idle connections after SEC seconds, 0 never\n"
		"                              (default 60)\n"
		"      --allow-uid UID         only serve this user (repeatable; with --allow-gid)\n"
		"      --allow-gid GID         only serve this group (repeatable)\n"
		"  -h, --help                  show this help and exit\n"
		"  -V, --version               show the version and exit\n",
		SEEDD_DEFAULT_SEED_FILE, SEEDD_DEFAULT_SOCKET);
}

static int parse_args(int argc, char **argv, struct config *cfg)
{
	enum {
		OPT_NO_CREATE = 256,
		OPT_NO_PLATFORM,
		OPT_SAVE_INTERVAL,
		OPT_MAX_CLIENTS,
		OPT_MAX_CLIENTS_PER_UID,
		OPT_IDLE_TIMEOUT,
		OPT_ALLOW_UID,
		OPT_ALLOW_GID,
		OPT_KEY_FILE,
		OPT_MIGRATE_RAW,
		OPT_MACHINE_ID_FILE,
	};
	static const struct option opts[] = {
		{ "seed-file", required_argument, NULL, 'f' },
		{ "socket", required_argument, NULL, 's' },
		{ "no-create", no_argument, NULL, OPT_NO_CREATE },
		{ "no-platform-entropy", no_argument, NULL, OPT_NO_PLATFORM },
		{ "save-interval", required_argument, NULL, OPT_SAVE_INTERVAL },
		{ "max-clients", required_argument, NULL, OPT_MAX_CLIENTS },
		{ "max-clients-per-uid", required_argument, NULL, OPT_MAX_CLIENTS_PER_UID },
		{ "idle-timeout", required_argument, NULL, OPT_IDLE_TIMEOUT },
		{ "allow-uid", required_argument, NULL, OPT_ALLOW_UID },
		{ "allow-gid", required_argument, NULL, OPT_ALLOW_GID },
		{ "key-file", required_argument, NULL, OPT_KEY_FILE },
		{ "migrate-raw", no_argument, NULL, OPT_MIGRATE_RAW },
		{ "machine-id-file", required_argument, NULL, OPT_MACHINE_ID_FILE },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 },
	};
	uint64_t v;
	int c;

	while ((c = getopt_long(argc, argv, "f:s:hV", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			cfg->seed_file = optarg;
			break;
		case 's':
			cfg->socket = optarg;
			break;
		case OPT_NO_CREATE:
			cfg->create = 0;
			break;
		case OPT_NO_PLATFORM:
			cfg->platform_entropy = 0;
			break;
		case OPT_KEY_FILE:
			cfg->key_file = optarg;
			break;
		case OPT_MIGRATE_RAW:
			cfg->migrate_raw = 1;
			break;
		case OPT_MACHINE_ID_FILE:
			cfg->machine_id_file = optarg;
			break;
		case OPT_SAVE_INTERVAL:
			if (parse_u64(optarg, 1, 86400 * 365, &v) < 0) {
				fprintf(stderr,
					"seedd: --save-interval: '%s' is not a number of seconds in 1..31536000\n",
					optarg);
				return -1;
			}
			cfg->save_interval_s = (unsigned)v;
			break;
		case OPT_MAX_CLIENTS:
			if (parse_u64(optarg, 1, 1000000, &v) < 0) {
				fprintf(stderr,
					"seedd: --max-clients: '%s' is not a number in 1..1000000\n",
					optarg);
				return -1;
			}
			cfg->server.max_clients = (unsigned)v;
			break;
		case OPT_MAX_CLIENTS_PER_UID:
			if (parse_u64(optarg, 1, 1000000, &v) < 0) {
				fprintf(stderr,
					"seedd: --max-clients-per-uid: '%s' is not a number in 1..1000000\n",
					optarg);
				return -1;
			}
			cfg->server.max_clients_per_uid = (unsigned)v;
			break;
		case OPT_IDLE_TIMEOUT:
			if (parse_u64(optarg, 0, 86400, &v) < 0) {
				fprintf(stderr,
					"seedd: --idle-timeout: '%s' is not a number of seconds in 0..86400\n",
					optarg);
				return -1;
			}
			cfg->server.idle_timeout_s = (unsigned)v;
			break;
		case OPT_ALLOW_UID:
		case OPT_ALLOW_GID: {
			int grp = c == OPT_ALLOW_GID;
			size_t *n = grp ? &cfg->server.n_allow_gid : &cfg->server.n_allow_uid;

			if (*n == MAX_IDS) {
				fprintf(stderr, "seedd: at most %d --allow-%s options\n", MAX_IDS,
					grp ? "gid" : "uid");
				return -1;
			}
			if ((grp ? ids_gid(optarg, &cfg->gids[*n])
				 : ids_uid(optarg, &cfg->uids[*n])) < 0) {
				fprintf(stderr, "seedd: --allow-%s: no such %s '%s'\n",
					grp ? "gid" : "uid", grp ? "group" : "user", optarg);
				return -1;
			}
			(*n)++;
			break;
		}
		case 'h':
			usage(stdout);
			exit(EXIT_OK);
		case 'V':
			printf("seedd %s (Mbed TLS %s%s)\n", SEEDD_VERSION, pool_mbedtls_version(),
			       pool_uses_nv_seed() ? ", NV seed" : "");
			exit(EXIT_OK);
		default:
			fprintf(stderr, "Try 'seedd --help'.\n");
			return -1;
		}
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

static void update_status(struct daemon *d)
{
	if (d->stats.last_save_error)
		systemd_status("Serving on %s; saving %s failed: %s", d->cfg->socket,
			       d->cfg->seed_file, strerror(d->stats.last_save_error));
	else
		systemd_status("Serving on %s; seed file %s saved", d->cfg->socket,
			       d->cfg->seed_file);
}

/* A periodic save: a failure is reported and retried, service goes on. */
static void save(struct daemon *d)
{
	int r = pool_save(d->pool);
	int was = d->stats.last_save_error;

	d->stats.last_save_unix = time(NULL);
	d->stats.last_save_error = -r;
	if (r == 0) {
		d->stats.saves++;
		if (was)
			log_notice("saved %s again", d->cfg->seed_file);
	} else {
		d->stats.save_failures++;
		/* Once per failure streak: the status reports the rest. */
		if (!was)
			log_err("cannot save a new seed to %s: %s (still serving; retrying every %ds)",
				d->cfg->seed_file, strerror(-r), SAVE_RETRY_S);
	}
}

static void schedule_save(struct daemon *d)
{
	unsigned s = d->cfg->save_interval_s;
	struct timeval tv = { 0 };

	if (d->stats.last_save_error && s > SAVE_RETRY_S)
		s = SAVE_RETRY_S;
	tv.tv_sec = s;
	event_add(d->save_ev, &tv);
}

static void save_cb(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *d = arg;

	(void)fd;
	(void)what;
	save(d);
	update_status(d);
	schedule_save(d);
}

static void watchdog_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	systemd_watchdog();
}

static void signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct daemon *d = arg;

	(void)what;
	log_info("received %s, stopping", strsignal((int)sig));
	event_base_loopbreak(d->base);
}

/* Loads the seedfile, creating it from getrandom(2) if allowed; records how. */
static int load_seed(struct daemon *d, uint8_t seed[SEEDFILE_MAX], size_t *len)
{
	char why[512];
	int r;

	r = store_read(&d->store, seed, len);
	d->stats.seed_origin =
	    d->store.migrate ? SEEDD_STATUS_ORIGIN_MIGRATED : SEEDD_STATUS_ORIGIN_FILE;
	if (r != -ENOENT)
		return r;
	if (!d->cfg->create || !d->cfg->platform_entropy) {
		log_err("seed file %s does not exist%s; create one with 'seedctl provision %s'",
			d->cfg->seed_file,
			d->cfg->create ? " and platform entropy is off"
				       : " and --no-create is given",
			d->cfg->seed_file);
		return -1;
	}
	*len = SEEDFILE_MAX;
	if (seedfile_generate(seed, *len, why, sizeof(why)) < 0) {
		log_err("cannot create %s: %s", d->cfg->seed_file, why);
		return -1;
	}
	r = store_write(&d->store, seed, *len);
	if (r < 0) {
		log_err("cannot create seed file %s: %s", d->cfg->seed_file, strerror(-r));
		explicit_bzero(seed, SEEDFILE_MAX);
		return -1;
	}
	log_notice("created seed file %s from getrandom(2)", d->cfg->seed_file);
	d->stats.seed_origin = SEEDD_STATUS_ORIGIN_CREATED;
	return 0;
}

/* Everything up to a durably updated seed: returns an exit code or -1. */
static int start(struct daemon *d, int *listen_fd)
{
	uint8_t seed[SEEDFILE_MAX];
	struct pool_opts popts = {
		.platform_entropy = d->cfg->platform_entropy,
		.store = store_write,
		.store_ctx = &d->store,
	};
	/* The state directory and the lock file are ours alone. */
	const struct seedfile_owners owners = { .uid = { geteuid() }, .n = 1 };
	char why[1024];
	size_t len = 0;
	pid_t holder;
	int r;

	r = seedfile_open(&d->store.sf, d->cfg->seed_file, why, sizeof(why));
	if (r == 0)
		r = seedfile_trust_dir(d->store.sf.dirfd, d->store.sf.dir, &owners, why,
				       sizeof(why));
	if (r < 0) {
		log_err("refusing seed file %s: %s", d->cfg->seed_file, why);
		return EXIT_CONFIG;
	}
	r = seedfile_lock(&d->store.sf, &owners, &holder, why, sizeof(why));
	if (r == -EWOULDBLOCK) {
		if (holder > 0)
			log_err("seed file %s is in use by another seedd (pid %ld)",
				d->cfg->seed_file, (long)holder);
		else
			log_err("seed file %s is in use by another seedd", d->cfg->seed_file);
		return EXIT_CONFIG;
	}
	if (r < 0) {
		log_err("%s", why);
		return EXIT_CONFIG;
	}

	/* The socket first, so that a bad --socket is refused before the seed moves on. */
	*listen_fd = systemd_listen_fd(why, sizeof(why));
	if (*listen_fd < 0) {
		log_err("%s", why);
		return EXIT_CONFIG;
	}
	if (*listen_fd == 0) {
		*listen_fd = server_bind(d->cfg->socket, &d->socket_dirfd, why, sizeof(why));
		if (*listen_fd < 0) {
			log_err("%s", why);
			return EXIT_CONFIG;
		}
		d->own_socket = 1;
	}

	if (store_read_key(&d->store, d->cfg->key_file) < 0 ||
	    store_read_machine_id(&d->store, d->cfg->machine_id_file) < 0)
		return EXIT_CONFIG;
	if (d->cfg->migrate_raw && !d->store.key) {
		log_err(
		    "--migrate-raw encrypts a raw seed file, but no key is configured (--key-file, "
		    "or the credential " STORE_CREDENTIAL_KEY ")");
		return EXIT_CONFIG;
	}
	d->store.migrate_raw = d->cfg->migrate_raw;
	if (load_seed(d, seed, &len) < 0)
		return EXIT_CONFIG;
	popts.identity = d->store.machine_id;
	popts.identity_len = d->store.machine_id_len;
	d->pool = pool_new(&d->store.sf, seed, len, &popts, why, sizeof(why));
	explicit_bzero(seed, sizeof(seed));
	if (!d->pool) {
		log_err("%s; serving nothing", why);
		return EXIT_RUNTIME;
	}
	d->stats.last_save_unix = time(NULL);
	d->stats.saves = 1;
	d->stats.encrypted = d->store.key != NULL;
	d->stats.clone_suspected = d->store.clone_suspected;
	return -1;
}

static int run(struct daemon *d, int listen_fd)
{
	uint64_t wd = systemd_watchdog_usec();
	struct timeval tv;
	int r;

	d->base = event_base_new();
	if (!d->base) {
		close(listen_fd);
		log_err("cannot create the event loop");
		return EXIT_RUNTIME;
	}
	d->server = server_new(d->base, listen_fd, d->pool, &d->cfg->server, &d->stats);
	d->save_ev = evtimer_new(d->base, save_cb, d);
	d->sigterm_ev = evsignal_new(d->base, SIGTERM, signal_cb, d);
	d->sigint_ev = evsignal_new(d->base, SIGINT, signal_cb, d);
	if (!d->server || !d->save_ev || !d->sigterm_ev || !d->sigint_ev ||
	    event_add(d->sigterm_ev, NULL) < 0 || event_add(d->sigint_ev, NULL) < 0) {
		log_err("cannot set up the event loop");
		return EXIT_RUNTIME;
	}
	schedule_save(d);
	if (wd) {
		/* Pinged from the loop itself: a stuck loop stops the pings. */
		d->watchdog_ev = event_new(d->base, -1, EV_PERSIST, watchdog_cb, d);
		tv.tv_sec = (time_t)(wd / 2 / 1000000);
		tv.tv_usec = (suseconds_t)(wd / 2 % 1000000);
		if (!d->watchdog_ev || event_add(d->watchdog_ev, &tv) < 0) {
			log_err("cannot set up the watchdog timer");
			return EXIT_RUNTIME;
		}
	}

	/* Only now may clients connect: a SIGTERM from here on is a clean stop. */
	if (d->own_socket && listen(listen_fd, SOMAXCONN) < 0) {
		log_err("cannot listen on %s: %s", d->cfg->socket, strerror(errno));
		return EXIT_RUNTIME;
	}
	log_info("serving %s on %s (%zu-byte seed, Mbed TLS %s)", d->cfg->seed_file, d->cfg->socket,
		 pool_seed_size(d->pool), pool_mbedtls_version());
	systemd_ready("Seed updated; serving");
	update_status(d);

	if (event_base_dispatch(d->base) < 0) {
		log_err("event loop failed");
		return EXIT_RUNTIME;
	}

	systemd_stopping();
	/*
	 * The seed on disk was never served and the next start derives a fresh one
	 * from it before serving: a failed final save loses nothing, so the stop is
	 * still clean and a supervisor must not see it as a failure.
	 */
	r = pool_save(d->pool);
	if (r < 0)
		log_warn("cannot save a new seed to %s at stop: %s; the next start derives a fresh "
			 "seed before serving",
			 d->cfg->seed_file, strerror(-r));
	return EXIT_OK;
}

static void cleanup(struct daemon *d)
{
	server_free(d->server);
	if (d->save_ev)
		event_free(d->save_ev);
	if (d->watchdog_ev)
		event_free(d->watchdog_ev);
	if (d->sigterm_ev)
		event_free(d->sigterm_ev);
	if (d->sigint_ev)
		event_free(d->sigint_ev);
	if (d->base)
		event_base_free(d->base);
	pool_free(d->pool);
	if (d->own_socket)
		server_unbind(d->socket_dirfd, d->cfg->socket);
	store_close(&d->store);
}

/* Enough fds for --max-clients, where the hard limit allows. */
static void raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

int main(int argc, char **argv)
{
	struct config cfg = {
		.seed_file = SEEDD_DEFAULT_SEED_FILE,
		.socket = SEEDD_DEFAULT_SOCKET,
		.create = 1,
		.platform_entropy = 1,
		.save_interval_s = 600,
		.server = { .max_clients = 1024, .idle_timeout_s = 60 },
	};
	struct daemon d = { .cfg = &cfg, .socket_dirfd = -1 };
	int listen_fd = -1, rc;

	cfg.server.allow_uid = cfg.uids;
	cfg.server.allow_gid = cfg.gids;
	if (parse_args(argc, argv, &cfg) < 0)
		return EXIT_USAGE;

	log_init();
	/* No core dumps or ptrace by other users: memory holds the DRBG state. */
	prctl(PR_SET_DUMPABLE, 0);
	signal(SIGPIPE, SIG_IGN);
	raise_fd_limit();
	d.stats.start_ms = now_ms();
	d.stats.seed_file = cfg.seed_file;

	rc = start(&d, &listen_fd);
	if (rc < 0)
		rc = run(&d, listen_fd);
	else if (listen_fd > 0)
		close(listen_fd);
	cleanup(&d);
	return rc;
}
