// SPDX-License-Identifier: MIT
/*
 * One connection per process, made on first use and kept: a request costs
 * one send and one receive. A forked child never touches its parent's
 * connection; a connection the daemon dropped is re-made once, transparently.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "seedclient.h"
#include "seedd-protocol.h"
#include "util.h"

#define EXPORT __attribute__((visibility("default")))

static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t conn_lock = PTHREAD_MUTEX_INITIALIZER;
static int conn_fd = -1;
static pid_t conn_pid;
static int conn_timeout_ms;
static char conn_path[sizeof(((struct sockaddr_un *)0)->sun_path)];

static void conn_drop(void)
{
	if (conn_fd >= 0)
		close(conn_fd);
	conn_fd = -1;
}

static void atfork_prepare(void)
{
	pthread_mutex_lock(&conn_lock);
}

static void atfork_parent(void)
{
	pthread_mutex_unlock(&conn_lock);
}

static void atfork_child(void)
{
	conn_drop();
	pthread_mutex_unlock(&conn_lock);
}

static void atfork_register(void)
{
	pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
}

/* Is the cached connection ours to use for path? Called with conn_lock held. */
static int conn_usable(const char *path)
{
	/* getpid() also catches children made with a raw clone(2). */
	if (conn_fd >= 0 && (conn_pid != getpid() || strcmp(conn_path, path) != 0))
		conn_drop();
	return conn_fd >= 0;
}

/* Called with conn_lock held. Returns the reply length or -errno. */
static ssize_t conn_call(const char *path, const void *req, size_t reqlen, void *reply, size_t cap,
			 int timeout_ms)
{
	int64_t deadline = now_ms() + timeout_ms;

	for (;;) {
		int cached = conn_usable(path);
		ssize_t n;

		/* $SEEDD_TIMEOUT_MS changed since the connection was made. */
		if (cached && conn_timeout_ms != timeout_ms) {
			if (sock_set_blocking(conn_fd, timeout_ms) < 0)
				conn_drop();
			else
				conn_timeout_ms = timeout_ms;
			cached = conn_fd >= 0;
		}

		if (!cached) {
			int fd = sock_connect(path, deadline);

			if (fd < 0)
				return fd;
			/* Connected without blocking; requests block, bounded by the timeout. */
			if (sock_set_blocking(fd, timeout_ms) < 0) {
				close(fd);
				return -EIO;
			}
			conn_fd = fd;
			conn_pid = getpid();
			conn_timeout_ms = timeout_ms;
			memcpy(conn_path, path, strlen(path) + 1);
		}
		n = sock_call(conn_fd, req, reqlen, reply, cap, deadline);
		if (n >= 0)
			return n;
		/* After a timeout a late reply could still arrive: never reuse. */
		conn_drop();
		if (!cached || (n != -EPIPE && n != -ECONNRESET && n != -ENOTCONN))
			return n;
	}
}

static int request(const char *path, uint8_t op, const void *payload, size_t plen, void *out,
		   size_t outlen)
{
	uint8_t req[SEEDD_PROTO_MAX_MSG];
	uint8_t reply[SEEDD_PROTO_MAX_MSG];
	struct proto_msg msg;
	size_t reqlen;
	ssize_t n;
	int r;

	if (!path)
		path = seedd_socket_path();
	if (strlen(path) >= sizeof(conn_path))
		return -ENAMETOOLONG;
	reqlen = proto_put_hdr(req, op, SEEDD_ST_OK, (uint32_t)plen);
	if (plen)
		memcpy(req + reqlen, payload, plen);
	reqlen += plen;

	pthread_once(&atfork_once, atfork_register);
	pthread_mutex_lock(&conn_lock);
	n = conn_call(path, req, reqlen, reply, sizeof(reply), seedd_timeout_ms());
	if (n >= 0) {
		r = proto_parse_reply(reply, (size_t)n, op, &msg);
		if (r == 0 && msg.len != outlen)
			r = -EPROTO;
		if (r < 0)
			conn_drop();
	} else {
		r = (int)n;
	}
	pthread_mutex_unlock(&conn_lock);

	if (r == 0 && outlen)
		memcpy(out, msg.payload, outlen);
	explicit_bzero(req, reqlen);
	explicit_bzero(reply, sizeof(reply));
	return r;
}

EXPORT int seedclient_read(const char *socket_path, unsigned char *buf, size_t len)
{
	for (size_t off = 0; off < len; off += SEEDD_PROTO_MAX_PAYLOAD) {
		size_t chunk = len - off < SEEDD_PROTO_MAX_PAYLOAD ? len - off : SEEDD_PROTO_MAX_PAYLOAD;
		struct seedd_get_req get = { .bytes = (uint32_t)chunk };
		int r = request(socket_path, SEEDD_OP_GET_SEED, &get, sizeof(get), buf + off, chunk);

		if (r < 0) {
			explicit_bzero(buf, len);
			return r;
		}
	}
	return 0;
}

EXPORT int seedclient_nv_seed_read(unsigned char *buf, size_t buf_len)
{
	if (!buf || buf_len > INT_MAX)
		return -1;
	return seedclient_read(NULL, buf, buf_len) < 0 ? -1 : (int)buf_len;
}

EXPORT int seedclient_nv_seed_write(unsigned char *buf, size_t buf_len)
{
	if (!buf || buf_len > INT_MAX)
		return -1;
	for (size_t off = 0; off < buf_len; off += SEEDD_PROTO_MAX_PAYLOAD) {
		size_t chunk = buf_len - off < SEEDD_PROTO_MAX_PAYLOAD ? buf_len - off
								       : SEEDD_PROTO_MAX_PAYLOAD;

		if (request(NULL, SEEDD_OP_PUT_SEED, buf + off, chunk, NULL, 0) < 0)
			return -1;
	}
	return (int)buf_len;
}

EXPORT int seedclient_entropy_poll(void *data, unsigned char *output, size_t len, size_t *olen)
{
	if (!output || !olen)
		return SEEDCLIENT_ERR_SOURCE_FAILED;
	if (seedclient_read(data, output, len) < 0) {
		*olen = 0;
		return SEEDCLIENT_ERR_SOURCE_FAILED;
	}
	*olen = len;
	return 0;
}
