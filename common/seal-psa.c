// SPDX-License-Identifier: MIT
/*
 * The sealed format's crypto on Mbed TLS 4 (TF-PSA-Crypto 1.x), whose GCM
 * and MD interfaces are private: the public PSA API, the same bytes as
 * seal-mbedtls.c (tests/unit/test-seal.c holds both to one vector). With
 * daemon/pool-psa.c, the only file of such a build that includes Mbed TLS
 * headers. Keys are imported for one operation and destroyed after it.
 *
 * PSA handles keys only after psa_crypto_init(), which also seeds PSA's
 * random generator: on the builds seedd needs, from the NV seed. Mbed TLS's
 * default NV seed callbacks read and write a file named "seedfile" in the
 * working directory, so PSA is never initialised with them. When no one has
 * initialised PSA yet (seedctl; seedd before its pool exists) this file
 * installs callbacks of its own, which read getrandom(2) and write nowhere:
 * the sealed format draws nothing from that generator, and the pool replaces
 * it, mbedtls_psa_crypto_free() first, by one seeded from the seed file.
 */
#include <errno.h>
#include <string.h>
#include <sys/random.h>

#include <mbedtls/platform.h>
#include <psa/crypto.h>

#include "seal-crypto.h"
#include "seal.h"

#define NONCE_SIZE 12
#define GCM_MAX (SEEDFILE_MAX + SEAL_HASH_SIZE)

#if defined(MBEDTLS_ENTROPY_NV_SEED) && defined(MBEDTLS_PLATFORM_NV_SEED_ALT)
static int throwaway_read(unsigned char *buf, size_t len)
{
	size_t off = 0;
	ssize_t r;

	while (off < len) {
		r = getrandom(buf + off, len - off, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		off += (size_t)r;
	}
	return (int)len;
}

static int throwaway_write(unsigned char *buf, size_t len)
{
	(void)buf;
	return (int)len;
}
#endif

/* PSA, initialised: by the pool, by an earlier call, or here. 0 or -EIO. */
static int psa_ready(void)
{
	uint8_t probe;

	/* Only an initialised PSA answers a request for no bytes, and it draws none. */
	if (psa_generate_random(&probe, 0) == PSA_SUCCESS)
		return 0;
#if defined(MBEDTLS_ENTROPY_NV_SEED) && defined(MBEDTLS_PLATFORM_NV_SEED_ALT)
	mbedtls_platform_set_nv_seed(throwaway_read, throwaway_write);
#endif
	return psa_crypto_init() == PSA_SUCCESS ? 0 : -EIO;
}

static psa_key_id_t import(const uint8_t *raw, size_t len, psa_key_type_t type,
			   psa_key_usage_t usage, psa_algorithm_t alg)
{
	psa_key_attributes_t attr = PSA_KEY_ATTRIBUTES_INIT;
	psa_key_id_t id = PSA_KEY_ID_NULL;

	psa_set_key_type(&attr, type);
	psa_set_key_usage_flags(&attr, usage);
	psa_set_key_algorithm(&attr, alg);
	if (psa_import_key(&attr, raw, len, &id) != PSA_SUCCESS)
		id = PSA_KEY_ID_NULL;
	psa_reset_key_attributes(&attr);
	return id;
}

static int hmac(const uint8_t *key, size_t klen, const uint8_t *a, size_t alen, const uint8_t *b,
		size_t blen, uint8_t out[32])
{
	const psa_algorithm_t alg = PSA_ALG_HMAC(PSA_ALG_SHA_256);
	psa_mac_operation_t op = PSA_MAC_OPERATION_INIT;
	psa_key_id_t id = import(key, klen, PSA_KEY_TYPE_HMAC, PSA_KEY_USAGE_SIGN_MESSAGE, alg);
	psa_status_t st;
	size_t n = 0;

	if (id == PSA_KEY_ID_NULL)
		return -EIO;
	st = psa_mac_sign_setup(&op, id, alg);
	if (st == PSA_SUCCESS)
		st = psa_mac_update(&op, a, alen);
	if (st == PSA_SUCCESS && blen)
		st = psa_mac_update(&op, b, blen);
	if (st == PSA_SUCCESS)
		st = psa_mac_sign_finish(&op, out, 32, &n);
	psa_mac_abort(&op);
	psa_destroy_key(id);
	return st == PSA_SUCCESS && n == 32 ? 0 : -EIO;
}

static int hash(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen, uint8_t out[32])
{
	psa_hash_operation_t op = PSA_HASH_OPERATION_INIT;
	psa_status_t st = psa_hash_setup(&op, PSA_ALG_SHA_256);
	size_t n = 0;

	if (st == PSA_SUCCESS)
		st = psa_hash_update(&op, a, alen);
	if (st == PSA_SUCCESS && blen)
		st = psa_hash_update(&op, b, blen);
	if (st == PSA_SUCCESS)
		st = psa_hash_finish(&op, out, 32, &n);
	psa_hash_abort(&op);
	return st == PSA_SUCCESS && n == 32 ? 0 : -EIO;
}

int seal_crypto_sha256(const uint8_t *key, size_t klen, const uint8_t *a, size_t alen,
		       const uint8_t *b, size_t blen, uint8_t out[32])
{
	if (psa_ready() < 0)
		return -EIO;
	return key ? hmac(key, klen, a, alen, b, blen, out) : hash(a, alen, b, blen, out);
}

int seal_crypto_gcm(const uint8_t key[32], int encrypt, const uint8_t *hdr, const uint8_t *in,
		    size_t len, uint8_t *out, uint8_t *tag)
{
	/* PSA keeps the tag after the ciphertext: here it has a place of its own. */
	uint8_t joined[GCM_MAX + SEAL_TAG_SIZE];
	psa_key_id_t id;
	psa_status_t st;
	size_t n = 0;

	if (len > GCM_MAX || psa_ready() < 0)
		return -EIO;
	id = import(key, 32, PSA_KEY_TYPE_AES,
		    encrypt ? PSA_KEY_USAGE_ENCRYPT : PSA_KEY_USAGE_DECRYPT, PSA_ALG_GCM);
	if (id == PSA_KEY_ID_NULL)
		return -EIO;
	if (encrypt) {
		st = psa_aead_encrypt(id, PSA_ALG_GCM, hdr + 20, NONCE_SIZE, hdr, SEAL_HDR_SIZE, in,
				      len, joined, sizeof(joined), &n);
		if (st == PSA_SUCCESS && n == len + SEAL_TAG_SIZE) {
			memcpy(out, joined, len);
			memcpy(tag, joined + len, SEAL_TAG_SIZE);
		}
	} else {
		memcpy(joined, in, len);
		memcpy(joined + len, tag, SEAL_TAG_SIZE);
		st = psa_aead_decrypt(id, PSA_ALG_GCM, hdr + 20, NONCE_SIZE, hdr, SEAL_HDR_SIZE,
				      joined, len + SEAL_TAG_SIZE, out, len, &n);
	}
	psa_destroy_key(id);
	explicit_bzero(joined, sizeof(joined));
	if (st == PSA_ERROR_INVALID_SIGNATURE)
		return -EBADMSG;
	return st == PSA_SUCCESS && n == (encrypt ? len + SEAL_TAG_SIZE : len) ? 0 : -EIO;
}
