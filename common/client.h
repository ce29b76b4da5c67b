/* SPDX-License-Identifier: MIT */
/*
 * The private client call: connect to seedd, check who runs it, one request
 * and its reply. libseedclient keeps the connection; seedctl and the load
 * generators make one per call or hold their own.
 */
#ifndef SEEDD_CLIENT_H
#define SEEDD_CLIENT_H

#include <stddef.h>
#include <stdint.h>

/*
 * Connects fd, a sock_open() socket, to the daemon listening on path before
 * deadline (monotonic ms) and checks its credentials before anything is
 * sent: it must run as root, as the build's daemon user or as our effective
 * uid. The fd's send and receive timeouts are timeout_ms, or what is left
 * until deadline when that is less (see sock_connect_fd()). Returns the
 * timeout set (ms), -EPERM for a daemon we do not trust, or another -errno.
 */
int client_connect_fd(int fd, const char *path, int timeout_ms, int64_t deadline);

/*
 * Whether the daemon on fd, a socket sock_connect_fd() connected to path,
 * is one we may send to: 0, -EPERM when it is not, or another -errno.
 * client_connect_fd() calls it; a caller that connected with borrowed
 * credentials (seedfs, as its reader) calls it once it has its own back.
 */
int client_check_daemon(int fd, const char *path);

/* client_connect_fd() on a new socket: the fd, or -errno. */
int client_connect(const char *path, int timeout_ms, int64_t deadline);

/*
 * Sends request op with plen bytes of payload on fd and receives its reply
 * before deadline; the reply's payload, which must be outlen bytes, goes to
 * out. Returns 0, or -errno: the socket's (-ETIMEDOUT, -EPIPE, -ECONNRESET,
 * ...), the reply's error status as proto_status_errno() maps it, or
 * -EPROTO for a malformed reply.
 */
int client_call(int fd, uint8_t op, const void *payload, size_t plen, void *out, size_t outlen,
		int64_t deadline);

/*
 * client_call() for a reply of min to max payload bytes (a STATUS of an
 * older daemon is shorter), whose length goes to *len unless len is NULL.
 */
int client_call_upto(int fd, uint8_t op, const void *payload, size_t plen, void *out, size_t min,
		     size_t max, size_t *len, int64_t deadline);

/* client_connect() and client_call() on a connection of its own, within timeout_ms. */
int client_request(const char *path, uint8_t op, const void *payload, size_t plen, void *out,
		   size_t outlen, int timeout_ms);

#endif
