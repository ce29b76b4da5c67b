// SPDX-License-Identifier: MIT
/*
 * The sealed format against one fixed vector, written by the Mbed TLS 2.28
 * backend (common/seal-mbedtls.c): every backend must seal to exactly these
 * bytes and open them, so a file either writes opens with the other
 * (common/seal-psa.c on Mbed TLS 4 is held to the same vector).
 */
#include <errno.h>
#include <string.h>

#include "seal.h"
#include "test.h"

/* seal_seal(key = fill(1), seed = fill(2) (64 bytes), machine = seal_machine_hash(MACHINE)). */
static const char sealed64[] = "7365656464656e63010140006bbca232"
			       "dd1eaa1909e8999f369a3c808a08b807"
			       "b4b2292a0f88eb86b5e6eede21636dc8"
			       "ce26e3b6388c838eca17586fc563638b"
			       "e0ed6fa1724336bda6c4b596cc43d90d"
			       "c13bd02df1b339833fcb3a94bf3b7719"
			       "b0f19b284d8d57380cb1f7aa07e6b9c6"
			       "c51be9e07f027aee76a2efce1f8ed924"
			       "d9c63aed49d4e3d757f7ef8af8b00808";
/* The same with the seed's first 32 bytes. */
static const char sealed32[] = "7365656464656e63010120006bbca232"
			       "dd1eaa19c291dfcad73ae39a1f4a1006"
			       "b3420a678a3513ad0aa3bcc6d91caf14"
			       "a14582a95e41c0e7f9447241e4c4d762"
			       "d463d3d5062055aa4c4697a9a925e6fb"
			       "a1be36825bf79bc4963bfd1f55ff5d01"
			       "5a0708ba4fdd1c8f06edaeb987615bb2";
static const char machine_hash[] =
    "5df883fc0fa9dbd600671c041634643a294e34626ce06080c8bc55b9d67a59b1";
#define MACHINE "0123456789abcdef0123456789abcdef"

/* Irregular bytes, so that the quality screen passes them. */
static void fill(uint8_t *b, size_t n, uint32_t x)
{
	for (size_t i = 0; i < n; i++) {
		x = x * 1103515245u + 12345u;
		b[i] = (uint8_t)(x >> 16);
	}
}

static size_t unhex(const char *hex, uint8_t *out)
{
	size_t n = strlen(hex) / 2;

	for (size_t i = 0; i < n; i++)
		sscanf(hex + 2 * i, "%2hhx", &out[i]);
	return n;
}

/* Seals seed_len bytes of seed and checks the result is the vector, then opens it. */
static void vector(const struct seal_key *k, const uint8_t *seed, size_t seed_len,
		   const uint8_t machine[SEAL_HASH_SIZE], const char *hex)
{
	uint8_t want[SEAL_MAX], out[SEAL_MAX], back[SEEDFILE_MAX], m[SEAL_HASH_SIZE];
	size_t n = unhex(hex, want), len = 0;
	char why[256] = "";

	CHECK_EQ(seal_seal(k, seed, seed_len, machine, out), n);
	CHECK(memcmp(out, want, n) == 0);
	CHECK_EQ(seal_open(k, want, n, back, &len, m, why, sizeof(why)), 0);
	CHECK_EQ(len, seed_len);
	CHECK(memcmp(back, seed, seed_len) == 0);
	CHECK(memcmp(m, machine, SEAL_HASH_SIZE) == 0);

	/* Any byte changed, in the header, the ciphertext or the tag, is refused. */
	for (size_t at = 0; at < n; at++) {
		uint8_t bad[SEAL_MAX];

		memcpy(bad, want, n);
		bad[at] ^= 0x01;
		why[0] = 0;
		CHECK(seal_open(k, bad, n, back, &len, m, why, sizeof(why)) < 0);
		CHECK(why[0] != 0);
	}
	CHECK(seal_open(k, want, n - 1, back, &len, m, why, sizeof(why)) == -EINVAL);
	CHECK(strstr(why, "truncated") != NULL);
}

int main(void)
{
	uint8_t key[SEAL_KEY_SIZE], other[SEAL_KEY_SIZE], seed[SEEDFILE_MAX];
	uint8_t machine[SEAL_HASH_SIZE], want[SEAL_HASH_SIZE], buf[SEAL_MAX], back[SEEDFILE_MAX];
	struct seal_key *k, *wrong;
	char why[256] = "";
	size_t len;

	fill(key, sizeof(key), 1);
	fill(seed, sizeof(seed), 2);
	CHECK_EQ(seal_machine_hash((const uint8_t *)MACHINE, strlen(MACHINE), machine), 0);
	unhex(machine_hash, want);
	CHECK(memcmp(machine, want, sizeof(want)) == 0);

	k = seal_key_new(key);
	CHECK(k != NULL);
	if (!k)
		return TEST_DONE();
	vector(k, seed, 64, machine, sealed64);
	vector(k, seed, 32, machine, sealed32);

	/* Another key: refused by its id, before any decryption. */
	fill(other, sizeof(other), 3);
	wrong = seal_key_new(other);
	CHECK(wrong != NULL);
	len = unhex(sealed64, buf);
	CHECK_EQ(seal_open(wrong, buf, len, back, &len, machine, why, sizeof(why)), -EINVAL);
	CHECK(strstr(why, "different key") != NULL);

	/* A seed the quality screen refuses is never sealed. */
	memset(seed, 0x5a, sizeof(seed));
	CHECK_EQ(seal_seal(k, seed, 64, machine, buf), -EINVAL);

	seal_key_free(wrong);
	seal_key_free(k);
	return TEST_DONE();
}
