// SPDX-License-Identifier: MIT
/*
 * The entropy pool. With common/seal.c, the only file that includes Mbed TLS
 * headers; the differences between Mbed TLS versions and the translation of
 * Mbed TLS error codes live here.
 *
 * The entropy context starts with no sources but ours, whatever the Mbed TLS
 * build configured: the seed (strong) and, unless disabled, getrandom(2)
 * (strong). On Mbed TLS builds with MBEDTLS_ENTROPY_NV_SEED and
 * MBEDTLS_PLATFORM_NV_SEED_ALT, the first-gather update of the seed is Mbed
 * TLS's own (mbedtls_entropy_update_nv_seed through our NV seed callbacks);
 * on other builds we perform the same update right after seeding.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/version.h>
#if defined(MBEDTLS_ENTROPY_NV_SEED) && defined(MBEDTLS_PLATFORM_NV_SEED_ALT)
#include <mbedtls/platform.h>
#define POOL_NV_SEED 1
#else
#define POOL_NV_SEED 0
#endif

#include "log.h"
#include "pool.h"
#include "secret.h"

#if MBEDTLS_VERSION_MAJOR >= 3
#define ENTROPY_FIELD(ctx, f) ((ctx)->MBEDTLS_PRIVATE(f))
#else
#define ENTROPY_FIELD(ctx, f) ((ctx)->f)
#endif

#define PLATFORM_GATHER 32

static const unsigned char personalization[] = "seedd pool v1";

struct pool {
	mbedtls_entropy_context entropy;
	mbedtls_ctr_drbg_context drbg;
	const char *name;
	int (*write)(void *ctx, const uint8_t *seed, size_t len);
	void *write_ctx;
	uint8_t seed[SEEDFILE_MAX];
	size_t seed_len;
};

static int seed_source(void *data, unsigned char *out, size_t len, size_t *olen)
{
	const struct pool *p = data;
	size_t n = p->seed_len < len ? p->seed_len : len;

	memcpy(out, p->seed, n);
	*olen = n;
	return 0;
}

static int platform_source(void *data, unsigned char *out, size_t len, size_t *olen)
{
	size_t n = len < PLATFORM_GATHER ? len : PLATFORM_GATHER;
	ssize_t r;

	(void)data;
	do {
		r = getrandom(out, n, 0);
	} while (r < 0 && errno == EINTR);
	if (r < 0 || (size_t)r != n) {
		*olen = 0;
		return MBEDTLS_ERR_ENTROPY_SOURCE_FAILED;
	}
	*olen = n;
	return 0;
}

/* Writes a new seed and makes it the one the seed source hands out. */
static int write_seed(struct pool *p, const uint8_t *buf, size_t len)
{
	int r = p->write(p->write_ctx, buf, len);

	if (r == 0) {
		memcpy(p->seed, buf, len);
		p->seed_len = len;
	}
	return r;
}

#if POOL_NV_SEED
/* Mbed TLS's NV seed callbacks carry no context: there is one pool per process. */
static struct pool *nv_pool;
static int nv_errno;

static int nv_read(unsigned char *buf, size_t len)
{
	if (!nv_pool || len > nv_pool->seed_len)
		return -1;
	memcpy(buf, nv_pool->seed, len);
	return (int)len;
}

static int nv_write(unsigned char *buf, size_t len)
{
	if (!nv_pool || !seedfile_size_ok(len))
		return -1;
	nv_errno = -write_seed(nv_pool, buf, len);
	return nv_errno ? -1 : (int)len;
}
#endif

/* Derives the next seed from the pool and writes it; the Mbed TLS way. */
#if POOL_NV_SEED
static int derive_and_write(struct pool *p)
{
	nv_errno = 0;
	if (mbedtls_entropy_update_nv_seed(&p->entropy) != 0)
		return nv_errno ? -nv_errno : -EIO;
	return 0;
}
#else
static int derive_and_write(struct pool *p)
{
	uint8_t next[SEEDFILE_MAX];
	size_t len =
	    p->seed_len < MBEDTLS_ENTROPY_BLOCK_SIZE ? p->seed_len : MBEDTLS_ENTROPY_BLOCK_SIZE;
	int r;

	r = mbedtls_entropy_func(&p->entropy, next, len);
	if (r != 0) {
		log_err("Mbed TLS entropy gather failed: -0x%04x", (unsigned)-r);
		return -EIO;
	}
	r = write_seed(p, next, len);
	/* As Mbed TLS does: the written seed also feeds the pool. */
	if (r == 0)
		r = mbedtls_entropy_update_manual(&p->entropy, next, len) ? -EIO : 0;
	explicit_bzero(next, sizeof(next));
	return r;
}
#endif

