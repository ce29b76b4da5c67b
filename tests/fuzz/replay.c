// SPDX-License-Identifier: MIT
/*
 * Replays files (or every file of directories) through a fuzz target, for
 * builds without libFuzzer: `fuzz-TARGET-replay CORPUS_DIR...`.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

#define REPLAY_MAX (1024 * 1024)

static uint8_t input[REPLAY_MAX];

static int replay_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	size_t n;

	if (!f) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	n = fread(input, 1, sizeof(input), f);
	if (ferror(f) || !feof(f)) {
		fprintf(stderr, "replay: %s: read error or larger than %d bytes\n", path,
			REPLAY_MAX);
		fclose(f);
		return -1;
	}
	fclose(f);
	LLVMFuzzerTestOneInput(input, n);
	return 0;
}

static int name_cmp(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

int main(int argc, char **argv)
{
	unsigned files = 0;
	int failed = 0;

	LLVMFuzzerInitialize(&argc, &argv);
	for (int i = 1; i < argc; i++) {
		struct dirent **names;
		struct stat st;
		int n;

		if (stat(argv[i], &st) < 0) {
			fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
			return 1;
		}
		if (!S_ISDIR(st.st_mode)) {
			failed |= replay_file(argv[i]) < 0;
			files++;
			continue;
		}
		n = scandir(argv[i], &names, NULL, name_cmp);
		if (n < 0) {
			fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
			return 1;
		}
		for (int j = 0; j < n; j++) {
			char path[4096];

			if (names[j]->d_name[0] != '.' &&
			    snprintf(path, sizeof(path), "%s/%s", argv[i], names[j]->d_name) <
				(int)sizeof(path)) {
				failed |= replay_file(path) < 0;
				files++;
			}
			free(names[j]);
		}
		free(names);
	}
	printf("replayed %u inputs\n", files);
	return failed || files == 0;
}
