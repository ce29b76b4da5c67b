// SPDX-License-Identifier: MIT
/*
 * Seeds a CTR_DRBG from an entropy context whose only strong source is the
 * Mbed TLS NV seed, then prints 32 bytes of DRBG output as hex. Built against
 * the interop Mbed TLS builds with MBEDTLS_NO_PLATFORM_ENTROPY, so every seed
 * byte comes from seedd.
 *
 * Option 3 (default): the callbacks are installed at run time.
 * Option 2 (-DSEEDD_OPTION2): Mbed TLS was built with the callbacks' names,
 * so the program has no NV seed code at all.
 *
 * "nvseed-drbg --block-size" prints MBEDTLS_ENTROPY_BLOCK_SIZE instead.
 */
#include <stdio.h>
#include <string.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/platform.h>

#include <seedclient.h>

#include "drbg-print.h"

#if !defined(MBEDTLS_ENTROPY_NV_SEED) || !defined(MBEDTLS_PLATFORM_NV_SEED_ALT)
#error "needs an Mbed TLS build with MBEDTLS_ENTROPY_NV_SEED and MBEDTLS_PLATFORM_NV_SEED_ALT"
#endif
#if !defined(MBEDTLS_NO_PLATFORM_ENTROPY)
#error "needs MBEDTLS_NO_PLATFORM_ENTROPY so that seedd is the only strong source"
#endif

int main(int argc, char **argv)
{
	static const char pers[] = "seedd-interop-nvseed";
	mbedtls_entropy_context entropy;
	mbedtls_ctr_drbg_context drbg;
	int ret;

	if (argc == 2 && strcmp(argv[1], "--block-size") == 0) {
		printf("%d\n", MBEDTLS_ENTROPY_BLOCK_SIZE);
		return 0;
	}

#ifndef SEEDD_OPTION2
	ret = mbedtls_platform_set_nv_seed(seedclient_nv_seed_read, seedclient_nv_seed_write);
	if (ret != 0) {
		fprintf(stderr, "nvseed-drbg: mbedtls_platform_set_nv_seed: -0x%04x\n",
			(unsigned int)-ret);
		return 1;
	}
#endif

	mbedtls_entropy_init(&entropy);
	mbedtls_ctr_drbg_init(&drbg);

	ret = drbg_seed(&drbg, &entropy, "nvseed-drbg", pers, sizeof(pers) - 1);
	if (ret == 0)
		ret = drbg_print(&drbg, "nvseed-drbg", NULL);
	mbedtls_ctr_drbg_free(&drbg);
	mbedtls_entropy_free(&entropy);
	return ret == 0 ? 0 : 1;
}
