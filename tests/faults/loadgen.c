// SPDX-License-Identifier: MIT
/*
 * Load generator for the faults suite and the long runs, speaking the wire
 * protocol directly (GET_SEED of 32 bytes):
 *
 *   loadgen latency SOCK N              N requests one after the other
 *   loadgen pair SOCK_A SOCK_B N        N requests to each, taking turns, so that
 *                                       both see the machine in the same state;
 *                                       p50/p99 of each as a_p50_us, b_p99_us, ...
 *   loadgen concurrent SOCK C SECONDS   C connections, one request in flight each
 *   loadgen flood SOCK SECONDS          one connection, as many requests in
 *                                       flight as the socket takes
 *   loadgen hold SOCK N [get]           N connections opened and held (raising
 *                                       RLIMIT_NOFILE to fit), one request on
 *                                       each with "get"
 *   loadgen connflood SOCK SECONDS      non-blocking connect and close in a loop,
 *                                       as fast as it goes: the listen queue full
 *   loadgen busy SOCK N DEPTH           N connections, each with DEPTH requests
 *                                       always in flight (a reply is followed by
 *                                       the next request at once); one that the
 *                                       daemon refused or closed is dialled
 *                                       again, so that all N stay claimed
 *
 * Prints one line of key=value pairs: ok, failed, dup (replies seen before,
 * by a hash of all 32 bytes), rate (requests/s), p50_us, p99_us, max_us.
 * Exit 1 when a request failed or a reply repeated.
 *
 * hold prints "opened=N ok=N busy=N open=N" once its connections are made
 * (busy: refused with a busy reply; open: not closed by the daemon), then
 * "open=N" again for every line read from stdin, and exits at end of input.
 * connflood prints "attempts=N queued=N full=N" (queued: connect succeeded;
 * full: it failed with EAGAIN, the queue being full).
 * busy prints "open=N ok=N busy=N closed=N" (closed: by the daemon, after it
 * had admitted them) once the first N were dialled, again for every line
 * read from stdin, and exits at end of input.
 */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "client.h"
#include "measure.h"
#include "seedd-protocol.h"
#include "util.h"

#define NBYTES 32
#define FLOOD_DEPTH 16
/* How long a connect may wait for room in the listen queue, and a reply for the daemon. */
#define DIAL_MS 30000
/* busy: connections dialled again per round, and a round's length. */
#define REDIAL_BATCH 16
#define ROUND_MS 10

static uint64_t *lat;
static size_t n_lat, cap_lat;
static uint64_t ok, failed, dups;

/* Open addressing on the first 16 bytes of each reply: 2^-128 false hits. */
static struct {
	uint64_t (*slot)[2];
	size_t cap, used;
} seen;

static uint64_t now_ns(void)
{
	return (uint64_t)measure_now_ns();
}

static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n, size);

	if (!p) {
		fprintf(stderr, "loadgen: out of memory\n");
		exit(2);
	}
	return p;
}

static void seen_add(const uint8_t *b)
{
	uint64_t k[2];
	size_t i;

	if (2 * (seen.used + 1) > seen.cap) {
		uint64_t(*old)[2] = seen.slot;
		size_t oldcap = seen.cap;

		seen.cap = oldcap ? 2 * oldcap : 1 << 16;
		seen.slot = xcalloc(seen.cap, sizeof(*seen.slot));
		seen.used = 0;
		for (i = 0; i < oldcap; i++)
			if (old[i][0] | old[i][1])
				seen_add((const uint8_t *)old[i]);
		free(old);
	}
	memcpy(k, b, sizeof(k));
	for (i = (size_t)(k[0] ^ k[1]) & (seen.cap - 1); seen.slot[i][0] | seen.slot[i][1];
	     i = (i + 1) & (seen.cap - 1)) {
		if (seen.slot[i][0] == k[0] && seen.slot[i][1] == k[1]) {
			dups++;
			return;
		}
	}
	memcpy(seen.slot[i], k, sizeof(k));
	seen.used++;
}

