// SPDX-License-Identifier: MIT
/*
 * Mbed TLS 3.6: psa_crypto_init() seeds PSA's internal DRBG through the
 * entropy module, whose only strong source here is the NV seed served by
 * seedd. Prints 32 bytes from psa_generate_random() as hex.
 * Option 3 by default; -DSEEDD_OPTION2 for a build with the callbacks' names.
 */
#include <stdio.h>

#include <mbedtls/platform.h>
#include <psa/crypto.h>

#include <seedclient.h>

#if !defined(MBEDTLS_ENTROPY_NV_SEED) || !defined(MBEDTLS_NO_PLATFORM_ENTROPY)
#error "needs an Mbed TLS build with MBEDTLS_ENTROPY_NV_SEED and MBEDTLS_NO_PLATFORM_ENTROPY"
#endif

int main(void)
{
	unsigned char out[32];
	psa_status_t status;

#ifndef SEEDD_OPTION2
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
