// SPDX-License-Identifier: MIT
/*
 * The socket server.
 *
 * One libevent event per connection, one request handled per wakeup: libevent
 * runs every ready connection once per loop iteration, so a client that sends
 * as fast as it can gets its turn like everybody else and no more.
 *
 * Who gets a connection is admission.c's to decide; the server reads the
 * peer's credentials, asks, and acts on the answer: it looks at the
 * candidates to close (answering what they have waiting first), closes or
 * refuses, and logs.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "admission.h"
#include "config.h"
#include "log.h"
#include "pool.h"
#include "seedd-protocol.h"
#include "server.h"
#include "subids.h"
#include "util.h"

#define ACCEPT_BATCH 32
#define ACCEPT_BACKOFF_MS 100
#define LOG_INTERVAL_MS 10000
/* Requests answered at most on a busy connection closed for a newcomer: more than queue. */
#define DRAIN_MAX 1024

struct conn {
	struct server *srv;
	struct event *ev;
	struct admission_slot slot;
	int fd;
};

static struct conn *conn_of(struct admission_slot *slot)
{
	return (struct conn *)((uintptr_t)slot - offsetof(struct conn, slot));
}

/* uids a rate-limited log sums up by name; the rest as "others". */
#define LOG_UIDS 8

/*
 * One log line per interval. What was left out is summed up, with the uids
 * it happened to, on the next line, or at the interval's end when nothing
 * comes (the flush timer), so that the victims of a flood are named.
 */
struct ratelimit {
	const char *what; /* "refusals", for "(and 5 more refusals not logged: ...)" */
	struct event *flush;
	int64_t last;
	unsigned suppressed, others, n_uids;
	struct {
		uid_t uid;
		unsigned n;
	} uids[LOG_UIDS];
};

struct server {
	struct event_base *base;
	struct pool *pool;
	server_status_fn *status;
	void *status_ctx;
	struct server_counters counted;
	struct server_opts opts;
	struct event *accept_ev;
	struct event *backoff_ev;
	struct admission *adm;
	struct subids_file subuid;
	int fd;
	uint32_t pid;
	struct ratelimit refusals, evictions;
	/*
	 * One request and one reply at a time: the daemon is single-threaded.
	 * A newcomer's first request waits in first while room is made for it,
	 * which answers other connections' requests in in.
	 */
	uint8_t in[SEEDD_PROTO_MAX_MSG];
	uint8_t first[SEEDD_PROTO_MAX_MSG];
	uint8_t out[SEEDD_PROTO_MAX_MSG];
};

/* Replaces a stale socket at name and binds fd there; the cwd is the socket's directory. */
static int bind_here(int fd, int dirfd, const char *path, const char *name, char *why,
		     size_t whylen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	mode_t mask;
	int probe, r;

	strcpy(sa.sun_path, name);
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			snprintf(why, whylen,
				 "%s exists and is not a socket; refusing to replace it", path);
			return -EEXIST;
		}
		probe = sock_connect(name, 0, now_ms());
		if (probe >= 0 || probe == -ETIMEDOUT) {
			closep(&probe);
			snprintf(why, whylen, "%s: another daemon is listening on this socket",
				 path);
			return -EADDRINUSE;
		}
		/* Only a refusal says that nobody listens; whatever else keeps us out is not stale.
		 */
		if (probe != -ECONNREFUSED) {
			snprintf(why, whylen,
				 "%s is a socket of uid %u that cannot be probed (%s); refusing to replace it",
				 path, (unsigned)st.st_uid, strerror(-probe));
			return -EEXIST;
		}
		/*
		 * Nobody listens. A stale socket of ours or root's, from a daemon
		 * that died, is replaced; another user's (squatted in a sticky
		 * directory) is not ours to remove, even for root.
		 */
		if (st.st_uid != 0 && st.st_uid != geteuid()) {
			snprintf(why, whylen,
				 "%s is a socket of uid %u that nobody listens on; refusing to replace another user's socket (remove it if it is stale)",
				 path, (unsigned)st.st_uid);
			return -EEXIST;
		}
		/*
		 * Only this name in the checked directory can go; whoever could
		 * swap another file in since the check (root, us, or in a sticky
		 * directory the entry's owner) could remove that file anyway.
		 */
		if (unlinkat(dirfd, name, 0) < 0 && errno != ENOENT) {
			r = -errno;
			snprintf(why, whylen, "cannot remove stale socket %s: %s", path,
				 strerror(errno));
			return r;
		}
	} else if (errno != ENOENT) {
		r = -errno;
		snprintf(why, whylen, "cannot stat %s: %s", path, strerror(errno));
		return r;
	}

	/* Born 0666, like /dev/urandom (--allow-uid/--allow-gid restrict): no chmod by path. */
	mask = umask(0111);
	r = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(mask);
	if (r < 0) {
		r = -errno;
		snprintf(why, whylen, "cannot bind %s: %s", path, strerror(errno));
		return r;
	}
	/*
	 * Listening at once, so that a second daemon's probe finds this one
	 * while it still makes its first seed durable; clients wait in the
	 * queue meanwhile, as behind socket activation.
	 */
	if (listen(fd, SOMAXCONN) < 0) {
		r = -errno;
		snprintf(why, whylen, "cannot listen on %s: %s", path, strerror(errno));
		unlinkat(dirfd, name, 0);
		return r;
	}
	return 0;
}