static void record(uint64_t ns)
{
	if (n_lat == cap_lat) {
		cap_lat = cap_lat ? 2 * cap_lat : 1 << 16;
		lat = realloc(lat, cap_lat * sizeof(*lat));
		if (!lat)
			exit(2);
	}
	lat[n_lat++] = ns;
}

static int report(double secs)
{
	uint64_t p50, p99, max;

	measure_sort(lat, n_lat);
	p50 = measure_pct(lat, n_lat, 50);
	p99 = measure_pct(lat, n_lat, 99);
	max = measure_pct(lat, n_lat, 100);
	printf("ok=%llu failed=%llu dup=%llu rate=%.0f p50_us=%.1f p99_us=%.1f max_us=%.1f\n",
	       (unsigned long long)ok, (unsigned long long)failed, (unsigned long long)dups,
	       secs > 0 ? (double)ok / secs : 0.0, (double)p50 / 1e3, (double)p99 / 1e3,
	       (double)max / 1e3);
	return failed || dups ? 1 : 0;
}

/* The private client call's connection: waits while the listen queue is full; blocking. */
static int dial(const char *path)
{
	int fd = client_connect(path, DIAL_MS, now_ms() + DIAL_MS);

	if (fd < 0)
		fprintf(stderr, "loadgen: connect %s: %s\n", path, strerror(-fd));
	return fd < 0 ? -1 : fd;
}

static size_t get_req(uint8_t *buf)
{
	struct seedd_get_req g = { .bytes = NBYTES };
	size_t hl = proto_put_hdr(buf, SEEDD_OP_GET_SEED, 0, sizeof(g));

	memcpy(buf + hl, &g, sizeof(g));
	return hl + sizeof(g);
}

/* Checks one reply; 0 if it is a good GET reply. */
static int take_reply(const uint8_t *buf, ssize_t n)
{
	struct proto_msg m;

	if (n <= 0 || proto_parse_reply(buf, (size_t)n, SEEDD_OP_GET_SEED, &m) < 0 ||
	    m.len != NBYTES) {
		failed++;
		return -1;
	}
	ok++;
	seen_add(m.payload);
	return 0;
}

static int cmd_latency(const char *path, long n)
{
	uint8_t req[64], rep[SEEDD_PROTO_MAX_MSG];
	size_t rl = get_req(req);
	uint64_t t0 = now_ns();
	int fd = dial(path);

	if (fd < 0)
		return 2;
	for (long i = 0; i < n; i++) {
		uint64_t t = now_ns();

		if (send(fd, req, rl, MSG_NOSIGNAL) != (ssize_t)rl ||
		    take_reply(rep, recv(fd, rep, sizeof(rep), 0)) < 0)
			break;
		record(now_ns() - t);
	}
	close(fd);
	return report((double)(now_ns() - t0) / 1e9);
}

/* One request on fd, its latency in *ns; 0, or -1 when it failed. */
static int one_request(int fd, const uint8_t *req, size_t rl, uint64_t *ns)
{
	uint8_t rep[SEEDD_PROTO_MAX_MSG];
	uint64_t t = now_ns();

	if (send(fd, req, rl, MSG_NOSIGNAL) != (ssize_t)rl ||
	    take_reply(rep, recv(fd, rep, sizeof(rep), 0)) < 0)
		return -1;
	*ns = now_ns() - t;
	return 0;
}

