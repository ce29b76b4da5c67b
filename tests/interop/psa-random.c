// SPDX-License-Identifier: MIT
/*
 * psa_crypto_init() seeds PSA's internal DRBG, whose only source here is
 * seedd; prints 32 bytes from psa_generate_random() as hex.
 *
 * Mbed TLS 3.6: through the entropy module's NV seed (MBEDTLS_NO_PLATFORM_ENTROPY).
 * Mbed TLS 4 (TF-PSA-Crypto 1.x), without MBEDTLS_PSA_BUILTIN_GET_ENTROPY:
 * through the NV seed, or through mbedtls_platform_get_entropy() from
 * libseedclient-entropy with -DSEEDD_ENTROPY_HOOK.
 *
 * Option 3 by default (the callbacks installed here); -DSEEDD_OPTION2 for a
 * build with the callbacks' names, -DSEEDD_ENTROPY_HOOK for the hook: then
 * this program has no seeding code at all.
 */
#include <stdint.h>
#include <stdio.h>

#include <mbedtls/platform.h>
#include <psa/crypto.h>

#include <seedclient.h>

#if defined(TF_PSA_CRYPTO_VERSION_MAJOR)
#if defined(MBEDTLS_PSA_BUILTIN_GET_ENTROPY)
#error "needs a build without MBEDTLS_PSA_BUILTIN_GET_ENTROPY, so that seedd is the only source"
#endif
#if defined(SEEDD_ENTROPY_HOOK)
#if !defined(MBEDTLS_PSA_DRIVER_GET_ENTROPY) || defined(MBEDTLS_ENTROPY_NV_SEED)
#error "needs a build whose only source is MBEDTLS_PSA_DRIVER_GET_ENTROPY"
#endif
/* What libseedclient-entropy, which includes no Mbed TLS header, relies on. */
_Static_assert(PSA_ERROR_INSUFFICIENT_ENTROPY == -148, "PSA_ERROR_INSUFFICIENT_ENTROPY");
_Static_assert(PSA_ERROR_NOT_SUPPORTED == -134, "PSA_ERROR_NOT_SUPPORTED");
_Static_assert(sizeof(psa_driver_get_entropy_flags_t) == sizeof(uint32_t) &&
		   (psa_driver_get_entropy_flags_t)-1 > 0,
	       "psa_driver_get_entropy_flags_t is a uint32_t");
#elif !defined(MBEDTLS_ENTROPY_NV_SEED) || !defined(MBEDTLS_ENTROPY_NO_SOURCES_OK)
#error "needs MBEDTLS_ENTROPY_NV_SEED as the only source (MBEDTLS_ENTROPY_NO_SOURCES_OK)"
#endif
#elif !defined(MBEDTLS_ENTROPY_NV_SEED) || !defined(MBEDTLS_NO_PLATFORM_ENTROPY)
#error "needs an Mbed TLS build with MBEDTLS_ENTROPY_NV_SEED and MBEDTLS_NO_PLATFORM_ENTROPY"
#endif

int main(void)
{
	unsigned char out[32];
	psa_status_t status;

#if !defined(SEEDD_OPTION2) && !defined(SEEDD_ENTROPY_HOOK)
	if (mbedtls_platform_set_nv_seed(seedclient_nv_seed_read, seedclient_nv_seed_write) != 0) {
		fprintf(stderr, "psa-random: mbedtls_platform_set_nv_seed failed\n");
		return 1;
	}
#endif

	status = psa_crypto_init();
	if (status != PSA_SUCCESS) {
		fprintf(stderr, "psa-random: psa_crypto_init: %d\n", (int)status);
		return 1;
	}
	status = psa_generate_random(out, sizeof(out));
	if (status != PSA_SUCCESS) {
		fprintf(stderr, "psa-random: psa_generate_random: %d\n", (int)status);
		mbedtls_psa_crypto_free();
		return 1;
	}
	for (size_t i = 0; i < sizeof(out); i++)
		printf("%02x", out[i]);
	printf("\n");
	mbedtls_psa_crypto_free();
	return 0;
}