int server_bind(const char *path, struct server_socket *out, char *why, size_t whylen)
{
	struct sockaddr_un sa;
	const char *slash = strrchr(path, '/'), *name = slash ? slash + 1 : path;
	char dir[sizeof(sa.sun_path)];
	_cleanup_close_ int dirfd = -1, cwd = -1, fd = -1;
	struct stat st;
	int r;

	*out = (struct server_socket){ .dirfd = -1 };
	if (strnlen(path, sizeof(sa.sun_path)) == sizeof(sa.sun_path)) {
		snprintf(why, whylen, "socket path %s is too long (at most %zu bytes)", path,
			 sizeof(sa.sun_path) - 1);
		return -ENAMETOOLONG;
	}
	if (!*name) {
		snprintf(why, whylen, "socket path %s does not end in a file name", path);
		return -EINVAL;
	}
	if (!slash)
		strcpy(dir, ".");
	else if (slash == path)
		strcpy(dir, "/");
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);

	dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0 || fstat(dirfd, &st) < 0) {
		r = -errno;
		if (errno == ENOENT)
			snprintf(why, whylen, "cannot bind %s: its directory does not exist", path);
		else
			snprintf(why, whylen, "cannot open socket directory %s: %s", dir,
				 strerror(errno));
		return r;
	}
	/* Whoever may write the directory could swap the socket for clients, or our checks. */
	if ((st.st_mode & 022) && !((st.st_mode & S_ISVTX) && st.st_uid == 0)) {
		snprintf(why, whylen,
			 "socket directory %s has mode %04o and owner uid %u: group or others can write it and it is not a sticky directory owned by root; refusing to create %s there",
			 dir, (unsigned)(st.st_mode & 07777), (unsigned)st.st_uid, path);
		return -EPERM;
	}
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		r = -errno;
		snprintf(why, whylen, "cannot create socket: %s", strerror(errno));
		return r;
	}

	/*
	 * bind(2) and connect(2) take no directory fd, so they run inside the
	 * checked directory on the last component alone: no part of the path is
	 * looked up again after the checks, and fstatat(), the probe, unlinkat()
	 * and bind() all see the same directory. fchdir() rather than a
	 * /proc/self/fd/N/ path: it works without /proc and leaves sun_path to
	 * the name. seedd is single-threaded here and goes back at once. The
	 * price: the socket's address (getsockname(), ss(8)) is the bare name.
	 */
	cwd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (cwd < 0 || fchdir(dirfd) < 0) {
		r = -errno;
		snprintf(why, whylen, "cannot enter socket directory %s: %s", dir, strerror(errno));
		return r;
	}
	r = bind_here(fd, dirfd, path, name, why, whylen);
	if (fchdir(cwd) < 0) {
		int e = errno;

		if (r == 0)
			unlinkat(dirfd, name, 0);
		snprintf(why, whylen, "cannot return to the working directory: %s", strerror(e));
		r = -e;
	}
	if (r < 0)
		return r;
	/* What is ours to remove at exit: this inode, and nothing put in its place. */
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		r = -errno;
		snprintf(why, whylen, "cannot stat %s after binding it: %s", path, strerror(errno));
		return r;
	}
	out->dev = st.st_dev;
	out->ino = st.st_ino;
	out->dirfd = dirfd;
	dirfd = -1;
	r = fd;
	fd = -1;
	return r;
}

