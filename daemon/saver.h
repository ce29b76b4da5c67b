/* SPDX-License-Identifier: MIT */
/* Periodic saves of a fresh seed, the retries after a failure, and their record. */
#ifndef SEEDD_SAVER_H
#define SEEDD_SAVER_H

#include "seedd-protocol.h"

struct event_base;
struct pool;
struct saver;

/*
 * Saves a fresh seed from pool every interval_s seconds on base, and every
 * 10 seconds (interval_s when shorter) after a failure until a save
 * succeeds; calls saved(ctx) after each attempt. The pool's first gather counts as the
 * first save. name is the seed file, for messages. NULL when out of memory.
 */
struct saver *saver_new(struct event_base *base, struct pool *pool, const char *name,
			unsigned interval_s, void (*saved)(void *ctx), void *ctx);

void saver_free(struct saver *s);

/*
 * The save at stop. The seed on disk was never served and the next start
 * derives a fresh one from it before serving, so a failure loses nothing: it
 * is logged as a warning, and the stop stays clean. A success is logged too.
 */
void saver_final(struct saver *s);

/* The errno of the last save if it failed, else 0. */
int saver_last_error(const struct saver *s);

/* Fills in what STATUS reports of the saves: the last one, and how many failed. */
void saver_status(const struct saver *s, struct seedd_status_info *info);

#endif
