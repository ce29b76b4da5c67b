// SPDX-License-Identifier: MIT
/*
 * Stock Debian Mbed TLS 2.28 (built without NV seed support): seedd joins the
 * entropy context as an extra STRONG source through seedclient_entropy_poll,
 * then a CTR_DRBG is seeded and 32 bytes are printed as hex. Any source
 * failing fails the seeding, so no daemon means no output.
 */
#include <stdio.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>

#include <seedclient.h>

int main(void)
{
	static const char pers[] = "seedd-interop-stock";
	mbedtls_entropy_context entropy;
	mbedtls_ctr_drbg_context drbg;
	unsigned char out[32];
	int ret;

	mbedtls_entropy_init(&entropy);
	mbedtls_ctr_drbg_init(&drbg);

	ret = mbedtls_entropy_add_source(&entropy, seedclient_entropy_poll, NULL, 32,
					 MBEDTLS_ENTROPY_SOURCE_STRONG);
	if (ret != 0) {
		fprintf(stderr, "stock-poll: mbedtls_entropy_add_source: -0x%04x\n",
			(unsigned int)-ret);
		goto out;
	}
	ret = mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &entropy,
				    (const unsigned char *)pers, sizeof(pers) - 1);
	if (ret != 0) {
		fprintf(stderr, "stock-poll: mbedtls_ctr_drbg_seed: -0x%04x\n", (unsigned int)-ret);
		goto out;
	}
	ret = mbedtls_ctr_drbg_random(&drbg, out, sizeof(out));
	if (ret != 0) {
		fprintf(stderr, "stock-poll: mbedtls_ctr_drbg_random: -0x%04x\n",
			(unsigned int)-ret);
		goto out;
	}
	for (size_t i = 0; i < sizeof(out); i++)
		printf("%02x", out[i]);
	printf("\n");

out:
	mbedtls_ctr_drbg_free(&drbg);
	mbedtls_entropy_free(&entropy);
	return ret == 0 ? 0 : 1;
}
