/* SPDX-License-Identifier: MIT */
/*
 * seedd wire protocol (private to this project).
 *
 * SOCK_SEQPACKET over AF_UNIX, one message per request and per reply, host
 * byte order (both ends are on one host). Every message starts with the fixed
 * header; the payload follows and holds at most SEEDD_PROTO_MAX_PAYLOAD bytes.
 *
 *   GET_SEED   request: struct seedd_get_req   reply: `bytes` fresh bytes
 *   PUT_SEED   request: 1..MAX bytes to mix     reply: empty
 *   STATUS     request: empty                   reply: struct seedd_status_info
 *   USERS      request: struct seedd_users_req  reply: struct seedd_users_info, cut after
 *                                               its n entries (trusted peers only)
 *
 * A reply echoes the opcode and carries a status; a non-OK reply has no
 * payload. The daemon answers a malformed, unknown or wrong-version request
 * with an error reply and keeps the connection: SOCK_SEQPACKET keeps the
 * framing, so the next message is parsed on its own. An empty message ends
 * the connection.
 */
#ifndef SEEDD_PROTOCOL_H
#define SEEDD_PROTOCOL_H

#include <stddef.h>
#include <stdint.h>

#define SEEDD_PROTO_VERSION 1
#define SEEDD_PROTO_MAX_PAYLOAD 1024

enum seedd_op {
	SEEDD_OP_GET_SEED = 1,
	SEEDD_OP_PUT_SEED = 2,
	SEEDD_OP_STATUS = 3,
	SEEDD_OP_USERS = 4,
};

enum seedd_status {
	SEEDD_ST_OK = 0,
	SEEDD_ST_MALFORMED = 1, /* truncated, oversized or inconsistent */
	SEEDD_ST_VERSION = 2,	/* unsupported protocol version */
	SEEDD_ST_OPCODE = 3,	/* unknown opcode */
	SEEDD_ST_RANGE = 4,	/* GET_SEED size outside 1..MAX */
	SEEDD_ST_BUSY = 5,	/* too many clients */
	SEEDD_ST_DENIED = 6,	/* peer not allowed */
	SEEDD_ST_INTERNAL = 7,	/* the daemon could not produce output */
};

/*
 * The layouts are pinned field by field, so every build (64-bit, 32-bit ARM,
 * i386 with its 4-byte alignment of 64-bit fields) agrees on them: 64-bit
 * fields sit at multiples of 8 and no field is preceded by padding.
 */