static int cmd_pair(const char *path_a, const char *path_b, long n)
{
	uint64_t *a = xcalloc((size_t)n, sizeof(*a)), *b = xcalloc((size_t)n, sizeof(*b));
	uint8_t req[64];
	size_t rl = get_req(req);
	int fa = dial(path_a), fb = dial(path_b);
	long i;

	if (fa < 0 || fb < 0)
		return 2;
	/* Which goes first alternates too, so that neither always follows the other. */
	for (i = 0; i < n; i++) {
		int first = i & 1 ? fb : fa, second = i & 1 ? fa : fb;
		uint64_t *t1 = i & 1 ? &b[i] : &a[i], *t2 = i & 1 ? &a[i] : &b[i];

		if (one_request(first, req, rl, t1) < 0 || one_request(second, req, rl, t2) < 0)
			break;
	}
	close(fa);
	close(fb);
	measure_sort(a, (size_t)i);
	measure_sort(b, (size_t)i);
	printf("ok=%llu failed=%llu dup=%llu a_p50_us=%.1f a_p99_us=%.1f b_p50_us=%.1f b_p99_us=%.1f\n",
	       (unsigned long long)ok, (unsigned long long)failed, (unsigned long long)dups,
	       (double)measure_pct(a, (size_t)i, 50) / 1e3,
	       (double)measure_pct(a, (size_t)i, 99) / 1e3,
	       (double)measure_pct(b, (size_t)i, 50) / 1e3,
	       (double)measure_pct(b, (size_t)i, 99) / 1e3);
	free(a);
	free(b);
	return failed || dups ? 1 : 0;
}

static void raise_nofile(long want)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)want) {
		rl.rlim_cur = rl.rlim_max < (rlim_t)want ? rl.rlim_max : (rlim_t)want;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static int cmd_concurrent(const char *path, long clients, double secs)
{
	uint8_t req[64], rep[SEEDD_PROTO_MAX_MSG];
	size_t rl = get_req(req);
	uint64_t *sent_at = xcalloc((size_t)clients, sizeof(*sent_at));
	int *fds = xcalloc((size_t)clients, sizeof(*fds));
	struct epoll_event ev[256];
	uint64_t t0, end;
	int ep = epoll_create1(EPOLL_CLOEXEC);

	raise_nofile(clients + 64);
	for (long i = 0; i < clients; i++) {
		struct epoll_event e = { .events = EPOLLIN, .data.u64 = (uint64_t)i };

		fds[i] = dial(path);
		if (fds[i] < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &e) < 0) {
			fprintf(stderr, "loadgen: only %ld of %ld clients connected\n", i, clients);
			return 2;
		}
	}
	t0 = now_ns();
	end = t0 + (uint64_t)(secs * 1e9);
	for (long i = 0; i < clients; i++) {
		sent_at[i] = now_ns();
		if (send(fds[i], req, rl, MSG_NOSIGNAL) != (ssize_t)rl)
			failed++;
	}
	for (long inflight = clients; inflight > 0;) {
		int n = epoll_wait(ep, ev, 256, 5000);

		if (n <= 0) {
			fprintf(stderr, "loadgen: %ld requests got no reply within 5 s\n",
				inflight);
			failed += (uint64_t)inflight;
			break;
		}
		for (int j = 0; j < n; j++) {
			long i = (long)ev[j].data.u64;
			uint64_t t = now_ns();

			inflight--;
			if (take_reply(rep, recv(fds[i], rep, sizeof(rep), 0)) == 0)
				record(t - sent_at[i]);
			if (t >= end)
				continue;
			sent_at[i] = t;
			if (send(fds[i], req, rl, MSG_NOSIGNAL) == (ssize_t)rl)
				inflight++;
			else
				failed++;
		}
	}
	return report((double)(now_ns() - t0) / 1e9);
}

static int cmd_flood(const char *path, double secs)
{
	uint8_t req[64], rep[SEEDD_PROTO_MAX_MSG];
	size_t rl = get_req(req);
	uint64_t t0 = now_ns(), end = t0 + (uint64_t)(secs * 1e9);
	int fd = dial(path), inflight = 0;

	if (fd < 0)
		return 2;
	while (now_ns() < end || inflight > 0) {
		struct pollfd p = { .fd = fd, .events = POLLIN };

		while (now_ns() < end && inflight < FLOOD_DEPTH &&
		       send(fd, req, rl, MSG_NOSIGNAL | MSG_DONTWAIT) == (ssize_t)rl)
			inflight++;
		if (poll(&p, 1, 5000) <= 0) {
			failed += (uint64_t)inflight;
			break;
		}
		if (take_reply(rep, recv(fd, rep, sizeof(rep), 0)) < 0)
			break;
		inflight--;
	}
	close(fd);
	return report((double)(now_ns() - t0) / 1e9);
}