/* seedd adds getrandom(2) itself, or not: either way works. */
int pool_check_platform_entropy(int platform_entropy, char *why, size_t whylen)
{
	(void)platform_entropy;
	(void)why;
	(void)whylen;
	return 0;
}

struct pool *pool_new(const uint8_t *seed, size_t len, const struct pool_opts *opts, char *why,
		      size_t whylen)
{
	struct pool *p;
	int r;

	if (!opts->write) {
		snprintf(why, whylen, "no writer for the seed of %s", opts->name);
		return NULL;
	}
	if (!seedfile_size_ok(len)) {
		snprintf(why, whylen, "a %zu-byte seed; a seed has 32 or 64 bytes", len);
		return NULL;
	}
	p = secret_alloc(sizeof(*p));
	if (!p) {
		snprintf(why, whylen, "out of memory");
		return NULL;
	}
	p->name = opts->name;
	p->write = opts->write;
	p->write_ctx = opts->write_ctx;
	memcpy(p->seed, seed, len);
	p->seed_len = len;
	mbedtls_entropy_init(&p->entropy);
	mbedtls_ctr_drbg_init(&p->drbg);

	/* Drop the sources the Mbed TLS build added: ours are the only ones. */
	ENTROPY_FIELD(&p->entropy, source_count) = 0;
	r = mbedtls_entropy_add_source(&p->entropy, seed_source, p, len,
				       MBEDTLS_ENTROPY_SOURCE_STRONG);
	if (r == 0 && opts->platform_entropy)
		r = mbedtls_entropy_add_source(&p->entropy, platform_source, NULL, PLATFORM_GATHER,
					       MBEDTLS_ENTROPY_SOURCE_STRONG);
	if (r != 0) {
		snprintf(why, whylen, "cannot add entropy source: Mbed TLS error -0x%04x",
			 (unsigned)-r);
		goto fail;
	}
	if (opts->identity_len) {
		r = mbedtls_entropy_update_manual(&p->entropy, opts->identity, opts->identity_len);
		if (r != 0) {
			snprintf(why, whylen,
				 "cannot mix in the machine identity: Mbed TLS error -0x%04x",
				 (unsigned)-r);
			goto fail;
		}
	}

#if POOL_NV_SEED
	nv_pool = p;
	nv_errno = 0;
	mbedtls_platform_set_nv_seed(nv_read, nv_write);
#endif
	/* The first gather: with NV seed builds, Mbed TLS writes the new seed here. */
	r = mbedtls_ctr_drbg_seed(&p->drbg, mbedtls_entropy_func, &p->entropy, personalization,
				  sizeof(personalization) - 1);
	if (r != 0) {
#if POOL_NV_SEED
		if (nv_errno) {
			snprintf(why, whylen, "cannot write the new seed to %s: %s", p->name,
				 strerror(nv_errno));
			goto fail;
		}
#endif
		snprintf(why, whylen, "cannot seed CTR_DRBG: Mbed TLS error -0x%04x", (unsigned)-r);
		goto fail;
	}
#if !POOL_NV_SEED
	r = derive_and_write(p);
	if (r < 0) {
		snprintf(why, whylen, "cannot write the new seed to %s: %s", p->name, strerror(-r));
		goto fail;
	}
#endif
	return p;

fail:
	pool_free(p);
	return NULL;
}

void pool_free(struct pool *p)
{
	if (!p)
		return;
#if POOL_NV_SEED
	if (nv_pool == p)
		nv_pool = NULL;
#endif
	mbedtls_ctr_drbg_free(&p->drbg);
	mbedtls_entropy_free(&p->entropy);
	secret_free(p, sizeof(*p));
}

int pool_random(struct pool *p, uint8_t *out, size_t n)
{
	int r = mbedtls_ctr_drbg_random(&p->drbg, out, n);

	if (r != 0) {
		explicit_bzero(out, n);
		log_err("CTR_DRBG output failed: Mbed TLS error -0x%04x", (unsigned)-r);
		return -EIO;
	}
	return 0;
}

int pool_mix(struct pool *p, const uint8_t *in, size_t n)
{
	int r = mbedtls_entropy_update_manual(&p->entropy, in, n);

	if (r == 0)
		r = mbedtls_ctr_drbg_reseed(&p->drbg, NULL, 0);
	if (r != 0) {
		log_err("mixing client bytes failed: Mbed TLS error -0x%04x", (unsigned)-r);
		return -EIO;
	}
	return 0;
}

int pool_save(struct pool *p)
{
	return derive_and_write(p);
}

size_t pool_seed_size(const struct pool *p)
{
	return p->seed_len;
}

const char *pool_mbedtls_version(void)
{
	return MBEDTLS_VERSION_STRING;
}

int pool_uses_nv_seed(void)
{
	return POOL_NV_SEED;
}
