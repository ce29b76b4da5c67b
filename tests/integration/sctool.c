// SPDX-License-Identifier: MIT
/*
 * Test client: calls libseedclient exactly as applications do and prints
 * what it got, one hex line per call, for the integration tests to check.
 *
 *   sctool read N COUNT [MS]     COUNT x seedclient_nv_seed_read(N), MS apart
 *   sctool threads T COUNT N     T threads, each COUNT reads of N bytes
 *   sctool fork COUNT N          read, fork, parent and child read COUNT each
 *   sctool poll N                seedclient_entropy_poll(SEEDD_SOCKET path)
 *   sctool write N               seedclient_nv_seed_write(N bytes)
 *   sctool fail N                one read expected to fail: prints
 *                                "rc=R ms=T zeroed=Z" (Z: buffer all zero)
 *   sctool failpoll N            the same for seedclient_entropy_poll
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "seedclient.h"

#define MAXN 4096

static size_t n_bytes;
static int count;
static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;

static void hexline(const char *tag, const unsigned char *b, size_t n)
{
	char line[2 * MAXN + 64];
	size_t off = (size_t)snprintf(line, sizeof(line), "%s", tag);

	for (size_t i = 0; i < n; i++)
		off += (size_t)snprintf(line + off, sizeof(line) - off, "%02x", b[i]);
	pthread_mutex_lock(&out_lock);
	puts(line);
	pthread_mutex_unlock(&out_lock);
}

static int pause_ms;

static int read_n(const char *tag, int times)
{
	unsigned char buf[MAXN];

	for (int i = 0; i < times; i++) {
		if (i && pause_ms)
			usleep((useconds_t)pause_ms * 1000);
		int r = seedclient_nv_seed_read(buf, n_bytes);

		if (r != (int)n_bytes) {
			fprintf(stderr, "sctool: seedclient_nv_seed_read returned %d\n", r);
			return 1;
		}
		hexline(tag, buf, n_bytes);
	}
	return 0;
}

static void *thread_main(void *arg)
{
	(void)arg;
	return (void *)(long)read_n("", count);
}

static double ms_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) * 1e3 + (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

static int all_zero(const unsigned char *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (b[i])
			return 0;
	return 1;
}

static size_t arg_size(const char *s)
{
	long v = strtol(s, NULL, 10);

	if (v < 0 || v > MAXN) {
		fprintf(stderr, "sctool: bad size %s\n", s);
		exit(2);
	}
	return (size_t)v;
}

int main(int argc, char **argv)
{
	unsigned char buf[MAXN];
	struct timespec t0;
	const char *cmd = argc > 1 ? argv[1] : "";

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!strcmp(cmd, "read") && (argc == 4 || argc == 5)) {
		n_bytes = arg_size(argv[2]);
		pause_ms = argc == 5 ? atoi(argv[4]) : 0;
		return read_n("", atoi(argv[3]));
	}
	if (!strcmp(cmd, "threads") && argc == 5) {
		int t = atoi(argv[2]), rc = 0;
		pthread_t tid[256];

		count = atoi(argv[3]);
		n_bytes = arg_size(argv[4]);
		if (t < 1 || t > 256)
			return 2;
		for (int i = 0; i < t; i++)
			pthread_create(&tid[i], NULL, thread_main, NULL);
		for (int i = 0; i < t; i++) {
			void *ret;

			pthread_join(tid[i], &ret);
			rc |= (int)(long)ret;
		}
		return rc;
	}
	if (!strcmp(cmd, "fork") && argc == 4) {
		int status;
		pid_t pid;

		count = atoi(argv[2]);
		n_bytes = arg_size(argv[3]);
		/* The parent's connection exists before the fork. */
		if (read_n("parent ", 1))
			return 1;
		pid = fork();
		if (pid == 0)
			_exit(read_n("child ", count));
		if (read_n("parent ", count))
			return 1;
		if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status))
			return 1;
		return read_n("parent ", 1);
	}
	if (!strcmp(cmd, "poll") && argc == 3) {
		size_t olen = 0;
		int r;

		n_bytes = arg_size(argv[2]);
		r = seedclient_entropy_poll(getenv("SEEDD_SOCKET"), buf, n_bytes, &olen);
		if (r != 0 || olen != n_bytes) {
			fprintf(stderr, "sctool: seedclient_entropy_poll returned %d\n", r);
			return 1;
		}
		hexline("", buf, n_bytes);
		return 0;
	}
	if (!strcmp(cmd, "write") && argc == 3) {
		n_bytes = arg_size(argv[2]);
		memset(buf, 0x5a, n_bytes);
		return seedclient_nv_seed_write(buf, n_bytes) == (int)n_bytes ? 0 : 1;
	}
	if ((!strcmp(cmd, "fail") || !strcmp(cmd, "failpoll")) && argc == 3) {
		size_t olen = 12345;
		int r;

		n_bytes = arg_size(argv[2]);
		memset(buf, 0xa5, sizeof(buf));
		clock_gettime(CLOCK_MONOTONIC, &t0);
		if (!strcmp(cmd, "fail"))
			r = seedclient_nv_seed_read(buf, n_bytes);
		else
			r = seedclient_entropy_poll(NULL, buf, n_bytes, &olen);
		printf("rc=%d ms=%.3f zeroed=%d olen=%zu\n", r, ms_since(&t0), all_zero(buf, n_bytes),
		       olen);
		return 0;
	}
	fprintf(stderr, "usage: see the comment at the top of sctool.c\n");
	return 2;
}
