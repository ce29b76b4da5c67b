// SPDX-License-Identifier: MIT
/*
 * Fork safety of the PSA random generator in Mbed TLS 4.0 (TF-PSA-Crypto
 * 1.0), with the NV seed served by seedd as its only source (option 3). The
 * parent calls psa_crypto_init() and forks; without help the child continues
 * the parent's generator, so both draw the same bytes. TF-PSA-Crypto 1.0 has
 * no call that reseeds it; the options are:
 *
 *   --reinit  the child calls mbedtls_psa_crypto_free() and psa_crypto_init(),
 *             which seeds a new generator from a fresh NV seed read
 *   --warm    the parent draws once before it forks: in a build with
 *             MBEDTLS_PSA_RNG_RESEED_INTERVAL 1 every later draw reseeds
 *
 * Prints "child HEX" then "parent HEX"; the test compares the two lines.
 */
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <mbedtls/platform.h>
#include <psa/crypto.h>

#include <seedclient.h>

#if !defined(MBEDTLS_ENTROPY_NV_SEED) || defined(MBEDTLS_PSA_BUILTIN_GET_ENTROPY) ||               \
    defined(MBEDTLS_PSA_DRIVER_GET_ENTROPY)
#error "needs an Mbed TLS 4 build whose only source is the NV seed"
#endif

/* 32 bytes from psa_generate_random() as hex after "label "; 0, or 1 with the error on stderr. */
static int draw(const char *label)
{
	unsigned char out[32];
	psa_status_t status = psa_generate_random(out, sizeof(out));

	if (status != PSA_SUCCESS) {
		fprintf(stderr, "fork-psa: %s: psa_generate_random: %d\n", label, (int)status);
		return 1;
	}
	printf("%s ", label);
	for (size_t i = 0; i < sizeof(out); i++)
		printf("%02x", out[i]);
	printf("\n");
	/* The child's line must be out before it exits with _exit(). */
	return fflush(stdout) == 0 ? 0 : 1;
}

static int init(const char *who)
{
	psa_status_t status = psa_crypto_init();

	if (status != PSA_SUCCESS)
		fprintf(stderr, "fork-psa: %s: psa_crypto_init: %d\n", who, (int)status);
	return status == PSA_SUCCESS ? 0 : 1;
}

int main(int argc, char **argv)
{
	int reinit = argc == 2 && strcmp(argv[1], "--reinit") == 0;
	int warm = argc == 2 && strcmp(argv[1], "--warm") == 0;
	unsigned char discard[32];
	int ret, status;
	pid_t pid;

	if (argc > 2 || (argc == 2 && !reinit && !warm)) {
		fprintf(stderr, "usage: fork-psa [--reinit|--warm]\n");
		return 2;
	}
	mbedtls_platform_set_nv_seed(seedclient_nv_seed_read, seedclient_nv_seed_write);
	if (init("parent") != 0)
		return 1;
	if (warm && psa_generate_random(discard, sizeof(discard)) != PSA_SUCCESS) {
		fprintf(stderr, "fork-psa: the draw before fork failed\n");
		return 1;
	}

	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		perror("fork-psa: fork");
		return 1;
	}
	if (pid == 0) {
		if (reinit) {
			mbedtls_psa_crypto_free();
			if (init("child") != 0)
				_exit(1);
		}
		_exit(draw("child"));
	}

	/* The child prints first, so the output order is fixed. */
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "fork-psa: child failed\n");
		return 1;
	}
	ret = draw("parent");
	mbedtls_psa_crypto_free();
	return ret;
}
