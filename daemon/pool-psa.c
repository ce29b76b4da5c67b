// SPDX-License-Identifier: MIT
/*
 * The entropy pool on Mbed TLS 4 (TF-PSA-Crypto 1.x), through its public PSA
 * API, in place of pool.c: the generator is PSA's own (psa_generate_random),
 * and the seed reaches it the one way that API takes a seed, as its NV seed
 * (MBEDTLS_ENTROPY_NV_SEED with MBEDTLS_PLATFORM_NV_SEED_ALT, which meson
 * checks). With common/seal-psa.c, the only file of such a build that
 * includes Mbed TLS headers; PSA status codes are translated here.
 *
 * The first gather is Mbed TLS's own: psa_crypto_init() reads the NV seed,
 * derives the next seed and hands it to nv_write(). Inside psa_crypto_init()
 * PSA cannot encrypt yet, so nv_write() keeps it, and pool_new() writes it,
 * raw or sealed, as soon as psa_crypto_init() has returned, before anything
 * can be served. Later saves are fresh psa_generate_random() output.
 *
 * What the NV seed source hands PSA is not the stored seed itself but 64
 * bytes of HMAC-SHA-256 keyed with it (through the sealed format's crypto),
 * whatever the seed's size and Mbed TLS's block size (32 with its default
 * SHA-256, 64 with SHA-512): the whole seed counts, and the seed file keeps
 * the size it was provisioned with.
 *
 * What the public API cannot do, seedd does not pretend to:
 * - PSA's sources are fixed when Mbed TLS is built. With
 *   MBEDTLS_PSA_BUILTIN_GET_ENTROPY the platform source is always in, so
 *   --no-platform-entropy is refused; without it seedd cannot add
 *   getrandom(2), and runs only with --no-platform-entropy.
 * - Nothing adds input to a running PSA generator. The machine identity and
 *   clients' PUT bytes go into what the NV seed source hands it whenever it
 *   gathers: the identity from its first seeding on, PUT bytes from its next
 *   reseed (every MBEDTLS_PSA_RNG_RESEED_INTERVAL requests, 10000 by
 *   default), and both into the seed saved next.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <mbedtls/platform.h>
#include <psa/crypto.h>
#if __has_include(<mbedtls/version.h>)
#include <mbedtls/version.h>
#endif

#include "log.h"
#include "pool.h"
#include "secret.h"
#include "seal-crypto.h"

#if !defined(MBEDTLS_ENTROPY_NV_SEED) || !defined(MBEDTLS_PLATFORM_NV_SEED_ALT)
#error "seedd feeds TF-PSA-Crypto through MBEDTLS_ENTROPY_NV_SEED and MBEDTLS_PLATFORM_NV_SEED_ALT"
#endif

#if defined(MBEDTLS_PSA_BUILTIN_GET_ENTROPY) || defined(MBEDTLS_PSA_DRIVER_GET_ENTROPY)
#define POOL_PLATFORM_ENTROPY 1
#else
#define POOL_PLATFORM_ENTROPY 0
#endif

#define HMAC_SIZE 32

static const uint8_t id_label[] = "seedd pool v1 identity";

struct pool {
	const char *name;
	int (*write)(void *ctx, const uint8_t *seed, size_t len);
	void *write_ctx;
	uint8_t seed[SEEDFILE_MAX]; /* as stored */
	size_t seed_len;
	uint8_t id[HMAC_SIZE]; /* SHA-256 of the machine identity, when there is one */
	size_t id_len;
	/* What the NV seed source hands PSA: from the seed, the identity and PUT bytes. */
	uint8_t feed[SEEDFILE_MAX];
	/* The seed Mbed TLS derived in its first gather, until pool_new() writes it. */
	uint8_t next[SEEDFILE_MAX];
	size_t next_len;
};

/* Mbed TLS's NV seed callbacks carry no context: there is one pool per process. */
static struct pool *nv_pool;

static int nv_read(unsigned char *buf, size_t len)
{
	if (!nv_pool || len > sizeof(nv_pool->feed))
		return -1;
	memcpy(buf, nv_pool->feed, len);
	return (int)len;
}

static int nv_write(unsigned char *buf, size_t len)
{
	if (!nv_pool || !seedfile_size_ok(len))
		return -1;
	memcpy(nv_pool->next, buf, len);
	nv_pool->next_len = len;
	return (int)len;
}

/*
 * len (at most 64) bytes of HMAC-SHA-256(key, label || i || in), i = 0, 1:
 * out may be the key. 0 or -EIO.
 */
static int prf(const uint8_t *key, size_t klen, const char *label, const uint8_t *in, size_t n,
	       uint8_t *out, size_t len)
{
	uint8_t msg[64], block[SEEDFILE_MAX];
	size_t l = strlen(label);
	int r = 0;

	for (size_t off = 0; r == 0 && off < len; off += HMAC_SIZE) {
		memcpy(msg, label, l);
		msg[l] = (uint8_t)(off / HMAC_SIZE);
		r = seal_crypto_sha256(key, klen, msg, l + 1, in, n, block + off);
	}
	if (r == 0)
		memcpy(out, block, len);
	explicit_bzero(block, sizeof(block));
	return r;
}

/* The feed for the stored seed: HMAC-SHA-256 keyed with it, over the identity. */
static int make_feed(struct pool *p)
{
	return prf(p->seed, p->seed_len, "seedd pool v1 feed", p->id, p->id_len, p->feed,
		   sizeof(p->feed));
}