int server_unbind(struct server_socket *sock, const char *path)
{
	const char *slash = strrchr(path, '/'), *name = slash ? slash + 1 : path;
	struct stat st;
	int r = 0;

	/*
	 * Only while the name is still our socket: another daemon's that took
	 * its place (after ours was removed) stays. Whoever could swap a file in
	 * between the check and the unlink could remove it anyway (see
	 * bind_here()).
	 */
	if (fstatat(sock->dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		r = -errno;
	else if (S_ISSOCK(st.st_mode) && st.st_dev == sock->dev && st.st_ino == sock->ino)
		r = unlinkat(sock->dirfd, name, 0) < 0 ? -errno : 1;
	closep(&sock->dirfd);
	sock->dirfd = -1;
	return r;
}

/* The connection was just used: it becomes the most recently used. */
static void conn_touch(struct conn *c)
{
	admission_touch(c->srv->adm, &c->slot);
}

static void conn_free(struct conn *c)
{
	struct server *s = c->srv;

	admission_remove(s->adm, &c->slot);
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

static size_t handle_status(struct server *s, uint8_t *out, int trusted)
{
	struct seedd_status_info info = {
		.requests = s->counted.requests,
		.bytes_served = s->counted.bytes_served,
		.clients = admission_count(s->adm),
		.seed_size = (uint32_t)pool_seed_size(s->pool),
		.flags = SEEDD_STATUS_SEEDED,
		.refused = s->counted.refused,
		.evicted = s->counted.evicted,
		.idle_closed = s->counted.idle_closed,
		.pid = s->pid,
		.users = admission_user_count(s->adm),
	};
	size_t hl;

	s->status(s->status_ctx, &info);
	snprintf(info.version, sizeof(info.version), "%s", SEEDD_VERSION);
	if (!trusted) {
		/* Others learn the version and the health: what is not kept here is withheld. */
		struct seedd_status_info limited = {
			.flags = (info.flags & (SEEDD_STATUS_SEEDED | SEEDD_STATUS_LAST_SAVE_OK)) |
				 SEEDD_STATUS_LIMITED,
		};

		memcpy(limited.version, info.version, sizeof(info.version));
		info = limited;
	}
	hl = proto_put_hdr(out, SEEDD_OP_STATUS, SEEDD_ST_OK, sizeof(info));
	memcpy(out + hl, &info, sizeof(info));
	return hl + sizeof(info);
}

/* What happened to each user's connections, for the trusted only. */
static size_t handle_users(struct server *s, const uint8_t *payload, uint8_t *out, int trusted)
{
	struct seedd_users_info info;
	struct seedd_users_req req;
	size_t hl, len;

	if (!trusted)
		return proto_put_hdr(out, SEEDD_OP_USERS, SEEDD_ST_DENIED, 0);
	memcpy(&req, payload, sizeof(req));
	admission_users(s->adm, req.from_uid, &info);
	len = SEEDD_USERS_SIZE(info.n);
	hl = proto_put_hdr(out, SEEDD_OP_USERS, SEEDD_ST_OK, (uint32_t)len);
	memcpy(out + hl, &info, len);
	return hl + len;
}

size_t server_answer(struct server *s, const uint8_t *in, size_t n, int truncated, int trusted,
		     uint8_t out[SEEDD_PROTO_MAX_MSG], struct server_counters *add)
{
	struct proto_msg msg;
	enum seedd_status st;
	size_t hl;

	*add = (struct server_counters){ 0 };
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
		*add = (struct server_counters){ .requests = 1, .bytes_served = req.bytes };
		return hl + req.bytes;
	}
	case SEEDD_OP_PUT_SEED:
		if (pool_mix(s->pool, msg.payload, msg.len) < 0)
			return proto_put_hdr(out, SEEDD_OP_PUT_SEED, SEEDD_ST_INTERNAL, 0);
		*add = (struct server_counters){ .requests = 1 };
		return proto_put_hdr(out, SEEDD_OP_PUT_SEED, SEEDD_ST_OK, 0);
	case SEEDD_OP_USERS:
		return handle_users(s, msg.payload, out, trusted);
	default:
		return handle_status(s, out, trusted);
	}
}

void server_counters(const struct server *s, struct server_counters *out)
{
	*out = s->counted;
}

/* Answers one request; returns -1 when the connection must be closed. */
static int handle_request(struct server *s, struct conn *c, const uint8_t *in, size_t n,
			  int truncated)
{
	struct server_counters add;
	size_t len = server_answer(s, in, n, truncated, c->slot.peer.trusted, s->out, &add);
	int r = send_reply(c->fd, s->out, len);

	explicit_bzero(s->out, len);
	/* A request counts, with what it served, only once the peer has the reply. */
	if (r == 0) {
		s->counted.requests += add.requests;
		s->counted.bytes_served += add.bytes_served;
	}
	return r;
}

/*
 * Receives the next message on fd into buf (SEEDD_PROTO_MAX_MSG bytes): its
 * length (with *truncated set when the peer sent more than a message
 * holds), 0 at the end of the stream (or for an empty message: equally
 * useless), -EAGAIN when nothing waits, -EINTR, or another -errno.
 */
static ssize_t recv_request(int fd, uint8_t *buf, int *truncated)
{
	struct iovec iov = { .iov_base = buf, .iov_len = SEEDD_PROTO_MAX_MSG };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n = recvmsg(fd, &mh, MSG_DONTWAIT);

	if (n < 0)
		return -errno;
	*truncated = !!(mh.msg_flags & MSG_TRUNC);
	return n;
}

/* Answers the request of n bytes in buf on c, then clears buf. 1, or -1 when c must be closed. */
static int conn_answer(struct conn *c, uint8_t *buf, ssize_t n, int truncated)
{
	int r = handle_request(c->srv, c, buf, (size_t)n, truncated);

	explicit_bzero(buf, (size_t)n < SEEDD_PROTO_MAX_MSG ? (size_t)n : SEEDD_PROTO_MAX_MSG);
	if (r < 0)
		return -1;
	conn_touch(c);
	return 1;
}

/*
 * Answers the next request waiting on c, if any. Returns 1 when it answered
 * one (or was interrupted), 0 when none was waiting, -1 when the connection
 * must be closed.
 */
static int conn_serve(struct conn *c)
{
	uint8_t *in = c->srv->in;
	int truncated;
	ssize_t n = recv_request(c->fd, in, &truncated);

	if (n == -EAGAIN || n == -EINTR)
		return n == -EINTR;
	if (n <= 0)
		return -1;
	return conn_answer(c, in, n, truncated);
}

/* Idle: no request waiting, so closing it loses nothing. */
static int conn_idle(const struct conn *c)
{
	int n;

	return ioctl(c->fd, FIONREAD, &n) == 0 && n == 0;
}

static void conn_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;

	(void)fd;
	/*
	 * A request waiting as the idle timer falls due (one that came meanwhile,
	 * or while seedd could not run) is no idleness: it is answered.
	 */
	if ((what & EV_READ) || !conn_idle(c)) {
		if (conn_serve(c) < 0)
			conn_free(c);
		return;
	}
	c->srv->counted.idle_closed++;
	conn_free(c);
}

