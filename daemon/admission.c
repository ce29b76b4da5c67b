// SPDX-License-Identifier: MIT
/*
 * Who gets a connection.
 *
 * Slots are shared out by user, read once at accept from the peer's
 * credentials: a uid counts as itself, or as the user who owns it as a
 * subordinate uid (/etc/subuid), so that one user's 65,536 uids in a user
 * namespace of his are still one user. One user holds at most max_per_uid
 * connections (root and our own uid are exempt), untrusted peers together
 * at most max_shared, so that the rest is kept for root, our uid and the
 * allow lists, and everybody together at most max_clients.
 *
 * A newcomer over a limit takes the place of a connection that counts
 * against it: the least recently used idle one of its own user first;
 * else, when the newcomer's user holds fewer connections under that limit
 * than the largest holder, one of the largest holder's, idle if one is,
 * else its least recently used one once what it has waiting is answered. So
 * no set of users, however they share their connections out and however
 * busy they keep them, can lock anybody out who holds fewer than they do,
 * and a newcomer never gains at the expense of one who holds less.
 * libseedclient re-makes a closed connection on its next call. A trusted
 * newcomer at the limit of all connections may also take anybody's least
 * recently used idle one. Only when nothing can give way is it refused.
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

/* The connections of one user, least recently used first, and what happened to its newcomers. */
struct admission_user {
	struct admission_user *next; /* hash chain */
	struct admission_list conns;
	struct admission_list active; /* on the list of users with connections */
	uid_t uid;
	unsigned n, n_shared; /* connections; those of untrusted peers */
	uint64_t refused, evicted;
};

