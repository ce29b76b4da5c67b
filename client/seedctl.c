// SPDX-License-Identifier: MIT
/*
 * seedctl: the command-line framework and the dispatch to the commands, which
 * live in seedctl-status.c (status, wait, get), seedctl-provision.c and
 * seedctl-check.c.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "ids.h"
#include "seedctl.h"
#include "util.h"

/* Where --help starts the description of a command. */
#define HELP_COLUMN 40

static int cmd_help(struct cli *cli, int argc, char **argv);

/* A command's line in --help: a second line with fn NULL is another form of the one before. */
static const struct command {
	const char *name;
	int (*fn)(struct cli *cli, int argc, char **argv);
	const char *args;
	const char *help; /* a "\n" starts a line under the first */
} commands[] = {
	{ "status", cmd_status, "[--json]",
	  "health of the daemon (exit 0 healthy,\n1 degraded, 3 unreachable, 4 refused)" },
	{ "get", cmd_get, "[--bytes N] [--raw]", "N fresh bytes (default 32), hex or raw" },
	{ "provision", cmd_provision, "PATH [--bytes 32|64] [--force] [--stdin] [--key-file KEY]",
	  "write a new seed file from getrandom(2),\nor from 32 or 64 bytes on stdin;\nencrypted with KEY if given" },
	{ "provision", NULL,
	  "--count N --out-dir DIR [--bytes 32|64] [--force] [--key-file KEY]\n"
	  "            [--manifest PATH]",
	  "write N distinct seed files DIR/seedfile-NNNNNN,\nand a list of them to PATH" },
	{ "check", cmd_check, "PATH [--key-file KEY] [--owner UID]",
	  "validate a seed file offline (exit 0 ok,\n1 refused); with KEY, it must be encrypted\nwith KEY" },
	{ "wait", cmd_wait, "[--timeout SEC]", "wait until the daemon answers (default 30)" },
	{ "help", cmd_help, "[COMMAND]", "show this help, or a command's" },
};

/* The command being run, for messages; NULL before it is known. */
static const struct command *current;

/* Lines of text at column col, the first after n characters already printed. */
static void print_column(const char *text, int n, int col)
{
	const char *nl;

	if (n + 2 > col) {
		putchar('\n');
		n = 0;
	}
	for (; (nl = strchr(text, '\n')); text = nl + 1, n = 0)
		printf("%*s%.*s\n", col - n, "", (int)(nl - text), text);
	printf("%*s%s\n", col - n, "", text);
}

/* A command's lines of the help. */
static void print_command(const struct command *c)
{
	print_column(c->help, printf("  %s %s", c->name, c->args), HELP_COLUMN);
}

static void usage(void)
{
	fputs("Usage: seedctl [--socket PATH] COMMAND [OPTION]...\n"
	      "Queries and feeds the seedd daemon.\n"
	      "\n"
	      "Commands:\n",
	      stdout);
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		print_command(&commands[i]);
	printf("\n"
	       "Options:\n"
	       "  -s, --socket PATH   daemon socket (default $SEEDD_SOCKET, else %s)\n"
	       "  -h, --help          show this help and exit\n"
	       "  -V, --version       show the version and exit\n"
	       "\n"
	       "Exit status: 0 ok, 1 error or degraded, 2 usage, 3 unreachable, 4 refused.\n",
	       SEEDD_DEFAULT_SOCKET);
}

/* The help of one command: its lines of the whole help, each of its forms. */
static void command_usage(const struct command *c)
{
	printf("Usage: seedctl [--socket PATH] %s [OPTION]...\n\n", c->name);
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		if (strcmp(commands[i].name, c->name) == 0)
			print_command(&commands[i]);
	puts("\nEvery command also takes --socket PATH, --help and --version.\n"
	     "'seedctl help' lists the commands; seedctl(1) has the details.");
}

