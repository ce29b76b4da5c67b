// SPDX-License-Identifier: MIT
/*
 * Fresh processes for run-bench.py, each a seedd-bench-once that reports
 * its first read (bench.h):
 *
 *   seedd-bench-spawn fresh --runs R CMD [:: CMD]...
 *   seedd-bench-spawn storm --procs N [--timeout S] CLIENT
 *   seedd-bench-spawn storm --procs N [--timeout S] --socket PATH --notify PATH
 *                           [--log PATH] CLIENT :: DAEMON
 *   seedd-bench-spawn crowd --procs N [--timeout S] [--daemon-pid PID] CLIENT
 *
 * A CMD is [NAME=VALUE]... PROGRAM [ARG]..., run with those variables added
 * to the environment, as env(1) does; PROGRAM is a path.
 *
 * fresh: fork + exec + wait of each CMD in turn, R rounds, so that load
 * drifts hit every CMD alike.
 * storm: N clients started at once. With a daemon, the socket is created and
 * listened on here, as systemd's socket activation does; once all N clients
 * sit in its listen queue, DAEMON starts with LISTEN_FDS=1 and a
 * NOTIFY_SOCKET of ours, and the clients are timed until each has its seed.
 * crowd: N clients that each read once and stay alive until all have read;
 * then the memory of the daemon and of the clients is read from /proc.
 *
 * Each run prints one JSON object with raw times in ns relative to the first
 * start; run-bench.py computes the statistics. Exits 0 when nothing broke
 * (a client that failed to read is a result, not a breakage).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <netinet/tcp.h>

#include "bench.h"
#include "measure.h"

#define MAX_CMDS 8
#define WARMUP_RUNS 10
#define STOP_TIMEOUT_NS 10000000000ll

extern char **environ;

struct cmd {
	char **assign; /* NAME=VALUE words */
	size_t n_assign;
	char **argv; /* PROGRAM ARG..., NULL-terminated */
};

/* N clients started together, with their records in one shared file. */
struct crowd {
	unsigned n;
	pid_t *pid;
	int64_t *start_ns;
	int *status; /* wait status, -1 while not reaped */
	struct bench_record *rec;
	int memfd;
	int done_r; /* EOF once every client has exited */
	int hold_w; /* closing it lets the clients exit (crowd mode) */
	int64_t t0;
};

