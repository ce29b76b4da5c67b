// SPDX-License-Identifier: MIT
/*
 * libseedclient: the NV seed callbacks, over one kept connection per process.
 *
 * A request checks the cached connection out of its slot under a lock, does
 * its socket I/O without the lock and checks the connection back in, so a
 * request costs one send and one receive, and neither fork() nor another
 * thread ever waits for a slow daemon. Threads that find the slot empty make
 * connections of their own. A connection the daemon dropped is re-made once,
 * transparently.
 *
 * Trust: a new connection is used only when the daemon runs as root, as the
 * build's daemon user or as our own effective uid; otherwise nothing is sent.
 * The cached fd is used, and closed, only while it is still the socket we
 * made: a program that closed it and reused the number keeps its file.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "client.h"
#include "seedclient.h"
#include "seedd-protocol.h"
#include "util.h"

#define EXPORT __attribute__((visibility("default")))

struct conn {
	int fd;
	int timeout_ms;
	/* The socket's identity: a reused fd number has another inode. */
	dev_t dev;
	ino_t ino;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	/* On the in-flight list while a request has it checked out. */
	struct conn *prev, *next;
};

static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;
/* Guards the slot, the in-flight list and owner; never held across I/O. */
static pthread_mutex_t conn_lock = PTHREAD_MUTEX_INITIALIZER;
static struct conn slot = { .fd = -1 };
static struct conn *in_flight;
/* The process the slot and the list belong to. */
static pid_t owner;

static bool conn_is_ours(const struct conn *c)
{
	struct stat st;

	return fstat(c->fd, &st) == 0 && S_ISSOCK(st.st_mode) && st.st_dev == c->dev &&
	       st.st_ino == c->ino;
}

/*
 * Closes c's fd if it is still our socket; a reused number is only forgotten.
 * Called with conn_lock held, so that no fork() copies an fd that neither the
 * slot nor the in-flight list names.
 */
static void conn_close_locked(struct conn *c)
{
	if (c->fd >= 0 && conn_is_ours(c))
		close(c->fd);
	c->fd = -1;
}

static void conn_close(struct conn *c)
{
	pthread_mutex_lock(&conn_lock);
	conn_close_locked(c);
	pthread_mutex_unlock(&conn_lock);
}

/*
 * In a child, the slot and the connections its parent's threads had checked
 * out are copies the child must not use: those threads do not exist here to
 * close them. Called with conn_lock held.
 */
static void conn_forget_parent(pid_t pid)
{
	conn_close_locked(&slot);
	for (struct conn *c = in_flight; c; c = c->next)
		conn_close_locked(c);
	in_flight = NULL;
	owner = pid;
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
	conn_forget_parent(getpid());
	pthread_mutex_unlock(&conn_lock);
}

static void atfork_register(void)
{
	pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
}

/* Takes the cached connection (if any) and puts c on the in-flight list. */
static void conn_check_out(struct conn *c)
{
	pid_t pid;

	pthread_mutex_lock(&conn_lock);
	/* getpid() also catches children made with a raw clone(2). */
	pid = getpid();
	if (owner != pid)
		conn_forget_parent(pid);
	*c = slot;
	slot.fd = -1;
	c->prev = NULL;
	c->next = in_flight;
	if (in_flight)
		in_flight->prev = c;
	in_flight = c;
	pthread_mutex_unlock(&conn_lock);
}

/* Takes c off the in-flight list; caches it when the slot is free, else closes it. */
static void conn_check_in(struct conn *c)
{
	pthread_mutex_lock(&conn_lock);
	if (c->prev)
		c->prev->next = c->next;
	else
		in_flight = c->next;
	if (c->next)
		c->next->prev = c->prev;
	if (c->fd >= 0 && slot.fd < 0) {
		slot = *c;
		slot.prev = slot.next = NULL;
		c->fd = -1;
	}
	conn_close_locked(c);
	pthread_mutex_unlock(&conn_lock);
}

/*
 * Makes c's socket with the lock held: from socket() on, a fork() finds the
 * fd on the in-flight list, identity and all, and the child closes it.
 */
static int conn_socket(struct conn *c)
{
	struct stat st;
	int r = 0, fd;

	pthread_mutex_lock(&conn_lock);
	fd = sock_open();
	if (fd < 0) {
		r = fd;
	} else if (fstat(fd, &st) < 0) {
		r = -errno;
		close(fd);
	} else {
		c->fd = fd;
		c->dev = st.st_dev;
		c->ino = st.st_ino;
	}
	pthread_mutex_unlock(&conn_lock);
	return r;
}

/* Connects c to path; client_connect_fd() checks the daemon's credentials first. 0 or -errno. */
static int conn_open(struct conn *c, const char *path, int timeout_ms, int64_t deadline)
{
	int r = conn_socket(c);

	if (r < 0)
		return r;
	r = client_connect_fd(c->fd, path, timeout_ms, deadline);
	if (r < 0) {
		conn_close(c);
		return r;
	}
	/* What the socket's timeouts are: the next request restores a cut one. */
	c->timeout_ms = r;
	memcpy(c->path, path, strlen(path) + 1);
	return 0;
}

/*
 * Sends one request on c, connecting when needed, all before one deadline.
 * Returns 0 or -errno.
 */
