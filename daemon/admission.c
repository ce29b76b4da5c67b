// SPDX-License-Identifier: MIT
/*
 * Who gets a connection.
 *
 * Slots are shared out by the peer's credentials, read once at accept: one
 * uid holds at most max_per_uid connections (root and our own uid are
 * exempt), untrusted peers together at most max_shared, so that the rest is
 * kept for root, our uid and the allow lists, and everybody together at most
 * max_clients. A newcomer over a limit takes the place of the least recently
 * used idle connection that counts against that limit, of its own uid first:
 * libseedclient re-makes a closed connection on its next call, so a host with
 * more client processes than slots is still served. Only when no such
 * connection is idle is the newcomer refused.
 *
 * Whether a connection is idle only the server can tell (it has to ask the
 * socket), so an answer names candidates and the server looks at them.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admission.h"
#include "seedd-protocol.h"

#define UID_HASH_BITS 10

/* The connections of one uid, least recently used first, and what happened to its newcomers. */
struct admission_user {
	struct admission_user *next; /* hash chain */
	struct admission_list conns;
	uid_t uid;
	unsigned n;
	uint64_t refused, evicted;
};

struct admission {
	struct admission_opts opts;
	unsigned max_per_uid, max_shared;
	struct admission_list all, shared;
	unsigned n_conns, n_shared;
	unsigned n_users, n_kept; /* all users; those kept with no connection */
	struct admission_user *users[1u << UID_HASH_BITS];
};

static void list_init(struct admission_list *l)
{
	l->prev = l->next = l;
}

static void list_del(struct admission_list *n)
{
	n->prev->next = n->next;
	n->next->prev = n->prev;
	list_init(n);
}

static void list_add_tail(struct admission_list *head, struct admission_list *n)
{
	n->prev = head->prev;
	n->next = head;
	head->prev->next = n;
	head->prev = n;
}

static void list_move_tail(struct admission_list *head, struct admission_list *n)
{
	list_del(n);
	list_add_tail(head, n);
}

/* The slot whose member at offset off is node. */
static struct admission_slot *slot_at(const struct admission_list *node, size_t off)
{
	return (struct admission_slot *)((uintptr_t)node - off);
}

/* A quarter of the slots, at least 1. */
static unsigned default_max_per_uid(unsigned max_clients)
{
	return max_clients / 4 ? max_clients / 4 : 1;
}

/* Kept for trusted peers: a sixteenth, at least 4, at most half. */
static unsigned reserved(unsigned max_clients)
{
	unsigned r = max_clients / 16 > 4 ? max_clients / 16 : 4;

	return r < max_clients / 2 ? r : max_clients / 2;
}

struct admission *admission_new(const struct admission_opts *opts)
{
	struct admission *a = calloc(1, sizeof(*a));

	if (!a)
		return NULL;
	a->opts = *opts;
	a->max_per_uid =
	    opts->max_per_uid ? opts->max_per_uid : default_max_per_uid(opts->max_clients);
	a->max_shared = opts->max_clients - reserved(opts->max_clients);
	list_init(&a->all);
	list_init(&a->shared);
	return a;
}

void admission_free(struct admission *a)
{
	if (!a)
		return;
	for (size_t i = 0; i < sizeof(a->users) / sizeof(a->users[0]); i++) {
		while (a->users[i]) {
			struct admission_user *u = a->users[i];

			a->users[i] = u->next;
			free(u);
		}
	}
	free(a);
}

/* Where uid's entry is, or would be inserted, in its hash chain. */
static struct admission_user **user_slot(struct admission *a, uid_t uid)
{
	/* Fibonacci hashing: uids are small and dense, the top bits spread them. */
	struct admission_user **p =
	    &a->users[((uint32_t)uid * 2654435761u) >> (32 - UID_HASH_BITS)];

	while (*p && (*p)->uid != uid)
		p = &(*p)->next;
	return p;
}

static int id_in(unsigned id, const unsigned *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (list[i] == id)
			return 1;
	return 0;
}

