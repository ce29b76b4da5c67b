// SPDX-License-Identifier: MIT
/*
 * The encrypted seedfile format (common/seal.c) under a fixed key. The first
 * input byte picks a mode:
 *
 *   0  the rest is a seedfile's content: seal_parse and seal_open must agree,
 *      and anything seal_open accepts must re-seal to exactly itself (the
 *      nonce is synthetic), so nothing but a genuine record is accepted;
 *   1  the rest is a seed (32 or 64 bytes, by the next byte) and a machine
 *      hash: sealing then opening gives them back, and a seed the reader
 *      would refuse is refused by the writer already;
 *   2  as 1, then the remaining bytes edit the sealed record (xor a byte at
 *      a position, or cut it short): every real change must be refused.
 */
#include <errno.h>
#include <string.h>

#include "fuzz.h"
#include "seal.h"

static struct seal_key *key;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	uint8_t raw[SEAL_KEY_SIZE];

	(void)argc;
	(void)argv;
	for (size_t i = 0; i < sizeof(raw); i++)
		raw[i] = (uint8_t)(i * 131 + 17);
	key = seal_key_new(raw);
	fuzz_assert(key != NULL);
	return 0;
}

static void parse_and_open(const uint8_t *data, size_t n)
{
	uint8_t seed[SEEDFILE_MAX], machine[SEAL_HASH_SIZE], again[SEAL_MAX];
	struct seal_info info;
	char why[256] = "";
	size_t len = 0;
	int p, o;

	p = seal_parse(data, n, &info, why, sizeof(why));
	fuzz_assert(p == 0 || (p == -EINVAL && why[0]));
	if (p == 0 && !info.encrypted)
		fuzz_assert(seedfile_size_ok(n) && info.seed_len == n);
	if (p == 0 && info.encrypted)
		fuzz_assert(n == SEAL_HDR_SIZE + info.seed_len + SEAL_HASH_SIZE + SEAL_TAG_SIZE);

	why[0] = '\0';
	o = seal_open(key, data, n, seed, &len, machine, why, sizeof(why));
	if (o < 0) {
		fuzz_assert(why[0]);
		return;
	}
	fuzz_assert(p == 0 && info.encrypted && len == info.seed_len);
	fuzz_assert(seal_seal(key, seed, len, machine, again) == (int)n);
	fuzz_assert(memcmp(again, data, n) == 0);
}

static void seal_round_trip(const uint8_t *data, size_t n, int edit)
{
	uint8_t sealed[SEAL_MAX], edited[SEAL_MAX], seed[SEEDFILE_MAX], machine[SEAL_HASH_SIZE];
	size_t want, len = 0, cut;
	char why[256];
	int s, o;

	if (n < 1)
		return;
	want = data[0] & 1 ? 64 : 32;
	data++, n--;
	if (n < want + SEAL_HASH_SIZE)
		return;
	s = seal_seal(key, data, want, data + want, sealed);
	/* The writer refuses exactly the seeds the reader would refuse. */
	if (seedfile_check_bytes(data, want, why, sizeof(why)) < 0) {
		fuzz_assert(s == -EINVAL);
		return;
	}
	fuzz_assert(s == (int)(SEAL_HDR_SIZE + want + SEAL_HASH_SIZE + SEAL_TAG_SIZE));
	o = seal_open(key, sealed, (size_t)s, seed, &len, machine, why, sizeof(why));
	fuzz_assert(o == 0 && len == want);
	fuzz_assert(memcmp(seed, data, want) == 0 &&
		    memcmp(machine, data + want, SEAL_HASH_SIZE) == 0);
	if (!edit)
		return;

	data += want + SEAL_HASH_SIZE;
	n -= want + SEAL_HASH_SIZE;
	memcpy(edited, sealed, (size_t)s);
	cut = (size_t)s;
	for (; n >= 2; data += 2, n -= 2) {
		if (data[0] == 0xff)
			cut = data[1] % (size_t)s; /* truncate */
		else
			edited[data[0] % (size_t)s] ^= data[1];
	}
	why[0] = '\0';
	o = seal_open(key, edited, cut, seed, &len, machine, why, sizeof(why));
	if (cut == (size_t)s && memcmp(edited, sealed, (size_t)s) == 0)
		fuzz_assert(o == 0);
	else
		fuzz_assert(o == -EINVAL && why[0]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	switch (data[0] % 3) {
	case 0:
		parse_and_open(data + 1, size - 1);
		break;
	default:
		seal_round_trip(data + 1, size - 1, data[0] % 3 == 2);
		break;
	}
	return 0;
}
