// SPDX-License-Identifier: MIT
/*
 * /etc/subuid: who owns which subordinate uids. A user may map his ranges
 * into a user namespace of his own (newuidmap), where each uid is a host uid
 * of its own to SO_PEERCRED; admission counts them as him.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ids.h"
#include "subids.h"
#include "util.h"

static int by_start(const void *a, const void *b)
{
	const struct subid_range *x = a, *y = b;

	return (x->start > y->start) - (x->start < y->start);
}

/* One line's range; -EINVAL when it is not "owner:start:count" of a known owner. */
static int parse_line(char *line, struct subid_range *r)
{
	char *owner = line, *start, *count;
	uint64_t s, c;

	line[strcspn(line, "\n")] = '\0';
	start = strchr(owner, ':');
	if (!start)
		return -EINVAL;
	*start++ = '\0';
	count = strchr(start, ':');
	if (!count)
		return -EINVAL;
	*count++ = '\0';
	if (parse_u64(start, 0, UINT32_MAX, &s) < 0 || parse_u64(count, 1, UINT32_MAX, &c) < 0 ||
	    s + c > (uint64_t)UINT32_MAX + 1 || ids_uid(owner, &r->owner) < 0)
		return -EINVAL;
	r->start = (uint32_t)s;
	r->count = (uint32_t)c;
	return 0;
}

int subids_parse(FILE *f, struct subid_range **out, size_t *n, size_t *skipped)
{
	struct subid_range *r = NULL;
	size_t cap = 0, len = 0, kept = 0, linecap = 0;
	char *line = NULL;
	int err = 0;

	*out = NULL;
	*n = *skipped = 0;
	while (getline(&line, &linecap, f) >= 0) {
		if (line[0] == '#' || line[0] == '\n')
			continue;
		if (len == SUBIDS_MAX) {
			(*skipped)++;
			continue;
		}
		if (len == cap) {
			struct subid_range *m;

			cap = cap ? 2 * cap : 16;
			m = realloc(r, cap * sizeof(*r));
			if (!m) {
				err = -ENOMEM;
				break;
			}
			r = m;
		}
		if (parse_line(line, &r[len]) < 0)
			(*skipped)++;
		else
			len++;
	}
	if (!err && ferror(f))
		err = -EIO;
	free(line);
	if (err) {
		free(r);
		return err;
	}
	/* Sorted, so that admission can search them; an overlap is dropped, not guessed at. */
	if (len)
		qsort(r, len, sizeof(*r), by_start);
	for (size_t i = 0; i < len; i++) {
		if (kept && r[i].start < (uint64_t)r[kept - 1].start + r[kept - 1].count) {
			(*skipped)++;
			continue;
		}
		r[kept++] = r[i];
	}
	*out = r;
	*n = kept;
	return 0;
}

int subids_changed(struct subids_file *sf)
{
	struct stat st;
	int exists = stat(sf->path, &st) == 0, changed;

	changed =
	    exists != sf->exists ||
	    (exists &&
	     (st.st_dev != sf->dev || st.st_ino != sf->ino || st.st_size != sf->size ||
	      st.st_mtim.tv_sec != sf->mtime.tv_sec || st.st_mtim.tv_nsec != sf->mtime.tv_nsec ||
	      st.st_ctim.tv_sec != sf->ctime.tv_sec || st.st_ctim.tv_nsec != sf->ctime.tv_nsec));
	sf->exists = exists;
	if (exists) {
		sf->dev = st.st_dev;
		sf->ino = st.st_ino;
		sf->size = st.st_size;
		sf->mtime = st.st_mtim;
		sf->ctime = st.st_ctim;
	}
	return changed;
}

int subids_read(const struct subids_file *sf, struct subid_range **out, size_t *n, size_t *skipped)
{
	FILE *f = fopen(sf->path, "re");
	int r;

	*out = NULL;
	*n = *skipped = 0;
	if (!f)
		return errno == ENOENT ? 0 : -errno;
	r = subids_parse(f, out, n, skipped);
	fclose(f);
	return r;
}
