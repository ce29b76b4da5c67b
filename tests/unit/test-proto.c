// SPDX-License-Identifier: MIT
/* Every framing rule of include/seedd-protocol.h, request and reply side. */
#include <errno.h>
#include <string.h>

#include "seedd-protocol.h"
#include "test.h"

static uint8_t buf[SEEDD_PROTO_MAX_MSG + 64];

/* Builds a request with an arbitrary header and payload; returns its length. */
static size_t build(uint8_t version, uint8_t op, uint16_t status, uint32_t length, size_t payload)
{
	struct seedd_hdr h = {
		.version = version, .opcode = op, .status = status, .length = length
	};

	memcpy(buf, &h, sizeof(h));
	memset(buf + sizeof(h), 0x33, payload);
	return sizeof(h) + payload;
}

static size_t build_get(uint32_t bytes)
{
	size_t n = build(SEEDD_PROTO_VERSION, SEEDD_OP_GET_SEED, 0, 4, 4);

	memcpy(buf + sizeof(struct seedd_hdr), &bytes, 4);
	return n;
}

static void test_valid_requests(void)
{
	struct proto_msg m;
	size_t n;

	n = build_get(32);
	CHECK_EQ(proto_parse_request(buf, n, &m), SEEDD_ST_OK);
	CHECK_EQ(m.hdr.opcode, SEEDD_OP_GET_SEED);
	CHECK_EQ(m.len, 4);
	CHECK(m.payload == buf + sizeof(struct seedd_hdr));

	CHECK_EQ(proto_parse_request(buf, build_get(1), &m), SEEDD_ST_OK);
	CHECK_EQ(proto_parse_request(buf, build_get(SEEDD_PROTO_MAX_PAYLOAD), &m), SEEDD_ST_OK);

	n = build(SEEDD_PROTO_VERSION, SEEDD_OP_PUT_SEED, 0, 64, 64);
	CHECK_EQ(proto_parse_request(buf, n, &m), SEEDD_ST_OK);
	CHECK_EQ(m.len, 64);
	n = build(SEEDD_PROTO_VERSION, SEEDD_OP_PUT_SEED, 0, SEEDD_PROTO_MAX_PAYLOAD,
		  SEEDD_PROTO_MAX_PAYLOAD);
	CHECK_EQ(proto_parse_request(buf, n, &m), SEEDD_ST_OK);

	n = build(SEEDD_PROTO_VERSION, SEEDD_OP_STATUS, 0, 0, 0);
	CHECK_EQ(proto_parse_request(buf, n, &m), SEEDD_ST_OK);
	CHECK_EQ(m.len, 0);

	n = build(SEEDD_PROTO_VERSION, SEEDD_OP_USERS, 0, 4, 4);
	CHECK_EQ(proto_parse_request(buf, n, &m), SEEDD_ST_OK);
	CHECK_EQ(m.len, 4);
}

static void test_malformed_requests(void)
{
	struct proto_msg m;

	/* Truncated: shorter than the header, down to nothing. */
	for (size_t n = 0; n < sizeof(struct seedd_hdr); n++)
		CHECK_EQ(proto_parse_request(buf, n, &m), SEEDD_ST_MALFORMED);
	/* Length field disagrees with the message, both ways, and huge. */
	CHECK_EQ(proto_parse_request(buf, build(1, SEEDD_OP_GET_SEED, 0, 5, 4), &m),
		 SEEDD_ST_MALFORMED);
	CHECK_EQ(proto_parse_request(buf, build(1, SEEDD_OP_GET_SEED, 0, 3, 4), &m),
		 SEEDD_ST_MALFORMED);
	CHECK_EQ(proto_parse_request(buf, build(1, SEEDD_OP_GET_SEED, 0, UINT32_MAX, 4), &m),
		 SEEDD_ST_MALFORMED);
	CHECK_EQ(proto_parse_request(buf, build(1, SEEDD_OP_STATUS, 0, 0x80000000u, 0), &m),
		 SEEDD_ST_MALFORMED);
	/* Oversized: one byte over the maximum payload. */
	CHECK_EQ(proto_parse_request(buf,
				     build(1, SEEDD_OP_PUT_SEED, 0, SEEDD_PROTO_MAX_PAYLOAD + 1,
					   SEEDD_PROTO_MAX_PAYLOAD + 1),
				     &m),
		 SEEDD_ST_MALFORMED);
	/* Payload rules per opcode. */
	CHECK_EQ(proto_parse_request(buf, build(1, SEEDD_OP_GET_SEED, 0, 0, 0), &m),
		 SEEDD_ST_MALFORMED);
	CHECK_EQ(proto_parse_request(buf, build(1, SEEDD_OP_GET_SEED, 0, 8, 8), &m),
		 SEEDD_ST_MALFORMED);
	CHECK_EQ(proto_parse_request(buf, build(1, SEEDD_OP_PUT_SEED, 0, 0, 0), &m),
		 SEEDD_ST_MALFORMED);
	CHECK_EQ(proto_parse_request(buf, build(1, SEEDD_OP_STATUS, 0, 1, 1), &m),
		 SEEDD_ST_MALFORMED);
	CHECK_EQ(proto_parse_request(buf, build(1, SEEDD_OP_USERS, 0, 0, 0), &m),
		 SEEDD_ST_MALFORMED);
	CHECK_EQ(proto_parse_request(buf, build(1, SEEDD_OP_USERS, 0, 8, 8), &m),
		 SEEDD_ST_MALFORMED);
	/* A request carries no status. */
	CHECK_EQ(proto_parse_request(buf, build(1, SEEDD_OP_STATUS, 3, 0, 0), &m),
		 SEEDD_ST_MALFORMED);
	/* GET_SEED sizes outside 1..1024. */
	CHECK_EQ(proto_parse_request(buf, build_get(0), &m), SEEDD_ST_RANGE);
	CHECK_EQ(proto_parse_request(buf, build_get(SEEDD_PROTO_MAX_PAYLOAD + 1), &m),
		 SEEDD_ST_RANGE);
	CHECK_EQ(proto_parse_request(buf, build_get(UINT32_MAX), &m), SEEDD_ST_RANGE);
}

