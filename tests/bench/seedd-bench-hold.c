// SPDX-License-Identifier: MIT
/*
 * Idle connections for run-bench.py's memory measurement:
 *
 *   seedd-bench-hold --conns N --socket PATH
 *
 * Opens N connections to seedd and makes one GET_SEED on each, so the
 * daemon has accepted and served every one of them, as it would for N
 * processes that each fetched a seed and kept the library's connection.
 * Then prints one JSON line and holds them all until stdin reaches EOF,
 * while run-bench.py reads the daemon's memory. The wire format is spoken
 * directly: the library keeps one connection per process.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "bench.h"
#include "measure.h"
#include "seedd-protocol.h"

#define SEED_BYTES 64
#define SPARE_FDS 16

static void usage(void)
{
	fprintf(stderr, "usage: seedd-bench-hold --conns N --socket PATH\n");
	exit(2);
}

/* One connection that has had one seed; returns the fd, or -errno / a -(100 + status). */
static int conn_open(const struct sockaddr_un *sa)
{
	struct {
		struct seedd_hdr hdr;
		struct seedd_get_req get;
	} req = {
		.hdr = { .version = SEEDD_PROTO_VERSION,
			 .opcode = SEEDD_OP_GET_SEED,
			 .length = sizeof(struct seedd_get_req) },
		.get = { .bytes = SEED_BYTES },
	};
	uint8_t reply[SEEDD_PROTO_MAX_MSG];
	struct seedd_hdr hdr;
	ssize_t n = -1;
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0), r;

	if (fd < 0)
		return -errno;
	while ((r = connect(fd, (const struct sockaddr *)sa, sizeof(*sa))) < 0 && errno == EINTR)
		;
	if (r == 0)
		while ((n = send(fd, &req, sizeof(req), MSG_NOSIGNAL)) < 0 && errno == EINTR)
			;
	if (r == 0 && n == (ssize_t)sizeof(req))
		while ((n = recv(fd, reply, sizeof(reply), 0)) < 0 && errno == EINTR)
			;
	if (r < 0 || n < (ssize_t)sizeof(hdr)) {
		r = r < 0 || n < 0 ? -errno : -EPROTO;
		close(fd);
		return r;
	}
	memcpy(&hdr, reply, sizeof(hdr));
	explicit_bzero(reply, sizeof(reply));
	if (hdr.status != SEEDD_ST_OK || hdr.opcode != SEEDD_OP_GET_SEED ||
	    n != (ssize_t)(sizeof(hdr) + SEED_BYTES)) {
		close(fd);
		return hdr.status != SEEDD_ST_OK ? -(100 + hdr.status) : -EPROTO;
	}
	return fd;
}

int main(int argc, char **argv)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	unsigned long conns = 0, ok = 0, failed = 0;
	int first_error = 0;
	struct rlimit rl;
	int64_t t0;
	char c;
	int *fds;

	for (int i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--conns") == 0)
			conns = strtoul(argv[i + 1], NULL, 10);
		else if (strcmp(argv[i], "--socket") == 0 &&
			 strlen(argv[i + 1]) < sizeof(sa.sun_path))
			strcpy(sa.sun_path, argv[i + 1]);
		else
			usage();
	}
	if (argc != 5 || conns == 0 || !sa.sun_path[0])
		usage();
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur < conns + SPARE_FDS) {
		fprintf(stderr,
			"seedd-bench-hold: %lu connections need %lu fds; "
			"RLIMIT_NOFILE is %lu\n",
			conns, conns + SPARE_FDS, (unsigned long)rl.rlim_cur);
		return 1;
	}
	fds = calloc(conns, sizeof(*fds));
	if (!fds)
		return 1;

	t0 = measure_now_ns();
	for (unsigned long i = 0; i < conns; i++) {
		int fd = conn_open(&sa);

		if (fd >= 0) {
			fds[ok++] = fd;
			continue;
		}
		if (!first_error)
			first_error = fd;
		failed++;
	}
	printf("{\"conns\": %lu, \"ok\": %lu, \"failed\": %lu, \"seconds\": %.3f, "
	       "\"first_error\": \"",
	       conns, ok, failed, (double)(measure_now_ns() - t0) / 1e9);
	if (first_error <= -100)
		printf("status %d", -first_error - 100);
	else if (first_error)
		printf("%s", strerror(-first_error));
	printf("\"}\n");
	fflush(stdout);

	for (;;) {
		ssize_t r = read(0, &c, 1);

		if (r == 0 || (r < 0 && errno != EINTR))
			break;
	}
	return failed ? 1 : 0;
}
