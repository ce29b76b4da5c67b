// SPDX-License-Identifier: MIT
/*
 * The power-loss campaign's reference: an application on Mbed TLS's own
 * default NV seed handling, as a device without seedd runs it. Mbed TLS built
 * with MBEDTLS_ENTROPY_NV_SEED and MBEDTLS_NO_PLATFORM_ENTROPY (the interop
 * suite's prefix-3.6-opt3, whose mbedtls_nv_seed_read/write default to
 * platform.c's fopen/fread and fopen/fwrite of MBEDTLS_PLATFORM_STD_NV_SEED_FILE,
 * "seedfile" in the working directory, with no fsync). The first gather
 * reads the seed, writes the next one back and seeds the DRBG; the program
 * then prints N 64-byte outputs in hex, one a line, and exits 0; 1 if seeding
 * failed.
 *
 *   nvseed-ref N
 */
#include <stdio.h>
#include <stdlib.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>

int main(int argc, char **argv)
{
	mbedtls_entropy_context entropy;
	mbedtls_ctr_drbg_context drbg;
	unsigned char out[64];
	int n = argc == 2 ? atoi(argv[1]) : 0, rc = 0;

	if (n <= 0) {
		fprintf(stderr, "usage: nvseed-ref N\n");
		return 2;
	}
	mbedtls_entropy_init(&entropy);
	mbedtls_ctr_drbg_init(&drbg);
	if (mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &entropy, NULL, 0) != 0) {
		fprintf(stderr, "nvseed-ref: cannot seed from the NV seed file\n");
		rc = 1;
	}
	for (int i = 0; rc == 0 && i < n; i++) {
		if (mbedtls_ctr_drbg_random(&drbg, out, sizeof(out)) != 0) {
			rc = 1;
			break;
		}
		for (size_t j = 0; j < sizeof(out); j++)
			printf("%02x", out[j]);
		printf("\n");
	}
	mbedtls_ctr_drbg_free(&drbg);
	mbedtls_entropy_free(&entropy);
	return rc;
}