/* A left-out line about uid ((uid_t)-1: none known) is counted for the summary. */
static void ratelimit_note(struct ratelimit *rl, uid_t uid)
{
	unsigned i;

	rl->suppressed++;
	for (i = 0; i < rl->n_uids && rl->uids[i].uid != uid; i++)
		;
	if (i < rl->n_uids) {
		rl->uids[i].n++;
	} else if (uid != (uid_t)-1 && rl->n_uids < LOG_UIDS) {
		rl->uids[rl->n_uids].uid = uid;
		rl->uids[rl->n_uids++].n = 1;
	} else {
		rl->others++;
	}
}

/* "uid 1005: 110, uid 1006: 3, others: 2", and forgets them. */
static void ratelimit_take(struct ratelimit *rl, char *buf, size_t cap)
{
	size_t n = 0;

	buf[0] = '\0';
	for (unsigned i = 0; i < rl->n_uids && n < cap; i++)
		n += (size_t)snprintf(buf + n, cap - n, "%suid %u: %u", i ? ", " : "",
				      (unsigned)rl->uids[i].uid, rl->uids[i].n);
	if (rl->others && n < cap)
		snprintf(buf + n, cap - n, "%sothers: %u", rl->n_uids ? ", " : "", rl->others);
	rl->suppressed = rl->others = rl->n_uids = 0;
}

/* The interval ended with lines left out: they are summed up now. */
static void ratelimit_flush(struct ratelimit *rl)
{
	char sum[256];
	unsigned n = rl->suppressed;

	if (!n)
		return;
	ratelimit_take(rl, sum, sizeof(sum));
	log_warn("%u more %s in the last %d s, not logged one by one: %s", n, rl->what,
		 LOG_INTERVAL_MS / 1000, sum);
	rl->last = now_ms();
}

