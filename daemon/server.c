// SPDX-License-Identifier: MIT
/*
 * One libevent event per connection, one request handled per wakeup: libevent
 * runs every ready connection once per loop iteration, so a client that sends
 * as fast as it can gets its turn like everybody else and no more.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "log.h"
#include "pool.h"
#include "seedd-protocol.h"
#include "server.h"
#include "util.h"

#define ACCEPT_BATCH 32
#define ACCEPT_BACKOFF_MS 100
#define REFUSAL_LOG_INTERVAL_MS 10000

struct conn {
	struct server *srv;
	struct event *ev;
	struct conn *prev, *next;
	int fd;
};

struct server {
	struct event_base *base;
	struct pool *pool;
	struct seedd_stats *stats;
	struct server_opts opts;
	struct event *accept_ev;
	struct event *backoff_ev;
	struct conn *conns;
	unsigned n_conns;
	int fd;
	uid_t self_uid;
	int64_t last_refusal_log;
	unsigned refusals_unlogged;
	/* One request and one reply at a time: the daemon is single-threaded. */
	uint8_t in[SEEDD_PROTO_MAX_MSG];
	uint8_t out[SEEDD_PROTO_MAX_MSG];
};

int server_bind(const char *path, char *why, size_t whylen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int fd, r;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(why, whylen, "socket path %s is too long (at most %zu bytes)", path,
			 sizeof(sa.sun_path) - 1);
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, path);

	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			snprintf(why, whylen, "%s exists and is not a socket; refusing to replace it",
				 path);
			return -EEXIST;
		}
		fd = sock_connect(path, now_ms());
		if (fd >= 0 || fd == -ETIMEDOUT) {
			closep(&fd);
			snprintf(why, whylen, "%s: another daemon is listening on this socket", path);
			return -EADDRINUSE;
		}
		/* Nobody listens: a stale file from a daemon that died. */
		if (unlink(path) < 0 && errno != ENOENT) {
			r = -errno;
			snprintf(why, whylen, "cannot remove stale socket %s: %s", path, strerror(errno));
			return r;
		}
	}

	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		r = -errno;
		snprintf(why, whylen, "cannot create socket: %s", strerror(errno));
		return r;
	}
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		r = -errno;
		if (errno == ENOENT)
			snprintf(why, whylen, "cannot bind %s: its directory does not exist", path);
		else
			snprintf(why, whylen, "cannot bind %s: %s", path, strerror(errno));
		close(fd);
		return r;
	}
	/* Like /dev/urandom: anyone may ask; --allow-uid/--allow-gid restrict. */
	if (chmod(path, 0666) < 0) {
		r = -errno;
		snprintf(why, whylen, "cannot chmod %s: %s", sa.sun_path, strerror(errno));
		unlink(path);
		close(fd);
		return r;
	}
	return fd;
}

static void conn_free(struct conn *c)
{
	struct server *s = c->srv;

	if (c->prev)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	s->n_conns--;
	event_free(c->ev);
	close(c->fd);
	free(c);
	/* A freed fd may be what a paused accept was waiting for. */
	if (event_pending(s->backoff_ev, EV_TIMEOUT, NULL)) {
		event_del(s->backoff_ev);
		event_add(s->accept_ev, NULL);
	}
}

