/* SPDX-License-Identifier: MIT */
/*
 * Mbed TLS NV seed "option 2" served by seedd, as a configuration file: name
 * it as the user configuration file of the Mbed TLS build
 * (TF_PSA_CRYPTO_USER_CONFIG_FILE in 4.x, MBEDTLS_USER_CONFIG_FILE in 2.28
 * and 3.x) and link every program with -lseedclient. Mbed TLS's NV seed then
 * reads and writes through seedd, with no application code.
 *
 * It enables the NV seed with the callbacks named at build time, and declares
 * them because Mbed TLS's platform.c takes their addresses. Whether seedd is
 * the only strong source is the main configuration's choice: without
 * MBEDTLS_PSA_BUILTIN_GET_ENTROPY and with MBEDTLS_ENTROPY_NO_SOURCES_OK in
 * 4.x, with MBEDTLS_NO_PLATFORM_ENTROPY in 2.28 and 3.x.
 */
#ifndef SEEDCLIENT_NV_SEED_H
#define SEEDCLIENT_NV_SEED_H

#include <stddef.h>

#define MBEDTLS_ENTROPY_NV_SEED
#define MBEDTLS_PLATFORM_NV_SEED_ALT
#define MBEDTLS_PLATFORM_STD_NV_SEED_READ seedclient_nv_seed_read
#define MBEDTLS_PLATFORM_STD_NV_SEED_WRITE seedclient_nv_seed_write

#ifdef __cplusplus
extern "C" {
#endif

/* As in <seedclient.h>, which an Mbed TLS build does not need on its path. */
int seedclient_nv_seed_read(unsigned char *buf, size_t buf_len);
int seedclient_nv_seed_write(unsigned char *buf, size_t buf_len);

#ifdef __cplusplus
}
#endif

#endif
