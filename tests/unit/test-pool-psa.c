// SPDX-License-Identifier: MIT
/*
 * The pool's PSA backend (Mbed TLS 4): what its NV seed source hands PSA's
 * generator, read through Mbed TLS's own callback pointer as PSA reads it
 * when it gathers; the seeds it writes, at the first gather and at each
 * save, in the stored seed's size; and the refusals of what the build
 * cannot do.
 */
#include <errno.h>
#include <string.h>

#include <mbedtls/platform.h>

#include "pool.h"
#include "seedfile.h"
#include "test.h"

#if defined(MBEDTLS_PSA_BUILTIN_GET_ENTROPY) || defined(MBEDTLS_PSA_DRIVER_GET_ENTROPY)
#define PLATFORM 1
#else
#define PLATFORM 0
#endif

#define FEED 64

static uint8_t written[SEEDFILE_MAX];
static size_t written_len;
static int writes, write_error;

static int capture(void *ctx, const uint8_t *seed, size_t len)
{
	(void)ctx;
	if (write_error)
		return -write_error;
	memcpy(written, seed, len);
	written_len = len;
	writes++;
	return 0;
}

/* Irregular bytes, so that any quality screen passes them. */
static void fill(uint8_t *b, size_t n, uint32_t x)
{
	for (size_t i = 0; i < n; i++) {
		x = x * 1103515245u + 12345u;
		b[i] = (uint8_t)(x >> 16);
	}
}

/* What PSA's next gather reads from the NV seed source. */
static void feed(uint8_t out[FEED])
{
	CHECK_EQ(mbedtls_nv_seed_read(out, FEED), FEED);
}

static void cycle(size_t len)
{
	static const uint8_t ident[] = "0123456789abcdef0123456789abcdef";
	struct pool_opts opts = {
		.name = "test seed",
		.write = capture,
		.platform_entropy = PLATFORM,
		.identity = ident,
		.identity_len = sizeof(ident) - 1,
	};
	uint8_t seed[SEEDFILE_MAX], first[SEEDFILE_MAX], f0[FEED], f1[FEED], again[FEED], f2[FEED],
	    f3[FEED], a[32], b[32], big[1024];
	char why[512] = "";
	struct pool *p;

	fill(seed, sizeof(seed), (uint32_t)len);
	writes = 0;
	p = pool_new(seed, len, &opts, why, sizeof(why));
	CHECK(p != NULL);
	if (!p) {
		fprintf(stderr, "pool_new: %s\n", why);
		return;
	}
	/* Mbed TLS's first gather wrote the next seed, in the stored seed's size. */
	CHECK_EQ(writes, 1);
	CHECK_EQ(written_len, len);
	CHECK_EQ(pool_seed_size(p), len);
	CHECK(memcmp(written, seed, len) != 0);
	CHECK_EQ(seedfile_check_bytes(written, len, why, sizeof(why)), 0);
	memcpy(first, written, len);

	/* A PUT changes what the generator reads next; reading it changes nothing. */
	feed(f0);
	CHECK(memcmp(f0, written, len) != 0);
	CHECK_EQ(pool_mix(p, (const uint8_t *)"client bytes", 12), 0);
	feed(f1);
	feed(again);
	CHECK(memcmp(f0, f1, FEED) != 0);
	CHECK(memcmp(f1, again, FEED) == 0);
	CHECK_EQ(pool_mix(p, (const uint8_t *)"client bytes", 12), 0);
	feed(f2);
	CHECK(memcmp(f1, f2, FEED) != 0);

	/* A save writes a fresh seed of the same size, and the feed follows it. */
	CHECK_EQ(pool_save(p), 0);
	CHECK_EQ(writes, 2);
	CHECK_EQ(written_len, len);
	CHECK(memcmp(written, first, len) != 0);
	feed(f3);
	CHECK(memcmp(f3, f2, FEED) != 0);

	CHECK_EQ(pool_random(p, a, sizeof(a)), 0);
	CHECK_EQ(pool_random(p, b, sizeof(b)), 0);
	CHECK(memcmp(a, b, sizeof(a)) != 0);
	CHECK_EQ(pool_random(p, big, sizeof(big)), 0);
	pool_free(p);

	/* No pool, no NV seed: PSA gets nothing rather than stale bytes. */
	CHECK(mbedtls_nv_seed_read(f0, FEED) < 0);
}

int main(void)
{
	struct pool_opts opts = { .name = "test seed", .write = capture };
	uint8_t seed[SEEDFILE_MAX];
	char why[512] = "";

	cycle(32);
	cycle(64);

	/* What the build's sources make impossible is refused, saying why. */
	CHECK_EQ(pool_check_platform_entropy(PLATFORM, why, sizeof(why)), 0);
	CHECK_EQ(pool_check_platform_entropy(!PLATFORM, why, sizeof(why)), -EOPNOTSUPP);
	CHECK(strstr(why, "MBEDTLS_PSA_BUILTIN_GET_ENTROPY") != NULL);
	fill(seed, sizeof(seed), 7);
	opts.platform_entropy = !PLATFORM;
	why[0] = 0;
	CHECK(pool_new(seed, 64, &opts, why, sizeof(why)) == NULL);
	CHECK(strstr(why, "MBEDTLS_PSA_BUILTIN_GET_ENTROPY") != NULL);

	/* The first gather's seed not written: no pool, nothing served. */
	opts.platform_entropy = PLATFORM;
	write_error = ENOSPC;
	why[0] = 0;
	CHECK(pool_new(seed, 64, &opts, why, sizeof(why)) == NULL);
	CHECK(strstr(why, "cannot write the new seed to test seed") != NULL);
	CHECK(strstr(why, strerror(ENOSPC)) != NULL);
	return TEST_DONE();
}
