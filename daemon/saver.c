// SPDX-License-Identifier: MIT
/*
 * Periodic saves: a failed save is reported once per failure streak and
 * retried sooner, and service goes on meanwhile; STATUS shows the rest.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "log.h"
#include "pool.h"
#include "saver.h"

#define SAVER_RETRY_S 10

struct saver {
	struct pool *pool;
	const char *name;
	struct event *ev;
	unsigned interval_s;
	unsigned retry_s; /* after a failure: SAVER_RETRY_S, or interval_s when sooner */
	void (*saved)(void *ctx);
	void *ctx;
	int64_t last_unix; /* 0: never */
	int last_error;	   /* errno of the last save, 0 if it succeeded */
	uint64_t saves;
	uint64_t failures;
};

static void schedule(struct saver *s)
{
	struct timeval tv = { .tv_sec = s->last_error ? s->retry_s : s->interval_s };

	event_add(s->ev, &tv);
}

static void save(struct saver *s)
{
	int r = pool_save(s->pool);
	int was = s->last_error;

	s->last_unix = time(NULL);
	s->last_error = -r;
	if (r == 0) {
		s->saves++;
		if (was)
			log_notice("saved %s again", s->name);
	} else {
		s->failures++;
		if (!was)
			log_err("cannot save a new seed to %s: %s (still serving; retrying every %us)",
				s->name, strerror(-r), s->retry_s);
	}
}

static void save_cb(evutil_socket_t fd, short what, void *arg)
{
	struct saver *s = arg;

	(void)fd;
	(void)what;
	save(s);
	s->saved(s->ctx);
	schedule(s);
}

struct saver *saver_new(struct event_base *base, struct pool *pool, const char *name,
			unsigned interval_s, void (*saved)(void *ctx), void *ctx)
{
	struct saver *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	*s = (struct saver){
		.pool = pool,
		.name = name,
		.interval_s = interval_s,
		.retry_s = interval_s < SAVER_RETRY_S ? interval_s : SAVER_RETRY_S,
		.saved = saved,
		.ctx = ctx,
		/* pool_new()'s first gather wrote a new seed. */
		.last_unix = time(NULL),
		.saves = 1,
	};
	s->ev = evtimer_new(base, save_cb, s);
	if (!s->ev) {
		free(s);
		return NULL;
	}
	schedule(s);
	return s;
}

void saver_free(struct saver *s)
{
	if (!s)
		return;
	event_free(s->ev);
	free(s);
}

void saver_final(struct saver *s)
{
	int r = pool_save(s->pool);

	if (r < 0)
		log_warn("cannot save a new seed to %s at stop: %s; the next start derives a fresh seed before serving",
			 s->name, strerror(-r));
	else
		log_info("saved a new seed to %s at stop", s->name);
}

int saver_last_error(const struct saver *s)
{
	return s->last_error;
}

void saver_status(const struct saver *s, struct seedd_status_info *info)
{
	info->last_save_unix = s->last_unix;
	info->last_save_error = s->last_error;
	info->saves = s->saves;
	info->save_failures = s->failures;
	if (!s->last_error)
		info->flags |= SEEDD_STATUS_LAST_SAVE_OK;
}
