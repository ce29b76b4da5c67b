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
 *   sctool failread N [PATH]     the same for seedclient_read(PATH, else NULL: $SEEDD_SOCKET)
 *   sctool intr N MS             one read while a SIGALRM handler installed without
 *                                SA_RESTART interrupts it every MS ms: prints
 *                                "rc=R ms=T zeroed=Z signals=K gap_ms=G" (K: how many
 *                                came; G: the longest time without one, from the start
 *                                of the read to its end)
 *   sctool reuse-file N PATH     read; close every fd >= 3 and open PATH at the number the
 *                                library's socket had, write a line; read again; check
 *                                that the file is still open at the same offset
 *   sctool reuse-dgram N         the same with one end of a datagram socketpair, a
 *                                datagram waiting on it: still there after the read
 *   sctool forkbusy PATH N       a thread reads from $SEEDD_SOCKET (a mute daemon); once a
 *                                line arrives on stdin the main thread forks and prints
 *                                "fork_ms=T"; the child prints the sockets it inherited
 *                                ("child_sockets=K") and N bytes read from PATH
 *   sctool failagain N           one read that must succeed, then "fail"'s timed read
 *   sctool cancel PATH N         a thread reads from $SEEDD_SOCKET (a mute daemon) and is
 *                                cancelled once a line arrives on stdin; a bystander thread
 *                                then fills a stack buffer with 0xAA while this one reads N
 *                                bytes from PATH; prints "cancel_ms=T cancelled=C intact=I
 *                                sockets=K" (I: the bystander's buffer unchanged; K: sockets
 *                                open at the end)
 *   sctool forkstorm T FORKS N   T threads read N bytes in a loop while the main thread
 *                                forks FORKS times; each child counts the sockets it
 *                                inherited; prints "forks=F inherited=K reads=R failed=E"
 *   sctool lowfds N FD           started with some of fds 0-2 closed: reads N bytes,
 *                                writes a line to fd 1, reads again; prints to FD
 *                                "socket_fd=S std_taken=T write1=W first=A second=B"
 *   sctool version               prints "header=MAJOR.MINOR.PATCH number=H library=L"
 *                                (H, L: SEEDCLIENT_VERSION_NUMBER, seedclient_version())
 *   sctool lasterror N PATH      seedclient_last_error() after each of: nothing, a failed
 *                                read from $SEEDD_SOCKET, a good read of another thread
 *                                from PATH, a NULL buffer, a good read from PATH
 *   sctool procs P N             P processes, each reads N bytes once (or
 *                                prints "failed") and stays alive; a line
 *                                on stdin makes this one print "alive=A"
 *                                (A: how many are), end of input makes each
 *                                read once more (on a connection the daemon
 *                                may have closed meanwhile) and exit; then
 *                                prints "failed=F" and exits 1 if F > 0
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "measure.h"
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

static double ms_since(int64_t t0)
{
	return (double)(measure_now_ns() - t0) / 1e6;
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

/* The open sockets of this process: how many, and the lowest fd number. */
static int sockets(int *lowest)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	*lowest = -1;
	if (!d)
		return -1;
	while ((e = readdir(d))) {
		char link[64], target[64];
		int fd = atoi(e->d_name);
		ssize_t len;

		if (e->d_name[0] == '.' || fd == dirfd(d))
			continue;
		snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
		len = readlink(link, target, sizeof(target) - 1);
		if (len < 0)
			continue;
		target[len] = 0;
		if (strncmp(target, "socket:", 7))
			continue;
		n++;
		if (*lowest < 0 || fd < *lowest)
			*lowest = fd;
	}
	closedir(d);
	return n;
}

/* Puts fd at number to, as a program reusing freed numbers does. */
static int move_fd(int fd, int to)
{
	if (fd == to)
		return fd;
	if (dup2(fd, to) < 0)
		return -1;
	close(fd);
	return to;
}

/*
 * Reads, then closes every fd >= 3, as a daemonising program does, and opens
 * the program's own fd at the number the library's socket had.
 */
