/* SPDX-License-Identifier: MIT */
/*
 * Mbed TLS user config for "option 2" builds (MBEDTLS_USER_CONFIG_FILE):
 * platform.c initialises its NV seed function pointers with the names given in
 * MBEDTLS_PLATFORM_STD_NV_SEED_READ/WRITE, so their prototypes must be in
 * scope there. Same declarations as <seedclient.h>, without needing its path.
 */
#ifndef SEEDD_NV_SEED_CONFIG_H
#define SEEDD_NV_SEED_CONFIG_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

int seedclient_nv_seed_read(unsigned char *buf, size_t buf_len);
int seedclient_nv_seed_write(unsigned char *buf, size_t buf_len);

#ifdef __cplusplus
}
#endif

#endif
