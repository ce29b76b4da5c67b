// SPDX-License-Identifier: MIT
/*
 * seedctl: the command-line framework and the dispatch to the commands, which
 * live in seedctl-status.c (status, wait, get), seedctl-provision.c and
 * seedctl-check.c.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "ids.h"
#include "seedctl.h"
#include "util.h"

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

int cli_usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "seedctl: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'seedctl --help'.\n");
	return EXIT_USAGE;
}

/* What every command takes, before its own options. */
static const struct option global_opts[] = {
	{ "socket", required_argument, NULL, 's' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
};

int cli_next_opt(struct cli *cli, int argc, char **argv, const struct option *opts, int *exit_code)
{
	struct option all[ARRAY_SIZE(global_opts) + 8 + 1] = { { 0 } };
	size_t n = 0;
	int c;

	for (size_t i = 0; i < ARRAY_SIZE(global_opts); i++)
		all[n++] = global_opts[i];
	for (; opts->name && n + 1 < ARRAY_SIZE(all); opts++)
		all[n++] = *opts;
	while ((c = getopt_long(argc, argv, cli->optstring, all, NULL)) == 's')
		cli->socket = optarg;
	switch (c) {
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

void cli_print_hex(const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		printf("%02x", b[i]);
}

static void owners_add(struct seedfile_owners *o, uid_t uid)
{
	for (size_t i = 0; i < o->n; i++)
		if (o->uid[i] == uid)
			return;
	o->uid[o->n++] = uid;
}

void cli_owners(struct seedfile_owners *o, uid_t extra)
{
	uid_t daemon;

	*o = (struct seedfile_owners){ .n = 0 };
	owners_add(o, extra);
	owners_add(o, geteuid());
	owners_add(o, 0);
	if (ids_uid(SEEDD_DAEMON_USER, &daemon) == 0)
		owners_add(o, daemon);
}

struct seal_key *cli_read_key(const char *key_file)
{
	struct seal_key *key;
	char why[512];

	key = seal_key_read(key_file, geteuid(), SEEDFILE_ROOT_OK, why, sizeof(why));
	if (!key)
		fprintf(stderr, "seedctl: refusing key file %s: %s\n", key_file, why);
	return key;
}

int main(int argc, char **argv)
{
	static const struct option no_opts[] = { { 0 } };
	static const struct {
		const char *name;
		int (*fn)(struct cli *, int, char **);
	} cmds[] = {
		{ "status", cmd_status }, { "get", cmd_get },	{ "provision", cmd_provision },
		{ "check", cmd_check },	  { "wait", cmd_wait },
	};
	/* "+": global options stop at the command; a command takes options anywhere. */
	struct cli cli = { .socket = seedd_socket_path(), .optstring = "+s:hV" };
	int c, rc = EXIT_OK;

	while ((c = cli_next_opt(&cli, argc, argv, no_opts, &rc)) != -1)
		if (c == -2)
			return rc;
	if (optind >= argc)
		return cli_usage_error("no command given");
	for (size_t i = 0; i < ARRAY_SIZE(cmds); i++) {
		if (strcmp(argv[optind], cmds[i].name) == 0) {
			argc -= optind;
			argv += optind;
			optind = 0;
			cli.optstring = "s:hV";
			return cmds[i].fn(&cli, argc, argv);
		}
	}
	return cli_usage_error("unknown command '%s'", argv[optind]);
}