static void ratelimit_free(struct ratelimit *rl)
{
	ratelimit_flush(rl);
	if (rl->flush)
		event_free(rl->flush);
}

static void flush_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	ratelimit_flush(arg);
}

/* Logs a line about uid ((uid_t)-1: none), or counts it when one was logged this interval. */
__attribute__((format(printf, 3, 4))) static void log_limited(struct ratelimit *rl, uid_t uid,
							      const char *fmt, ...)
{
	int64_t now = now_ms();
	char line[512], sum[256];
	unsigned n = rl->suppressed;
	va_list ap;

	if (rl->last && now - rl->last < LOG_INTERVAL_MS) {
		if (!rl->suppressed && rl->flush) {
			int64_t left = rl->last + LOG_INTERVAL_MS - now;
			struct timeval tv = { .tv_sec = (time_t)(left / 1000),
					      .tv_usec = (suseconds_t)(left % 1000 * 1000) };

			evtimer_add(rl->flush, &tv);
		}
		ratelimit_note(rl, uid);
		return;
	}
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n) {
		ratelimit_take(rl, sum, sizeof(sum));
		log_warn("%s (and %u more %s not logged: %s)", line, n, rl->what, sum);
	} else {
		log_warn("%s", line);
	}
	if (rl->flush)
		evtimer_del(rl->flush);
	rl->last = now;
}

/* p is NULL when the peer's credentials could not be read. */
static void refuse(struct server *s, int fd, const struct admission_peer *p, uint16_t status,
		   const char *why)
{
	const struct ucred *cr = p ? &p->cred : NULL;

	s->counted.refused++;
	if (p)
		admission_refused(s->adm, p);
	send_status(fd, s->out, 0, status);
	/* Closing with a request unread would reset the peer before it reads the refusal. */
	for (int i = 0; i < 4 && recv(fd, s->in, sizeof(s->in), MSG_DONTWAIT) > 0; i++)
		;
	explicit_bzero(s->in, sizeof(s->in));
	explicit_bzero(s->first, sizeof(s->first));
	close(fd);
	if (cr)
		log_limited(&s->refusals, cr->uid, "refused a client (uid %u, pid %ld): %s: %s",
			    (unsigned)cr->uid, (long)cr->pid, proto_status_str(status), why);
	else
		log_limited(&s->refusals, (uid_t)-1, "refused a client: %s: %s",
			    proto_status_str(status), why);
}

/* Wakes us for c's next request, or at its idle timeout. 0 or -1. */
static int conn_watch(struct conn *c)
{
	struct timeval tv = { .tv_sec = c->srv->opts.idle_timeout_s };

	/*
	 * The timeout counts from libevent's time of this loop iteration: a
	 * round of accepts that seedd was stopped or starved in would set it
	 * in the past, and close at once what it just took in.
	 */
	event_base_update_cache_time(c->srv->base);
	return event_add(c->ev, c->srv->opts.idle_timeout_s ? &tv : NULL);
}

/*
 * Re-arms c's idle timer after a request was answered outside its event's
 * callback; a timeout that fell due meanwhile is dropped with the rest of
 * the event's pending activation (a request left waiting wakes it again).
 * 0, or -1 when c had to be closed.
 */
static int conn_rearm(struct conn *c)
{
	event_del(c->ev);
	if (conn_watch(c) == 0)
		return 0;
	conn_free(c);
	return -1;
}

/*
 * Closes c, which admission chose to give way to a newcomer with
 * credentials cr at ans's limit; busy: it had requests waiting, answered
 * first, answered of them.
 */
static void conn_evict(struct server *s, struct conn *c, const struct ucred *cr,
		       const struct admission_answer *ans, int busy, int answered)
{
	char extra[64] = "";

	if (busy)
		snprintf(extra, sizeof(extra), " (busy: %d waiting requests answered first)",
			 answered);
	log_limited(&s->evictions, c->slot.peer.cred.uid,
		    "closed the least recently used connection of uid %u (pid %ld) for a new one "
		    "of uid %u (pid %ld): at %s %u%s",
		    (unsigned)c->slot.peer.cred.uid, (long)c->slot.peer.cred.pid, (unsigned)cr->uid,
		    (long)cr->pid, ans->limit, ans->value, extra);
	s->counted.evicted++;
	admission_evicted(s->adm, &c->slot);
	conn_free(c);
}

