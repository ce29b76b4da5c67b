/* SPDX-License-Identifier: MIT */
/* Memory for secrets (seeds, keys, generator states): out of swap and core dumps. */
#ifndef SEEDD_SECRET_H
#define SEEDD_SECRET_H

#include <stddef.h>

/*
 * len zeroed bytes of their own pages, locked in memory and left out of core
 * dumps where the system lets us (both best effort: RLIMIT_MEMLOCK may be
 * small), or NULL when out of memory.
 */
void *secret_alloc(size_t len);

/* Wipes and frees what secret_alloc(len) returned; NULL is a no-op. */
void secret_free(void *m, size_t len);

#endif