static void test_version_and_opcode(void)
{
	struct proto_msg m;

	CHECK_EQ(proto_parse_request(buf, build(0, SEEDD_OP_STATUS, 0, 0, 0), &m),
		 SEEDD_ST_VERSION);
	CHECK_EQ(proto_parse_request(buf, build(2, SEEDD_OP_STATUS, 0, 0, 0), &m),
		 SEEDD_ST_VERSION);
	CHECK_EQ(proto_parse_request(buf, build(255, SEEDD_OP_GET_SEED, 0, 4, 4), &m),
		 SEEDD_ST_VERSION);
	CHECK_EQ(proto_parse_request(buf, build(1, 0, 0, 0, 0), &m), SEEDD_ST_OPCODE);
	CHECK_EQ(proto_parse_request(buf, build(1, 5, 0, 0, 0), &m), SEEDD_ST_OPCODE);
	CHECK_EQ(proto_parse_request(buf, build(1, 0xff, 0, 16, 16), &m), SEEDD_ST_OPCODE);
}

static void test_replies(void)
{
	struct proto_msg m;
	size_t n;

	n = build(1, SEEDD_OP_GET_SEED, SEEDD_ST_OK, 64, 64);
	CHECK_EQ(proto_parse_reply(buf, n, SEEDD_OP_GET_SEED, &m), 0);
	CHECK_EQ(m.len, 64);
	/* An answer to another request is a protocol error. */
	CHECK_EQ(proto_parse_reply(buf, n, SEEDD_OP_STATUS, &m), -EPROTO);
	/* Truncated, inconsistent, wrong version, oversized. */
	for (size_t k = 0; k < sizeof(struct seedd_hdr); k++)
		CHECK_EQ(proto_parse_reply(buf, k, SEEDD_OP_GET_SEED, &m), -EPROTO);
	CHECK_EQ(proto_parse_reply(buf, build(1, 1, 0, 65, 64), 1, &m), -EPROTO);
	CHECK_EQ(proto_parse_reply(buf, build(2, 1, 0, 64, 64), 1, &m), -EPROTO);
	CHECK_EQ(proto_parse_reply(buf, SEEDD_PROTO_MAX_MSG + 1, 1, &m), -EPROTO);
	/* Error statuses map to errno values and carry no payload. */
	CHECK_EQ(proto_parse_reply(buf, build(1, 1, SEEDD_ST_RANGE, 0, 0), 1, &m), -EINVAL);
	CHECK_EQ(proto_parse_reply(buf, build(1, 1, SEEDD_ST_INTERNAL, 0, 0), 1, &m), -EIO);
	CHECK_EQ(proto_parse_reply(buf, build(1, 1, SEEDD_ST_INTERNAL, 4, 4), 1, &m), -EPROTO);
	CHECK_EQ(proto_parse_reply(buf, build(1, 1, 999, 0, 0), 1, &m), -EPROTO);
	/* Refusals come before any request was read, whatever the opcode. */
	CHECK_EQ(proto_parse_reply(buf, build(1, 0, SEEDD_ST_BUSY, 0, 0), 1, &m), -EBUSY);
	CHECK_EQ(proto_parse_reply(buf, build(1, 0, SEEDD_ST_DENIED, 0, 0), 3, &m), -EACCES);
}

static void test_put_hdr_round_trip(void)
{
	struct proto_msg m;
	size_t n = proto_put_hdr(buf, SEEDD_OP_STATUS, SEEDD_ST_OK, 0);

	CHECK_EQ(n, sizeof(struct seedd_hdr));
	CHECK_EQ(proto_parse_request(buf, n, &m), SEEDD_ST_OK);
	CHECK_EQ(proto_parse_reply(buf, n, SEEDD_OP_STATUS, &m), 0);
	CHECK(strcmp(proto_status_str(SEEDD_ST_BUSY), "too many clients") == 0);
	CHECK(strcmp(proto_status_str(4242), "unknown status") == 0);
}

int main(void)
{
	test_valid_requests();
	test_malformed_requests();
	test_version_and_opcode();
	test_replies();
	test_put_hdr_round_trip();
	return TEST_DONE();
}