/* Writes a new seed of the stored seed's size; from then on the NV seed source derives from it. */
static int write_seed(struct pool *p, const uint8_t *buf)
{
	int r = p->write(p->write_ctx, buf, p->seed_len);

	if (r == 0) {
		memmove(p->seed, buf, p->seed_len);
		r = make_feed(p);
	}
	return r;
}

int pool_check_platform_entropy(int platform_entropy, char *why, size_t whylen)
{
	if (!platform_entropy == !POOL_PLATFORM_ENTROPY)
		return 0;
	if (POOL_PLATFORM_ENTROPY)
		snprintf(why, whylen,
			 "--no-platform-entropy cannot be honoured: Mbed TLS %s always seeds its PSA random generator from the platform source it was built with (MBEDTLS_PSA_BUILTIN_GET_ENTROPY), and its public API cannot leave that source out",
			 pool_mbedtls_version());
	else
		snprintf(why, whylen,
			 "Mbed TLS %s was built without a platform entropy source (no MBEDTLS_PSA_BUILTIN_GET_ENTROPY), and its public API cannot add getrandom(2): start seedd with --no-platform-entropy to run on the seed alone",
			 pool_mbedtls_version());
	return -EOPNOTSUPP;
}

struct pool *pool_new(const uint8_t *seed, size_t len, const struct pool_opts *opts, char *why,
		      size_t whylen)
{
	struct pool *p;
	psa_status_t st;
	int r = 0;

	if (!opts->write) {
		snprintf(why, whylen, "no writer for the seed of %s", opts->name);
		return NULL;
	}
	if (!seedfile_size_ok(len)) {
		snprintf(why, whylen, "a %zu-byte seed; a seed has 32 or 64 bytes", len);
		return NULL;
	}
	if (pool_check_platform_entropy(opts->platform_entropy, why, whylen) < 0)
		return NULL;
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
	if (opts->identity_len) {
		r = seal_crypto_sha256(NULL, 0, id_label, sizeof(id_label) - 1, opts->identity,
				       opts->identity_len, p->id);
		p->id_len = sizeof(p->id);
	}
	if (r < 0 || make_feed(p) < 0) {
		snprintf(why, whylen, "cannot derive the NV seed from %s: SHA-256 failed", p->name);
		goto fail;
	}

	/* A generator the sealed format may have started goes: ours reads the seed. */
	mbedtls_psa_crypto_free();
	nv_pool = p;
	mbedtls_platform_set_nv_seed(nv_read, nv_write);
	/* The first gather: Mbed TLS hands the next seed to nv_write() here. */
	st = psa_crypto_init();
	if (st != PSA_SUCCESS || !p->next_len) {
		snprintf(why, whylen, "cannot seed the PSA random generator from %s: PSA error %d",
			 p->name, (int)st);
		goto fail;
	}
	/* In the stored seed's size: cut, or topped up from the generator it now seeds. */
	if (p->next_len < p->seed_len &&
	    pool_random(p, p->next + p->next_len, p->seed_len - p->next_len) < 0) {
		snprintf(why, whylen, "cannot derive the next seed of %s", p->name);
		goto fail;
	}
	r = write_seed(p, p->next);
	explicit_bzero(p->next, sizeof(p->next));
	if (r < 0) {
		snprintf(why, whylen, "cannot write the new seed to %s: %s", p->name, strerror(-r));
		goto fail;
	}
	return p;

fail:
	pool_free(p);
	return NULL;
}

void pool_free(struct pool *p)
{
	if (!p)
		return;
	if (nv_pool == p) {
		mbedtls_psa_crypto_free();
		nv_pool = NULL;
	}
	secret_free(p, sizeof(*p));
}

int pool_random(struct pool *p, uint8_t *out, size_t n)
{
	psa_status_t st = psa_generate_random(out, n);

	(void)p;
	if (st != PSA_SUCCESS) {
		explicit_bzero(out, n);
		log_err("PSA random generator failed: PSA error %d", (int)st);
		return -EIO;
	}
	return 0;
}

int pool_mix(struct pool *p, const uint8_t *in, size_t n)
{
	if (prf(p->feed, sizeof(p->feed), "seedd pool v1 put", in, n, p->feed, sizeof(p->feed)) <
	    0) {
		log_err("mixing client bytes failed: SHA-256 failed");
		return -EIO;
	}
	return 0;
}

int pool_save(struct pool *p)
{
	uint8_t next[SEEDFILE_MAX];
	int r = pool_random(p, next, p->seed_len);

	/* The feed as it stands carries the PUT bytes since the last save. */
	if (r == 0)
		r = prf(next, p->seed_len, "seedd pool v1 save", p->feed, sizeof(p->feed), next,
			p->seed_len);
	if (r == 0)
		r = write_seed(p, next);
	explicit_bzero(next, sizeof(next));
	return r;
}

size_t pool_seed_size(const struct pool *p)
{
	return p->seed_len;
}

const char *pool_mbedtls_version(void)
{
#if defined(MBEDTLS_VERSION_STRING)
	return MBEDTLS_VERSION_STRING " (TF-PSA-Crypto " TF_PSA_CRYPTO_VERSION_STRING ")";
#else
	return "TF-PSA-Crypto " TF_PSA_CRYPTO_VERSION_STRING;
#endif
}

int pool_uses_nv_seed(void)
{
	return 1;
}
