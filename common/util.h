/* SPDX-License-Identifier: MIT */
/* Helpers every program shares: the monotonic clock, numbers, sockets, the environment. */
#ifndef SEEDD_UTIL_H
#define SEEDD_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static inline void closep(int *fd)
{
	if (*fd >= 0)
		close(*fd);
}
#define _cleanup_close_ __attribute__((cleanup(closep)))

/* CLOCK_MONOTONIC in milliseconds. */
int64_t now_ms(void);

/* Milliseconds left until deadline, at least 0, at most INT32_MAX. */
int ms_left(int64_t deadline);

/* Parses a decimal unsigned integer in [min, max]; 0 or -EINVAL/-ERANGE. */
int parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);

/*
 * A blocking SOCK_SEQPACKET socket (close-on-exec) at fd 3 or above, never
 * one of 0-2 that a program started with them closed left free. Returns the
 * fd or -errno.
 */
int sock_open(void);

/*
 * Connects fd, a sock_open() socket, to path. Its send and receive timeouts
 * are timeout_ms, or what is left until deadline when that is less (to the
 * millisecond): a full listen queue is waited out in connect(2) itself, which
 * the kernel wakes when there is room, and the reply then gets only what is
 * left. Returns the timeout now set on fd (ms, > 0), -ETIMEDOUT if the queue
 * stayed full or no time is left, or another -errno.
 */
int sock_connect_fd(int fd, const char *path, int timeout_ms, int64_t deadline);

/*
 * fd's send and receive timeouts, now set_ms, cut to what is left until
 * deadline when that is less. Returns the timeout now set, -ETIMEDOUT when
 * nothing is left, or another -errno.
 */
int sock_fit_timeouts(int fd, int set_ms, int64_t deadline);

/*
 * sock_open() and sock_connect_fd(): the connected fd or -errno. With
 * timeout_ms 0, one attempt that does not wait (the fd is non-blocking),
 * where a full listen queue (-ETIMEDOUT) means that somebody listens.
 */
int sock_connect(const char *path, int timeout_ms, int64_t deadline);

/*
 * Sets fd's send and receive timeouts to timeout_ms, so that a request sleeps
 * in recv() itself, with no EAGAIN round trip and no poll(); sock_call() still
 * enforces its deadline. Returns 0 or -errno.
 */
int sock_set_timeouts(int fd, int timeout_ms);

/*
 * Sends one request and receives one reply before deadline. Returns the
 * reply length, or -errno (-ETIMEDOUT, -EPIPE, -EMSGSIZE for an oversized
 * reply, ...). A refusal the daemon queued before closing is returned as a
 * reply even when the send itself failed.
 */
ssize_t sock_call(int fd, const void *req, size_t reqlen, void *reply, size_t cap,
		  int64_t deadline);

/* The most $SEEDD_TIMEOUT_MS may ask for: one minute. */
#define SEEDD_MAX_TIMEOUT_MS 60000

/* $SEEDD_SOCKET, else the compiled default; the default in AT_SECURE processes. */
const char *seedd_socket_path(void);

/*
 * $SEEDD_TIMEOUT_MS clamped to SEEDD_MAX_TIMEOUT_MS; the 2000 ms default when
 * it is not a positive decimal number, and in AT_SECURE processes.
 */
int seedd_timeout_ms(void);

#endif
