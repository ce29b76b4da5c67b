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

int sock_connect(const char *path, int64_t deadline)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t len = strlen(path);
	int fd;

	if (len == 0)
		return -EINVAL;
	if (len >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, len + 1);

	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	for (;;) {
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			return fd;
		if (errno == EINTR)
			continue;
		/* A full listen queue: the daemon is busy, not gone. */
		if (errno == EAGAIN && ms_left(deadline) > 0) {
			struct timespec ts = { .tv_nsec = 1000000 };

			nanosleep(&ts, NULL);
			continue;
		}
		int e = errno == EAGAIN ? ETIMEDOUT : errno;

		close(fd);
		return -e;
	}
}

int sock_set_blocking(int fd, int timeout_ms)
{
	struct timeval tv = { .tv_sec = timeout_ms / 1000, .tv_usec = timeout_ms % 1000 * 1000 };
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0)
		return -errno;
	return 0;
}

ssize_t sock_call(int fd, const void *req, size_t reqlen, void *reply, size_t cap, int64_t deadline)
{
	ssize_t n;
	int r;

	for (;;) {
		n = send(fd, req, reqlen, MSG_NOSIGNAL);
		if (n >= 0)
			break;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN) {
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
		if (errno == EINTR)
			continue;
		/*
		 * A peer that closes with our request unread resets the connection,
		 * but a refusal it sent first is still queued behind the error.
		 */
		if (errno == ECONNRESET) {
			n = recv(fd, reply, cap, MSG_DONTWAIT | MSG_TRUNC);
			return n > 0 && (size_t)n <= cap ? n : -ECONNRESET;
		}
		if (errno != EAGAIN)
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
