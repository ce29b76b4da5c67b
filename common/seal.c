// SPDX-License-Identifier: MIT
/*
 * Encryption at rest of the seedfile (format in seal.h). The format alone:
 * its crypto, one backend per Mbed TLS line, is behind seal-crypto.h.
 *
 * One key file yields three subkeys by HMAC-SHA-256 with distinct labels:
 * the AES-256-GCM key, the key that derives nonces, and the public key id.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "seal-crypto.h"
#include "seal.h"
#include "secret.h"

#define NONCE_SIZE 12
#define VERSION 1
#define CIPHER_AES256GCM 1

static const uint8_t magic[8] = { 's', 'e', 'e', 'd', 'd', 'e', 'n', 'c' };

struct seal_key {
	uint8_t enc[32];
	uint8_t nonce[32];
	uint8_t id[SEAL_KEY_ID_SIZE];
};

static int derive(const uint8_t raw[SEAL_KEY_SIZE], const char *label, uint8_t out[32])
{
	return seal_crypto_sha256(raw, SEAL_KEY_SIZE, (const uint8_t *)label, strlen(label), NULL,
				  0, out);
}

struct seal_key *seal_key_new(const uint8_t raw[SEAL_KEY_SIZE])
{
	struct seal_key *k;
	uint8_t id[32];

	k = secret_alloc(sizeof(*k));
	if (!k)
		return NULL;
	if (derive(raw, "seedd v1 encryption key", k->enc) < 0 ||
	    derive(raw, "seedd v1 nonce key", k->nonce) < 0 ||
	    derive(raw, "seedd v1 key id", id) < 0) {
		seal_key_free(k);
		return NULL;
	}
	memcpy(k->id, id, sizeof(k->id));
	return k;
}

struct seal_key *seal_key_read(const char *path, uid_t uid, unsigned flags, char *why,
			       size_t whylen)
{
	uint8_t raw[SEAL_MAX];
	struct seal_key *k = NULL;
	size_t len = 0;
	int r;

	r = seedfile_read_at(AT_FDCWD, path, uid, flags, raw, sizeof(raw), &len, why, whylen);
	if (r == 0 && len != SEAL_KEY_SIZE) {
		snprintf(why, whylen, "has %zu bytes; a key file holds exactly %d", len,
			 SEAL_KEY_SIZE);
		r = -EINVAL;
	}
	if (r == 0)
		r = seedfile_check_bytes(raw, len, why, whylen);
	if (r == 0) {
		k = seal_key_new(raw);
		if (!k)
			snprintf(why, whylen, "cannot derive the keys: out of memory");
	}
	explicit_bzero(raw, sizeof(raw));
	return k;
}

struct seal_key *seal_key_file(const char *path, char *why, size_t whylen)
{
	return seal_key_read(path, geteuid(), 0, why, whylen);
}

void seal_key_free(struct seal_key *k)
{
	secret_free(k, sizeof(*k));
}

static size_t sealed_size(size_t seed_len)
{
	return SEAL_HDR_SIZE + seed_len + SEAL_HASH_SIZE + SEAL_TAG_SIZE;
}

int seal_parse(const uint8_t *buf, size_t len, struct seal_info *info, char *why, size_t whylen)
{
	int has_magic = len >= sizeof(magic) && memcmp(buf, magic, sizeof(magic)) == 0;

	*info = (struct seal_info){ 0 };
	if (!has_magic) {
		if (!seedfile_size_ok(len)) {
			snprintf(why, whylen,
				 "has %zu bytes; a seed file holds exactly 32 or 64, or is encrypted by seedd",
				 len);
			return -EINVAL;
		}
		info->seed_len = len;
		return seedfile_check_bytes(buf, len, why, whylen);
	}
	/* A raw seed starts with the magic with odds of 2^-64: this is a cut-off encrypted file. */
	if (len < SEAL_HDR_SIZE) {
		snprintf(why, whylen, "is an encrypted seed file truncated to %zu bytes", len);
		return -EINVAL;
	}
	if (buf[8] != VERSION) {
		snprintf(why, whylen,
			 "is an encrypted seed file of format version %u; this seedd reads version %u",
			 buf[8], VERSION);
		return -EINVAL;
	}
	if (buf[9] != CIPHER_AES256GCM || !seedfile_size_ok(buf[10]) || buf[11] != 0) {
		snprintf(why, whylen, "is an encrypted seed file with a malformed header");
		return -EINVAL;
	}
	if (len != sealed_size(buf[10])) {
		snprintf(why, whylen, "is an encrypted seed file %s: %zu bytes, expected %zu",
			 len < sealed_size(buf[10]) ? "truncated" : "with trailing data", len,
			 sealed_size(buf[10]));
		return -EINVAL;
	}
	info->encrypted = 1;
	info->seed_len = buf[10];
	memcpy(info->key_id, buf + 12, SEAL_KEY_ID_SIZE);
	return 0;
}