static void die(const char *what)
{
	fprintf(stderr, "seedd-bench-spawn: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void usage(void)
{
	fprintf(stderr,
		"usage: seedd-bench-spawn fresh --runs R CMD [:: CMD]...\n"
		"       seedd-bench-spawn storm --procs N [--timeout S] "
		"[--socket PATH --notify PATH [--log PATH]] CLIENT [:: DAEMON]\n"
		"       seedd-bench-spawn crowd --procs N [--timeout S] [--daemon-pid PID] CLIENT\n"
		"CMD: [NAME=VALUE]... PROGRAM [ARG]...\n");
	exit(2);
}

static int name_is(const char *entry, const char *name, size_t len)
{
	return strncmp(entry, name, len) == 0 && entry[len] == '=';
}

/*
 * environ without the variables this program hands out itself, then the
 * command's assignments, then room for extra entries from *used on.
 */
static char **env_new(const struct cmd *c, size_t extra, size_t *used)
{
	static const char *const ours[] = { "LISTEN_FDS",	 "LISTEN_PID",
					    "LISTEN_FDNAMES",	 "NOTIFY_SOCKET",
					    BENCH_ENV_REPORT_FD, BENCH_ENV_SLOT,
					    BENCH_ENV_DONE_FD,	 BENCH_ENV_HOLD_FD };
	size_t n = 0, k = 0;
	char **env;

	while (environ[n])
		n++;
	env = calloc(n + c->n_assign + extra + 1, sizeof(*env));
	if (!env)
		die("calloc");
	for (size_t i = 0; i < n; i++) {
		int skip = 0;

		for (size_t j = 0; j < sizeof(ours) / sizeof(ours[0]); j++)
			skip |= name_is(environ[i], ours[j], strlen(ours[j]));
		for (size_t j = 0; j < c->n_assign; j++)
			skip |= name_is(environ[i], c->assign[j],
					(size_t)(strchr(c->assign[j], '=') - c->assign[j]));
		if (!skip)
			env[k++] = environ[i];
	}
	for (size_t j = 0; j < c->n_assign; j++)
		env[k++] = c->assign[j];
	*used = k;
	return env;
}

/* "NAME=V", for the environment. */
static char *env_var(const char *name, long v)
{
	char *s;

	if (asprintf(&s, "%s=%ld", name, v) < 0)
		die("asprintf");
	return s;
}

/* Splits argv at "::" into commands; returns how many. */
static size_t parse_cmds(char **argv, int argc, struct cmd *cmds)
{
	size_t n = 0;
	int i = 0;

	while (i < argc) {
		struct cmd *c = &cmds[n];

		if (n == MAX_CMDS)
			usage();
		c->assign = &argv[i];
		c->n_assign = 0;
		while (i < argc && argv[i][0] != '/' && strchr(argv[i], '=')) {
			c->n_assign++;
			i++;
		}
		if (i == argc || strcmp(argv[i], "::") == 0)
			usage();
		c->argv = &argv[i];
		while (i < argc && strcmp(argv[i], "::") != 0)
			i++;
		if (i < argc)
			argv[i++] = NULL; /* ends this command's argv */
		n++;
	}
	return n;
}

static void json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			printf("\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			printf("\\u%04x", *s);
		else
			putchar(*s);
	}
	putchar('"');
}

static void json_argv(char **argv)
{
	char line[4096];
	size_t off = 0;

	line[0] = 0;
	for (; *argv && off < sizeof(line); argv++)
		off +=
		    (size_t)snprintf(line + off, sizeof(line) - off, "%s%s", off ? " " : "", *argv);
	json_str(line);
}

static void json_i64s(const char *name, const int64_t *v, size_t n)
{
	printf("\"%s\": [", name);
	for (size_t i = 0; i < n; i++)
		printf("%s%" PRId64, i ? ", " : "", v[i]);
	printf("]");
}

/* fork + exec + wait of one command; returns 0 with *ns and *rec filled in. */
static int fresh_once(const struct cmd *c, char **env, int wfd, int rfd, uint64_t *ns,
		      struct bench_record *rec)
{
	int64_t t0 = measure_now_ns();
	pid_t pid = fork();
	ssize_t n;
	int st;

	if (pid < 0)
		die("fork");
	if (pid == 0) {
		fcntl(wfd, F_SETFD, 0);
		execve(c->argv[0], c->argv, env);
		_exit(127);
	}
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			die("waitpid");
	*ns = (uint64_t)(measure_now_ns() - t0);
	n = read(rfd, rec, sizeof(*rec));
	if (n != (ssize_t)sizeof(*rec) || !rec->done)
		return -1;
	rec->main_ns -= t0;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 && rec->error == 0 ? 0 : -1;
}

static int run_fresh(unsigned runs, struct cmd *cmds, size_t ncmd)
{
	int64_t *total[MAX_CMDS], *main_ns[MAX_CMDS], *rd[MAX_CMDS];
	unsigned ok[MAX_CMDS] = { 0 }, errors[MAX_CMDS] = { 0 };
	char **env[MAX_CMDS];
	struct bench_record rec;
	int p[2];
	uint64_t ns;

	if (pipe2(p, O_CLOEXEC | O_NONBLOCK) < 0)
		die("pipe2");
	for (size_t k = 0; k < ncmd; k++) {
		size_t u;

		env[k] = env_new(&cmds[k], 1, &u);
		env[k][u] = env_var(BENCH_ENV_REPORT_FD, p[1]);
		total[k] = calloc(runs, sizeof(int64_t));
		main_ns[k] = calloc(runs, sizeof(int64_t));
		rd[k] = calloc(runs, sizeof(int64_t));
		if (!total[k] || !main_ns[k] || !rd[k])
			die("calloc");
	}
	/* The page cache and the dynamic loader's files, warm for every command. */
	for (int i = 0; i < WARMUP_RUNS; i++)
		for (size_t k = 0; k < ncmd; k++)
			fresh_once(&cmds[k], env[k], p[1], p[0], &ns, &rec);
	for (unsigned i = 0; i < runs; i++) {
		for (size_t j = 0; j < ncmd; j++) {
			size_t k = (i + j) % ncmd; /* no command always runs right after another */

			if (fresh_once(&cmds[k], env[k], p[1], p[0], &ns, &rec) < 0) {
				errors[k]++;
				continue;
			}
			total[k][ok[k]] = (int64_t)ns;
			main_ns[k][ok[k]] = rec.main_ns;
			rd[k][ok[k]] = rec.after_ns - rec.before_ns;
			ok[k]++;
		}
	}

	printf("{\"mode\": \"fresh\", \"runs\": %u, \"programs\": [", runs);
	for (size_t k = 0; k < ncmd; k++) {
		printf("%s{\"argv\": ", k ? ", " : "");
		json_argv(cmds[k].argv);
		printf(", \"errors\": %u, ", errors[k]);
		json_i64s("total_ns", total[k], ok[k]);
		printf(", ");
		json_i64s("main_ns", main_ns[k], ok[k]);
		printf(", ");
		json_i64s("read_ns", rd[k], ok[k]);
		printf("}");
	}
	printf("]}\n");
	for (size_t k = 0; k < ncmd; k++)
		if (errors[k])
			return 1;
	return 0;
}

/* Starts n clients at once; their records land in cw->rec. */
static void crowd_start(struct crowd *cw, const struct cmd *c, unsigned n, int hold)
{
	char slot[32];
	size_t u, size = (size_t)n * sizeof(struct bench_record);
	int done[2], hp[2] = { -1, -1 };
	char **env;

	cw->n = n;
	cw->pid = calloc(n, sizeof(*cw->pid));
	cw->start_ns = calloc(n, sizeof(*cw->start_ns));
	cw->status = malloc(n * sizeof(*cw->status));
	if (!cw->pid || !cw->start_ns || !cw->status)
		die("calloc");
	for (unsigned i = 0; i < n; i++)
		cw->status[i] = -1;
	cw->memfd = memfd_create("seedd-bench", 0); /* inherited: the clients write to it */
	if (cw->memfd < 0 || ftruncate(cw->memfd, (off_t)size) < 0)
		die("memfd_create");
	cw->rec = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, cw->memfd, 0);
	if (cw->rec == MAP_FAILED)
		die("mmap");
	if (pipe2(done, O_CLOEXEC) < 0 || fcntl(done[1], F_SETFD, 0) < 0 ||
	    (hold && (pipe2(hp, O_CLOEXEC) < 0 || fcntl(hp[0], F_SETFD, 0) < 0)))
		die("pipe2");
	cw->done_r = done[0];
	cw->hold_w = hp[1];

	env = env_new(c, 4, &u);
	env[u++] = env_var(BENCH_ENV_REPORT_FD, cw->memfd);
	env[u++] = env_var(BENCH_ENV_DONE_FD, done[1]);
	if (hold)
		env[u++] = env_var(BENCH_ENV_HOLD_FD, hp[0]);
	env[u] = slot;
	for (unsigned i = 0; i < n; i++) {
		int r;

		snprintf(slot, sizeof(slot), BENCH_ENV_SLOT "=%u", i);
		cw->start_ns[i] = measure_now_ns();
		/* vfork-like: the environment is copied before this returns. */
		r = posix_spawn(&cw->pid[i], c->argv[0], NULL, NULL, c->argv, env);
		if (r) {
			errno = r;
			for (unsigned j = 0; j < i; j++)
				kill(cw->pid[j], SIGKILL);
			die(c->argv[0]);
		}
	}
	cw->t0 = cw->start_ns[0];
	/* From here on only the clients hold these: EOF on done_r means all are gone. */
	close(done[1]);
	if (hold)
		close(hp[0]);
	fcntl(cw->memfd, F_SETFD, FD_CLOEXEC);
}

