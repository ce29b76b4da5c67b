// SPDX-License-Identifier: MIT
/* The admission policy: trust, the limits, and which connections are named to give way. */
#include <string.h>

#include "admission.h"
#include "seedd-protocol.h"
#include "test.h"

#define SELF 990
#define MAX_SLOTS 2048

static struct admission_slot slots[MAX_SLOTS];
static size_t n_slots;

static struct admission *new_adm(unsigned max_clients, unsigned max_per_uid, const uid_t *uids,
				 size_t n_uids, const gid_t *gids, size_t n_gids)
{
	struct admission_opts o = {
		.max_clients = max_clients,
		.max_per_uid = max_per_uid,
		.self_uid = SELF,
		.allow_uid = uids,
		.n_allow_uid = n_uids,
		.allow_gid = gids,
		.n_allow_gid = n_gids,
	};

	n_slots = 0;
	memset(slots, 0, sizeof(slots));
	return admission_new(&o);
}

static void peer(const struct admission *a, uid_t uid, gid_t gid, struct admission_peer *p)
{
	struct ucred cr = { .pid = 1000 + (pid_t)uid, .uid = uid, .gid = gid };

	admission_peer(a, &cr, p);
}

/* Asks for uid and adds it when admitted; the slot, or NULL with the answer in *ans. */
static struct admission_slot *connect_as(struct admission *a, uid_t uid, gid_t gid,
					 struct admission_answer *ans)
{
	struct admission_peer p;

	peer(a, uid, gid, &p);
	admission_decide(a, &p, ans);
	if (ans->verdict != ADMISSION_ADMIT)
		return NULL;
	CHECK(n_slots < MAX_SLOTS);
	CHECK_EQ(admission_add(a, &slots[n_slots], &p), 0);
	return &slots[n_slots++];
}

/* n connections of uid, all admitted. */
static void fill(struct admission *a, uid_t uid, unsigned n)
{
	struct admission_answer ans;

	for (unsigned i = 0; i < n; i++)
		CHECK(connect_as(a, uid, uid, &ans) != NULL);
}

static int named(const struct admission_answer *ans, const struct admission_slot *s)
{
	for (size_t i = 0; i < ans->n_idle; i++)
		if (ans->idle[i] == s)
			return 1;
	return 0;
}

static void test_trust(void)
{
	const uid_t uids[] = { 1001 };
	const gid_t gids[] = { 2002 };
	struct admission *a = new_adm(16, 0, uids, 1, gids, 1);
	struct admission_answer ans;
	struct admission_peer p;

	peer(a, 0, 0, &p);
	CHECK(p.trusted);
	peer(a, SELF, SELF, &p);
	CHECK(p.trusted);
	peer(a, 1001, 5000, &p);
	CHECK(p.trusted);
	peer(a, 3000, 2002, &p);
	CHECK(p.trusted);
	CHECK_EQ(p.cred.uid, 3000);

	/* With allow lists, anybody else is refused, whatever the room. */
	CHECK(connect_as(a, 3000, 3000, &ans) == NULL);
	CHECK_EQ(ans.verdict, ADMISSION_REFUSE);
	CHECK_EQ(ans.status, SEEDD_ST_DENIED);
	CHECK(strstr(ans.why, "--allow-uid") != NULL);
	CHECK(connect_as(a, 1001, 1001, &ans) != NULL);
	CHECK(connect_as(a, 3000, 2002, &ans) != NULL);
	CHECK_EQ(admission_count(a), 2);
	admission_free(a);

	/* Without them everybody may connect, untrusted. */
	a = new_adm(16, 0, NULL, 0, NULL, 0);
	peer(a, 3000, 3000, &p);
	CHECK(!p.trusted);
	CHECK(connect_as(a, 3000, 3000, &ans) != NULL);
	admission_free(a);
}

