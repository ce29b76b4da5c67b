// SPDX-License-Identifier: MIT
/*
 * Load generator for run-bench.py. One cell per run:
 *
 *   seedd-bench client    --procs N [OPTIONS]
 *   seedd-bench file      --procs N --file PATH [OPTIONS]
 *   seedd-bench getrandom --procs N [OPTIONS]
 *
 *   OPTIONS: --seconds S --warmup W --bytes B --min-calls C --max-seconds M
 *
 * Each forks N processes that call one operation in a closed loop; all of
 * them warm up, then time every call with CLOCK_MONOTONIC inside one common
 * window. The window lasts S seconds, and longer, up to M, until every
 * process has made C calls in it: on a busy machine a process may get no CPU
 * for all of S, and a cell that measured nothing says nothing. Rates are
 * over the window as it was. Each run prints one JSON object on stdout;
 * fresh processes are seedd-bench-spawn's.
 *
 * Latencies go into a log-linear histogram per process (exact below 2048 ns,
 * within 0.1% above), kept in shared memory and merged by the parent: memory
 * stays constant however many calls a cell makes.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "measure.h"
#include "seedclient.h"

#define SUB_BITS 11
#define SUB_COUNT (1u << SUB_BITS)
#define HALF_COUNT (SUB_COUNT / 2)
#define MAX_EXP 40 /* values clamp at 2^40 ns, about 18 minutes */
#define N_BUCKETS (SUB_COUNT + (MAX_EXP - SUB_BITS) * HALF_COUNT)
#define MAX_BYTES 1024

struct hist {
	uint64_t count;
	uint64_t errors;
	uint64_t sum_ns;
	uint64_t max_ns;
	uint64_t b[N_BUCKETS];
};

struct shared {
	int64_t start_ns; /* end of warm-up, the same for every worker */
	int64_t stop_ns;  /* INT64_MAX until the parent ends the window */
	struct hist h[];
};

enum mode { MODE_CLIENT, MODE_FILE, MODE_GETRANDOM };

static const char *const mode_names[] = { "client", "file", "getrandom" };

static unsigned bucket_of(uint64_t v)
{
	unsigned e;

	if (v < SUB_COUNT)
		return (unsigned)v;
	if (v >= (uint64_t)1 << MAX_EXP)
		v = ((uint64_t)1 << MAX_EXP) - 1;
	e = 63u - (unsigned)__builtin_clzll(v); /* SUB_BITS..MAX_EXP-1 */
	return SUB_COUNT + (e - SUB_BITS) * HALF_COUNT +
	       (unsigned)((v >> (e - SUB_BITS + 1)) - HALF_COUNT);
}

/* The middle of a bucket, in ns. */
static double bucket_value(unsigned i)
{
	unsigned e, shift;

	if (i < SUB_COUNT)
		return i;
	e = (i - SUB_COUNT) / HALF_COUNT + SUB_BITS;
	shift = e - SUB_BITS + 1;
	return (double)(((uint64_t)((i - SUB_COUNT) % HALF_COUNT + HALF_COUNT) << shift) +
			((uint64_t)1 << shift) / 2);
}

static void hist_add(struct hist *h, uint64_t v)
{
	/* The parent watches the count while the window is open. */
	__atomic_store_n(&h->count, h->count + 1, __ATOMIC_RELAXED);
	h->sum_ns += v;
	if (v > h->max_ns)
		h->max_ns = v;
	h->b[bucket_of(v)]++;
}

static void hist_merge(struct hist *into, const struct hist *h)
{
	into->count += h->count;
	into->errors += h->errors;
	into->sum_ns += h->sum_ns;
	if (h->max_ns > into->max_ns)
		into->max_ns = h->max_ns;
	for (unsigned i = 0; i < N_BUCKETS; i++)
		into->b[i] += h->b[i];
}

static double hist_pct(const struct hist *h, double pct)
{
	uint64_t want = (uint64_t)((double)h->count * pct / 100.0 + 0.5), seen = 0;

	if (want < 1)
		want = 1;
	for (unsigned i = 0; i < N_BUCKETS; i++) {
		seen += h->b[i];
		if (seen >= want) {
			double v = bucket_value(i);

			return v < (double)h->max_ns ? v : (double)h->max_ns;
		}
	}
	return (double)h->max_ns;
}