/* Reaps client pid if it has exited; returns 1 when it was reaped now. */
static int crowd_reap(struct crowd *cw, pid_t pid, int st)
{
	for (unsigned i = 0; i < cw->n; i++) {
		if (cw->pid[i] == pid) {
			cw->status[i] = st;
			return 1;
		}
	}
	return 0;
}

static void crowd_kill(struct crowd *cw)
{
	for (unsigned i = 0; i < cw->n; i++)
		if (cw->status[i] == -1)
			kill(cw->pid[i], SIGKILL);
}

static void crowd_wait_all(struct crowd *cw)
{
	for (unsigned i = 0; i < cw->n; i++) {
		while (cw->status[i] == -1 && waitpid(cw->pid[i], &cw->status[i], 0) < 0) {
			if (errno != EINTR) {
				cw->status[i] = 0x7f00; /* not ours to wait for: counts as failed */
				break;
			}
		}
	}
}

/* Prints the clients' times and results; returns how many failed. */
static unsigned crowd_print(const struct crowd *cw)
{
	int64_t *start = calloc(cw->n, sizeof(int64_t)), *seed = calloc(cw->n, sizeof(int64_t));
	int64_t *err = calloc(cw->n, sizeof(int64_t));
	unsigned failed = 0, bad_exits = 0;

	if (!start || !seed || !err)
		die("calloc");
	for (unsigned i = 0; i < cw->n; i++) {
		const struct bench_record *r = &cw->rec[i];
		int st = cw->status[i];

		start[i] = cw->start_ns[i] - cw->t0;
		seed[i] = r->done && !r->error ? r->after_ns - cw->t0 : -1;
		err[i] = r->done ? r->error : -1; /* -1: no report at all */
		if (!WIFEXITED(st) || (WEXITSTATUS(st) != 0 && !(r->done && r->error)))
			bad_exits++;
		if (seed[i] < 0)
			failed++;
	}
	printf("\"failed\": %u, \"bad_exits\": %u, ", failed, bad_exits);
	json_i64s("start_ns", start, cw->n);
	printf(", ");
	json_i64s("seed_ns", seed, cw->n);
	printf(", ");
	json_i64s("error", err, cw->n);
	free(start);
	free(seed);
	free(err);
	return bad_exits;
}

