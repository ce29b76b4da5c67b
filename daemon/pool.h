/* SPDX-License-Identifier: MIT */
/* The entropy pool: Mbed TLS entropy and CTR_DRBG, seeded from the seed file. */
#ifndef SEEDD_POOL_H
#define SEEDD_POOL_H

#include <stddef.h>
#include <stdint.h>

#include "seedfile.h"

struct pool;

struct pool_opts {
	const char *name; /* what the seed is kept in, for messages */
	/* Writes a new seed durably (raw or sealed): 0 or -errno. Required. */
	int (*write)(void *ctx, const uint8_t *seed, size_t len);
	void *write_ctx;
	int platform_entropy; /* add getrandom(2) as a strong source */
	/* Mixed into the pool before the first gather: clones of one seedfile diverge. */
	const uint8_t *identity;
	size_t identity_len;
};

/*
 * Whether this build can run with platform entropy on or off as asked:
 * Mbed TLS 4's sources are fixed when it is built. 0, or -EOPNOTSUPP with
 * the reason in why.
 */
int pool_check_platform_entropy(int platform_entropy, char *why, size_t whylen);

/*
 * Creates the entropy + CTR_DRBG context from the seed (len bytes, the
 * seedfile's current content) and performs the first gather, which writes a
 * new seed through opts->write before it returns. Nothing may be served
 * before this succeeded. Returns NULL with a message in why on failure.
 */
struct pool *pool_new(const uint8_t *seed, size_t len, const struct pool_opts *opts, char *why,
		      size_t whylen);

void pool_free(struct pool *p);

/* Fills out with n (1..1024) fresh bytes; 0 or -EIO. */
int pool_random(struct pool *p, uint8_t *out, size_t n);

/* Mixes client bytes into the pool and reseeds; 0 or -EIO. */
int pool_mix(struct pool *p, const uint8_t *in, size_t n);

/* Derives a new seed and stores it durably; 0 or -errno. */
int pool_save(struct pool *p);

/* Bytes in the stored seed. */
size_t pool_seed_size(const struct pool *p);

/* The Mbed TLS version seedd was built with, e.g. "2.28.3". */
const char *pool_mbedtls_version(void);

/* Does this build use Mbed TLS's own NV seed machinery? */
int pool_uses_nv_seed(void);

#endif
