/* SPDX-License-Identifier: MIT */
/* seedctl's private header: the command-line framework, the commands, what they share. */
#ifndef SEEDCTL_H
#define SEEDCTL_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "seal.h"
#include "seedfile.h"

/* One meaning each, for every command (seedctl(1), EXIT STATUS). */
enum {
	EXIT_OK = 0,
	EXIT_FAIL = 1, /* error, or the daemon is degraded */
	EXIT_USAGE = 2,
	EXIT_UNREACHABLE = 3, /* no socket, nobody listening, no answer in time */
	EXIT_REFUSED = 4,     /* the daemon refuses us, or we do not trust it */
};

/* What a command is handed besides its arguments. */
struct cli {
	const char *socket;    /* --socket, else $SEEDD_SOCKET, else the default */
	const char *optstring; /* getopt's short options, for the command line's part at hand */
};

/*
 * The next option of a command: one of opts (ended by { 0 }, at most 8) or a
 * global one (--socket, --help, --version), which it handles. Returns the
 * option's value, -1 at the end, or -2 after printing help, the version or
 * an error, with the exit code in *exit_code.
 */
int cli_next_opt(struct cli *cli, int argc, char **argv, const struct option *opts, int *exit_code);

/* "seedctl: COMMAND: <message>" on stderr, the one form of every error. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* cli_error() and how to get help; returns EXIT_USAGE. */
int cli_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Puts why talking to the daemon at socket failed with err (-errno) in
 * msg and returns the exit code: EXIT_REFUSED for a refusal (EACCES: the
 * daemon or the socket's permissions refuse us; EPERM: we do not trust who
 * listens there), EXIT_UNREACHABLE for no daemon or no answer, else EXIT_FAIL.
 */
int cli_daemon_error(const char *socket, int err, char *msg, size_t len);

/* Whether the daemon may yet answer after err: it is not there or busy, rather than refusing. */
bool cli_transient(int err);

/* The symbolic name of errno value e ("ENOSPC"), or "" when this table lacks it. */
const char *cli_errno_name(int e);

void cli_print_hex(const uint8_t *b, size_t n);

/*
 * Who may own the directories seedctl writes to or checks, and their lock
 * files: whoever runs it, root, the daemon's user (a file provisioned for
 * it), and extra (check --owner).
 */
void cli_owners(struct seedfile_owners *o, uid_t extra);

/* The key for check and provision, as seedd reads it; NULL after a message. */
struct seal_key *cli_read_key(const char *key_file);

/* The commands: they return the exit code. */
int cmd_status(struct cli *cli, int argc, char **argv);
int cmd_wait(struct cli *cli, int argc, char **argv);
int cmd_get(struct cli *cli, int argc, char **argv);
int cmd_provision(struct cli *cli, int argc, char **argv);
int cmd_check(struct cli *cli, int argc, char **argv);

#endif