static int ms_until(int64_t deadline)
{
	int64_t left = deadline - measure_now_ns();

	return left <= 0 ? 0 : (int)((left + 999999) / 1000000);
}

static void sleep_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = ms % 1000 * 1000000 };

	nanosleep(&ts, NULL);
}

/* Connections waiting in the listen queue of the socket with inode ino, or -errno. */
static int queue_len(int nl, ino_t ino)
{
	struct {
		struct nlmsghdr nh;
		struct unix_diag_req req;
	} q = {
		.nh = { .nlmsg_len = sizeof(q),
			.nlmsg_type = SOCK_DIAG_BY_FAMILY,
			.nlmsg_flags = NLM_F_REQUEST },
		.req = { .sdiag_family = AF_UNIX,
			 .udiag_states = 1 << TCP_LISTEN,
			 .udiag_ino = (uint32_t)ino,
			 .udiag_show = UDIAG_SHOW_RQLEN,
			 .udiag_cookie = { INET_DIAG_NOCOOKIE, INET_DIAG_NOCOOKIE } },
	};
	union {
		struct nlmsghdr nh;
		char buf[8192];
	} a;
	struct nlmsghdr *nh = &a.nh;
	ssize_t n;

	if (send(nl, &q, sizeof(q), 0) < 0)
		return -errno;
	n = recv(nl, a.buf, sizeof(a.buf), 0);
	if (n < 0)
		return -errno;
	for (; NLMSG_OK(nh, (size_t)n); nh = NLMSG_NEXT(nh, n)) {
		struct unix_diag_msg *m = NLMSG_DATA(nh);
		struct rtattr *at = (struct rtattr *)(m + 1);
		int len = (int)nh->nlmsg_len - (int)NLMSG_LENGTH(sizeof(*m));

		if (nh->nlmsg_type == NLMSG_ERROR)
			return ((struct nlmsgerr *)NLMSG_DATA(nh))->error ?: -EPROTO;
		if (nh->nlmsg_type != SOCK_DIAG_BY_FAMILY)
			continue;
		for (; RTA_OK(at, len); at = RTA_NEXT(at, len)) {
			struct unix_diag_rqlen rq;

			if (at->rta_type != UNIX_DIAG_RQLEN)
				continue;
			memcpy(&rq, RTA_DATA(at), sizeof(rq));
			return (int)rq.udiag_rqueue;
		}
	}
	return -EPROTO;
}

static int unix_socket(int type, const char *path, struct sockaddr_un *sa)
{
	int fd;

	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa->sun_path)) {
		fprintf(stderr, "seedd-bench-spawn: socket path %s is too long\n", path);
		exit(1);
	}
	strcpy(sa->sun_path, path);
	fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)sa, sizeof(*sa)) < 0)
		die(path);
	return fd;
}