static const struct command *find_command(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		if (commands[i].fn && strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

static void vmessage(const char *fmt, va_list ap)
{
	fputs("seedctl: ", stderr);
	if (current)
		fprintf(stderr, "%s: ", current->name);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void cli_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmessage(fmt, ap);
	va_end(ap);
}

int cli_usage_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmessage(fmt, ap);
	va_end(ap);
	if (current && current->fn != cmd_help)
		fprintf(stderr, "Try 'seedctl help %s'.\n", current->name);
	else
		fputs("Try 'seedctl help'.\n", stderr);
	return EXIT_USAGE;
}

/* What every command takes, before its own options. */
static const struct option global_opts[] = {
	{ "socket", required_argument, NULL, 's' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
};

/*
 * getopt's complaint in our words. arg is the word it was at: a long option
 * as given (up to its "="), or a short one, possibly among others ("-xy").
 */
static int option_error(const char *arg, int c)
{
	const char *eq = strchr(arg, '=');
	int len = eq ? (int)(eq - arg) : (int)strlen(arg);

	if (strncmp(arg, "--", 2) != 0)
		return cli_usage_error(c == ':' ? "option '-%c' needs an argument"
						: "unknown option '-%c'",
				       optopt);
	if (c == ':')
		return cli_usage_error("option '%.*s' needs an argument", len, arg);
	if (eq && optopt)
		return cli_usage_error("option '%.*s' takes no argument", len, arg);
	return cli_usage_error("unknown option '%.*s'", len, arg);
}

int cli_next_opt(struct cli *cli, int argc, char **argv, const struct option *opts, int *exit_code)
{
	struct option all[ARRAY_SIZE(global_opts) + 8 + 1] = { { 0 } };
	size_t n = 0;
	int c, at;

	for (size_t i = 0; i < ARRAY_SIZE(global_opts); i++)
		all[n++] = global_opts[i];
	for (; opts->name && n + 1 < ARRAY_SIZE(all); opts++)
		all[n++] = *opts;
	/* Our own messages, in our one style. */
	opterr = 0;
	for (;;) {
		at = optind;
		c = getopt_long(argc, argv, cli->optstring, all, NULL);
		if (c != 's')
			break;
		cli->socket = optarg;
	}
	switch (c) {
	case 'h':
		if (current)
			command_usage(current);
		else
			usage();
		*exit_code = EXIT_OK;
		return -2;
	case 'V':
		printf("seedctl %s\n", SEEDD_VERSION);
		*exit_code = EXIT_OK;
		return -2;
	case '?':
	case ':':
		/* Past the word it failed at, or still inside a group of short options. */
		*exit_code = option_error(optind > at ? argv[optind - 1] : argv[optind], c);
		return -2;
	default:
		return c;
	}
}

static int cmd_help(struct cli *cli, int argc, char **argv)
{
	static const struct option no_opts[] = { { 0 } };
	const struct command *c;
	int opt, rc = EXIT_OK;

	while ((opt = cli_next_opt(cli, argc, argv, no_opts, &rc)) != -1)
		if (opt == -2)
			return rc;
	if (optind == argc) {
		usage();
		return EXIT_OK;
	}
	if (optind + 1 < argc)
		return cli_usage_error("unexpected argument '%s'", argv[optind + 1]);
	c = find_command(argv[optind]);
	if (!c)
		return cli_usage_error("unknown command '%s'", argv[optind]);
	command_usage(c);
	return EXIT_OK;
}

#define ERRNO_NAME(e) [e] = #e

const char *cli_errno_name(int e)
{
	/* What a save, a connection or a request can fail with. */
	static const char *const names[] = {
		ERRNO_NAME(EPERM),	  ERRNO_NAME(ENOENT),	  ERRNO_NAME(EINTR),
		ERRNO_NAME(EIO),	  ERRNO_NAME(ENXIO),	  ERRNO_NAME(EBADF),
		ERRNO_NAME(EAGAIN),	  ERRNO_NAME(ENOMEM),	  ERRNO_NAME(EACCES),
		ERRNO_NAME(EFAULT),	  ERRNO_NAME(EBUSY),	  ERRNO_NAME(EEXIST),
		ERRNO_NAME(EXDEV),	  ERRNO_NAME(ENODEV),	  ERRNO_NAME(ENOTDIR),
		ERRNO_NAME(EISDIR),	  ERRNO_NAME(EINVAL),	  ERRNO_NAME(ENFILE),
		ERRNO_NAME(EMFILE),	  ERRNO_NAME(ETXTBSY),	  ERRNO_NAME(EFBIG),
		ERRNO_NAME(ENOSPC),	  ERRNO_NAME(ESPIPE),	  ERRNO_NAME(EROFS),
		ERRNO_NAME(EMLINK),	  ERRNO_NAME(EPIPE),	  ERRNO_NAME(ERANGE),
		ERRNO_NAME(ENAMETOOLONG), ERRNO_NAME(ENOSYS),	  ERRNO_NAME(ENOTEMPTY),
		ERRNO_NAME(ELOOP),	  ERRNO_NAME(ENODATA),	  ERRNO_NAME(EPROTO),
		ERRNO_NAME(EBADMSG),	  ERRNO_NAME(EOVERFLOW),  ERRNO_NAME(ENOTSOCK),
		ERRNO_NAME(EMSGSIZE),	  ERRNO_NAME(EPROTOTYPE), ERRNO_NAME(EPROTONOSUPPORT),
		ERRNO_NAME(EOPNOTSUPP),	  ERRNO_NAME(EADDRINUSE), ERRNO_NAME(ENETDOWN),
		ERRNO_NAME(ECONNABORTED), ERRNO_NAME(ECONNRESET), ERRNO_NAME(ENOBUFS),
		ERRNO_NAME(ENOTCONN),	  ERRNO_NAME(ETIMEDOUT),  ERRNO_NAME(ECONNREFUSED),
		ERRNO_NAME(EDQUOT),	  ERRNO_NAME(ECANCELED),  ERRNO_NAME(ENOKEY),
		ERRNO_NAME(EKEYREJECTED), ERRNO_NAME(EUCLEAN),
	};

	if (e > 0 && (size_t)e < ARRAY_SIZE(names) && names[e])
		return names[e];
	return "";
}

int cli_daemon_error(const char *socket, int err, char *msg, size_t len)
{
	switch (-err) {
	case EPERM:
		snprintf(msg, len,
			 "not asking %s: the process listening there runs as neither root, %s nor you: %s",
			 socket, SEEDD_DAEMON_USER, strerror(EPERM));
		return EXIT_REFUSED;
	case EACCES:
		snprintf(msg, len, "seedd at %s refuses this user: %s", socket, strerror(EACCES));
		return EXIT_REFUSED;
	case ENOENT:
	case ENOTDIR:
	case ECONNREFUSED:
	case ECONNRESET:
	case EPIPE:
	case ETIMEDOUT:
	case EAGAIN:
		snprintf(msg, len, "cannot reach seedd at %s: %s", socket, strerror(-err));
		return EXIT_UNREACHABLE;
	default:
		snprintf(msg, len, "seedd at %s did not serve the request: %s", socket,
			 strerror(-err));
		return EXIT_FAIL;
	}
}

bool cli_transient(int err)
{
	switch (-err) {
	case ENOENT:
	case ECONNREFUSED:
	case ECONNRESET:
	case EPIPE:
	case ETIMEDOUT:
	case EAGAIN:
	case EINTR:
	case EBUSY:
		return true;
	default:
		return false;
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

	/* As seedd reads its --key-file: a key seedd would refuse is no key here either. */
	key = seal_key_file(key_file, why, sizeof(why));
	if (!key)
		cli_error("refusing key file %s: %s", key_file, why);
	return key;
}

/* What was printed must have reached stdout: a full disk or a closed pipe is an error. */
static int flush_stdout(int rc)
{
	int err = fflush(stdout) == 0 ? 0 : errno;

	if (!err && ferror(stdout))
		err = EIO;
	if (!err)
		return rc;
	cli_error("cannot write to standard output: %s", strerror(err));
	return EXIT_FAIL;
}

int main(int argc, char **argv)
{
	static const struct option no_opts[] = { { 0 } };
	/* "+": global options stop at the command; a command takes options anywhere. */
	struct cli cli = { .socket = seedd_socket_path(), .optstring = "+:s:hV" };
	int c, rc = EXIT_OK;

	while ((c = cli_next_opt(&cli, argc, argv, no_opts, &rc)) != -1)
		if (c == -2)
			return flush_stdout(rc);
	if (optind >= argc)
		return cli_usage_error("no command given");
	current = find_command(argv[optind]);
	if (!current)
		return cli_usage_error("unknown command '%s'", argv[optind]);
	argc -= optind;
	argv += optind;
	optind = 0;
	cli.optstring = ":s:hV";
	return flush_stdout(current->fn(&cli, argc, argv));
}
