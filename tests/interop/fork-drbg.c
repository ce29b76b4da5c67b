// SPDX-License-Identifier: MIT
/*
 * Fork safety. The parent seeds a CTR_DRBG (NV seed from seedd is the only
 * strong source) and forks. Without help the child continues the parent's
 * DRBG stream, so both draw the same bytes. With --reseed the child first
 * calls mbedtls_ctr_drbg_reseed(), which gathers a fresh seed from the daemon.
 *
 * Prints "child HEX" then "parent HEX"; the test compares the two lines.
 */
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/platform.h>

#include <seedclient.h>

#include "drbg-print.h"

#if !defined(MBEDTLS_ENTROPY_NV_SEED) || !defined(MBEDTLS_NO_PLATFORM_ENTROPY)
#error "needs an Mbed TLS build with MBEDTLS_ENTROPY_NV_SEED and MBEDTLS_NO_PLATFORM_ENTROPY"
#endif

/* The child's line must be out before it exits with _exit(). */
static int draw(mbedtls_ctr_drbg_context *drbg, const char *who)
{
	return drbg_print(drbg, "fork-drbg", who) == 0 && fflush(stdout) == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
	static const char pers[] = "seedd-interop-fork";
	mbedtls_entropy_context entropy;
	mbedtls_ctr_drbg_context drbg;
	int reseed = argc == 2 && strcmp(argv[1], "--reseed") == 0;
	int ret, status;
	pid_t pid;

	if (argc > 2 || (argc == 2 && !reseed)) {
		fprintf(stderr, "usage: fork-drbg [--reseed]\n");
		return 2;
	}

#ifndef SEEDD_OPTION2
	if (mbedtls_platform_set_nv_seed(seedclient_nv_seed_read, seedclient_nv_seed_write) != 0) {
		fprintf(stderr, "fork-drbg: mbedtls_platform_set_nv_seed failed\n");
		return 1;
	}
#endif

	mbedtls_entropy_init(&entropy);
	mbedtls_ctr_drbg_init(&drbg);
	if (drbg_seed(&drbg, &entropy, "fork-drbg", pers, sizeof(pers) - 1) != 0)
		return 1;

	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		perror("fork-drbg: fork");
		return 1;
	}
	if (pid == 0) {
		if (reseed) {
			ret = mbedtls_ctr_drbg_reseed(&drbg, NULL, 0);
			if (ret != 0) {
				fprintf(stderr,
					"fork-drbg: child: mbedtls_ctr_drbg_reseed: -0x%04x\n",
					(unsigned int)-ret);
				_exit(1);
			}
		}
		_exit(draw(&drbg, "child"));
	}

	/* The child prints first, so the output order is fixed. */
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "fork-drbg: child failed\n");
		return 1;
	}
	ret = draw(&drbg, "parent");
	mbedtls_ctr_drbg_free(&drbg);
	mbedtls_entropy_free(&entropy);
	return ret;
}
