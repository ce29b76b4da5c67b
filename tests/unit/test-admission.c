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
	/* The largest holder itself: its own connections only, none if they are busy. */
	CHECK(connect_as(a, 3000, 3000, &ans) == NULL);
	CHECK_EQ(ans.verdict, ADMISSION_EVICT);
	CHECK_EQ(ans.value, 60);
	CHECK(strstr(ans.limit, "unprivileged") != NULL);
	CHECK_EQ(ans.n_idle, ADMISSION_SCAN);
	CHECK(ans.busy == NULL);

	/* Another untrusted uid, with fewer: the largest holder's, busy or not. */
	CHECK(connect_as(a, 3001, 3001, &ans) == NULL);
	CHECK_EQ(ans.verdict, ADMISSION_EVICT);
	CHECK_EQ(ans.n_idle, ADMISSION_SCAN);
	CHECK(ans.idle[0] == &slots[0]);
	CHECK(ans.busy == &slots[0]);

	/* Root takes the reserved slots, then its own least recently used first. */
	struct admission_slot *r0 = connect_as(a, 0, 0, &ans);

	CHECK(r0 != NULL);
	fill(a, 0, 3);
	CHECK_EQ(admission_count(a), 64);
	CHECK(connect_as(a, 0, 0, &ans) == NULL);
	CHECK_EQ(ans.verdict, ADMISSION_EVICT);
	CHECK(strstr(ans.limit, "--max-clients") != NULL);
	/* Its own first, then the largest holder's, then anybody's; busy, the largest's. */
	CHECK(ans.idle[0] == r0);
	CHECK_EQ(ans.n_idle, 4 + 2 * ADMISSION_SCAN);
	CHECK(ans.idle[4] == &slots[0]);
	CHECK(ans.idle[4 + ADMISSION_SCAN] == &slots[0]);
	CHECK(ans.busy == &slots[0]);
	admission_free(a);
}

static void test_collusion(void)
{
	/* 64 slots, 60 for the untrusted: four users hold 15 each. */
	struct admission *a = new_adm(64, 64, NULL, 0, NULL, 0);
	struct admission_answer ans;

	for (int i = 0; i < 15; i++)
		for (uid_t u = 3000; u < 3004; u++)
			fill(a, u, 1);
	/* A fifth user gets in at the expense of a largest holder, even with all busy. */
	CHECK(connect_as(a, 3004, 3004, &ans) == NULL);
	CHECK_EQ(ans.verdict, ADMISSION_EVICT);
	CHECK(ans.busy != NULL);
	CHECK(ans.busy == &slots[0]);
	CHECK_EQ(ans.busy->peer.cred.uid, 3000);
	CHECK_EQ(ans.n_idle, ADMISSION_SCAN);
	admission_remove(a, ans.busy);
	CHECK(connect_as(a, 3004, 3004, &ans) != NULL);
	/* Now uid 3000 holds 14: the next one of 3004 (1) takes another 15-holder's. */
	CHECK(connect_as(a, 3004, 3004, &ans) == NULL);
	CHECK(ans.busy != NULL && ans.busy->peer.cred.uid != 3000 &&
	      ans.busy->peer.cred.uid != 3004);
	/* uid 3000, with fewer than the largest, takes back from one of them, never from 3004. */
	CHECK(connect_as(a, 3000, 3000, &ans) == NULL);
	CHECK(ans.busy != NULL && ans.busy->peer.cred.uid != 3004);
	/* A colluder with as many as the largest takes nobody's. */
	CHECK(connect_as(a, 3001, 3001, &ans) == NULL);
	CHECK(ans.busy == NULL);
	for (size_t i = 0; i < ans.n_idle; i++)
		CHECK_EQ(ans.idle[i]->peer.cred.uid, 3001);
	CHECK(strstr(ans.why, "as many as anybody") != NULL);
	admission_free(a);

	/* At the limit of all, an untrusted newcomer never takes a trusted one's place. */
	a = new_adm(64, 64, NULL, 0, NULL, 0);
	fill(a, 0, 40);
	fill(a, 3000, 24);
	CHECK(connect_as(a, 3001, 3001, &ans) == NULL);
	CHECK(strstr(ans.limit, "--max-clients") != NULL);
	CHECK(ans.busy != NULL && ans.busy->peer.cred.uid == 3000);
	for (size_t i = 0; i < ans.n_idle; i++)
		CHECK(!ans.idle[i]->peer.trusted);
	/* A trusted one takes the largest holder's, root's here. */
	CHECK(connect_as(a, SELF, SELF, &ans) == NULL);
	CHECK(ans.busy != NULL && ans.busy->peer.cred.uid == 0);
	admission_free(a);
}

