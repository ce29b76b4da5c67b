// SPDX-License-Identifier: MIT
/*
 * Doc option 3 in programs whose source the tests leave as it is (Mbed TLS
 * 4's ssl_server2, ssl_client2 and test suites): the one call an application
 * makes before it seeds anything, made by a constructor that
 * build-mbedtls4.sh links into each of them.
 */
#include <mbedtls/platform.h>

#include <seedclient.h>

#if !defined(MBEDTLS_ENTROPY_NV_SEED) || !defined(MBEDTLS_PLATFORM_NV_SEED_ALT)
#error "needs an Mbed TLS build with MBEDTLS_ENTROPY_NV_SEED and MBEDTLS_PLATFORM_NV_SEED_ALT"
#endif

__attribute__((constructor)) static void nv_seed_at_start(void)
{
	mbedtls_platform_set_nv_seed(seedclient_nv_seed_read, seedclient_nv_seed_write);
}
