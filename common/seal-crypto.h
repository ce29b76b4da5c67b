/* SPDX-License-Identifier: MIT */
/*
 * The crypto under the sealed format, one backend per Mbed TLS line:
 * seal-mbedtls.c (2.28 and 3.x: the GCM and MD interfaces) and seal-psa.c
 * (4.x, TF-PSA-Crypto: the PSA API). seal.c, the format, calls only these.
 */
#ifndef SEEDD_SEAL_CRYPTO_H
#define SEEDD_SEAL_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

/*
 * SHA-256 of a and then b (blen may be 0): keyed (HMAC-SHA-256) with key,
 * a plain hash when key is NULL. 0 or -EIO.
 */
int seal_crypto_sha256(const uint8_t *key, size_t klen, const uint8_t *a, size_t alen,
		       const uint8_t *b, size_t blen, uint8_t out[32]);

/*
 * AES-256-GCM of len bytes from in to out under key, with the SEAL_HDR_SIZE
 * bytes of hdr as additional data and its 12 bytes at offset 20 as the nonce;
 * the 16-byte tag is written (encrypt) or checked (decrypt) at tag. 0,
 * -EBADMSG when the tag does not match, or -EIO.
 */
int seal_crypto_gcm(const uint8_t key[32], int encrypt, const uint8_t *hdr, const uint8_t *in,
		    size_t len, uint8_t *out, uint8_t *tag);

#endif