static int conn_call(struct conn *c, const char *path, uint8_t op, const void *payload, size_t plen,
		     void *out, size_t outlen, int timeout_ms)
{
	int64_t deadline = now_ms() + timeout_ms;

	if (c->fd >= 0 && strcmp(c->path, path) != 0)
		conn_close(c);
	/* The one check per request that the program did not close and reuse the fd. */
	if (c->fd >= 0 && !conn_is_ours(c))
		c->fd = -1;

	for (;;) {
		bool cached = c->fd >= 0;
		int r;

		/* $SEEDD_TIMEOUT_MS changed, or the connect that made it cut them. */
		if (cached && c->timeout_ms != timeout_ms) {
			if (sock_set_timeouts(c->fd, timeout_ms) < 0)
				conn_close(c);
			else
				c->timeout_ms = timeout_ms;
			cached = c->fd >= 0;
		}
		if (!cached) {
			r = conn_open(c, path, timeout_ms, deadline);
			if (r < 0)
				return r;
		}
		r = client_call(c->fd, op, payload, plen, out, outlen, deadline);
		if (r == 0)
			return 0;
		/* After a timeout a late reply could still arrive: never reuse. */
		conn_close(c);
		if (!cached || (r != -EPIPE && r != -ECONNRESET && r != -ENOTCONN))
			return r;
	}
}

/*
 * One request. Cancellation is off meanwhile: connect, send, recv, poll and
 * the user lookup are cancellation points, and a thread cancelled in one of
 * them would leave its node on the in-flight list, on a stack the next
 * thread gets, and its socket open. A cancel that comes meanwhile acts at
 * the caller's next cancellation point, at most one timeout later.
 */
static int request(const char *path, uint8_t op, const void *payload, size_t plen, void *out,
		   size_t outlen)
{
	struct conn c;
	int r, cancel_state;

	if (!path)
		path = seedd_socket_path();
	if (strlen(path) >= sizeof(c.path))
		return -ENAMETOOLONG;
	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cancel_state);
	pthread_once(&atfork_once, atfork_register);
	conn_check_out(&c);
	r = conn_call(&c, path, op, payload, plen, out, outlen, seedd_timeout_ms());
	conn_check_in(&c);
	pthread_setcancelstate(cancel_state, NULL);
	return r;
}

/*
 * Why this thread's last call failed, for seedclient_last_error(). Initial
 * exec: a few bytes of static TLS, which glibc keeps spare for a dlopen()ed
 * library too, and no __tls_get_addr() call into ld.so, which the library
 * would otherwise have to link.
 */
static __thread int last_error __attribute__((tls_model("initial-exec")));

/* seedclient_read(), which the other entry points call directly rather than through the PLT. */
static int read_bytes(const char *socket_path, unsigned char *buf, size_t len)
{
	if (!buf && len)
		return last_error = -EINVAL;
	for (size_t off = 0; off < len; off += SEEDD_PROTO_MAX_PAYLOAD) {
		size_t chunk =
		    len - off < SEEDD_PROTO_MAX_PAYLOAD ? len - off : SEEDD_PROTO_MAX_PAYLOAD;
		struct seedd_get_req get = { .bytes = (uint32_t)chunk };
		int r =
		    request(socket_path, SEEDD_OP_GET_SEED, &get, sizeof(get), buf + off, chunk);

		if (r < 0) {
			explicit_bzero(buf, len);
			return last_error = r;
		}
	}
	return last_error = 0;
}

EXPORT int seedclient_read(const char *socket_path, unsigned char *buf, size_t len)
{
	return read_bytes(socket_path, buf, len);
}

EXPORT int seedclient_nv_seed_read(unsigned char *buf, size_t buf_len)
{
	if (!buf || buf_len > INT_MAX) {
		last_error = -EINVAL;
		return -1;
	}
	return read_bytes(NULL, buf, buf_len) < 0 ? -1 : (int)buf_len;
}

EXPORT int seedclient_nv_seed_write(unsigned char *buf, size_t buf_len)
{
	int r;

	if (!buf || buf_len > INT_MAX) {
		last_error = -EINVAL;
		return -1;
	}
	for (size_t off = 0; off < buf_len; off += SEEDD_PROTO_MAX_PAYLOAD) {
		size_t chunk = buf_len - off < SEEDD_PROTO_MAX_PAYLOAD ? buf_len - off
								       : SEEDD_PROTO_MAX_PAYLOAD;

		r = request(NULL, SEEDD_OP_PUT_SEED, buf + off, chunk, NULL, 0);
		if (r < 0) {
			last_error = r;
			return -1;
		}
	}
	last_error = 0;
	return (int)buf_len;
}

EXPORT int seedclient_entropy_poll(void *data, unsigned char *output, size_t len, size_t *olen)
{
	if (!output || !olen) {
		last_error = -EINVAL;
		return SEEDCLIENT_ERR_SOURCE_FAILED;
	}
	if (read_bytes(data, output, len) < 0) {
		*olen = 0;
		return SEEDCLIENT_ERR_SOURCE_FAILED;
	}
	*olen = len;
	return 0;
}

EXPORT unsigned int seedclient_version(void)
{
	return SEEDCLIENT_VERSION_NUMBER;
}

EXPORT int seedclient_last_error(void)
{
	return last_error;
}