/* Read the shared file, write the next seed over it, durably, under the lock. */
static int file_op(const char *path, unsigned char *buf, size_t len)
{
	int fd = open(path, O_RDWR | O_CLOEXEC);
	int r = -1;

	if (fd < 0)
		return -1;
	if (flock(fd, LOCK_EX) < 0)
		goto out;
	if (pread(fd, buf, len, 0) != (ssize_t)len)
		goto unlock;
	buf[0] ^= 0x5a; /* stands in for the seed derived from the pool */
	if (pwrite(fd, buf, len, 0) != (ssize_t)len || fsync(fd) < 0)
		goto unlock;
	r = (int)len;
unlock:
	flock(fd, LOCK_UN);
out:
	close(fd);
	return r;
}

static int do_op(enum mode mode, const char *path, unsigned char *buf, size_t len)
{
	switch (mode) {
	case MODE_CLIENT:
		return seedclient_nv_seed_read(buf, len);
	case MODE_FILE:
		return file_op(path, buf, len);
	default:
		return getrandom(buf, len, 0) == (ssize_t)len ? (int)len : -1;
	}
}

static void worker(enum mode mode, const char *path, size_t len, struct shared *sh, struct hist *h,
		   int go_fd)
{
	unsigned char buf[MAX_BYTES];
	char c;
	int64_t t0, t1;

	/* Everyone starts together: the parent closes the pipe after the last fork. */
	while (read(go_fd, &c, 1) < 0 && errno == EINTR)
		;
	close(go_fd);
	do {
		if (do_op(mode, path, buf, len) < 0)
			h->errors++;
		t1 = measure_now_ns();
	} while (t1 < sh->start_ns);
	/* Calls that started in the window count, even if they end after it. */
	while (t1 < __atomic_load_n(&sh->stop_ns, __ATOMIC_RELAXED)) {
		t0 = t1;
		if (do_op(mode, path, buf, len) < 0)
			h->errors++;
		t1 = measure_now_ns();
		hist_add(h, (uint64_t)(t1 - t0));
	}
	explicit_bzero(buf, sizeof(buf));
	_exit(0);
}