/* Connections the daemon has not closed: a held one has nothing to read until then. */
static long count_open(const int *fds, long n)
{
	long open = 0;

	for (long i = 0; i < n; i++) {
		struct pollfd p = { .fd = fds[i], .events = POLLIN };

		if (poll(&p, 1, 0) == 0)
			open++;
	}
	return open;
}

static int cmd_hold(const char *path, long n, int get)
{
	uint8_t req[64], rep[SEEDD_PROTO_MAX_MSG];
	size_t rl = get_req(req);
	int *fds = xcalloc((size_t)n, sizeof(*fds));
	uint64_t busy = 0;
	char line[64];
	struct rlimit rlim;

	raise_nofile(n + 64);
	if (getrlimit(RLIMIT_NOFILE, &rlim) < 0 || rlim.rlim_cur < (rlim_t)n + 64) {
		fprintf(stderr, "loadgen: RLIMIT_NOFILE cannot be raised to %ld\n", n + 64);
		return 2;
	}
	for (long i = 0; i < n; i++) {
		struct proto_msg m;
		ssize_t r;

		fds[i] = dial(path);
		if (fds[i] < 0)
			return 2;
		if (!get)
			continue;
		if (send(fds[i], req, rl, MSG_NOSIGNAL) != (ssize_t)rl) {
			failed++;
			continue;
		}
		r = recv(fds[i], rep, sizeof(rep), 0);
		if (r > 0 && proto_parse_reply(rep, (size_t)r, SEEDD_OP_GET_SEED, &m) == -EBUSY)
			busy++;
		else
			take_reply(rep, r);
	}
	printf("opened=%ld ok=%llu busy=%llu open=%ld\n", n, (unsigned long long)ok,
	       (unsigned long long)busy, count_open(fds, n));
	while (fgets(line, sizeof(line), stdin))
		printf("open=%ld\n", count_open(fds, n));
	return 0;
}

static int cmd_connflood(const char *path, double secs)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	uint64_t end = now_ns() + (uint64_t)(secs * 1e9), attempts = 0, queued = 0, full = 0;

	if (strlen(path) >= sizeof(sa.sun_path))
		return 2;
	strcpy(sa.sun_path, path);
	while (now_ns() < end) {
		for (int i = 0; i < 256; i++) {
			int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

			if (fd < 0)
				return 2;
			attempts++;
			if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
				queued++;
			else if (errno == EAGAIN)
				full++;
			close(fd);
		}
	}
	printf("attempts=%llu queued=%llu full=%llu\n", (unsigned long long)attempts,
	       (unsigned long long)queued, (unsigned long long)full);
	return 0;
}

/* busy's connections: fds[i] is -1 while slot i waits to be dialled again. */
struct busy {
	const char *path;
	int *fds;
	long n, depth;
	int ep;
	uint64_t busy, closed;
	uint8_t req[64];
	size_t rl;
};

static long busy_open(const struct busy *b)
{
	long open = 0;

	for (long i = 0; i < b->n; i++)
		open += b->fds[i] >= 0;
	return open;
}

static void busy_close(struct busy *b, long i)
{
	epoll_ctl(b->ep, EPOLL_CTL_DEL, b->fds[i], NULL);
	close(b->fds[i]);
	b->fds[i] = -1;
}

/* Dials slot i and puts depth requests in flight; the slot stays empty on failure. */
static void busy_dial(struct busy *b, long i)
{
	struct epoll_event e = { .events = EPOLLIN, .data.u64 = (uint64_t)i };
	int fd = dial(b->path);

	if (fd < 0)
		return;
	b->fds[i] = fd;
	if (epoll_ctl(b->ep, EPOLL_CTL_ADD, fd, &e) < 0) {
		close(fd);
		b->fds[i] = -1;
		return;
	}
	for (long k = 0; k < b->depth; k++)
		if (send(fd, b->req, b->rl, MSG_NOSIGNAL) != (ssize_t)b->rl)
			break;
}

