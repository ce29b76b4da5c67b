// SPDX-License-Identifier: MIT
/* Helpers every program shares: the monotonic clock, numbers, sockets, the environment. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>

#include "config.h"
#include "util.h"

#define DEFAULT_TIMEOUT_MS 2000

int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int ms_left(int64_t deadline)
{
	int64_t left = deadline - now_ms();

	if (left < 0)
		return 0;
	return left > INT32_MAX ? INT32_MAX : (int)left;
}

int parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end)
		return errno == ERANGE ? -ERANGE : -EINVAL;
	if (v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

/* Waits for events on fd until deadline: 0 when ready, else -errno. */
static int wait_fd(int fd, short events, int64_t deadline)
{
	struct pollfd p = { .fd = fd, .events = events };

	for (;;) {
		int r = poll(&p, 1, ms_left(deadline));

		if (r > 0)
			return 0;
		if (r == 0)
			return -ETIMEDOUT;
		if (errno != EINTR)
			return -errno;
	}
}

int sock_set_timeouts(int fd, int timeout_ms)
{
	struct timeval tv = { .tv_sec = timeout_ms / 1000, .tv_usec = timeout_ms % 1000 * 1000 };

	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0)
		return -errno;
	return 0;
}

/*
 * timeout_ms, or what is left until deadline if that is less; 0 when nothing
 * is left. A millisecond of slack: ms_left() rounds down, so a call that took
 * a few microseconds often seems to have taken one.
 */
static int ms_within(int timeout_ms, int64_t deadline)
{
	int left = ms_left(deadline);

	return left + 1 >= timeout_ms ? timeout_ms : left;
}

int sock_open(void)
{
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0), moved;

	if (fd < 0)
		return -errno;
	/*
	 * A program started with fd 0, 1 or 2 closed would find our socket
	 * there, and its own output would go to the daemon.
	 */
	if (fd <= 2) {
		moved = fcntl(fd, F_DUPFD_CLOEXEC, 3);
		if (moved < 0)
			moved = -errno;
		close(fd);
		fd = moved;
	}
	return fd;
}

static int sock_addr(struct sockaddr_un *sa, const char *path)
{
	size_t len = strlen(path);

	if (len == 0)
		return -EINVAL;
	if (len >= sizeof(sa->sun_path))
		return -ENAMETOOLONG;
	sa->sun_family = AF_UNIX;
	memcpy(sa->sun_path, path, len + 1);
	return 0;
}

int sock_connect_fd(int fd, const char *path, int timeout_ms, int64_t deadline)
{
	struct sockaddr_un sa;
	int r = sock_addr(&sa, path), t;

	if (r < 0)
		return r;
	for (;;) {
		t = ms_within(timeout_ms, deadline);
		if (t <= 0)
			return -ETIMEDOUT;
		/*
		 * Set before connect(), so that no fcntl() pair follows: an
		 * AF_UNIX connect(2) to a full listen queue sleeps until there is
		 * room, for as long as the send timeout allows, and then fails
		 * with EAGAIN.
		 */
		r = sock_set_timeouts(fd, t);
		if (r < 0)
			return r;
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			return sock_fit_timeouts(fd, t, deadline);
		/* A listen queue full to the end: the daemon is busy, not gone. */
		if (errno == EAGAIN)
			return -ETIMEDOUT;
		/* Interrupted: again, for what is left of the time. */
		if (errno != EINTR)
			return -errno;
	}
}

int sock_fit_timeouts(int fd, int set_ms, int64_t deadline)
{
	int t = ms_within(set_ms, deadline), r;

	if (t <= 0)
		return -ETIMEDOUT;
	if (t == set_ms)
		return t;
	r = sock_set_timeouts(fd, t);
	return r < 0 ? r : t;
}

int sock_connect(const char *path, int timeout_ms, int64_t deadline)
{
	struct sockaddr_un sa;
	int fd, r;

	if (timeout_ms > 0) {
		fd = sock_open();
		if (fd < 0)
			return fd;
		r = sock_connect_fd(fd, path, timeout_ms, deadline);
		if (r >= 0)
			return fd;
		close(fd);
		return r;
	}
	/* A probe that does not wait: a full listen queue means somebody listens. */
	r = sock_addr(&sa, path);
	if (r < 0)
		return r;
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
		return fd;
	r = errno == EAGAIN ? -ETIMEDOUT : -errno;
	close(fd);
	return r;
}

ssize_t sock_call(int fd, const void *req, size_t reqlen, void *reply, size_t cap, int64_t deadline)
{
	ssize_t n;
	int r;

	for (;;) {
		n = send(fd, req, reqlen, MSG_NOSIGNAL);
		if (n >= 0)
			break;
		/*
		 * Interrupted or timed out: the rest is waited for in poll(),
		 * which keeps to the deadline. Calling send() or recv() again
		 * would restart the socket's whole timeout, so a program whose
		 * timer signals come faster than that would wait forever.
		 */
		if (errno == EINTR || errno == EAGAIN) {
			r = wait_fd(fd, POLLOUT, deadline);
			if (r < 0)
				return r;
			continue;
		}
		r = -errno;
		/* The peer may have queued a refusal before it closed. */
		n = recv(fd, reply, cap, MSG_DONTWAIT | MSG_TRUNC);
		if (n > 0 && (size_t)n <= cap)
			return n;
		return r;
	}
	if ((size_t)n != reqlen)
		return -EMSGSIZE;

	for (;;) {
		n = recv(fd, reply, cap, MSG_TRUNC);
		if (n > 0)
			return (size_t)n <= cap ? n : -EMSGSIZE;
		if (n == 0)
			return -ECONNRESET;
		/*
		 * A peer that closes with our request unread resets the connection,
		 * but a refusal it sent first is still queued behind the error.
		 */
		if (errno == ECONNRESET) {
			n = recv(fd, reply, cap, MSG_DONTWAIT | MSG_TRUNC);
			return n > 0 && (size_t)n <= cap ? n : -ECONNRESET;
		}
		/* EINTR too: poll() keeps to the deadline (see above). */
		if (errno != EAGAIN && errno != EINTR)
			return -errno;
		r = wait_fd(fd, POLLIN, deadline);
		if (r < 0)
			return r;
	}
}

/*
 * secure_getenv: in a setuid, setgid or file-capability process the caller
 * chose the environment, so its socket and timeout are not to be trusted.
 */
const char *seedd_socket_path(void)
{
	const char *p = secure_getenv("SEEDD_SOCKET");

	return p && *p ? p : SEEDD_DEFAULT_SOCKET;
}

int seedd_timeout_ms(void)
{
	uint64_t v;

	if (parse_u64(secure_getenv("SEEDD_TIMEOUT_MS"), 1, UINT64_MAX, &v) < 0)
		return DEFAULT_TIMEOUT_MS;
	return v > SEEDD_MAX_TIMEOUT_MS ? SEEDD_MAX_TIMEOUT_MS : (int)v;
}