void admission_peer(const struct admission *a, const struct ucred *cr, struct admission_peer *p)
{
	const struct admission_opts *o = &a->opts;

	p->cred = *cr;
	p->trusted = cr->uid == 0 || cr->uid == o->self_uid ||
		     id_in(cr->uid, o->allow_uid, o->n_allow_uid) ||
		     id_in(cr->gid, o->allow_gid, o->n_allow_gid);
}

/*
 * Adds to ans the least recently used connections on the list head, whose
 * nodes are the member at offset off of struct admission_slot, looking at
 * no more than ADMISSION_SCAN of them; untrusted ones only when shared_only.
 */
static void candidates(struct admission_answer *ans, const struct admission_list *head, size_t off,
		       int shared_only)
{
	const struct admission_list *node = head->next;

	for (int i = 0; i < ADMISSION_SCAN && node != head; i++, node = node->next) {
		struct admission_slot *s = slot_at(node, off);

		if (!(shared_only && s->peer.trusted) &&
		    ans->n_idle < sizeof(ans->idle) / sizeof(ans->idle[0]))
			ans->idle[ans->n_idle++] = s;
	}
}

/*
 * Asks the server to close an idle connection: the least recently used of
 * the newcomer's own uid first, then of others (the list others, NULL:
 * none).
 */
static void evict(struct admission_answer *ans, const struct admission_user *u,
		  const struct admission_list *others, size_t off, int shared_only,
		  const char *limit, unsigned value)
{
	ans->verdict = ADMISSION_EVICT;
	ans->status = SEEDD_ST_BUSY;
	ans->limit = limit;
	ans->value = value;
	if (u)
		candidates(ans, &u->conns, offsetof(struct admission_slot, by_user), shared_only);
	if (others)
		candidates(ans, others, off, shared_only);
}

void admission_decide(struct admission *a, const struct admission_peer *p,
		      struct admission_answer *ans)
{
	const struct admission_opts *o = &a->opts;
	struct admission_user *u = *user_slot(a, p->cred.uid);

	memset(ans, 0, sizeof(*ans));
	if (!p->trusted && (o->n_allow_uid || o->n_allow_gid)) {
		ans->verdict = ADMISSION_REFUSE;
		ans->status = SEEDD_ST_DENIED;
		snprintf(ans->why, sizeof(ans->why), "not in --allow-uid or --allow-gid");
		return;
	}
	if (u && u->n >= a->max_per_uid && p->cred.uid != 0 && p->cred.uid != o->self_uid) {
		evict(ans, u, NULL, 0, 0, "the per-uid limit of", a->max_per_uid);
		snprintf(ans->why, sizeof(ans->why), "uid %u holds %u connections and none is idle",
			 (unsigned)p->cred.uid, u->n);
		return;
	}
	if (!p->trusted && a->n_shared >= a->max_shared) {
		evict(ans, u, &a->shared, offsetof(struct admission_slot, shared), 1,
		      "the limit for unprivileged peers of", a->max_shared);
		snprintf(ans->why, sizeof(ans->why),
			 "unprivileged peers hold %u connections and none is idle", a->n_shared);
		return;
	}
	if (a->n_conns >= o->max_clients) {
		evict(ans, u, &a->all, offsetof(struct admission_slot, all), 0, "--max-clients",
		      o->max_clients);
		snprintf(ans->why, sizeof(ans->why), "%u connections open and none is idle",
			 a->n_conns);
		return;
	}
	ans->verdict = ADMISSION_ADMIT;
}

/* uid's entry, made when missing; NULL when out of memory. */
static struct admission_user *user_get(struct admission *a, uid_t uid)
{
	struct admission_user **pu = user_slot(a, uid);

	if (*pu)
		return *pu;
	*pu = calloc(1, sizeof(**pu));
	if (!*pu)
		return NULL;
	(*pu)->uid = uid;
	list_init(&(*pu)->conns);
	a->n_users++;
	a->n_kept++;
	return *pu;
}

