// SPDX-License-Identifier: MIT
/*
 * The daemon's request handling (server_answer), on a real pool seeded from
 * a seedfile in a temp dir: every input is one received message, and every
 * reply must be a well-formed reply to it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "fuzz.h"
#include "pool.h"
#include "seedd-protocol.h"
#include "seedfile.h"
#include "server.h"

/* tmpfs when there is one: the writer fsyncs on every input. */
static char dir[] = "/dev/shm/seedd-fuzz-XXXXXX";
static struct seedfile sf;
static char path[64];
static struct server *srv;

static void cleanup(void)
{
	unlinkat(sf.dirfd, "seedfile", 0);
	unlinkat(sf.dirfd, "seedfile.lock", 0);
	seedfile_close(&sf);
	rmdir(dir);
}

/* The pool's writer: the raw seed file, as seedd without a key writes it. */
static int write_seed(void *ctx, const uint8_t *seed, size_t len)
{
	return seedfile_write(ctx, seed, len);
}

/* What main.c adds to STATUS; the server's own part is what is fuzzed. */
static void fill_status(void *ctx, struct seedd_status_info *info)
{
	(void)ctx;
	snprintf(info->seed_file, sizeof(info->seed_file), "%s", path);
	info->flags |= SEEDD_STATUS_LAST_SAVE_OK;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const struct server_opts opts = { .max_clients = 1 };
	const struct pool_opts popts = {
		.name = path,
		.write = write_seed,
		.write_ctx = &sf,
		.platform_entropy = 1,
	};
	uint8_t seed[SEEDFILE_MAX];
	char why[256];
	struct event_base *base;
	struct pool *pool;
	int sv[2];

	(void)argc;
	(void)argv;
	if (!mkdtemp(dir)) {
		memcpy(dir, "/tmp/seedd-fuzz-XXXXXX", sizeof("/tmp/seedd-fuzz-XXXXXX"));
		fuzz_assert(mkdtemp(dir) != NULL);
	}
	snprintf(path, sizeof(path), "%s/seedfile", dir);
	fuzz_assert(seedfile_open(&sf, path, why, sizeof(why)) == 0);
	atexit(cleanup);
	for (size_t i = 0; i < sizeof(seed); i++)
		seed[i] = (uint8_t)(i * 7 + 1);
	fuzz_assert(seedfile_write(&sf, seed, sizeof(seed)) == 0);
	pool = pool_new(seed, sizeof(seed), &popts, why, sizeof(why));
	fuzz_assert(pool != NULL);
	base = event_base_new();
	fuzz_assert(base != NULL);
	/* The server wants a socket to watch; it is never read here. */
	fuzz_assert(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == 0);
	close(sv[1]);
	srv = server_new(base, sv[0], pool, &opts, fill_status, NULL);
	fuzz_assert(srv != NULL);
	return 0;
}

/* trusted: a peer that sees the full status, else the limited one. */
static void answer(const uint8_t *data, size_t size, int trusted)
{
	static uint8_t out[SEEDD_PROTO_MAX_MSG];
	/* As recvmsg() does: at most one message's worth, and the truncation flag. */
	int truncated = size > SEEDD_PROTO_MAX_MSG;
	size_t n = truncated ? SEEDD_PROTO_MAX_MSG : size;
	uint8_t *in = malloc(n ? n : 1);
	struct server_counters before, after, add;
	struct seedd_hdr hdr;
	struct proto_msg req, rep;
	size_t len;
	int r;

	if (!in)
		return;
	memcpy(in, data, n);
	server_counters(srv, &before);
	len = server_answer(srv, in, n, truncated, trusted, out, &add);
	/* Counting waits for the reply to be sent, which happens elsewhere. */
	server_counters(srv, &after);
	fuzz_assert(after.requests == before.requests && after.bytes_served == before.bytes_served);

	fuzz_assert(len >= sizeof(hdr) && len <= SEEDD_PROTO_MAX_MSG);
	memcpy(&hdr, out, sizeof(hdr));
	fuzz_assert(hdr.version == SEEDD_PROTO_VERSION);
	fuzz_assert(hdr.length == len - sizeof(hdr));
	fuzz_assert(hdr.status == SEEDD_ST_OK || hdr.length == 0);

	if (truncated || proto_parse_request(in, n, &req) != SEEDD_ST_OK) {
		/* A refused request changes nothing and serves nothing. */
		fuzz_assert(hdr.status != SEEDD_ST_OK && add.requests == 0 &&
			    add.bytes_served == 0);
		free(in);
		return;
	}
	r = proto_parse_reply(out, len, req.hdr.opcode, &rep);
	if (req.hdr.opcode == SEEDD_OP_USERS && !trusted) {
		/* The table is for the trusted only. */
		fuzz_assert(r == -EACCES && add.requests == 0);
		free(in);
		return;
	}
	fuzz_assert(r == 0);
	if (req.hdr.opcode == SEEDD_OP_GET_SEED) {
		struct seedd_get_req g;

		memcpy(&g, req.payload, sizeof(g));
		fuzz_assert(add.requests == 1 && add.bytes_served == g.bytes && rep.len == g.bytes);
	} else {
		fuzz_assert(add.requests == (req.hdr.opcode == SEEDD_OP_PUT_SEED) &&
			    add.bytes_served == 0);
	}
	if (req.hdr.opcode == SEEDD_OP_USERS) {
		struct seedd_users_info users;

		fuzz_assert(rep.len >= SEEDD_USERS_SIZE(0) && rep.len <= sizeof(users));
		memcpy(&users, rep.payload, rep.len);
		fuzz_assert(users.n <= SEEDD_USERS_MAX && rep.len == SEEDD_USERS_SIZE(users.n));
	}
	if (req.hdr.opcode == SEEDD_OP_STATUS) {
		struct seedd_status_info info, limited = { 0 };

		fuzz_assert(rep.len == sizeof(info));
		memcpy(&info, rep.payload, sizeof(info));
		fuzz_assert(!!(info.flags & SEEDD_STATUS_LIMITED) == !trusted);
		if (!trusted) {
			/* Nothing but the version and the health. */
			memcpy(limited.version, info.version, sizeof(info.version));
			limited.flags =
			    info.flags & (SEEDD_STATUS_SEEDED | SEEDD_STATUS_LAST_SAVE_OK |
					  SEEDD_STATUS_LIMITED);
			fuzz_assert(memcmp(&info, &limited, sizeof(info)) == 0);
		}
	}
	explicit_bzero(out, len);
	free(in);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	answer(data, size, 1);
	answer(data, size, 0);
	return 0;
}
