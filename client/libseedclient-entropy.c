// SPDX-License-Identifier: MIT
/*
 * libseedclient-entropy: mbedtls_platform_get_entropy() for Mbed TLS 4
 * (TF-PSA-Crypto 1.x) built with MBEDTLS_PSA_DRIVER_GET_ENTROPY, served by
 * seedd. Linking it is the whole wiring: the PSA random generator then
 * seeds and reseeds from the daemon.
 *
 * A companion rather than part of libseedclient, which stays free of Mbed TLS
 * names: only a program that links this library has chosen TF-PSA-Crypto's
 * hook. It includes no Mbed TLS header either; the prototype, the width of
 * the flags and the two status values are TF-PSA-Crypto 1.0's, and the
 * interop suite checks them against the real headers.
 *
 * The estimate is full entropy, 8 bits a byte, the only estimate TF-PSA-Crypto
 * 1.0 accepts: the bytes are fresh CTR_DRBG output of a daemon seeded from its
 * seed file (and getrandom(2) unless told otherwise). When the daemon cannot
 * be reached the call fails with PSA_ERROR_INSUFFICIENT_ENTROPY and an
 * estimate of 0; there is no fallback to another source.
 */
#include <stddef.h>
#include <stdint.h>

#include "seedclient.h"

#define EXPORT __attribute__((visibility("default")))

/* psa_status_t values of TF-PSA-Crypto 1.0 (psa/crypto_values.h). */
#define ENTROPY_NOT_SUPPORTED (-134) /* PSA_ERROR_NOT_SUPPORTED */
#define ENTROPY_INSUFFICIENT (-148)  /* PSA_ERROR_INSUFFICIENT_ENTROPY */

/* psa_driver_get_entropy_flags_t is a uint32_t; TF-PSA-Crypto 1.0 defines no flag. */
EXPORT int mbedtls_platform_get_entropy(uint32_t flags, size_t *estimate_bits,
					unsigned char *output, size_t output_size);

EXPORT int mbedtls_platform_get_entropy(uint32_t flags, size_t *estimate_bits,
					unsigned char *output, size_t output_size)
{
	if (estimate_bits)
		*estimate_bits = 0;
	if (flags != 0)
		return ENTROPY_NOT_SUPPORTED;
	if (!estimate_bits || (!output && output_size))
		return ENTROPY_INSUFFICIENT;
	/* seedclient_read() zeroes output when it fails. */
	if (seedclient_read(NULL, output, output_size) < 0)
		return ENTROPY_INSUFFICIENT;
	*estimate_bits = 8 * output_size;
	return 0;
}