/* Takes every reply waiting on slot i and sends a request for each. */
static void busy_replies(struct busy *b, long i)
{
	uint8_t rep[SEEDD_PROTO_MAX_MSG];

	for (;;) {
		ssize_t r = recv(b->fds[i], rep, sizeof(rep), MSG_DONTWAIT);
		struct proto_msg m;

		if (r < 0 && errno == EAGAIN)
			return;
		if (r > 0 && proto_parse_reply(rep, (size_t)r, SEEDD_OP_GET_SEED, &m) == -EBUSY) {
			b->busy++;
			busy_close(b, i);
			return;
		}
		if (r <= 0) {
			b->closed++;
			busy_close(b, i);
			return;
		}
		if (take_reply(rep, r) < 0 ||
		    send(b->fds[i], b->req, b->rl, MSG_NOSIGNAL) != (ssize_t)b->rl) {
			b->closed++;
			busy_close(b, i);
			return;
		}
	}
}

static void busy_report(const struct busy *b)
{
	printf("open=%ld ok=%llu busy=%llu closed=%llu\n", busy_open(b), (unsigned long long)ok,
	       (unsigned long long)b->busy, (unsigned long long)b->closed);
}

static int cmd_busy(const char *path, long n, long depth)
{
	struct busy b = { .path = path, .n = n, .depth = depth };
	struct epoll_event in = { .events = EPOLLIN, .data.u64 = UINT64_MAX };
	struct epoll_event ev[256];
	long next = 0;

	raise_nofile(n + 64);
	b.fds = xcalloc((size_t)n, sizeof(*b.fds));
	b.rl = get_req(b.req);
	b.ep = epoll_create1(EPOLL_CLOEXEC);
	if (b.ep < 0 || epoll_ctl(b.ep, EPOLL_CTL_ADD, STDIN_FILENO, &in) < 0)
		return 2;
	for (long i = 0; i < n; i++) {
		b.fds[i] = -1;
		busy_dial(&b, i);
	}
	busy_report(&b);
	for (;;) {
		int k = epoll_wait(b.ep, ev, 256, ROUND_MS);

		for (int j = 0; j < k; j++) {
			char line[256];

			if (ev[j].data.u64 != UINT64_MAX) {
				if (b.fds[ev[j].data.u64] >= 0)
					busy_replies(&b, (long)ev[j].data.u64);
				continue;
			}
			ssize_t r = read(STDIN_FILENO, line, sizeof(line));

			if (r <= 0)
				return failed || dups ? 1 : 0;
			for (ssize_t c = 0; c < r; c++)
				if (line[c] == '\n')
					busy_report(&b);
		}
		/* Claim back what the daemon took, a few a round. */
		for (long tries = 0, dialled = 0; tries < n && dialled < REDIAL_BATCH; tries++) {
			long i = next;

			next = (next + 1) % n;
			if (b.fds[i] < 0) {
				busy_dial(&b, i);
				dialled++;
			}
		}
	}
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 2 ? argv[1] : "";

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!strcmp(cmd, "latency") && argc == 4)
		return cmd_latency(argv[2], atol(argv[3]));
	if (!strcmp(cmd, "pair") && argc == 5)
		return cmd_pair(argv[2], argv[3], atol(argv[4]));
	if (!strcmp(cmd, "concurrent") && argc == 5)
		return cmd_concurrent(argv[2], atol(argv[3]), atof(argv[4]));
	if (!strcmp(cmd, "flood") && argc == 4)
		return cmd_flood(argv[2], atof(argv[3]));
	if (!strcmp(cmd, "hold") && (argc == 4 || (argc == 5 && !strcmp(argv[4], "get"))))
		return cmd_hold(argv[2], atol(argv[3]), argc == 5);
	if (!strcmp(cmd, "connflood") && argc == 4)
		return cmd_connflood(argv[2], atof(argv[3]));
	if (!strcmp(cmd, "busy") && argc == 5)
		return cmd_busy(argv[2], atol(argv[3]), atol(argv[4]));
	fprintf(stderr, "usage: see the comment at the top of loadgen.c\n");
	return 2;
}
