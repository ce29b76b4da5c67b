/* SPDX-License-Identifier: MIT */
#ifndef SEEDD_POOL_H
#define SEEDD_POOL_H

#include <stddef.h>
#include <stdint.h>

#include "seedfile.h"

struct pool;

struct pool_opts {
	int platform_entropy; /* add getrandom(2) as a strong source */
	/* Mixed into the pool before the first gather: clones of one seedfile diverge. */
	const uint8_t *identity;
	size_t identity_len;
	/* Stores a new seed durably (e.g. encrypted); NULL: seedfile_write(). 0 or -errno. */
	int (*store)(void *ctx, const uint8_t *seed, size_t len);
	void *store_ctx;
};

/*
 * Creates the entropy + CTR_DRBG context from the seed (len bytes, the
 * seedfile's current content) and performs the first gather, which writes a
 * new seed to sf durably before it returns. Nothing may be served before
 * this succeeded. Returns NULL with a message in why on failure.
 */
struct pool *pool_new(struct seedfile *sf, const uint8_t *seed, size_t len,
		      const struct pool_opts *opts, char *why, size_t whylen);

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