/* As systemd starts a socket-activated service: the socket on fd 3. */
static pid_t daemon_start(const struct cmd *c, int lfd, const char *notify, const char *log,
			  int64_t *exec_ns)
{
	pid_t pid = fork();
	size_t u;
	char **env;

	if (pid < 0)
		die("fork");
	if (pid > 0)
		return pid;
	if (log) {
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);

		if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
			_exit(127);
	}
	if (lfd == 3 ? fcntl(3, F_SETFD, 0) < 0 : dup2(lfd, 3) < 0)
		_exit(127);
	env = env_new(c, 3, &u);
	env[u++] = "LISTEN_FDS=1";
	env[u++] = env_var("LISTEN_PID", getpid());
	if (asprintf(&env[u], "NOTIFY_SOCKET=%s", notify) < 0)
		_exit(127);
	*exec_ns = measure_now_ns();
	execve(c->argv[0], c->argv, env);
	_exit(127);
}

/*
 * When READY=1 arrived on the notify socket, on CLOCK_MONOTONIC, from the
 * kernel's receive timestamp: this program may run well after the daemon
 * sent it. Returns -1 when no READY=1 was queued.
 */
static int64_t notify_ready(int nfd)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(struct timespec))];
	} cm;
	char buf[4096];
	struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) - 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	int64_t ready = -1;
	ssize_t n;

	for (;;) {
		struct cmsghdr *c;
		struct timespec real, mono, at = { 0 };

		mh.msg_control = cm.buf;
		mh.msg_controllen = sizeof(cm.buf);
		n = recvmsg(nfd, &mh, MSG_DONTWAIT);
		if (n < 0)
			return ready;
		buf[n] = 0;
		if (strncmp(buf, "READY=1", 7) != 0 && !strstr(buf, "\nREADY=1"))
			continue;
		for (c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
			if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS)
				memcpy(&at, CMSG_DATA(c), sizeof(at));
		clock_gettime(CLOCK_REALTIME, &real);
		clock_gettime(CLOCK_MONOTONIC, &mono);
		ready = measure_now_ns();
		if (at.tv_sec)
			ready = (int64_t)mono.tv_sec * 1000000000 + mono.tv_nsec -
				(((int64_t)real.tv_sec - at.tv_sec) * 1000000000 +
				 (real.tv_nsec - at.tv_nsec));
	}
}

static int daemon_stop(pid_t pid)
{
	int64_t deadline = measure_now_ns() + STOP_TIMEOUT_NS;
	int st;

	kill(pid, SIGTERM);
	for (;;) {
		pid_t r = waitpid(pid, &st, WNOHANG);

		if (r == pid)
			return WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st);
		if (r < 0 && errno != EINTR)
			return -1;
		if (measure_now_ns() > deadline) {
			kill(pid, SIGKILL);
			deadline = INT64_MAX;
		}
		sleep_ms(1);
	}
}