static void test_per_uid(void)
{
	/* 1024 slots: a quarter, 256, for one uid by default. */
	struct admission *a = new_adm(1024, 0, NULL, 0, NULL, 0);
	struct admission_answer ans;

	fill(a, 3000, 256);
	CHECK(connect_as(a, 3000, 3000, &ans) == NULL);
	CHECK_EQ(ans.verdict, ADMISSION_EVICT);
	CHECK_EQ(ans.status, SEEDD_ST_BUSY);
	CHECK_EQ(ans.value, 256);
	CHECK(strstr(ans.limit, "per-uid") != NULL);
	CHECK(strstr(ans.why, "uid 3000 holds 256 connections") != NULL);
	/* Its own least recently used, oldest first, and nobody else's. */
	CHECK_EQ(ans.n_idle, ADMISSION_SCAN);
	for (size_t i = 0; i < ans.n_idle; i++)
		CHECK(ans.idle[i] == &slots[i]);

	/* A use moves a connection to the back. */
	admission_touch(a, &slots[0]);
	connect_as(a, 3000, 3000, &ans);
	CHECK(ans.idle[0] == &slots[1]);
	CHECK(!named(&ans, &slots[0]));

	/* Closing one makes room for exactly one. */
	admission_remove(a, &slots[1]);
	CHECK(connect_as(a, 3000, 3000, &ans) != NULL);
	CHECK(connect_as(a, 3000, 3000, &ans) == NULL);

	/* Others, root and our own uid are not held back by uid 3000's limit. */
	CHECK(connect_as(a, 3001, 3001, &ans) != NULL);
	fill(a, 0, 300);
	fill(a, SELF, 300);
	CHECK_EQ(admission_count(a), 256 + 1 + 600);
	admission_free(a);

	/* An explicit limit. */
	a = new_adm(1024, 3, NULL, 0, NULL, 0);
	fill(a, 3000, 3);
	CHECK(connect_as(a, 3000, 3000, &ans) == NULL);
	CHECK_EQ(ans.value, 3);
	CHECK_EQ(ans.n_idle, 3);
	admission_free(a);
}

static void test_reserved(void)
{
	/* 64 slots: 4 kept for trusted peers, and no per-uid limit in the way. */
	struct admission *a = new_adm(64, 64, NULL, 0, NULL, 0);
	struct admission_answer ans;

	fill(a, 3000, 60);
	CHECK(connect_as(a, 3000, 3000, &ans) == NULL);
	CHECK_EQ(ans.verdict, ADMISSION_EVICT);
	CHECK_EQ(ans.value, 60);
	CHECK(strstr(ans.limit, "unprivileged") != NULL);

	/* Another untrusted uid: others' least recently used, as it has none. */
	CHECK(connect_as(a, 3001, 3001, &ans) == NULL);
	CHECK_EQ(ans.verdict, ADMISSION_EVICT);
	CHECK_EQ(ans.n_idle, ADMISSION_SCAN);
	CHECK(ans.idle[0] == &slots[0]);

	/* Root takes the reserved slots, then its own least recently used first. */
	struct admission_slot *r0 = connect_as(a, 0, 0, &ans);

	CHECK(r0 != NULL);
	fill(a, 0, 3);
	CHECK_EQ(admission_count(a), 64);
	CHECK(connect_as(a, 0, 0, &ans) == NULL);
	CHECK_EQ(ans.verdict, ADMISSION_EVICT);
	CHECK(strstr(ans.limit, "--max-clients") != NULL);
	CHECK(ans.idle[0] == r0);
	CHECK_EQ(ans.n_idle, 4 + ADMISSION_SCAN);
	CHECK(ans.idle[4] == &slots[0]);
	admission_free(a);
}

static void test_shared_only(void)
{
	/* An untrusted newcomer is never named a trusted peer's connection to displace. */
	struct admission *a = new_adm(64, 64, NULL, 0, NULL, 0);
	struct admission_answer ans;

	fill(a, 0, 2);
	fill(a, 3000, 60);
	CHECK(connect_as(a, 3001, 3001, &ans) == NULL);
	for (size_t i = 0; i < ans.n_idle; i++)
		CHECK(!ans.idle[i]->peer.trusted);
	admission_free(a);
}

static void test_remove_and_oldest(void)
{
	struct admission *a = new_adm(8, 0, NULL, 0, NULL, 0);
	struct admission_answer ans;

	CHECK(admission_oldest(a) == NULL);
	fill(a, 3000, 2);
	fill(a, 3001, 1);
	CHECK(admission_oldest(a) == &slots[0]);
	admission_touch(a, &slots[0]);
	CHECK(admission_oldest(a) == &slots[1]);
	admission_remove(a, &slots[1]);
	admission_remove(a, &slots[2]);
	CHECK(admission_oldest(a) == &slots[0]);
	CHECK_EQ(admission_count(a), 1);
	/* The uid that has gone starts from nothing again (8 / 4 = 2 each). */
	fill(a, 3001, 2);
	CHECK(connect_as(a, 3001, 3001, &ans) == NULL);
	admission_remove(a, &slots[0]);
	CHECK_EQ(admission_count(a), 2);
	admission_free(a);
}

int main(void)
{
	test_trust();
	test_per_uid();
	test_reserved();
	test_shared_only();
	test_remove_and_oldest();
	return TEST_DONE();
}
