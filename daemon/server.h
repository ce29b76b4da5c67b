/* SPDX-License-Identifier: MIT */
/* The socket server: binding, connections and their limits, requests and replies. */
#ifndef SEEDD_SERVER_H
#define SEEDD_SERVER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "seedd-protocol.h"

struct event_base;
struct pool;
struct server;

/*
 * What the server counts: requests answered and the fresh bytes they
 * carried; connections refused, closed for a newcomer, closed idle.
 */
struct server_counters {
	uint64_t requests; /* GET_SEED and PUT_SEED */
	uint64_t bytes_served;
	uint64_t refused;
	uint64_t evicted;
	uint64_t idle_closed;
};

/*
 * Fills in what the server does not own of a STATUS reply (the saves, the
 * seed file, the uptime); the server adds its counters and the pool's.
 */
typedef void server_status_fn(void *ctx, struct seedd_status_info *info);

/*
 * Connection limits: max_clients in all; max_clients_per_uid for one uid
 * other than root and the daemon's (0: a quarter of max_clients, at least
 * 1); untrusted peers, those neither root, the daemon's uid nor in the allow
 * lists, together max_clients less a sixteenth of it (at least 4, at most
 * half of max_clients).
 */
struct server_opts {
	unsigned max_clients;
	unsigned max_clients_per_uid;
	unsigned idle_timeout_s; /* 0: never */
	const uid_t *allow_uid;
	size_t n_allow_uid;
	const gid_t *allow_gid;
	size_t n_allow_gid;
	const char *subuid_file; /* who owns which subordinate uids; NULL: /etc/subuid */
};

/* A socket server_bind() made: its directory, and the inode it is. */
struct server_socket {
	int dirfd;
	dev_t dev;
	ino_t ino;
};

/*
 * Binds a SOCK_SEQPACKET socket to path, mode 0666, and listens on it. The
 * directory must not be writable by group or others unless it is sticky
 * and owned by root. A stale socket of ours or root's is replaced; a live
 * one, another user's, or any other file, is an error. Everything happens
 * relative to the directory, whose fd goes to *sock with the socket's
 * identity for server_unbind(). Returns the fd, or -errno with a message in
 * why.
 */
int server_bind(const char *path, struct server_socket *sock, char *why, size_t whylen);

/*
 * Removes the socket server_bind() made, by name in its directory, if the
 * name is still that socket, and closes the directory. 1 when it was
 * removed, 0 when something else is there now, or -errno (-ENOENT: gone).
 */
int server_unbind(struct server_socket *sock, const char *path);

/* Serves the listening socket fd on base; takes ownership of fd. */
struct server *server_new(struct event_base *base, int fd, struct pool *pool,
			  const struct server_opts *opts, server_status_fn *status,
			  void *status_ctx);

void server_free(struct server *s);

/* What was counted so far; a request once the peer has the reply. */
void server_counters(const struct server *s, struct server_counters *out);

/*
 * Answers one request of n bytes (truncated: the peer sent more than fits)
 * from a peer that is trusted (root, the daemon's uid, the allow lists) or
 * not, with a reply in out, without touching a socket: the connection
 * handler's core, also driven directly by the fuzz tests. Returns the reply
 * length; *add is what the answer adds to the requests and bytes counted
 * once it is sent.
 */
size_t server_answer(struct server *s, const uint8_t *in, size_t n, int truncated, int trusted,
		     uint8_t out[SEEDD_PROTO_MAX_MSG], struct server_counters *add);

#endif