struct admission {
	struct admission_opts opts;
	unsigned max_per_uid, max_shared;
	struct admission_list all, shared, active;
	unsigned n_conns, n_shared;
	unsigned n_users, n_kept; /* all users; those kept with no connection */
	struct subid_range *ranges;
	size_t n_ranges;
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

static struct admission_user *user_of_active(const struct admission_list *node)
{
	return (struct admission_user *)((uintptr_t)node - offsetof(struct admission_user, active));
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
	list_init(&a->active);
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
	free(a->ranges);
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

/*
 * Whom uid counts as: the owner of the subordinate range it is in, else
 * itself. A range of root's or of our own uid counts as one user of its
 * own (its first uid), so that nobody in it shares root's or our exemption.
 */
static uid_t user_key(const struct admission *a, uid_t uid)
{
	size_t lo = 0, hi = a->n_ranges;

	/* The last range that starts at or below uid. */
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (a->ranges[mid].start <= uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0 || uid - a->ranges[lo - 1].start >= a->ranges[lo - 1].count)
		return uid;
	if (a->ranges[lo - 1].owner == 0 || a->ranges[lo - 1].owner == a->opts.self_uid)
		return a->ranges[lo - 1].start;
	return a->ranges[lo - 1].owner;
}

void admission_peer(const struct admission *a, const struct ucred *cr, struct admission_peer *p)
{
	const struct admission_opts *o = &a->opts;

	p->cred = *cr;
	p->user = user_key(a, cr->uid);
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

/* The least recently used of u's connections (its untrusted ones, when shared_only). */
static struct admission_slot *lru_of(const struct admission_user *u, int shared_only)
{
	const struct admission_list *node = u->conns.next;

	for (int i = 0; i < ADMISSION_SCAN && node != &u->conns; i++, node = node->next) {
		struct admission_slot *s = slot_at(node, offsetof(struct admission_slot, by_user));

		if (!(shared_only && s->peer.trusted))
			return s;
	}
	return NULL;
}

/* The user holding the most connections (untrusted ones, when shared_only), or NULL. */
static struct admission_user *largest(const struct admission *a, int shared_only)
{
	struct admission_user *best = NULL;

	for (const struct admission_list *node = a->active.next; node != &a->active;
	     node = node->next) {
		struct admission_user *u = user_of_active(node);
		unsigned n = shared_only ? u->n_shared : u->n;

		if (n && (!best || n > (shared_only ? best->n_shared : best->n)))
			best = u;
	}
	return best;
}

/*
 * Names what may give way to a newcomer of user u (NULL: it has none) at a
 * limit: u's own least recently used connections, then, when u holds fewer
 * than the largest holder, the largest holder's, whose least recently used
 * one is also the one to close when none is idle. Under the limit for
 * untrusted peers (shared_only) only their connections count and go.
 */
static void make_room(const struct admission *a, struct admission_answer *ans,
		      const struct admission_user *u, int shared_only)
{
	struct admission_user *big = largest(a, shared_only);
	unsigned mine = u ? (shared_only ? u->n_shared : u->n) : 0;

	ans->verdict = ADMISSION_EVICT;
	ans->status = SEEDD_ST_BUSY;
	if (u)
		candidates(ans, &u->conns, offsetof(struct admission_slot, by_user), shared_only);
	if (big && big != u && mine < (shared_only ? big->n_shared : big->n)) {
		candidates(ans, &big->conns, offsetof(struct admission_slot, by_user), shared_only);
		ans->busy = lru_of(big, shared_only);
	}
}

void admission_decide(struct admission *a, const struct admission_peer *p,
		      struct admission_answer *ans)
{
	const struct admission_opts *o = &a->opts;
	struct admission_user *u = *user_slot(a, p->user);

	memset(ans, 0, sizeof(*ans));
	if (!p->trusted && (o->n_allow_uid || o->n_allow_gid)) {
		ans->verdict = ADMISSION_REFUSE;
		ans->status = SEEDD_ST_DENIED;
		snprintf(ans->why, sizeof(ans->why), "not in --allow-uid or --allow-gid");
		return;
	}
	if (u && u->n >= a->max_per_uid && p->cred.uid != 0 && p->cred.uid != o->self_uid) {
		/* Its own limit: only its own connections can make room. */
		ans->verdict = ADMISSION_EVICT;
		ans->status = SEEDD_ST_BUSY;
		ans->limit = "the per-uid limit of";
		ans->value = a->max_per_uid;
		candidates(ans, &u->conns, offsetof(struct admission_slot, by_user), 0);
		snprintf(ans->why, sizeof(ans->why),
			 "uid %u%s holds %u connections and none is idle", (unsigned)p->user,
			 p->user != p->cred.uid ? " with its subordinate uids" : "", u->n);
		return;
	}
	if (!p->trusted && a->n_shared >= a->max_shared) {
		make_room(a, ans, u, 1);
		ans->limit = "the limit for unprivileged peers of";
		ans->value = a->max_shared;
		snprintf(ans->why, sizeof(ans->why),
			 "unprivileged peers hold %u connections, uid %u as many as anybody, and "
			 "none of its is idle",
			 a->n_shared, (unsigned)p->user);
		return;
	}
	if (a->n_conns >= o->max_clients) {
		/* The untrusted take the place of the untrusted only: the reserve is not theirs. */
		make_room(a, ans, u, !p->trusted);
		if (p->trusted)
			candidates(ans, &a->all, offsetof(struct admission_slot, all), 0);
		ans->limit = "--max-clients";
		ans->value = o->max_clients;
		snprintf(ans->why, sizeof(ans->why), "%u connections open and none can give way",
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
	list_init(&(*pu)->active);
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

	list_del(&u->active);
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

/* Puts s on u's list, at the back, and counts it there. */
static void attach(struct admission *a, struct admission_slot *s, struct admission_user *u)
{
	if (u->n++ == 0) {
		a->n_kept--;
		list_add_tail(&a->active, &u->active);
	}
	u->n_shared += !s->peer.trusted;
	s->user = u;
	list_add_tail(&u->conns, &s->by_user);
}

/* Takes s off its user's list; the user goes with its last connection, unless kept. */
static void detach(struct admission *a, struct admission_slot *s)
{
	struct admission_user *u = s->user;

	list_del(&s->by_user);
	u->n_shared -= !s->peer.trusted;
	s->user = NULL;
	if (--u->n == 0) {
		a->n_kept++;
		user_put(a, u);
	}
}

int admission_add(struct admission *a, struct admission_slot *s, const struct admission_peer *p)
{
	struct admission_user *u = user_get(a, p->user);

	if (!u)
		return -ENOMEM;
	s->peer = *p;
	attach(a, s, u);
	list_add_tail(&a->all, &s->all);
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
	list_del(&s->shared);
	a->n_conns--;
	if (!s->peer.trusted)
		a->n_shared--;
	detach(a, s);
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

int admission_set_subids(struct admission *a, const struct subid_range *r, size_t n)
{
	struct subid_range *copy = n ? malloc(n * sizeof(*copy)) : NULL;

	if (n && !copy)
		return -ENOMEM;
	if (n)
		memcpy(copy, r, n * sizeof(*copy));
	free(a->ranges);
	a->ranges = copy;
	a->n_ranges = n;
	/*
	 * Every connection to the user it counts as now, in the order of all
	 * connections, least recently used first, so each user's list keeps
	 * that order. The first move of a connection to a user takes no memory
	 * unless the user is new; a connection whose new user cannot be made
	 * stays where it was.
	 */
	for (struct admission_list *node = a->all.next; node != &a->all; node = node->next) {
		struct admission_slot *s = slot_at(node, offsetof(struct admission_slot, all));
		struct admission_user *u = user_get(a, user_key(a, s->peer.cred.uid));

		if (!u)
			continue;
		s->peer.user = u->uid;
		/* Detaching from the user it stays with would free an entry about to be used. */
		u->n++;
		detach(a, s);
		u->n--;
		attach(a, s, u);
	}
	return 0;
}

int admission_refused(struct admission *a, const struct admission_peer *p)
{
	struct admission_user *u = *user_slot(a, p->user);

	if (!u && a->n_kept >= ADMISSION_KEPT_USERS)
		u = user_get(a, SEEDD_USERS_OTHERS);
	else if (!u)
		u = user_get(a, p->user);
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
