// SPDX-License-Identifier: MIT
/*
 * The least a daemon can do, for run-bench.py's fresh-process floor:
 *
 *   seedd-bench-floor --socket PATH
 *
 * Listens on PATH (SOCK_SEQPACKET) and answers every GET_SEED with bytes
 * from getrandom(2), the way seedd does it (a request queued at accept is
 * answered before the connection joins epoll), but with nothing else: no
 * libevent, no Mbed TLS, no credential check, no limits. A fresh process's
 * first seed from it is the cost of a socket, a connect and one round trip
 * on this machine, which no daemon can go below. Prints one line once it
 * listens and exits when stdin reaches EOF. Not a daemon: it trusts its
 * clients and is run only by the benchmark, on a private directory.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "seedd-protocol.h"

/* Answers one request on fd; returns 0, or -1 when the connection is done. */
static int answer(int fd)
{
	uint8_t msg[SEEDD_PROTO_MAX_MSG];
	struct seedd_hdr hdr;
	struct seedd_get_req get;
	ssize_t n = recv(fd, msg, sizeof(msg), MSG_DONTWAIT);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n < (ssize_t)(sizeof(hdr) + sizeof(get)))
		return -1;
	memcpy(&hdr, msg, sizeof(hdr));
	memcpy(&get, msg + sizeof(hdr), sizeof(get));
	if (hdr.opcode != SEEDD_OP_GET_SEED || get.bytes < 1 || get.bytes > SEEDD_PROTO_MAX_PAYLOAD)
		return -1;
	hdr.status = SEEDD_ST_OK;
	hdr.length = get.bytes;
	memcpy(msg, &hdr, sizeof(hdr));
	if (getrandom(msg + sizeof(hdr), get.bytes, 0) != (ssize_t)get.bytes)
		return -1;
	n = send(fd, msg, sizeof(hdr) + get.bytes, MSG_DONTWAIT | MSG_NOSIGNAL);
	explicit_bzero(msg, sizeof(msg));
	return n == (ssize_t)(sizeof(hdr) + get.bytes) ? 0 : -1;
}

int main(int argc, char **argv)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct epoll_event ev = { .events = EPOLLIN };
	int lfd, ep;

	if (argc != 3 || strcmp(argv[1], "--socket") != 0 ||
	    strlen(argv[2]) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "usage: seedd-bench-floor --socket PATH\n");
		return 2;
	}
	strcpy(sa.sun_path, argv[2]);
	lfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (lfd < 0 || ep < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(lfd, SOMAXCONN) < 0) {
		fprintf(stderr, "seedd-bench-floor: %s: %s\n", argv[2], strerror(errno));
		return 1;
	}
	ev.data.fd = lfd;
	epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
	ev.data.fd = STDIN_FILENO;
	epoll_ctl(ep, EPOLL_CTL_ADD, STDIN_FILENO, &ev);
	printf("listening\n");
	fflush(stdout);

	for (;;) {
		struct epoll_event e[32];
		int n = epoll_wait(ep, e, 32, -1);

		if (n < 0 && errno != EINTR) {
			perror("seedd-bench-floor: epoll_wait");
			return 1;
		}
		for (int i = 0; i < n; i++) {
			int fd = e[i].data.fd;

			if (fd == STDIN_FILENO) {
				unlink(argv[2]);
				return 0;
			}
			if (fd != lfd) {
				if (answer(fd) < 0)
					close(fd); /* also leaves epoll */
				continue;
			}
			while ((fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK)) >= 0) {
				ev.data.fd = fd;
				if (answer(fd) < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0)
					close(fd);
			}
		}
	}
}