static int reuse(const char *what, const char *path)
{
	static const char line[] = "the application's own line\n";
	static const char dgram[] = "the application's own datagram";
	char got[sizeof(dgram) + 16];
	struct stat before, after;
	int libfd, fd, peer = -1, sv[2];
	off_t off;
	ssize_t n;

	if (read_n("", 1))
		return 1;
	if (sockets(&libfd) != 1 || libfd < 3) {
		fprintf(stderr, "sctool: cannot find the library's socket\n");
		return 2;
	}
	close_range(3, ~0U, 0);
	if (path) {
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		fd = fd < 0 ? -1 : move_fd(fd, libfd);
		if (fd < 0 || write(fd, line, sizeof(line) - 1) != (ssize_t)sizeof(line) - 1) {
			perror("sctool: the log file");
			return 2;
		}
	} else {
		if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv) < 0 ||
		    (peer = move_fd(sv[1], libfd + 1)) < 0 || (fd = move_fd(sv[0], libfd)) < 0 ||
		    send(peer, dgram, sizeof(dgram), 0) != (ssize_t)sizeof(dgram)) {
			perror("sctool: the datagram socket");
			return 2;
		}
	}
	fstat(fd, &before);
	off = lseek(fd, 0, SEEK_CUR);

	if (read_n("", 1))
		return 1;

	if (fstat(fd, &after) < 0 || after.st_ino != before.st_ino ||
	    after.st_dev != before.st_dev) {
		fprintf(stderr, "sctool: the %s at fd %d was closed or replaced\n", what, fd);
		return 1;
	}
	if (lseek(fd, 0, SEEK_CUR) != off) {
		fprintf(stderr, "sctool: the %s's offset moved\n", what);
		return 1;
	}
	if (!path) {
		n = recv(fd, got, sizeof(got), MSG_DONTWAIT);
		if (n != (ssize_t)sizeof(dgram) || memcmp(got, dgram, sizeof(dgram))) {
			fprintf(stderr, "sctool: the waiting datagram is gone: %zd\n", n);
			return 1;
		}
		n = recv(peer, got, sizeof(got), MSG_DONTWAIT);
		if (n >= 0 || errno != EAGAIN) {
			fprintf(stderr, "sctool: %zd bytes were sent on the datagram socket\n", n);
			return 1;
		}
	}
	printf("%s intact at fd %d\n", what, fd);
	return 0;
}

static void *busy_thread(void *arg)
{
	unsigned char b[64];

	(void)arg;
	seedclient_nv_seed_read(b, sizeof(b));
	return NULL;
}

/*
 * Forks while another thread waits for a mute daemon: fork() must not wait
 * for it, and the child must neither inherit that connection nor fail.
 */
