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

#include "drbg-print.h"

int main(void)
{
	static const char pers[] = "seedd-interop-stock";
	mbedtls_entropy_context entropy;
	mbedtls_ctr_drbg_context drbg;
	int ret;

	mbedtls_entropy_init(&entropy);
	mbedtls_ctr_drbg_init(&drbg);

	ret = mbedtls_entropy_add_source(&entropy, seedclient_entropy_poll, NULL, 32,
					 MBEDTLS_ENTROPY_SOURCE_STRONG);
	if (ret != 0)
		fprintf(stderr, "stock-poll: mbedtls_entropy_add_source: -0x%04x\n",
			(unsigned int)-ret);
	if (ret == 0)
		ret = drbg_seed(&drbg, &entropy, "stock-poll", pers, sizeof(pers) - 1);
	if (ret == 0)
		ret = drbg_print(&drbg, "stock-poll", NULL);
	mbedtls_ctr_drbg_free(&drbg);
	mbedtls_entropy_free(&entropy);
	return ret == 0 ? 0 : 1;
}
