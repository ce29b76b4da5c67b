// SPDX-License-Identifier: MIT
/* The wire parsers: any bytes, as a request and as a reply to each opcode. */
#include <string.h>

#include "fuzz.h"
#include "seedd-protocol.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

static void check_payload(const uint8_t *data, size_t size, const struct proto_msg *m)
{
	fuzz_assert(m->len == m->hdr.length);
	fuzz_assert(m->len == size - sizeof(struct seedd_hdr));
	fuzz_assert(m->len <= SEEDD_PROTO_MAX_PAYLOAD);
	fuzz_assert(m->payload == data + sizeof(struct seedd_hdr));
}

static void fuzz_request(const uint8_t *data, size_t size)
{
	struct proto_msg m;
	enum seedd_status st = proto_parse_request(data, size, &m);

	fuzz_assert(st <= SEEDD_ST_INTERNAL);
	fuzz_assert(proto_status_str(st) != NULL);
	if (st != SEEDD_ST_OK) {
		fuzz_assert(proto_status_errno(st) < 0);
		return;
	}
	check_payload(data, size, &m);
	fuzz_assert(m.hdr.version == SEEDD_PROTO_VERSION && m.hdr.status == SEEDD_ST_OK);
	switch (m.hdr.opcode) {
	case SEEDD_OP_GET_SEED: {
		struct seedd_get_req req;

		fuzz_assert(m.len == sizeof(req));
		memcpy(&req, m.payload, sizeof(req));
		fuzz_assert(req.bytes >= 1 && req.bytes <= SEEDD_PROTO_MAX_PAYLOAD);
		break;
	}
	case SEEDD_OP_PUT_SEED:
		fuzz_assert(m.len >= 1);
		break;
	case SEEDD_OP_STATUS:
		fuzz_assert(m.len == 0);
		break;
	case SEEDD_OP_USERS:
		fuzz_assert(m.len == sizeof(struct seedd_users_req));
		break;
	default:
		fuzz_assert(!"unknown opcode accepted");
	}
}

static void fuzz_reply(const uint8_t *data, size_t size, uint8_t op)
{
	struct proto_msg m;
	int r = proto_parse_reply(data, size, op, &m);

	fuzz_assert(r <= 0);
	if (r < 0)
		return;
	check_payload(data, size, &m);
	fuzz_assert(m.hdr.opcode == op && m.hdr.status == SEEDD_ST_OK);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* Both parsers must tolerate any alignment of the buffer they get. */
	uint8_t *copy = malloc(size + 1);

	if (!copy)
		return 0;
	memcpy(copy + 1, data, size);
	fuzz_request(copy + 1, size);
	for (unsigned op = 0; op <= 5; op++)
		fuzz_reply(copy + 1, size, (uint8_t)op);
	fuzz_assert(proto_status_str(size > 1 ? data[1] : 0) != NULL);
	free(copy);
	return 0;
}
