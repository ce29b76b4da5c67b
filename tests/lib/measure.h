/* SPDX-License-Identifier: MIT */
/*
 * Measuring for the test programs (loadgen, the benchmark, sctool): one
 * monotonic clock, sorting and nearest-rank percentiles of samples, and the
 * number arguments their command lines take.
 */
#ifndef SEEDD_TEST_MEASURE_H
#define SEEDD_TEST_MEASURE_H

#include <stddef.h>
#include <stdint.h>

/* CLOCK_MONOTONIC in nanoseconds. */
int64_t measure_now_ns(void);

/* Sorts n values in ascending order. */
void measure_sort(uint64_t *v, size_t n);

/*
 * The nearest-rank percentile p (0 < p <= 100) of n values sorted by
 * measure_sort(): the smallest value at least p percent of them do not
 * exceed. 0 for no values.
 */
uint64_t measure_pct(const uint64_t *sorted, size_t n, double p);

/* Parses a decimal number in [min, max] into *out; 0, or -EINVAL. */
int measure_parse_num(const char *s, double min, double max, double *out);

#endif
