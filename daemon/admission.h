/* SPDX-License-Identifier: MIT */
/*
 * Who gets a connection: trust, per-user accounting, the slots kept for
 * trusted peers, and which connection gives way to a newcomer. It decides
 * and does no I/O; the server acts on its answers.
 */
#ifndef SEEDD_ADMISSION_H
#define SEEDD_ADMISSION_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "seedd-protocol.h"
#include "subids.h"

/* Connections looked at per limit to find an idle one: each look costs the server one ioctl. */
#define ADMISSION_SCAN 8
/*
 * Users without a connection whose counters are kept; the counts of any
 * further ones go to the entry SEEDD_USERS_OTHERS.
 */
#define ADMISSION_KEPT_USERS 1024

/*
 * Limits: max_clients in all; max_per_uid for one user other than root and
 * self_uid (0: a quarter of max_clients, at least 1), a user being a uid
 * with its subordinate uids; untrusted peers, those neither root, self_uid
 * nor in the allow lists, together max_clients less a sixteenth of it (at
 * least 4, at most half of max_clients). With an allow list, untrusted
 * peers are refused.
 */
struct admission_opts {
	unsigned max_clients;
	unsigned max_per_uid;
	uid_t self_uid;
	const uid_t *allow_uid;
	size_t n_allow_uid;
	const gid_t *allow_gid;
	size_t n_allow_gid;
};

/* A circular doubly linked list; an empty head, or a node on no list, points to itself. */
struct admission_list {
	struct admission_list *prev, *next;
};

struct admission_user;

/* A peer as admission sees it, from its credentials. */
struct admission_peer {
	struct ucred cred;
	uid_t user;  /* whom it counts as: its uid, or the owner of its subordinate range */
	int trusted; /* root, self_uid or the allow lists: every slot and the full status */
};

/*
 * One admitted connection, embedded in the server's: its place on the lists
 * of all connections, of its user and of the untrusted ones, least recently
 * used first. Only admission.c touches the fields.
 */
struct admission_slot {
	struct admission_list all, by_user, shared;
	struct admission_user *user;
	struct admission_peer peer;
};

enum admission_verdict {
	ADMISSION_ADMIT,  /* room for it: admission_add() */
	ADMISSION_EVICT,  /* close a candidate (see struct admission_answer), then ask again */
	ADMISSION_REFUSE, /* status and why say why */
};

/*
 * An answer. EVICT: the first of idle[] found with no request waiting goes
 * (the server answers what a candidate has waiting, which makes it the most
 * recently used, before it looks again); when none is idle, busy goes once
 * what it has waiting is answered; without busy, the newcomer is refused
 * with SEEDD_ST_BUSY and why. limit and value name the limit reached, for
 * the log.
 */
struct admission_answer {
	enum admission_verdict verdict;
	uint16_t status; /* REFUSE: SEEDD_ST_DENIED or SEEDD_ST_BUSY */
	struct admission_slot *idle[3 * ADMISSION_SCAN];
	size_t n_idle;
	struct admission_slot *busy;
	const char *limit;
	unsigned value;
	char why[128];
};

struct admission *admission_new(const struct admission_opts *opts);
void admission_free(struct admission *a);

/* Who the peer with credentials cr is. */
void admission_peer(const struct admission *a, const struct ucred *cr, struct admission_peer *p);

/* Whether p may have a connection now, and if not, what makes room. */
void admission_decide(struct admission *a, const struct admission_peer *p,
		      struct admission_answer *ans);

/* Counts s, the connection of peer p, in; it becomes the most recently used. 0 or -ENOMEM. */
int admission_add(struct admission *a, struct admission_slot *s, const struct admission_peer *p);

/* s was just used: it becomes the most recently used on each of its lists. */
void admission_touch(struct admission *a, struct admission_slot *s);

/* Counts s out (it was closed). */
void admission_remove(struct admission *a, struct admission_slot *s);

/* Connections counted in. */
unsigned admission_count(const struct admission *a);

/* The least recently used connection, NULL when there is none. */
struct admission_slot *admission_oldest(const struct admission *a);

/*
 * The subordinate uid ranges (sorted by start, none overlapping, as
 * subids_parse() makes them); every connection is counted again as the
 * user it belongs to now. 0, or -ENOMEM with the old ranges kept.
 */
int admission_set_subids(struct admission *a, const struct subid_range *r, size_t n);

/* The server refused p. 0, or -ENOMEM when nothing could count it. */
int admission_refused(struct admission *a, const struct admission_peer *p);

/* The server closed s to make room for a newcomer (call before admission_remove()). */
void admission_evicted(struct admission *a, struct admission_slot *s);

/* Users with connections or counters: the entries admission_users() lists. */
unsigned admission_user_count(const struct admission *a);

/* The USERS table from uid from on, as much as fits out (see seedd-protocol.h). */
void admission_users(const struct admission *a, uint32_t from, struct seedd_users_info *out);

#endif