static int run_storm(unsigned n, double timeout, const char *sock, const char *notify,
		     const char *log, struct cmd *cmds, size_t ncmd)
{
	int64_t deadline, *exec_ns, queued = -1, ready = -1, last_exit = -1, dexec = -1;
	int lfd = -1, nfd = -1, nl = -1, dstatus = 0, broken = 0;
	struct sockaddr_un sa;
	struct crowd cw = { 0 };
	const char *why = NULL;
	pid_t dpid = -1;
	struct stat st;
	unsigned bad;

	if ((ncmd == 2) != (sock && notify))
		usage();
	exec_ns =
	    mmap(NULL, sizeof(*exec_ns), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (exec_ns == MAP_FAILED)
		die("mmap");
	if (sock) {
		lfd = unix_socket(SOCK_SEQPACKET, sock, &sa);
		if (listen(lfd, SOMAXCONN) < 0 || fstat(lfd, &st) < 0)
			die(sock);
		nfd = unix_socket(SOCK_DGRAM, notify, &sa);
		if (setsockopt(nfd, SOL_SOCKET, SO_TIMESTAMPNS, &(int){ 1 }, sizeof(int)) < 0)
			die("SO_TIMESTAMPNS");
		nl = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
		if (nl < 0)
			die("netlink");
		errno = -queue_len(nl, st.st_ino);
		if (errno > 0)
			die("reading the listen queue (sock_diag)");
	}

	crowd_start(&cw, &cmds[0], n, 0);
	deadline = measure_now_ns() + (int64_t)(timeout * 1e9);
	if (sock) {
		unsigned gone = 0;

		/* All N connected and waiting: nobody accepts yet. */
		for (;;) {
			int q = queue_len(nl, st.st_ino), s;
			pid_t p;

			while ((p = waitpid(-1, &s, WNOHANG)) > 0)
				gone += (unsigned)crowd_reap(&cw, p, s);
			if (q < 0 || (unsigned)q + gone >= n)
				break;
			if (measure_now_ns() > deadline) {
				why = "the clients did not all connect in time";
				break;
			}
			sleep_ms(1);
		}
		queued = measure_now_ns() - cw.t0;
		if (!why)
			dpid = daemon_start(&cmds[1], lfd, notify, log, exec_ns);
		close(lfd);
	}

	while (!why) {
		struct pollfd p[2] = { { .fd = cw.done_r, .events = POLLIN },
				       { .fd = nfd, .events = POLLIN } };
		int ms = ms_until(deadline), s;
		char buf[512];

		if (ms == 0) {
			why = "timed out waiting for the clients";
			break;
		}
		/* At most 50 ms: a daemon that died wakes nobody. */
		if (poll(p, nfd >= 0 ? 2 : 1, ms < 50 ? ms : 50) < 0 && errno != EINTR)
			die("poll");
		if (nfd >= 0 && (p[1].revents & POLLIN) && ready < 0) {
			int64_t at = notify_ready(nfd);

			if (at >= 0)
				ready = at - cw.t0;
		}
		if (p[0].revents & (POLLIN | POLLHUP)) {
			ssize_t r = read(cw.done_r, buf, sizeof(buf));

			if (r == 0) {
				last_exit = measure_now_ns() - cw.t0;
				break;
			}
		}
		if (dpid > 0 && waitpid(dpid, &s, WNOHANG) == dpid) {
			dstatus = WIFEXITED(s) ? WEXITSTATUS(s) : -WTERMSIG(s);
			dpid = -1;
			why = "seedd exited before every client had its seed";
		}
	}
	if (why)
		crowd_kill(&cw);
	crowd_wait_all(&cw);
	if (dpid > 0) {
		dstatus = daemon_stop(dpid);
		if (dstatus != 0)
			why = "seedd did not exit 0 on SIGTERM";
	}
	if (sock) {
		dexec = *exec_ns ? *exec_ns - cw.t0 : -1;
		unlink(sock);
		unlink(notify);
	}

	printf("{\"mode\": \"storm\", \"procs\": %u, \"daemon\": %s, ", n, sock ? "true" : "false");
	printf("\"spawned_ns\": %" PRId64 ", \"queued_ns\": %" PRId64 ", ",
	       cw.start_ns[n - 1] - cw.t0, queued);
	printf("\"daemon_exec_ns\": %" PRId64 ", \"ready_ns\": %" PRId64 ", ", dexec, ready);
	printf("\"last_exit_ns\": %" PRId64 ", \"daemon_status\": %d, ", last_exit, dstatus);
	if (why) {
		printf("\"broken\": ");
		json_str(why);
		printf(", ");
		broken = 1;
	}
	bad = crowd_print(&cw);
	printf("}\n");
	return broken || bad ? 1 : 0;
}

/* A "Key:  N kB" line of a /proc file, in KiB; -1 when missing. */
static long proc_kib(const char *path, const char *key)
{
	char line[256];
	size_t kl = strlen(key);
	long v = -1;
	FILE *f = fopen(path, "re");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, key, kl) == 0 && line[kl] == ':') {
			v = strtol(line + kl + 1, NULL, 10);
			break;
		}
	fclose(f);
	return v;
}