static void test_subids(void)
{
	/* uid 1000 owns 100000-165535; root owns 200000-265535; our uid 300000-300009. */
	const struct subid_range r[] = {
		{ .start = 100000, .count = 65536, .owner = 1000 },
		{ .start = 200000, .count = 65536, .owner = 0 },
		{ .start = 300000, .count = 10, .owner = SELF },
	};
	struct admission *a = new_adm(1024, 8, NULL, 0, NULL, 0);
	struct seedd_users_info t;
	struct admission_answer ans;
	struct admission_peer p;

	/* Before the ranges are known, each uid is a user of its own. */
	fill(a, 100001, 5);
	fill(a, 100002, 5);
	CHECK_EQ(admission_user_count(a), 2);
	CHECK_EQ(admission_set_subids(a, r, 3), 0);
	/* Counted again: one user of 10, over its limit of 8, in the old order. */
	CHECK_EQ(admission_user_count(a), 1);
	admission_users(a, 0, &t);
	CHECK_EQ(t.n, 1);
	CHECK_EQ(t.user[0].uid, 1000);
	CHECK_EQ(t.user[0].clients, 10);
	CHECK(connect_as(a, 165535, 165535, &ans) == NULL);
	CHECK(strstr(ans.limit, "per-uid") != NULL);
	CHECK(strstr(ans.why, "uid 1000 with its subordinate uids holds 10") != NULL);
	CHECK(ans.idle[0] == &slots[0]);
	CHECK(ans.idle[1] == &slots[1]);
	CHECK(ans.idle[5] == &slots[5]);
	CHECK(connect_as(a, 1000, 1000, &ans) == NULL);
	/* Outside the range, a user of its own. */
	CHECK(connect_as(a, 165536, 165536, &ans) != NULL);
	CHECK(connect_as(a, 99999, 99999, &ans) != NULL);

	/* Root's and our own subordinate uids are neither root nor us: no exemption, no trust. */
	peer(a, 200005, 200005, &p);
	CHECK_EQ(p.user, 200000);
	CHECK(!p.trusted);
	peer(a, 300009, 300009, &p);
	CHECK_EQ(p.user, 300000);
	CHECK(!p.trusted);
	fill(a, 200001, 4);
	fill(a, 265535, 4);
	CHECK(connect_as(a, 200002, 200002, &ans) == NULL);
	CHECK(strstr(ans.limit, "per-uid") != NULL);

	/* The ranges go: everybody counts as himself again. */
	CHECK_EQ(admission_set_subids(a, NULL, 0), 0);
	peer(a, 100001, 100001, &p);
	CHECK_EQ(p.user, 100001);
	admission_users(a, 100000, &t);
	CHECK_EQ(t.user[0].uid, 100001);
	CHECK_EQ(t.user[0].clients, 5);
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

/* The entry of uid in a USERS table, or NULL. */
static const struct seedd_user_stat *entry(const struct seedd_users_info *t, uint32_t uid)
{
	for (uint32_t i = 0; i < t->n; i++)
		if (t->user[i].uid == uid)
			return &t->user[i];
	return NULL;
}

static void test_counters(void)
{
	struct admission *a = new_adm(8, 2, NULL, 0, NULL, 0);
	struct seedd_users_info t;
	struct admission_answer ans;
	struct admission_peer p;

	admission_users(a, 0, &t);
	CHECK_EQ(t.n, 0);
	CHECK_EQ(t.more, 0);
	fill(a, 3000, 2);
	fill(a, 0, 1);
	/* A refused user keeps its entry with no connection; a closed one its evictions. */
	peer(a, 3001, 3001, &p);
	CHECK_EQ(admission_refused(a, &p), 0);
	CHECK_EQ(admission_refused(a, &p), 0);
	admission_evicted(a, &slots[0]);
	admission_remove(a, &slots[0]);
	CHECK_EQ(admission_user_count(a), 3);
	admission_users(a, 0, &t);
	CHECK_EQ(t.n, 3);
	CHECK_EQ(t.user[0].uid, 0);
	CHECK_EQ(t.user[0].clients, 1);
	CHECK_EQ(t.user[1].uid, 3000);
	CHECK_EQ(t.user[1].clients, 1);
	CHECK_EQ(t.user[1].evicted, 1);
	CHECK_EQ(t.user[1].refused, 0);
	CHECK_EQ(t.user[2].uid, 3001);
	CHECK_EQ(t.user[2].clients, 0);
	CHECK_EQ(t.user[2].refused, 2);
	/* From a uid on. */
	admission_users(a, 3000, &t);
	CHECK_EQ(t.n, 2);
	CHECK_EQ(t.user[0].uid, 3000);
	admission_users(a, 3002, &t);
	CHECK_EQ(t.n, 0);
	/* A user with nothing counted goes with its last connection. */
	admission_remove(a, &slots[2]);
	CHECK_EQ(admission_user_count(a), 2);
	admission_users(a, 0, &t);
	CHECK(entry(&t, 0) == NULL);
	/* The refused user's counters outlive its next connection. */
	CHECK(connect_as(a, 3001, 3001, &ans) != NULL);
	admission_remove(a, &slots[n_slots - 1]);
	admission_users(a, 3001, &t);
	CHECK_EQ(t.n, 1);
	CHECK_EQ(t.user[0].refused, 2);
	CHECK_EQ(t.user[0].clients, 0);
	admission_free(a);
}

static void test_users_pages(void)
{
	struct admission *a = new_adm(MAX_SLOTS, MAX_SLOTS, NULL, 0, NULL, 0);
	struct seedd_users_info t;
	uint32_t from = 0, seen = 0, last = 0;

	/* 100 users, in hash order nothing like uid order. */
	for (uid_t u = 0; u < 100; u++)
		fill(a, 100000 - 37 * u, 1);
	do {
		admission_users(a, from, &t);
		CHECK(t.n <= SEEDD_USERS_MAX);
		for (uint32_t i = 0; i < t.n; i++) {
			CHECK(seen == 0 || t.user[i].uid > last);
			last = t.user[i].uid;
			seen++;
		}
		from = last + 1;
	} while (t.more && seen <= 100);
	CHECK_EQ(seen, 100);
	CHECK_EQ(last, 100000);
	admission_free(a);
}

static void test_kept_users(void)
{
	struct admission *a = new_adm(8, 0, NULL, 0, NULL, 0);
	const struct seedd_user_stat *others;
	struct seedd_users_info t;
	struct admission_peer p;

	/* Refused users without a connection are kept up to a bound; the rest are summed up. */
	for (uid_t u = 0; u < ADMISSION_KEPT_USERS + 10; u++) {
		peer(a, 10000 + u, 10000 + u, &p);
		CHECK_EQ(admission_refused(a, &p), 0);
	}
	CHECK_EQ(admission_user_count(a), ADMISSION_KEPT_USERS + 1);
	admission_users(a, SEEDD_USERS_OTHERS, &t);
	others = entry(&t, SEEDD_USERS_OTHERS);
	CHECK(others != NULL);
	if (others)
		CHECK_EQ(others->refused, 10);
	/* One of them refused again is still counted as itself. */
	peer(a, 10000, 10000, &p);
	CHECK_EQ(admission_refused(a, &p), 0);
	admission_users(a, 10000, &t);
	CHECK_EQ(t.user[0].uid, 10000);
	CHECK_EQ(t.user[0].refused, 2);
	admission_free(a);
}

int main(void)
{
	test_trust();
	test_per_uid();
	test_reserved();
	test_shared_only();
	test_collusion();
	test_subids();
	test_remove_and_oldest();
	test_counters();
	test_users_pages();
	test_kept_users();
	return TEST_DONE();
}
