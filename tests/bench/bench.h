/* SPDX-License-Identifier: MIT */
/*
 * Benchmark report record: what a fresh process (seedd-bench-once) tells the
 * benchmark program that started it, through fds named in its environment.
 */
#ifndef SEEDD_BENCH_H
#define SEEDD_BENCH_H

#include <stdint.h>

/* The fd the record goes to: a pipe, or a shared file with BENCH_ENV_SLOT. */
#define BENCH_ENV_REPORT_FD "SEEDD_BENCH_REPORT_FD"
/* The record's index in the shared file. */
#define BENCH_ENV_SLOT "SEEDD_BENCH_SLOT"
/* One byte goes here once the record is written: the starter waits in poll(). */
#define BENCH_ENV_DONE_FD "SEEDD_BENCH_DONE_FD"
/* After reporting, the process stays alive until this fd reads EOF. */
#define BENCH_ENV_HOLD_FD "SEEDD_BENCH_HOLD_FD"

struct bench_record {
	int64_t main_ns;   /* CLOCK_MONOTONIC on entering main() */
	int64_t before_ns; /* just before the first read */
	int64_t after_ns;  /* just after it returned */
	uint64_t digest;   /* FNV-1a of the bytes: tells values apart without keeping them */
	int32_t error;	   /* 0, or the positive errno the first read failed with */
	uint32_t done;	   /* 1 in a complete record */
};

#endif
