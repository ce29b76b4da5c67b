// SPDX-License-Identifier: MIT
/* Measuring for the test programs: clock, sort, percentiles, number arguments. */
#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "measure.h"

int64_t measure_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

void measure_sort(uint64_t *v, size_t n)
{
	if (n)
		qsort(v, n, sizeof(*v), cmp_u64);
}

uint64_t measure_pct(const uint64_t *sorted, size_t n, double p)
{
	/* p * n first: exact for whole percents, where p / 100 is not. */
	double x = p * (double)n / 100.0;
	size_t rank = (size_t)x;

	if (!n)
		return 0;
	if ((double)rank < x)
		rank++;
	if (rank < 1)
		rank = 1;
	return sorted[(rank < n ? rank : n) - 1];
}

int measure_parse_num(const char *s, double min, double max, double *out)
{
	char *end;
	double v;

	if (!s || !*s)
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (errno || *end || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}