static int send_reply(int fd, const uint8_t *buf, size_t len)
{
	ssize_t n;

	do {
		n = send(fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
	} while (n < 0 && errno == EINTR);
	/* A full queue means the peer does not read its replies: drop it. */
	return n == (ssize_t)len ? 0 : -1;
}

static int send_status(int fd, uint8_t *buf, uint8_t op, uint16_t status)
{
	return send_reply(fd, buf, proto_put_hdr(buf, op, status, 0));
}

static size_t handle_status(struct server *s, uint8_t *out)
{
	struct seedd_status_info info = {
		.uptime_s = (uint64_t)((now_ms() - s->stats->start_ms) / 1000),
		.requests = s->stats->requests,
		.bytes_served = s->stats->bytes_served,
		.last_save_unix = s->stats->last_save_unix,
		.clients = s->n_conns,
		.seed_size = (uint32_t)pool_seed_size(s->pool),
		.flags = SEEDD_STATUS_SEEDED,
		.last_save_error = s->stats->last_save_error,
		.saves = s->stats->saves,
		.save_failures = s->stats->save_failures,
	};
	size_t hl;

	if (!s->stats->last_save_error)
		info.flags |= SEEDD_STATUS_LAST_SAVE_OK;
	if (s->stats->encrypted)
		info.flags |= SEEDD_STATUS_ENCRYPTED;
	if (s->stats->clone_suspected)
		info.flags |= SEEDD_STATUS_CLONE_SUSPECTED;
	snprintf(info.version, sizeof(info.version), "%s", SEEDD_VERSION);
	snprintf(info.seed_file, sizeof(info.seed_file), "%s", s->stats->seed_file);
	hl = proto_put_hdr(out, SEEDD_OP_STATUS, SEEDD_ST_OK, sizeof(info));
	memcpy(out + hl, &info, sizeof(info));
	return hl + sizeof(info);
}

size_t server_answer(struct server *s, const uint8_t *in, size_t n, int truncated,
		     uint8_t out[SEEDD_PROTO_MAX_MSG], uint32_t *served)
{
	struct proto_msg msg;
	enum seedd_status st;
	size_t hl;

	*served = 0;
	st = truncated ? SEEDD_ST_MALFORMED : proto_parse_request(in, n, &msg);
	if (st != SEEDD_ST_OK)
		return proto_put_hdr(out, n >= 2 ? in[1] : 0, (uint16_t)st, 0);

	switch (msg.hdr.opcode) {
	case SEEDD_OP_GET_SEED: {
		struct seedd_get_req req;

		memcpy(&req, msg.payload, sizeof(req));
		hl = proto_put_hdr(out, SEEDD_OP_GET_SEED, SEEDD_ST_OK, req.bytes);
		if (pool_random(s->pool, out + hl, req.bytes) < 0)
			return proto_put_hdr(out, SEEDD_OP_GET_SEED, SEEDD_ST_INTERNAL, 0);
		*served = req.bytes;
		return hl + req.bytes;
	}
	case SEEDD_OP_PUT_SEED:
		if (pool_mix(s->pool, msg.payload, msg.len) < 0)
			return proto_put_hdr(out, SEEDD_OP_PUT_SEED, SEEDD_ST_INTERNAL, 0);
		s->stats->requests++;
		return proto_put_hdr(out, SEEDD_OP_PUT_SEED, SEEDD_ST_OK, 0);
	default:
		return handle_status(s, out);
	}
}

/* Answers one request; returns -1 when the connection must be closed. */
static int handle_request(struct server *s, int fd, size_t n, int truncated)
{
	uint32_t served;
	size_t len = server_answer(s, s->in, n, truncated, s->out, &served);
	int r = send_reply(fd, s->out, len);

	explicit_bzero(s->out, len);
	/* Output counts as served only once the peer has it. */
	if (r == 0 && served) {
		s->stats->requests++;
		s->stats->bytes_served += served;
	}
	return r;
}

static void conn_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	struct server *s = c->srv;
	struct iovec iov = { .iov_base = s->in, .iov_len = sizeof(s->in) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n;
	int r;

	if (what & EV_TIMEOUT) {
		conn_free(c);
		return;
	}
	n = recvmsg(fd, &mh, MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	/* 0 is the end of the stream (or an empty message: equally useless). */
	if (n <= 0) {
		conn_free(c);
		return;
	}
	r = handle_request(s, fd, (size_t)n, !!(mh.msg_flags & MSG_TRUNC));
	explicit_bzero(s->in, (size_t)n < sizeof(s->in) ? (size_t)n : sizeof(s->in));
	if (r < 0)
		conn_free(c);
}

static int id_in(unsigned id, const unsigned *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (list[i] == id)
			return 1;
	return 0;
}

static int peer_allowed(struct server *s, int fd)
{
	struct ucred cr;
	socklen_t len = sizeof(cr);

	if (!s->opts.n_allow_uid && !s->opts.n_allow_gid)
		return 1;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0)
		return 0;
	return cr.uid == 0 || cr.uid == s->self_uid ||
	       id_in(cr.uid, s->opts.allow_uid, s->opts.n_allow_uid) ||
	       id_in(cr.gid, s->opts.allow_gid, s->opts.n_allow_gid);
}

/* Logs a refused peer at most once per interval, with what was suppressed. */
static void log_refusal(struct server *s, const char *why)
{
	int64_t now = now_ms();

	if (s->last_refusal_log && now - s->last_refusal_log < REFUSAL_LOG_INTERVAL_MS) {
		s->refusals_unlogged++;
		return;
	}
	if (s->refusals_unlogged)
		log_warn("refused a client: %s (and %u more refusals not logged)", why,
			 s->refusals_unlogged);
	else
		log_warn("refused a client: %s", why);
	s->last_refusal_log = now;
	s->refusals_unlogged = 0;
}

static void refuse(struct server *s, int fd, uint16_t status)
{
	send_status(fd, s->out, 0, status);
	/* Closing with a request unread would reset the peer before it reads the refusal. */
	for (int i = 0; i < 4 && recv(fd, s->in, sizeof(s->in), MSG_DONTWAIT) > 0; i++)
		;
	explicit_bzero(s->in, sizeof(s->in));
	close(fd);
	log_refusal(s, proto_status_str(status));
}

static void accept_cb(evutil_socket_t lfd, short what, void *arg)
{
	struct server *s = arg;
	struct timeval tv = { 0 };

	(void)what;
	for (int i = 0; i < ACCEPT_BATCH; i++) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct conn *c;

		if (fd < 0) {
			if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED)
				return;
			/*
			 * Out of fds or memory: the pending connection stays queued and
			 * would wake us again at once. Pause accepting instead of spinning.
			 */
			log_refusal(s, strerror(errno));
			event_del(s->accept_ev);
			tv.tv_usec = ACCEPT_BACKOFF_MS * 1000;
			event_add(s->backoff_ev, &tv);
			return;
		}
		if (s->n_conns >= s->opts.max_clients) {
			refuse(s, fd, SEEDD_ST_BUSY);
			continue;
		}
		if (!peer_allowed(s, fd)) {
			refuse(s, fd, SEEDD_ST_DENIED);
			continue;
		}
		c = calloc(1, sizeof(*c));
		if (c)
			c->ev = event_new(s->base, fd, EV_READ | EV_PERSIST, conn_cb, c);
		if (!c || !c->ev) {
			free(c);
			close(fd);
			log_refusal(s, "out of memory");
			continue;
		}
		c->fd = fd;
		c->srv = s;
		tv.tv_sec = s->opts.idle_timeout_s;
		tv.tv_usec = 0;
		event_add(c->ev, s->opts.idle_timeout_s ? &tv : NULL);
		c->next = s->conns;
		if (s->conns)
			s->conns->prev = c;
		s->conns = c;
		s->n_conns++;
	}
}

static void backoff_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server *s = arg;

	(void)fd;
	(void)what;
	event_add(s->accept_ev, NULL);
}

struct server *server_new(struct event_base *base, int fd, struct pool *pool,
			  const struct server_opts *opts, struct seedd_stats *stats)
{
	struct server *s = calloc(1, sizeof(*s));

	if (!s) {
		close(fd);
		return NULL;
	}
	s->base = base;
	s->pool = pool;
	s->stats = stats;
	s->opts = *opts;
	s->fd = fd;
	s->self_uid = geteuid();
	s->accept_ev = event_new(base, fd, EV_READ | EV_PERSIST, accept_cb, s);
	s->backoff_ev = evtimer_new(base, backoff_cb, s);
	if (!s->accept_ev || !s->backoff_ev || event_add(s->accept_ev, NULL) < 0) {
		server_free(s);
		return NULL;
	}
	return s;
}

void server_free(struct server *s)
{
	if (!s)
		return;
	while (s->conns)
		conn_free(s->conns);
	if (s->accept_ev)
		event_free(s->accept_ev);
	if (s->backoff_ev)
		event_free(s->backoff_ev);
	close(s->fd);
	explicit_bzero(s, sizeof(*s));
	free(s);
}