static void sleep_until(int64_t ns)
{
	struct timespec ts = { .tv_sec = ns / 1000000000, .tv_nsec = ns % 1000000000 };

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

/* How many processes have made fewer than min calls in the window; *fewest: the least. */
static unsigned short_of(const struct shared *sh, unsigned procs, uint64_t min, uint64_t *fewest)
{
	unsigned n = 0;

	*fewest = UINT64_MAX;
	for (unsigned i = 0; i < procs; i++) {
		uint64_t c = __atomic_load_n(&sh->h[i].count, __ATOMIC_RELAXED);

		if (c < min)
			n++;
		if (c < *fewest)
			*fewest = c;
	}
	return n;
}

/* Ends the window once it lasted seconds and every process made min calls, or at max. */
static int64_t close_window(struct shared *sh, unsigned procs, double seconds, double max,
			    uint64_t min)
{
	int64_t end = sh->start_ns + (int64_t)(seconds * 1e9);
	int64_t cap = sh->start_ns + (int64_t)(max * 1e9), now;
	uint64_t fewest;

	sleep_until(end);
	for (;;) {
		now = measure_now_ns();
		if (now >= cap || !short_of(sh, procs, min, &fewest))
			break;
		sleep_until(now + 10000000 < cap ? now + 10000000 : cap);
	}
	__atomic_store_n(&sh->stop_ns, now, __ATOMIC_RELAXED);
	return now;
}

static double cpu_s(const struct timeval *tv)
{
	return (double)tv->tv_sec + (double)tv->tv_usec / 1e6;
}

static void print_stats(const struct hist *h, double seconds)
{
	printf("\"calls\": %" PRIu64 ", \"errors\": %" PRIu64 ", \"per_s\": %.1f, ", h->count,
	       h->errors, (double)h->count / seconds);
	printf("\"mean_us\": %.3f, \"p50_us\": %.3f, \"p90_us\": %.3f, \"p99_us\": %.3f, "
	       "\"p999_us\": %.3f, \"max_us\": %.3f",
	       h->count ? (double)h->sum_ns / (double)h->count / 1e3 : 0.0, hist_pct(h, 50) / 1e3,
	       hist_pct(h, 90) / 1e3, hist_pct(h, 99) / 1e3, hist_pct(h, 99.9) / 1e3,
	       (double)h->max_ns / 1e3);
}

static int run_load(enum mode mode, unsigned procs, double seconds, double warmup, double max,
		    uint64_t min, const char *path, size_t len)
{
	size_t shlen = sizeof(struct shared) + (size_t)(procs + 1) * sizeof(struct hist);
	struct shared *sh =
	    mmap(NULL, shlen, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	struct hist *all;
	struct rusage ru;
	int go[2], failed = 0;
	uint64_t errors, fewest;
	unsigned short_procs;
	double window;

	if (sh == MAP_FAILED || pipe2(go, O_CLOEXEC) < 0) {
		perror("seedd-bench: setup");
		return 1;
	}
	all = &sh->h[procs];
	for (unsigned i = 0; i < procs; i++) {
		pid_t pid = fork();

		if (pid < 0) {
			perror("seedd-bench: fork");
			return 1;
		}
		if (pid == 0) {
			close(go[1]);
			worker(mode, path, len, sh, &sh->h[i], go[0]);
		}
	}
	close(go[0]);
	sh->start_ns = measure_now_ns() + (int64_t)(warmup * 1e9);
	sh->stop_ns = INT64_MAX;
	close(go[1]);
	window = (double)(close_window(sh, procs, seconds, max, min) - sh->start_ns) / 1e9;
	for (unsigned i = 0; i < procs; i++) {
		int st;

		if (wait(&st) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
			failed = 1;
	}
	for (unsigned i = 0; i < procs; i++)
		hist_merge(all, &sh->h[i]);
	short_procs = short_of(sh, procs, min, &fewest);
	getrusage(RUSAGE_CHILDREN, &ru);

	printf("{\"mode\": \"%s\", \"procs\": %u, \"bytes\": %zu, \"seconds\": %.3f, "
	       "\"planned_s\": %.3f, \"max_s\": %.3f, \"warmup_s\": %.3f, \"min_calls\": %" PRIu64
	       ", \"fewest_calls\": %" PRIu64 ", \"short_procs\": %u, ",
	       mode_names[mode], procs, len, window, seconds, max, warmup, min, fewest,
	       short_procs);
	print_stats(all, window);
	/* Includes warm-up: compare cells by ratio, not absolute value. */
	printf(", \"clients_cpu_s\": %.3f}\n", cpu_s(&ru.ru_utime) + cpu_s(&ru.ru_stime));
	errors = all->errors;
	munmap(sh, shlen);
	return failed || errors ? 1 : 0;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: seedd-bench client|file|getrandom --procs N [--seconds S] "
		"[--warmup S] [--bytes N] [--min-calls N] [--max-seconds S] [--file PATH]\n");
	exit(2);
}

static double num_arg(const char *s, double min, double max)
{
	double v;

	if (measure_parse_num(s, min, max, &v) < 0)
		usage();
	return v;
}

int main(int argc, char **argv)
{
	double seconds = 3, warmup = 0.5, max = 0;
	uint64_t min = 10;
	unsigned procs = 1;
	size_t len = 64;
	const char *path = NULL;
	enum mode mode = MODE_CLIENT;
	int i;

	if (argc < 2)
		usage();
	if (strcmp(argv[1], "file") == 0)
		mode = MODE_FILE;
	else if (strcmp(argv[1], "getrandom") == 0)
		mode = MODE_GETRANDOM;
	else if (strcmp(argv[1], "client") != 0)
		usage();

	for (i = 2; i < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
		const char *v = argv[i + 1];

		if (strcmp(argv[i], "--procs") == 0)
			procs = (unsigned)num_arg(v, 1, 4096);
		else if (strcmp(argv[i], "--seconds") == 0)
			seconds = num_arg(v, 0.01, 3600);
		else if (strcmp(argv[i], "--warmup") == 0)
			warmup = num_arg(v, 0, 3600);
		else if (strcmp(argv[i], "--bytes") == 0)
			len = (size_t)num_arg(v, 1, MAX_BYTES);
		else if (strcmp(argv[i], "--min-calls") == 0)
			min = (uint64_t)num_arg(v, 0, 1e9);
		else if (strcmp(argv[i], "--max-seconds") == 0)
			max = num_arg(v, 0.01, 36000);
		else if (strcmp(argv[i], "--file") == 0 && v)
			path = v;
		else
			usage();
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (i != argc || (mode == MODE_FILE) != (path != NULL))
		usage();
	/* By default a window may grow to ten times its length, and at least 10 s. */
	if (max == 0)
		max = seconds * 10 > 10 ? seconds * 10 : 10;
	if (max < seconds)
		usage();
	return run_load(mode, procs, seconds, warmup, max, min, path, len);
}