/*
 * Makes room as ans says: closes the first of its idle candidates found
 * with no request waiting, else its busy one. A request waiting on an idle
 * candidate is answered first, which makes it the most recently used; it
 * goes if nothing more is waiting, else the search goes on past it. The
 * busy one has what waits on it answered before it is closed, so its peer
 * loses no request it sent. 0, or -EBUSY when nothing could give way.
 */
static int evict(struct server *s, const struct ucred *cr, const struct admission_answer *ans)
{
	struct conn *c;
	int n = 0, r;

	for (size_t i = 0; i < ans->n_idle; i++) {
		c = conn_of(ans->idle[i]);
		r = conn_serve(c);
		if (r < 0) {
			/* The peer went: that is room too. */
			conn_free(c);
			return 0;
		}
		if (r == 0 || conn_idle(c)) {
			conn_evict(s, c, cr, ans, 0, 0);
			return 0;
		}
		if (conn_rearm(c) < 0)
			return 0;
	}
	if (!ans->busy)
		return -EBUSY;
	/*
	 * Shut for reading first: what is queued (a few: net.unix.max_dgram_qlen)
	 * is still read and answered, a request sent from now on fails at the
	 * peer (EPIPE) rather than being lost, and the end of the queue reads as
	 * the end of the stream.
	 */
	c = conn_of(ans->busy);
	shutdown(c->fd, SHUT_RD);
	while (n < DRAIN_MAX && conn_serve(c) > 0)
		n++;
	conn_evict(s, c, cr, ans, 1, n);
	return 0;
}

/*
 * Makes room for peer p as admission answers, one eviction per limit
 * reached. 0, or the status to refuse p with, the reason in why.
 */
static uint16_t make_room(struct server *s, const struct admission_peer *p, char *why,
			  size_t whylen)
{
	struct admission_answer ans;

	for (;;) {
		admission_decide(s->adm, p, &ans);
		if (ans.verdict == ADMISSION_ADMIT)
			return SEEDD_ST_OK;
		if (ans.verdict == ADMISSION_REFUSE || evict(s, &p->cred, &ans) < 0) {
			snprintf(why, whylen, "%s", ans.why);
			return ans.status;
		}
	}
}

/* A connection counted in, not yet watched; NULL when out of memory. */
static struct conn *conn_new(struct server *s, int fd, const struct admission_peer *p)
{
	struct conn *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->ev = event_new(s->base, fd, EV_READ | EV_PERSIST, conn_cb, c);
	if (!c->ev || admission_add(s->adm, &c->slot, p) < 0) {
		if (c->ev)
			event_free(c->ev);
		free(c);
		return NULL;
	}
	c->srv = s;
	c->fd = fd;
	return c;
}

/*
 * Takes fd in, and answers its first request, n bytes in s->first, if it
 * was already queued at accept (n > 0): libseedclient sends it as soon as it has
 * checked our credentials, so it usually is (always, for the clients of a
 * boot storm), and the reply then goes out now rather than one epoll_wait
 * later. -ENOMEM when out of memory.
 */
static int conn_take(struct server *s, int fd, const struct admission_peer *p, ssize_t n,
		     int truncated)
{
	struct conn *c = conn_new(s, fd, p);

	if (!c) {
		explicit_bzero(s->first, sizeof(s->first));
		close(fd);
		return -ENOMEM;
	}
	if (n > 0 && conn_answer(c, s->first, n, truncated) < 0) {
		conn_free(c);
		return 0;
	}
	if (conn_watch(c) < 0) {
		conn_free(c);
		return -ENOMEM;
	}
	return 0;
}

/*
 * Reads /etc/subuid again when it changed since the last look, which every
 * round of accepts takes (one stat): a user's new subordinate uids count as
 * his from their first connection on, so that none of them is ever counted
 * on its own (newuidmap(1) lets him use them only once the file lists them).
 * A file that cannot be read keeps what was read last.
 */
static void read_subids(struct server *s)
{
	struct subid_range *r;
	size_t n, skipped;
	int e;

	if (!subids_changed(&s->subuid))
		return;
	e = subids_read(&s->subuid, &r, &n, &skipped);
	if (e == 0)
		e = admission_set_subids(s->adm, r, n);
	free(r);
	if (e < 0) {
		log_warn("cannot read %s: %s; subordinate uids are counted as before",
			 s->subuid.path, strerror(-e));
		return;
	}
	if (skipped)
		log_warn("%s: %zu lines skipped (not owner:start:count of a known user, or "
			 "overlapping another range)",
			 s->subuid.path, skipped);
	if (n)
		log_info("%s: %zu ranges of subordinate uids, each counted as its owner",
			 s->subuid.path, n);
}

