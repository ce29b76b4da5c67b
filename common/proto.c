// SPDX-License-Identifier: MIT
/* The wire format's one parser and writer: requests, replies, status codes. */
#include <errno.h>
#include <string.h>

#include "seedd-protocol.h"

static size_t payload_min(uint8_t op)
{
	switch (op) {
	case SEEDD_OP_GET_SEED:
		return sizeof(struct seedd_get_req);
	case SEEDD_OP_PUT_SEED:
		return 1;
	case SEEDD_OP_USERS:
		return sizeof(struct seedd_users_req);
	default:
		return 0;
	}
}

static size_t payload_max(uint8_t op)
{
	switch (op) {
	case SEEDD_OP_GET_SEED:
		return sizeof(struct seedd_get_req);
	case SEEDD_OP_PUT_SEED:
		return SEEDD_PROTO_MAX_PAYLOAD;
	case SEEDD_OP_USERS:
		return sizeof(struct seedd_users_req);
	default:
		return 0;
	}
}

static int known_op(uint8_t op)
{
	return op == SEEDD_OP_GET_SEED || op == SEEDD_OP_PUT_SEED || op == SEEDD_OP_STATUS ||
	       op == SEEDD_OP_USERS;
}

enum seedd_status proto_parse_request(const void *buf, size_t n, struct proto_msg *msg)
{
	if (n < sizeof(msg->hdr) || n > SEEDD_PROTO_MAX_MSG)
		return SEEDD_ST_MALFORMED;
	memcpy(&msg->hdr, buf, sizeof(msg->hdr));
	if (msg->hdr.version != SEEDD_PROTO_VERSION)
		return SEEDD_ST_VERSION;
	if (msg->hdr.length != n - sizeof(msg->hdr) || msg->hdr.status != SEEDD_ST_OK)
		return SEEDD_ST_MALFORMED;
	if (!known_op(msg->hdr.opcode))
		return SEEDD_ST_OPCODE;
	if (msg->hdr.length < payload_min(msg->hdr.opcode) ||
	    msg->hdr.length > payload_max(msg->hdr.opcode))
		return SEEDD_ST_MALFORMED;
	msg->payload = (const uint8_t *)buf + sizeof(msg->hdr);
	msg->len = msg->hdr.length;
	if (msg->hdr.opcode == SEEDD_OP_GET_SEED) {
		struct seedd_get_req req;

		memcpy(&req, msg->payload, sizeof(req));
		if (req.bytes < 1 || req.bytes > SEEDD_PROTO_MAX_PAYLOAD)
			return SEEDD_ST_RANGE;
	}
	return SEEDD_ST_OK;
}

int proto_parse_reply(const void *buf, size_t n, uint8_t op, struct proto_msg *msg)
{
	if (n < sizeof(msg->hdr) || n > SEEDD_PROTO_MAX_MSG)
		return -EPROTO;
	memcpy(&msg->hdr, buf, sizeof(msg->hdr));
	if (msg->hdr.version != SEEDD_PROTO_VERSION || msg->hdr.length != n - sizeof(msg->hdr))
		return -EPROTO;
	/* The daemon may refuse a connection before it reads any request. */
	if (msg->hdr.status == SEEDD_ST_BUSY || msg->hdr.status == SEEDD_ST_DENIED)
		return msg->hdr.length == 0 ? proto_status_errno(msg->hdr.status) : -EPROTO;
	if (msg->hdr.opcode != op)
		return -EPROTO;
	if (msg->hdr.status != SEEDD_ST_OK)
		return msg->hdr.length == 0 ? proto_status_errno(msg->hdr.status) : -EPROTO;
	msg->payload = (const uint8_t *)buf + sizeof(msg->hdr);
	msg->len = msg->hdr.length;
	return 0;
}

size_t proto_put_hdr(void *buf, uint8_t op, uint16_t status, uint32_t length)
{
	struct seedd_hdr hdr = {
		.version = SEEDD_PROTO_VERSION,
		.opcode = op,
		.status = status,
		.length = length,
	};

	memcpy(buf, &hdr, sizeof(hdr));
	return sizeof(hdr);
}

int proto_status_errno(uint16_t status)
{
	switch (status) {
	case SEEDD_ST_OK:
		return 0;
	case SEEDD_ST_VERSION:
		return -EPROTONOSUPPORT;
	case SEEDD_ST_OPCODE:
		return -EOPNOTSUPP;
	case SEEDD_ST_RANGE:
		return -EINVAL;
	case SEEDD_ST_BUSY:
		return -EBUSY;
	case SEEDD_ST_DENIED:
		return -EACCES;
	case SEEDD_ST_INTERNAL:
		return -EIO;
	default:
		return -EPROTO;
	}
}

const char *proto_status_str(uint16_t status)
{
	static const char *const names[] = {
		[SEEDD_ST_OK] = "ok",
		[SEEDD_ST_MALFORMED] = "malformed message",
		[SEEDD_ST_VERSION] = "unsupported protocol version",
		[SEEDD_ST_OPCODE] = "unknown opcode",
		[SEEDD_ST_RANGE] = "size out of range",
		[SEEDD_ST_BUSY] = "too many clients",
		[SEEDD_ST_DENIED] = "permission denied",
		[SEEDD_ST_INTERNAL] = "internal error",
	};

	if (status < sizeof(names) / sizeof(names[0]))
		return names[status];
	return "unknown status";
}
