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
/*
 * Reads path as seedd reads its seed file at start-up: the directory and
 * those above it, the file, and the type and owner of its ".machine"
 * sibling. 0, or -errno with the reason in why.
 */
static int read_checked(const char *path, uid_t owner, uint8_t buf[SEAL_MAX], size_t *n, char *why,
			size_t whylen)
{
	struct seedfile_owners owners;
	uint8_t machine[SEAL_HASH_SIZE];
	struct seedfile sf;
	int r = seedfile_open(&sf, path, why, whylen);

	if (r < 0)
		return r;
	/* The directory may belong to the seed file's owner, as seedd's own does. */
	cli_owners(&owners, owner);
	r = seedfile_trust_dir(sf.dirfd, sf.dir, &owners, why, whylen);
	if (r == 0)
		r = seedfile_read_at(sf.dirfd, sf.base, owner, SEEDFILE_ONE_LINK, buf, SEAL_MAX, n,
				     why, whylen);
	if (r == 0) {
		r = seedfile_machine_read(&sf, owner, machine, why, whylen);
		r = r == -ENOENT || r == -EINVAL ? 0 : r;
	}
	seedfile_close(&sf);
	return r;
}

/*
 * With a key, the file must be sealed with it, as seedd with a key refuses a
 * raw one. 0; -ENOKEY when the key is refused (after a message); or -errno
 * with the reason in why.
 */
static int verify(const char *key_file, const struct seal_info *info, const uint8_t *buf, size_t n,
		  char *why, size_t whylen)
{
	uint8_t seed[SEEDFILE_MAX], machine[SEAL_HASH_SIZE];
	struct seal_key *key;
	size_t seed_len;
	int r;

	key = cli_read_key(key_file);
	if (!key)
		return -ENOKEY;
	if (info->encrypted) {
		r = seal_open(key, buf, n, seed, &seed_len, machine, why, whylen);
	} else {
		snprintf(why, whylen,
			 "is not encrypted, and seedd with a key refuses a raw seed file (unless started once with --migrate-raw); provision it with --key-file");
		r = -EINVAL;
	}
	explicit_bzero(seed, sizeof(seed));
	seal_key_free(key);
	return r;
}

int cmd_check(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = { { "key-file", required_argument, NULL, 'k' },
					      { "owner", required_argument, NULL, 'u' },
					      { 0 } };
	const char *path, *key_file = NULL;
	uid_t owner = geteuid();
	uint8_t buf[SEAL_MAX];
	struct seal_info info;
	char why[1024];
	int c, rc = EXIT_OK, r;
	size_t n = 0;

	while ((c = cli_next_opt(cli, argc, argv, opts, &rc)) != -1) {
		if (c == -2)
			return rc;
		if (c == 'k')
			key_file = optarg;
		else if (ids_uid(optarg, &owner) < 0)
			return cli_usage_error("--owner '%s' is not a user name or uid", optarg);
	}
	if (optind + 1 != argc)
		return cli_usage_error("expected one seed file PATH");
	path = argv[optind];

	r = read_checked(path, owner, buf, &n, why, sizeof(why));
	if (r == 0)
		r = seal_parse(buf, n, &info, why, sizeof(why));
	if (r == 0 && key_file)
		r = verify(key_file, &info, buf, n, why, sizeof(why));
	explicit_bzero(buf, sizeof(buf));
	if (r == -ENOKEY)
		return EXIT_FAIL;
	if (r < 0) {
		cli_error("%s: refused: %s", path, why);
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