static int forkbusy(const char *path)
{
	int64_t t0;
	pthread_t tid;
	char go[16];
	int status, lowest;
	pid_t pid;

	if (pthread_create(&tid, NULL, busy_thread, NULL))
		return 2;
	/* The test writes a line once the mute daemon has the thread's request. */
	if (!fgets(go, sizeof(go), stdin))
		return 2;
	t0 = measure_now_ns();
	pid = fork();
	if (pid == 0) {
		unsigned char buf[MAXN];
		int inherited = sockets(&lowest);
		int r = seedclient_read(path, buf, n_bytes);

		printf("child_sockets=%d\n", inherited);
		if (r < 0) {
			fprintf(stderr, "sctool: the child's seedclient_read returned %d\n", r);
			_exit(1);
		}
		hexline("child ", buf, n_bytes);
		_exit(0);
	}
	printf("fork_ms=%.3f\n", ms_since(t0));
	if (pid < 0 || waitpid(pid, &status, 0) < 0)
		return 2;
	/* Not joined: the thread is still waiting for the mute daemon. */
	return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

static void *mute_reader(void *arg)
{
	unsigned char b[64];

	(void)arg;
	seedclient_nv_seed_read(b, sizeof(b));
	/* Reached only when the read itself was not a cancellation point. */
	pthread_testcancel();
	return NULL;
}

static pthread_barrier_t bystander_ready, bystander_check;

/* A stack buffer of 0xAA, checked after another thread's request. */
static void *bystander(void *arg)
{
	unsigned char pad[256 * 1024];
	long changed = 0;

	memset(pad, 0xaa, sizeof(pad));
	pthread_barrier_wait(&bystander_ready);
	pthread_barrier_wait(&bystander_check);
	for (size_t i = 0; i < sizeof(pad); i++)
		changed += ((volatile unsigned char *)pad)[i] != 0xaa;
	*(long *)arg = changed;
	return NULL;
}

/*
 * A thread cancelled while it waits for a mute daemon must leave nothing of
 * its request behind: no list node on its dead stack, which the next thread
 * gets, and no socket.
 */
static int cancel_test(const char *path)
{
	unsigned char buf[MAXN];
	pthread_t reader, by;
	long changed = -1;
	char go[16];
	void *ret;
	int64_t t0;
	int r, lowest;

	if (pthread_create(&reader, NULL, mute_reader, NULL))
		return 2;
	/* The test writes a line once the mute daemon has the thread's request. */
	if (!fgets(go, sizeof(go), stdin))
		return 2;
	t0 = measure_now_ns();
	pthread_cancel(reader);
	pthread_join(reader, &ret);
	printf("cancel_ms=%.3f ", ms_since(t0));
	/* The joined thread's stack is the next thread's, from glibc's cache. */
	pthread_barrier_init(&bystander_ready, NULL, 2);
	pthread_barrier_init(&bystander_check, NULL, 2);
	if (pthread_create(&by, NULL, bystander, &changed))
		return 2;
	pthread_barrier_wait(&bystander_ready);
	r = seedclient_read(path, buf, n_bytes);
	pthread_barrier_wait(&bystander_check);
	pthread_join(by, NULL);
	printf("cancelled=%d intact=%d sockets=%d read=%d\n", ret == PTHREAD_CANCELED, changed == 0,
	       sockets(&lowest), r);
	return 0;
}

static volatile int storm_stop;
static int storm_reads, storm_failed;

static void *storm_reader(void *arg)
{
	unsigned char b[MAXN];

	(void)arg;
	while (!storm_stop) {
		int r = seedclient_nv_seed_read(b, n_bytes);

		__atomic_add_fetch(r == (int)n_bytes ? &storm_reads : &storm_failed, 1,
				   __ATOMIC_RELAXED);
	}
	return NULL;
}

/* Forks beside busy threads: no child may inherit a socket nobody tracks. */
static int forkstorm(int nthreads, int forks)
{
	pthread_t tid[64];
	int inherited = 0;

	if (nthreads < 1 || nthreads > 64)
		return 2;
	for (int i = 0; i < nthreads; i++)
		pthread_create(&tid[i], NULL, storm_reader, NULL);
	for (int i = 0; i < forks; i++) {
		int status, lowest;
		pid_t pid = fork();

		if (pid == 0)
			_exit(sockets(&lowest) ? 1 : 0);
		if (pid < 0 || waitpid(pid, &status, 0) < 0)
			return 2;
		inherited += !WIFEXITED(status) || WEXITSTATUS(status);
	}
	storm_stop = 1;
	for (int i = 0; i < nthreads; i++)
		pthread_join(tid[i], NULL);
	printf("forks=%d inherited=%d reads=%d failed=%d\n", forks, inherited, storm_reads,
	       storm_failed);
	return 0;
}

/*
 * Run with some of fds 0-2 closed: the library's socket must not take one of
 * them, where the program's own output would go to the daemon.
 */
static int lowfds(int out)
{
	static const char line[] = "the program's own output\n";
	unsigned char buf[MAXN];
	int first, second, taken = 0, lowest;
	ssize_t w;

	first = seedclient_nv_seed_read(buf, n_bytes);
	sockets(&lowest);
	for (int fd = 0; fd <= 2; fd++)
		taken += fcntl(fd, F_GETFD) >= 0;
	w = write(1, line, sizeof(line) - 1);
	second = seedclient_nv_seed_read(buf, n_bytes);
	dprintf(out, "socket_fd=%d std_taken=%d write1=%s first=%d second=%d\n", lowest, taken,
		w < 0 ? "failed" : "written", first, second);
	return 0;
}

static void *good_reader(void *arg)
{
	unsigned char b[MAXN];
	int r = seedclient_read(arg, b, n_bytes);

	return (void *)(long)(r ? r : seedclient_last_error());
}

/* Each thread keeps its own last error. */
static int lasterror(const char *path)
{
	unsigned char buf[MAXN];
	int initial = seedclient_last_error(), failed, after, null, ok;
	pthread_t tid;
	void *thread;

	seedclient_nv_seed_read(buf, n_bytes);
	failed = seedclient_last_error();
	if (pthread_create(&tid, NULL, good_reader, (void *)path) || pthread_join(tid, &thread))
		return 2;
	after = seedclient_last_error();
	seedclient_nv_seed_read(NULL, n_bytes);
	null = seedclient_last_error();
	ok = seedclient_read(path, buf, n_bytes);
	printf("initial=%d failed=%d thread=%ld after_thread=%d null=%d ok=%d last=%d\n", initial,
	       failed, (long)thread, after, null, ok, seedclient_last_error());
	return 0;
}

static volatile sig_atomic_t signals;
/*
 * The handler's clock: a process that waits for the CPU gets its timer's
 * signals late and merged, so how densely they interrupted the read is
 * measured, not assumed. Read once SIGALRM is blocked.
 */
static volatile int64_t last_signal_ns, max_gap_ns;

static void note_gap(int64_t now)
{
	if (now - last_signal_ns > max_gap_ns)
		max_gap_ns = now - last_signal_ns;
	last_signal_ns = now;
}

static void count_signal(int sig)
{
	(void)sig;
	signals++;
	note_gap(measure_now_ns());
}

/* One read, with SIGALRM every ms milliseconds meanwhile. */
static int read_interrupted(int ms)
{
	struct sigaction sa = { .sa_handler = count_signal };
	struct itimerval it = { .it_interval = { .tv_usec = ms * 1000 },
				.it_value = { .tv_usec = ms * 1000 } };
	struct itimerval off = { 0 };
	unsigned char buf[MAXN];
	int64_t t0, t1;
	sigset_t alrm;
	int r;

	sigemptyset(&alrm);
	sigaddset(&alrm, SIGALRM);
	memset(buf, 0xa5, sizeof(buf));
	/* Before the timer: a process that waits for the CPU may get a signal at once. */
	last_signal_ns = measure_now_ns();
	if (ms < 1 || ms > 999 || sigaction(SIGALRM, &sa, NULL) < 0 ||
	    setitimer(ITIMER_REAL, &it, NULL) < 0) {
		fprintf(stderr, "sctool: cannot set up SIGALRM every %d ms\n", ms);
		return 2;
	}
	t0 = measure_now_ns();
	r = seedclient_nv_seed_read(buf, n_bytes);
	t1 = measure_now_ns();
	sigprocmask(SIG_BLOCK, &alrm, NULL);
	setitimer(ITIMER_REAL, &off, NULL);
	if (t1 > last_signal_ns)
		note_gap(t1);
	printf("rc=%d ms=%.3f zeroed=%d signals=%d gap_ms=%.3f\n", r, (double)(t1 - t0) / 1e6,
	       all_zero(buf, n_bytes), (int)signals, (double)max_gap_ns / 1e6);
	return 0;
}

/* Children that exited, and how many of them failed. */
static int reap(int flags, int *failed)
{
	int status, n = 0;

	while (waitpid(-1, &status, flags) > 0) {
		n++;
		if (!WIFEXITED(status) || WEXITSTATUS(status))
			(*failed)++;
	}
	return n;
}

static int procs(int n)
{
	int hold[2], failed = 0, exited = 0;
	char line[64];

	if (pipe(hold) < 0)
		return 2;
	for (int i = 0; i < n; i++) {
		pid_t pid = fork();

		if (pid < 0) {
			fprintf(stderr, "sctool: fork %d: %s\n", i, strerror(errno));
			return 1;
		}
		if (pid == 0) {
			char c;

			close(hold[1]);
			if (read_n("", 1)) {
				puts("failed");
				_exit(1);
			}
			/* The parent closes its end to let everybody go. */
			while (read(hold[0], &c, 1) < 0 && errno == EINTR)
				;
			_exit(read_n("again ", 1));
		}
	}
	close(hold[0]);
	while (fgets(line, sizeof(line), stdin))
		printf("alive=%d\n", n - (exited += reap(WNOHANG, &failed)));
	close(hold[1]);
	exited += reap(0, &failed);
	printf("failed=%d\n", failed + n - exited);
	return failed || exited != n;
}

int main(int argc, char **argv)
{
	unsigned char buf[MAXN];
	int64_t t0;
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
	if (!strcmp(cmd, "reuse-file") && argc == 4) {
		n_bytes = arg_size(argv[2]);
		return reuse("log file", argv[3]);
	}
	if (!strcmp(cmd, "reuse-dgram") && argc == 3) {
		n_bytes = arg_size(argv[2]);
		return reuse("datagram socket", NULL);
	}
	if (!strcmp(cmd, "forkbusy") && argc == 4) {
		n_bytes = arg_size(argv[3]);
		return forkbusy(argv[2]);
	}
	if (!strcmp(cmd, "failread") && (argc == 3 || argc == 4)) {
		int r;

		n_bytes = arg_size(argv[2]);
		memset(buf, 0xa5, sizeof(buf));
		t0 = measure_now_ns();
		r = seedclient_read(argc == 4 ? argv[3] : NULL, buf, n_bytes);
		printf("rc=%d ms=%.3f zeroed=%d\n", r, ms_since(t0), all_zero(buf, n_bytes));
		return 0;
	}
	if ((!strcmp(cmd, "fail") || !strcmp(cmd, "failpoll") || !strcmp(cmd, "failagain")) &&
	    argc == 3) {
		size_t olen = 12345;
		int r;

		n_bytes = arg_size(argv[2]);
		if (!strcmp(cmd, "failagain") && read_n("", 1))
			return 1;
		memset(buf, 0xa5, sizeof(buf));
		t0 = measure_now_ns();
		if (strcmp(cmd, "failpoll"))
			r = seedclient_nv_seed_read(buf, n_bytes);
		else
			r = seedclient_entropy_poll(NULL, buf, n_bytes, &olen);
		printf("rc=%d ms=%.3f zeroed=%d olen=%zu\n", r, ms_since(t0),
		       all_zero(buf, n_bytes), olen);
		return 0;
	}
	if (!strcmp(cmd, "intr") && argc == 4) {
		n_bytes = arg_size(argv[2]);
		return read_interrupted(atoi(argv[3]));
	}
	if (!strcmp(cmd, "cancel") && argc == 4) {
		n_bytes = arg_size(argv[3]);
		return cancel_test(argv[2]);
	}
	if (!strcmp(cmd, "forkstorm") && argc == 5) {
		n_bytes = arg_size(argv[4]);
		return forkstorm(atoi(argv[2]), atoi(argv[3]));
	}
	if (!strcmp(cmd, "lowfds") && argc == 4) {
		n_bytes = arg_size(argv[2]);
		return lowfds(atoi(argv[3]));
	}
	if (!strcmp(cmd, "version") && argc == 2) {
		printf("header=%d.%d.%d number=0x%06x library=0x%06x\n", SEEDCLIENT_VERSION_MAJOR,
		       SEEDCLIENT_VERSION_MINOR, SEEDCLIENT_VERSION_PATCH,
		       SEEDCLIENT_VERSION_NUMBER, seedclient_version());
		return 0;
	}
	if (!strcmp(cmd, "lasterror") && argc == 4) {
		n_bytes = arg_size(argv[2]);
		return lasterror(argv[3]);
	}
	if (!strcmp(cmd, "procs") && argc == 4) {
		n_bytes = arg_size(argv[3]);
		return procs(atoi(argv[2]));
	}
	fprintf(stderr, "usage: see the comment at the top of sctool.c\n");
	return 2;
}
