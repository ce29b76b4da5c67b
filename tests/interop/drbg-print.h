/* SPDX-License-Identifier: MIT */
/*
 * The end of every interop program: seed a CTR_DRBG from the entropy context
 * and print 32 bytes of its output as hex, or say on stderr which call failed
 * with which Mbed TLS error (run-interop.py looks for the code).
 */
#ifndef SEEDD_INTEROP_DRBG_PRINT_H
#define SEEDD_INTEROP_DRBG_PRINT_H

#include <stdio.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>

/* mbedtls_ctr_drbg_seed() with pers; 0 or the Mbed TLS error, named on stderr. */
static inline int drbg_seed(mbedtls_ctr_drbg_context *drbg, mbedtls_entropy_context *entropy,
			    const char *prog, const char *pers, size_t perslen)
{
	int ret = mbedtls_ctr_drbg_seed(drbg, mbedtls_entropy_func, entropy,
					(const unsigned char *)pers, perslen);

	if (ret != 0)
		fprintf(stderr, "%s: mbedtls_ctr_drbg_seed: -0x%04x\n", prog, (unsigned int)-ret);
	return ret;
}

/* 32 bytes of output as hex, after "label " unless label is NULL; 0 or the error. */
static inline int drbg_print(mbedtls_ctr_drbg_context *drbg, const char *prog, const char *label)
{
	unsigned char out[32];
	int ret = mbedtls_ctr_drbg_random(drbg, out, sizeof(out));

	if (ret != 0) {
		fprintf(stderr, "%s: %s%smbedtls_ctr_drbg_random: -0x%04x\n", prog,
			label ? label : "", label ? ": " : "", (unsigned int)-ret);
		return ret;
	}
	if (label)
		printf("%s ", label);
	for (size_t i = 0; i < sizeof(out); i++)
		printf("%02x", out[i]);
	printf("\n");
	return 0;
}

#endif