int seal_open(const struct seal_key *k, const uint8_t *buf, size_t len, uint8_t seed[SEEDFILE_MAX],
	      size_t *seed_len, uint8_t machine[SEAL_HASH_SIZE], char *why, size_t whylen)
{
	uint8_t plain[SEEDFILE_MAX + SEAL_HASH_SIZE], tag[SEAL_TAG_SIZE];
	struct seal_info info;
	size_t n;
	int r;

	r = seal_parse(buf, len, &info, why, whylen);
	if (r < 0)
		return r;
	if (!info.encrypted) {
		snprintf(why, whylen, "is not encrypted");
		return -EINVAL;
	}
	if (memcmp(info.key_id, k->id, SEAL_KEY_ID_SIZE) != 0) {
		snprintf(why, whylen,
			 "is encrypted with a different key (or its key id was altered): wrong key");
		return -EINVAL;
	}
	n = info.seed_len + SEAL_HASH_SIZE;
	memcpy(tag, buf + SEAL_HDR_SIZE + n, SEAL_TAG_SIZE);
	r = seal_crypto_gcm(k->enc, 0, buf, buf + SEAL_HDR_SIZE, n, plain, tag);
	if (r == -EBADMSG) {
		snprintf(why, whylen,
			 "fails authentication: the file was tampered with or corrupted");
		return -EINVAL;
	}
	if (r < 0) {
		snprintf(why, whylen, "cannot be decrypted: AES-GCM failed");
		return r;
	}
	r = seedfile_check_bytes(plain, info.seed_len, why, whylen);
	if (r == 0) {
		memcpy(seed, plain, info.seed_len);
		memcpy(machine, plain + info.seed_len, SEAL_HASH_SIZE);
		*seed_len = info.seed_len;
	}
	explicit_bzero(plain, sizeof(plain));
	return r;
}

int seal_seal(const struct seal_key *k, const uint8_t *seed, size_t seed_len,
	      const uint8_t machine[SEAL_HASH_SIZE], uint8_t out[SEAL_MAX])
{
	uint8_t plain[SEEDFILE_MAX + SEAL_HASH_SIZE], nonce[32];
	size_t n = seed_len + SEAL_HASH_SIZE;
	char why[128];
	int r;

	/* Never write a record that seal_open() would refuse to read back. */
	if (!seedfile_size_ok(seed_len) ||
	    seedfile_check_bytes(seed, seed_len, why, sizeof(why)) < 0)
		return -EINVAL;
	memcpy(out, magic, sizeof(magic));
	out[8] = VERSION;
	out[9] = CIPHER_AES256GCM;
	out[10] = (uint8_t)seed_len;
	out[11] = 0;
	memcpy(out + 12, k->id, SEAL_KEY_ID_SIZE);
	memcpy(plain, seed, seed_len);
	memcpy(plain + seed_len, machine, SEAL_HASH_SIZE);

	/* Synthetic nonce: it repeats only with the same header and plaintext, revealing nothing. */
	r = seal_crypto_sha256(k->nonce, sizeof(k->nonce), out, 20, plain, n, nonce);
	if (r == 0) {
		memcpy(out + 20, nonce, NONCE_SIZE);
		r = seal_crypto_gcm(k->enc, 1, out, plain, n, out + SEAL_HDR_SIZE,
				    out + SEAL_HDR_SIZE + n);
	}
	explicit_bzero(plain, sizeof(plain));
	explicit_bzero(nonce, sizeof(nonce));
	return r < 0 ? -EIO : (int)sealed_size(seed_len);
}

int seal_machine_hash(const uint8_t *id, size_t len, uint8_t out[SEAL_HASH_SIZE])
{
	static const char label[] = "seedd v1 machine id";

	return seal_crypto_sha256(NULL, 0, (const uint8_t *)label, sizeof(label), id, len, out);
}