static int run_crowd(unsigned n, double timeout, long daemon_pid, struct cmd *cmds, size_t ncmd)
{
	int64_t deadline, all = -1, last_exit = -1;
	long rss = -1, c_rss = 0, c_pss = 0;
	unsigned got = 0, gone = 0, distinct = 0, k = 0;
	struct crowd cw = { 0 };
	const char *why = NULL;
	uint64_t *dig;
	char path[64];

	if (ncmd != 1)
		usage();
	crowd_start(&cw, &cmds[0], n, 1);
	deadline = measure_now_ns() + (int64_t)(timeout * 1e9);
	/* Every client has read (or died trying) while all of them are alive. */
	while (got + gone < n) {
		struct pollfd p = { .fd = cw.done_r, .events = POLLIN };
		int ms = ms_until(deadline), s;
		char buf[512];
		pid_t pid;

		if (ms == 0) {
			why = "timed out waiting for the clients";
			break;
		}
		if (poll(&p, 1, ms < 50 ? ms : 50) < 0 && errno != EINTR)
			die("poll");
		if (p.revents & POLLIN) {
			ssize_t r = read(cw.done_r, buf, sizeof(buf));

			if (r > 0)
				got += (unsigned)r;
		}
		/* A client that exits without a report would never send its byte. */
		while ((pid = waitpid(-1, &s, WNOHANG)) > 0)
			if (crowd_reap(&cw, pid, s))
				for (unsigned i = 0; i < n; i++)
					if (cw.pid[i] == pid && !cw.rec[i].done)
						gone++;
	}
	if (!why) {
		all = measure_now_ns() - cw.t0;
		if (daemon_pid > 0) {
			snprintf(path, sizeof(path), "/proc/%ld/status", daemon_pid);
			rss = proc_kib(path, "VmRSS");
		}
		for (unsigned i = 0; i < n; i++) {
			if (cw.status[i] != -1)
				continue;
			snprintf(path, sizeof(path), "/proc/%ld/smaps_rollup", (long)cw.pid[i]);
			c_rss += proc_kib(path, "Rss");
			c_pss += proc_kib(path, "Pss");
		}
	}
	if (cw.hold_w >= 0)
		close(cw.hold_w);
	if (why)
		crowd_kill(&cw);
	else {
		char buf[512];
		ssize_t r;

		while ((r = read(cw.done_r, buf, sizeof(buf))) > 0 || (r < 0 && errno == EINTR))
			;
		last_exit = measure_now_ns() - cw.t0;
	}
	crowd_wait_all(&cw);

	dig = calloc(n, sizeof(*dig));
	if (!dig)
		die("calloc");
	for (unsigned i = 0; i < n; i++)
		if (cw.rec[i].done && !cw.rec[i].error)
			dig[k++] = cw.rec[i].digest;
	measure_sort(dig, k);
	for (unsigned i = 0; i < k; i++)
		distinct += i == 0 || dig[i] != dig[i - 1];
	free(dig);

	printf("{\"mode\": \"crowd\", \"procs\": %u, \"spawned_ns\": %" PRId64
	       ", \"all_read_ns\": %" PRId64 ", \"last_exit_ns\": %" PRId64 ", "
	       "\"daemon_rss_kib\": %ld, \"clients_rss_kib\": %ld, \"clients_pss_kib\": %ld, "
	       "\"distinct\": %u, ",
	       n, cw.start_ns[n - 1] - cw.t0, all, last_exit, rss, c_rss, c_pss, distinct);
	if (why) {
		printf("\"broken\": ");
		json_str(why);
		printf(", ");
	}
	crowd_print(&cw);
	printf("}\n");
	return why ? 1 : 0;
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
	const char *mode = argc > 1 ? argv[1] : "", *sock = NULL, *notify = NULL, *log = NULL;
	unsigned runs = 500, procs = 1000;
	double timeout = 120;
	long daemon_pid = -1;
	struct cmd cmds[MAX_CMDS];
	size_t ncmd;
	int i;

	for (i = 2; i + 1 < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
		const char *v = argv[i + 1];

		if (strcmp(argv[i], "--runs") == 0)
			runs = (unsigned)num_arg(v, 1, 1000000);
		else if (strcmp(argv[i], "--procs") == 0)
			procs = (unsigned)num_arg(v, 1, 30000);
		else if (strcmp(argv[i], "--timeout") == 0)
			timeout = num_arg(v, 0.1, 3600);
		else if (strcmp(argv[i], "--daemon-pid") == 0)
			daemon_pid = (long)num_arg(v, 1, 1 << 30);
		else if (strcmp(argv[i], "--socket") == 0)
			sock = v;
		else if (strcmp(argv[i], "--notify") == 0)
			notify = v;
		else if (strcmp(argv[i], "--log") == 0)
			log = v;
		else
			usage();
	}
	ncmd = parse_cmds(argv + i, argc - i, cmds);
	if (ncmd == 0)
		usage();
	setvbuf(stdout, NULL, _IOFBF, 1 << 16);
	signal(SIGPIPE, SIG_IGN);
	if (strcmp(mode, "fresh") == 0)
		return run_fresh(runs, cmds, ncmd);
	if (strcmp(mode, "storm") == 0)
		return run_storm(procs, timeout, sock, notify, log, cmds, ncmd);
	if (strcmp(mode, "crowd") == 0)
		return run_crowd(procs, timeout, daemon_pid, cmds, ncmd);
	usage();
}