/*
 * u has no connection left: it goes unless its counters are worth keeping,
 * and beyond ADMISSION_KEPT_USERS they go to the entry for others.
 */
static void user_put(struct admission *a, struct admission_user *u)
{
	struct admission_user **pu, *others;

	if (u->refused || u->evicted) {
		if (a->n_kept <= ADMISSION_KEPT_USERS || u->uid == SEEDD_USERS_OTHERS)
			return;
		others = user_get(a, SEEDD_USERS_OTHERS);
		if (others) {
			others->refused += u->refused;
			others->evicted += u->evicted;
		}
	}
	pu = user_slot(a, u->uid);
	*pu = u->next;
	free(u);
	a->n_users--;
	a->n_kept--;
}

int admission_add(struct admission *a, struct admission_slot *s, const struct admission_peer *p)
{
	struct admission_user *u = user_get(a, p->cred.uid);

	if (!u)
		return -ENOMEM;
	if (u->n == 0)
		a->n_kept--;
	s->peer = *p;
	s->user = u;
	s->user->n++;
	list_add_tail(&a->all, &s->all);
	list_add_tail(&s->user->conns, &s->by_user);
	list_init(&s->shared);
	if (!p->trusted) {
		list_add_tail(&a->shared, &s->shared);
		a->n_shared++;
	}
	a->n_conns++;
	return 0;
}

void admission_touch(struct admission *a, struct admission_slot *s)
{
	list_move_tail(&a->all, &s->all);
	list_move_tail(&s->user->conns, &s->by_user);
	if (!s->peer.trusted)
		list_move_tail(&a->shared, &s->shared);
}

void admission_remove(struct admission *a, struct admission_slot *s)
{
	list_del(&s->all);
	list_del(&s->by_user);
	list_del(&s->shared);
	a->n_conns--;
	if (!s->peer.trusted)
		a->n_shared--;
	if (--s->user->n == 0) {
		a->n_kept++;
		user_put(a, s->user);
	}
	s->user = NULL;
}

unsigned admission_count(const struct admission *a)
{
	return a->n_conns;
}

struct admission_slot *admission_oldest(const struct admission *a)
{
	return a->all.next == &a->all ? NULL
				      : slot_at(a->all.next, offsetof(struct admission_slot, all));
}

int admission_refused(struct admission *a, const struct admission_peer *p)
{
	struct admission_user *u = *user_slot(a, p->cred.uid);

	if (!u && a->n_kept >= ADMISSION_KEPT_USERS)
		u = user_get(a, SEEDD_USERS_OTHERS);
	else if (!u)
		u = user_get(a, p->cred.uid);
	if (!u)
		return -ENOMEM;
	u->refused++;
	return 0;
}

void admission_evicted(struct admission *a, struct admission_slot *s)
{
	(void)a;
	s->user->evicted++;
}

unsigned admission_user_count(const struct admission *a)
{
	return a->n_users;
}

/* The user with the lowest uid at least from; NULL when there is none. */
static const struct admission_user *user_from(const struct admission *a, uint32_t from)
{
	const struct admission_user *best = NULL;

	for (size_t i = 0; i < sizeof(a->users) / sizeof(a->users[0]); i++)
		for (const struct admission_user *u = a->users[i]; u; u = u->next)
			if (u->uid >= from && (!best || u->uid < best->uid))
				best = u;
	return best;
}

void admission_users(const struct admission *a, uint32_t from, struct seedd_users_info *out)
{
	const struct admission_user *u = user_from(a, from);

	memset(out, 0, sizeof(*out));
	/* One pass over the table per entry: users are few, and only the trusted ask. */
	for (; u && out->n < SEEDD_USERS_MAX;
	     u = u->uid == UINT32_MAX ? NULL : user_from(a, u->uid + 1)) {
		struct seedd_user_stat *e = &out->user[out->n++];

		e->uid = u->uid;
		e->clients = u->n;
		e->refused = u->refused;
		e->evicted = u->evicted;
	}
	out->more = u != NULL;
}
