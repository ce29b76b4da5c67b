// SPDX-License-Identifier: MIT
/*
 * The sealed format's crypto on Mbed TLS 2.28 and 3.x: the GCM and MD
 * interfaces, which are the same in both. With daemon/pool.c, the only file
 * of such a build that includes Mbed TLS headers.
 */
#include <errno.h>

#include <mbedtls/gcm.h>
#include <mbedtls/md.h>

#include "seal-crypto.h"
#include "seal.h"

#define NONCE_SIZE 12

int seal_crypto_sha256(const uint8_t *key, size_t klen, const uint8_t *a, size_t alen,
		       const uint8_t *b, size_t blen, uint8_t out[32])
{
	const mbedtls_md_info_t *md = mbedtls_md_info_from_type(MBEDTLS_MD_SHA256);
	mbedtls_md_context_t ctx;
	int r;

	if (!md)
		return -EIO;
	mbedtls_md_init(&ctx);
	r = mbedtls_md_setup(&ctx, md, key != NULL);
	if (r == 0)
		r = key ? mbedtls_md_hmac_starts(&ctx, key, klen) : mbedtls_md_starts(&ctx);
	if (r == 0)
		r = key ? mbedtls_md_hmac_update(&ctx, a, alen) : mbedtls_md_update(&ctx, a, alen);
	if (r == 0 && blen)
		r = key ? mbedtls_md_hmac_update(&ctx, b, blen) : mbedtls_md_update(&ctx, b, blen);
	if (r == 0)
		r = key ? mbedtls_md_hmac_finish(&ctx, out) : mbedtls_md_finish(&ctx, out);
	mbedtls_md_free(&ctx);
	return r ? -EIO : 0;
}

int seal_crypto_gcm(const uint8_t key[32], int encrypt, const uint8_t *hdr, const uint8_t *in,
		    size_t len, uint8_t *out, uint8_t *tag)
{
	mbedtls_gcm_context ctx;
	int r;

	mbedtls_gcm_init(&ctx);
	r = mbedtls_gcm_setkey(&ctx, MBEDTLS_CIPHER_ID_AES, key, 256);
	if (r == 0 && encrypt)
		r = mbedtls_gcm_crypt_and_tag(&ctx, MBEDTLS_GCM_ENCRYPT, len, hdr + 20, NONCE_SIZE,
					      hdr, SEAL_HDR_SIZE, in, out, SEAL_TAG_SIZE, tag);
	else if (r == 0)
		r = mbedtls_gcm_auth_decrypt(&ctx, len, hdr + 20, NONCE_SIZE, hdr, SEAL_HDR_SIZE,
					     tag, SEAL_TAG_SIZE, in, out);
	mbedtls_gcm_free(&ctx);
	if (r == MBEDTLS_ERR_GCM_AUTH_FAILED)
		return -EBADMSG;
	return r ? -EIO : 0;
}
