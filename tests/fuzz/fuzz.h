/* SPDX-License-Identifier: MIT */
/*
 * What every fuzz target defines. Built two ways: with clang's
 * -fsanitize=fuzzer for real fuzzing, and with replay.c as a plain test that
 * feeds the committed corpus through the same code in any build.
 */
#ifndef SEEDD_FUZZ_H
#define SEEDD_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A broken invariant is a crash, for libFuzzer and for the replay test alike. */
#define fuzz_assert(cond)                                                                          \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__,       \
				#cond);                                                            \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

#endif
