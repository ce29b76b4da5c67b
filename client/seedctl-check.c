// SPDX-License-Identifier: MIT
/* seedctl check: a seed file validated offline, with the checks seedd makes at start-up. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ids.h"
#include "seal.h"
#include "seedctl.h"
#include "seedfile.h"

/* Offline validation for image CI: exit 0 ok, 1 refused, 2 usage. */
int cmd_check(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = { { "key-file", required_argument, NULL, 'k' },
					      { "owner", required_argument, NULL, 'u' },
					      { 0 } };
	uint8_t buf[SEAL_MAX], seed[SEEDFILE_MAX], machine[SEAL_HASH_SIZE];
	struct seedfile_owners owners;
	struct seal_key *key = NULL;
	struct seal_info info;
	struct seedfile sf;
	const char *path, *key_file = NULL;
	uid_t owner = geteuid();
	char why[1024];
	size_t n = 0, seed_len;
	int c, rc = EXIT_OK, r;

	while ((c = cli_next_opt(cli, argc, argv, opts, &rc)) != -1) {
		if (c == -2)
			return rc;
		if (c == 'k')
			key_file = optarg;
		else if (ids_uid(optarg, &owner) < 0)
			return cli_usage_error("check: --owner '%s' is not a user name or uid",
					       optarg);
	}
	if (optind + 1 != argc)
		return cli_usage_error("check: expected one seed file PATH");
	path = argv[optind];

	if (seedfile_open(&sf, path, why, sizeof(why)) < 0) {
		fprintf(stderr, "seedctl: %s: refused: %s\n", path, why);
		return EXIT_FAIL;
	}
	/* The directory may belong to the seed file's owner, as seedd's own does. */
	cli_owners(&owners, owner);
	r = seedfile_trust_dir(sf.dirfd, sf.dir, &owners, why, sizeof(why));
	if (r == 0)
		r = seedfile_read_at(sf.dirfd, sf.base, owner, SEEDFILE_ONE_LINK, buf, sizeof(buf),
				     &n, why, sizeof(why));
	if (r == 0) {
		r = seedfile_machine_read(&sf, owner, machine, why, sizeof(why));
		r = r == -ENOENT || r == -EINVAL ? 0 : r;
	}
	seedfile_close(&sf);
	if (r == 0)
		r = seal_parse(buf, n, &info, why, sizeof(why));
	if (r == 0 && key_file) {
		key = cli_read_key(key_file);
		if (!key) {
			explicit_bzero(buf, sizeof(buf));
			return EXIT_FAIL;
		}
		if (info.encrypted) {
			r = seal_open(key, buf, n, seed, &seed_len, machine, why, sizeof(why));
		} else {
			snprintf(why, sizeof(why),
				 "is not encrypted, and seedd with a key refuses a raw seed file (unless started once with --migrate-raw); provision it with --key-file");
			r = -EINVAL;
		}
		explicit_bzero(seed, sizeof(seed));
		seal_key_free(key);
	}
	explicit_bzero(buf, sizeof(buf));
	if (r < 0) {
		fprintf(stderr, "seedctl: %s: refused: %s\n", path, why);
		return EXIT_FAIL;
	}
	if (!info.encrypted) {
		printf("%s: ok: raw %zu-byte seed, not encrypted\n", path, info.seed_len);
		return EXIT_OK;
	}
	printf("%s: ok: encrypted, format 1, AES-256-GCM, %zu-byte seed, key id ", path,
	       info.seed_len);
	cli_print_hex(info.key_id, sizeof(info.key_id));
	printf(key_file ? ", verified with %s\n" : ", not verified (no --key-file)\n", key_file);
	return EXIT_OK;
}