static void accept_cb(evutil_socket_t lfd, short what, void *arg)
{
	struct server *s = arg;
	struct timeval tv = { .tv_usec = ACCEPT_BACKOFF_MS * 1000 };
	char why[128];

	(void)what;
	read_subids(s);
	for (int i = 0; i < ACCEPT_BATCH; i++) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC), truncated = 0;
		socklen_t len = sizeof(struct ucred);
		struct admission_peer p;
		struct ucred cr;
		uint16_t st;
		ssize_t n;

		if (fd < 0) {
			if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED)
				return;
			/*
			 * Out of fds or memory: the pending connection stays queued and
			 * would wake us again at once. Pause accepting instead of spinning.
			 */
			log_limited(&s->refusals, (uid_t)-1, "refused a client: %s",
				    strerror(errno));
			event_del(s->accept_ev);
			event_add(s->backoff_ev, &tv);
			return;
		}
		/*
		 * A peer that is gone already (a flood of connect and close fills
		 * the listen queue with them) costs one read and takes no slot.
		 */
		n = recv_request(fd, s->first, &truncated);
		if (n == 0) {
			close(fd);
			continue;
		}
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0) {
			snprintf(why, sizeof(why), "cannot read its credentials: %s",
				 strerror(errno));
			refuse(s, fd, NULL, SEEDD_ST_DENIED, why);
			continue;
		}
		admission_peer(s->adm, &cr, &p);
		st = make_room(s, &p, why, sizeof(why));
		if (st != SEEDD_ST_OK) {
			refuse(s, fd, &p, st, why);
			continue;
		}
		if (conn_take(s, fd, &p, n, truncated) < 0) {
			s->counted.refused++;
			log_limited(&s->refusals, cr.uid,
				    "refused a client (uid %u, pid %ld): out of memory",
				    (unsigned)cr.uid, (long)cr.pid);
		}
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
			  const struct server_opts *opts, server_status_fn *status,
			  void *status_ctx)
{
	struct admission_opts aopts = {
		.max_clients = opts->max_clients,
		.max_per_uid = opts->max_clients_per_uid,
		.self_uid = geteuid(),
		.allow_uid = opts->allow_uid,
		.n_allow_uid = opts->n_allow_uid,
		.allow_gid = opts->allow_gid,
		.n_allow_gid = opts->n_allow_gid,
	};
	struct server *s = calloc(1, sizeof(*s));

	if (!s) {
		close(fd);
		return NULL;
	}
	s->base = base;
	s->pool = pool;
	s->status = status;
	s->status_ctx = status_ctx;
	s->opts = *opts;
	s->fd = fd;
	s->pid = (uint32_t)getpid();
	s->subuid.path = opts->subuid_file ? opts->subuid_file : SUBIDS_FILE;
	s->adm = admission_new(&aopts);
	s->accept_ev = event_new(base, fd, EV_READ | EV_PERSIST, accept_cb, s);
	s->backoff_ev = evtimer_new(base, backoff_cb, s);
	s->refusals.what = "refusals";
	s->refusals.flush = evtimer_new(base, flush_cb, &s->refusals);
	s->evictions.what = "connections closed for newcomers";
	s->evictions.flush = evtimer_new(base, flush_cb, &s->evictions);
	if (!s->adm || !s->accept_ev || !s->backoff_ev || !s->refusals.flush ||
	    !s->evictions.flush || event_add(s->accept_ev, NULL) < 0) {
		server_free(s);
		return NULL;
	}
	return s;
}

void server_free(struct server *s)
{
	if (!s)
		return;
	for (struct admission_slot *a; s->adm && (a = admission_oldest(s->adm));)
		conn_free(conn_of(a));
	admission_free(s->adm);
	if (s->accept_ev)
		event_free(s->accept_ev);
	if (s->backoff_ev)
		event_free(s->backoff_ev);
	/* What was left out of the log last is summed up before seedd goes. */
	ratelimit_free(&s->refusals);
	ratelimit_free(&s->evictions);
	close(s->fd);
	explicit_bzero(s, sizeof(*s));
	free(s);
}