#define SEEDD_FIELD_AT(type, field, off)                                                           \
	_Static_assert(offsetof(type, field) == (off), #type "." #field " is at byte " #off)

struct seedd_hdr {
	uint8_t version;
	uint8_t opcode;
	uint16_t status;
	uint32_t length; /* payload bytes after the header */
};
SEEDD_FIELD_AT(struct seedd_hdr, version, 0);
SEEDD_FIELD_AT(struct seedd_hdr, opcode, 1);
SEEDD_FIELD_AT(struct seedd_hdr, status, 2);
SEEDD_FIELD_AT(struct seedd_hdr, length, 4);
_Static_assert(sizeof(struct seedd_hdr) == 8, "wire header is 8 bytes");

struct seedd_get_req {
	uint32_t bytes;
};
SEEDD_FIELD_AT(struct seedd_get_req, bytes, 0);
_Static_assert(sizeof(struct seedd_get_req) == 4, "GET_SEED request is 4 bytes");

#define SEEDD_STATUS_SEEDED (1u << 0)
#define SEEDD_STATUS_LAST_SAVE_OK (1u << 1)
#define SEEDD_STATUS_ENCRYPTED (1u << 2)
#define SEEDD_STATUS_CLONE_SUSPECTED (1u << 3)
/*
 * How the seed was loaded at start-up, in bits 4 and 5. FILE: read as it was
 * stored, raw or encrypted as SEEDD_STATUS_ENCRYPTED says (also what a daemon
 * that predates these bits reports).
 */
#define SEEDD_STATUS_ORIGIN_MASK (3u << 4)
#define SEEDD_STATUS_ORIGIN_FILE (0u << 4)
#define SEEDD_STATUS_ORIGIN_MIGRATED (1u << 4) /* a raw file, encrypted with --migrate-raw */
#define SEEDD_STATUS_ORIGIN_CREATED (2u << 4)  /* missing, created from getrandom(2) */
/*
 * The details are withheld from this peer (not root, the daemon's user or in
 * its allow lists): only the version, SEEDED and LAST_SAVE_OK are set, every
 * other field is zero.
 */
#define SEEDD_STATUS_LIMITED (1u << 6)

struct seedd_status_info {
	uint64_t uptime_s;
	uint64_t requests;
	uint64_t bytes_served;
	int64_t last_save_unix; /* 0: never saved */
	uint32_t clients;
	uint32_t seed_size;
	uint32_t flags;		 /* SEEDD_STATUS_* */
	int32_t last_save_error; /* errno of the last failed save, else 0 */
	uint64_t saves;
	uint64_t save_failures;
	char version[16];    /* NUL-terminated */
	char seed_file[512]; /* NUL-terminated, truncated if longer */
	/*
	 * Connections since the start: refused (busy, or not in the allow
	 * lists), closed to make room for a newcomer, closed after the idle
	 * timeout. A daemon that predates them sends the 592 bytes above.
	 */
	uint64_t refused;
	uint64_t evicted;
	uint64_t idle_closed;
	uint32_t pid;	/* the daemon's, in its pid namespace */
	uint32_t users; /* users in the USERS table */
};
SEEDD_FIELD_AT(struct seedd_status_info, uptime_s, 0);
SEEDD_FIELD_AT(struct seedd_status_info, requests, 8);
SEEDD_FIELD_AT(struct seedd_status_info, bytes_served, 16);
SEEDD_FIELD_AT(struct seedd_status_info, last_save_unix, 24);
SEEDD_FIELD_AT(struct seedd_status_info, clients, 32);
SEEDD_FIELD_AT(struct seedd_status_info, seed_size, 36);
SEEDD_FIELD_AT(struct seedd_status_info, flags, 40);
SEEDD_FIELD_AT(struct seedd_status_info, last_save_error, 44);
SEEDD_FIELD_AT(struct seedd_status_info, saves, 48);
SEEDD_FIELD_AT(struct seedd_status_info, save_failures, 56);
SEEDD_FIELD_AT(struct seedd_status_info, version, 64);
SEEDD_FIELD_AT(struct seedd_status_info, seed_file, 80);
SEEDD_FIELD_AT(struct seedd_status_info, refused, 592);
SEEDD_FIELD_AT(struct seedd_status_info, evicted, 600);
SEEDD_FIELD_AT(struct seedd_status_info, idle_closed, 608);
SEEDD_FIELD_AT(struct seedd_status_info, pid, 616);
SEEDD_FIELD_AT(struct seedd_status_info, users, 620);
_Static_assert(sizeof(struct seedd_status_info) == 624, "status payload is 624 bytes");
_Static_assert(sizeof(struct seedd_status_info) <= SEEDD_PROTO_MAX_PAYLOAD,
	       "status fits a message");
/* What a daemon without the connection counters sends. */
#define SEEDD_STATUS_INFO_V1_SIZE offsetof(struct seedd_status_info, refused)

/*
 * USERS: what happened to each user's connections, in uid order from
 * from_uid on, SEEDD_USERS_MAX at a time; more is set when users above the
 * last one follow (ask again from its uid + 1). A user is the uid a
 * connection counts as, listed while it has connections or any of the
 * counters is set. Others get SEEDD_ST_DENIED.
 */
struct seedd_users_req {
	uint32_t from_uid;
};
/* The entry that sums up the users a daemon keeps no entry of their own for. */
#define SEEDD_USERS_OTHERS UINT32_MAX
SEEDD_FIELD_AT(struct seedd_users_req, from_uid, 0);
_Static_assert(sizeof(struct seedd_users_req) == 4, "USERS request is 4 bytes");

struct seedd_user_stat {
	uint32_t uid;
	uint32_t clients; /* connections open now */
	uint64_t refused;
	uint64_t evicted; /* closed to make room for a newcomer */
};
SEEDD_FIELD_AT(struct seedd_user_stat, uid, 0);
SEEDD_FIELD_AT(struct seedd_user_stat, clients, 4);
SEEDD_FIELD_AT(struct seedd_user_stat, refused, 8);
SEEDD_FIELD_AT(struct seedd_user_stat, evicted, 16);
_Static_assert(sizeof(struct seedd_user_stat) == 24, "a user's entry is 24 bytes");

#define SEEDD_USERS_MAX ((SEEDD_PROTO_MAX_PAYLOAD - 8) / sizeof(struct seedd_user_stat))

struct seedd_users_info {
	uint32_t n;    /* entries in user[] that were sent */
	uint32_t more; /* 1: ask again for users above user[n - 1].uid */
	struct seedd_user_stat user[SEEDD_USERS_MAX];
};
SEEDD_FIELD_AT(struct seedd_users_info, n, 0);
SEEDD_FIELD_AT(struct seedd_users_info, more, 4);
SEEDD_FIELD_AT(struct seedd_users_info, user, 8);
_Static_assert(sizeof(struct seedd_users_info) <= SEEDD_PROTO_MAX_PAYLOAD, "USERS fits a message");

/* The length of a USERS reply with n entries. */
#define SEEDD_USERS_SIZE(n)                                                                        \
	(offsetof(struct seedd_users_info, user) + (n) * sizeof(struct seedd_user_stat))

#define SEEDD_PROTO_MAX_MSG (sizeof(struct seedd_hdr) + SEEDD_PROTO_MAX_PAYLOAD)

/* A parsed message: points into the buffer it was parsed from. */
struct proto_msg {
	struct seedd_hdr hdr;
	const uint8_t *payload;
	size_t len;
};

/*
 * Checks a received request: size, version, opcode and the payload rules of
 * its opcode. Returns SEEDD_ST_OK with *msg filled in, or the status to
 * reply with.
 */
enum seedd_status proto_parse_request(const void *buf, size_t n, struct proto_msg *msg);

/*
 * Checks a received reply to a request with opcode op. Returns 0 with *msg
 * filled in, -EPROTO when malformed, or a negative errno for an error status.
 */
int proto_parse_reply(const void *buf, size_t n, uint8_t op, struct proto_msg *msg);

/* Writes a header to buf; returns sizeof(struct seedd_hdr). */
size_t proto_put_hdr(void *buf, uint8_t op, uint16_t status, uint32_t length);

/* Maps an error status to a negative errno value. */
int proto_status_errno(uint16_t status);

/* A short English name for a status, for messages. */
const char *proto_status_str(uint16_t status);

#endif
