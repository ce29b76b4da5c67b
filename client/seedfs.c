// SPDX-License-Identifier: MIT
/*
 * seedfs: MOUNTPOINT/seedfile as a view of seedd, for programs built with the
 * Mbed TLS NV seed guide's option 1 (stdio on "seedfile") that cannot be
 * relinked against libseedclient.
 *
 * Every read(2) of the file gets fresh bytes from seedd and every write(2) is
 * a PUT, which seedd mixes into its pool: nothing is stored, nothing cached,
 * so no reader ever sees bytes served to another, and with seedd gone every
 * read fails (EIO). Nothing can be created, renamed or removed here.
 *
 * Who reads: seedd's allow lists and per-user limits are to judge the
 * reading process, not seedfs. So each request connects afresh with the
 * identity of the process that opened the file (its uid, gid and groups, as
 * FUSE and /proc give them) borrowed by the calling thread alone, through the
 * raw set*id system calls (glibc's wrappers would change every thread), for
 * connect(2) only: SO_PEERCRED, which the daemon reads, is taken there. The
 * thread then checks the daemon's own credentials as seedfs, exactly as
 * libseedclient does, and talks to it. No daemon change, no new trust.
 *
 * The page cache is the one place where bytes could outlive their reader:
 * the file is opened with direct I/O, so read(2) always reaches us, and a
 * read for the page cache (a private mmap, readahead(2)), which the kernel
 * would then share with every later mapper, is refused.
 */
#define FUSE_USE_VERSION FUSE_MAKE_VERSION(3, 12)

#include <errno.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "config.h"
#include "seedd-protocol.h"
#include "util.h"

#if HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

/*
 * The file's size: the largest Mbed TLS entropy block. The NV seed read wants
 * buf_len (32 or 64) bytes, and mbedtls_ctr_drbg_update_seed_file(), which
 * option-1 programs call on the same "seedfile", wants end of file before 256.
 */
#define SEEDFS_SIZE 64
#define SEEDFS_NAME "seedfile"
#define SEEDFS_INO 2
/* The kernel may cache names and attributes: neither ever changes. */
#define SEEDFS_CACHE_S 3600.0
/* What systemd's file descriptor store calls the FUSE connection. */
#define SEEDFS_FDNAME "fuse"

/* The 32-bit id calls where the plain ones take 16-bit ids (i386, arm). */
#ifdef SYS_setresuid32
#define NR_setresuid SYS_setresuid32
#define NR_setresgid SYS_setresgid32
#define NR_setgroups SYS_setgroups32
#else
#define NR_setresuid SYS_setresuid
#define NR_setresgid SYS_setresgid
#define NR_setgroups SYS_setgroups
#endif

/* Who opened the file: what its requests connect to seedd as. */
struct seedfs_id {
	uid_t uid;
	gid_t gid;
	size_t n;
	gid_t groups[];
};

static struct {
	const char *socket;
	const char *mountpoint;
	int timeout_ms;
	struct timespec started;
	/* seedfs's own identity, which every thread returns to. */
	struct seedfs_id *self;
	bool notify;
} seedfs;

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

__attribute__((format(printf, 1, 2))) static void say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("seedfs: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

/*
 * A failed request, logged at most once a second (any user can make them
 * fail as often as he likes), with the count of those left unsaid.
 */
static void seedfs_log_failure(const char *what, const struct fuse_ctx *ctx, int err)
{
	static int64_t last = INT64_MIN / 2;
	static unsigned quiet;
	int64_t now = now_ms();

	pthread_mutex_lock(&log_lock);
	if (now - last < 1000) {
		quiet++;
	} else if (quiet) {
		say("%s by uid %u (pid %d) failed: %s (and %u more failures unlogged)", what,
		    (unsigned)ctx->uid, (int)ctx->pid, strerror(-err), quiet);
	} else {
		say("%s by uid %u (pid %d) failed: %s", what, (unsigned)ctx->uid, (int)ctx->pid,
		    strerror(-err));
	}
	if (now - last >= 1000) {
		last = now;
		quiet = 0;
	}
	pthread_mutex_unlock(&log_lock);
}

/* "a b c d" (tab-separated ids): whether the fourth, the fs id, is want. */
static bool fs_id_is(const char *s, unsigned long want)
{
	unsigned long v[4];

	return sscanf(s, "%lu %lu %lu %lu", &v[0], &v[1], &v[2], &v[3]) == 4 && v[3] == want;
}

/* The groups of a "Groups:" line into a new seedfs_id; 0 or -errno. */
static int id_parse_groups(const char *s, uid_t uid, gid_t gid, struct seedfs_id **out)
{
	size_t n = 0;
	struct seedfs_id *id;

	for (const char *p = s; *p;) {
		p += strspn(p, " \t\n");
		if (!*p)
			break;
		n++;
		p += strcspn(p, " \t\n");
	}
	if (n > NGROUPS_MAX)
		return -E2BIG;
	id = malloc(sizeof(*id) + n * sizeof(id->groups[0]));
	if (!id)
		return -ENOMEM;
	id->uid = uid;
	id->gid = gid;
	id->n = n;
	for (size_t i = 0; i < n; i++) {
		uint64_t g;
		char *end;

		s += strspn(s, " \t\n");
		errno = 0;
		g = strtoull(s, &end, 10);
		if (errno || end == s || g > UINT32_MAX - 1) {
			free(id);
			return -EINVAL;
		}
		id->groups[i] = (gid_t)g;
		s = end;
	}
	*out = id;
	return 0;
}

/*
 * The identity of the thread tid, which FUSE names as the caller of a request
 * with its fs uid and gid: the groups from /proc, once its Uid and Gid lines
 * show the same fs ids. The caller waits in the kernel until the request is
 * answered, even when killed, so tid cannot be reused meanwhile.
 */
static int id_read(pid_t tid, uid_t uid, gid_t gid, struct seedfs_id **out)
{
	char path[32], *line = NULL;
	size_t cap = 0;
	unsigned seen = 0;
	FILE *f;

	*out = NULL;
	if (tid <= 0)
		return -ESRCH;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)tid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (getline(&line, &cap, f) > 0) {
		if (strncmp(line, "Uid:", 4) == 0)
			seen |= fs_id_is(line + 4, uid) ? 1 : 8;
		else if (strncmp(line, "Gid:", 4) == 0)
			seen |= fs_id_is(line + 4, gid) ? 2 : 8;
		else if (strncmp(line, "Groups:", 7) == 0 && !*out &&
			 id_parse_groups(line + 7, uid, gid, out) == 0)
			seen |= 4;
	}
	free(line);
	fclose(f);
	if (seen == 7)
		return 0;
	free(*out);
	*out = NULL;
	return -ESRCH;
}

static bool id_same(const struct seedfs_id *a, const struct seedfs_id *b)
{
	return a->uid == b->uid && a->gid == b->gid && a->n == b->n &&
	       memcmp(a->groups, b->groups, a->n * sizeof(a->groups[0])) == 0;
}

/* Back to seedfs's own identity; a thread that cannot must not go on. */
static void id_restore(void)
{
	const struct seedfs_id *s = seedfs.self;

	/* The uid first: an effective uid 0 brings the capabilities back. */
	if (syscall(NR_setresuid, -1L, (long)s->uid, -1L) < 0 ||
	    syscall(NR_setresgid, -1L, (long)s->gid, -1L) < 0 ||
	    syscall(NR_setgroups, (long)s->n, s->groups) < 0)
		abort();
}

/*
 * This thread alone takes id's identity (the effective and fs ids, the
 * groups; the real and saved uid stay 0, so id_restore() can return). 1 when
 * it did, 0 when id is ours already, -EACCES when seedfs, not run as root,
 * cannot.
 */
static int id_become(const struct seedfs_id *id)
{
	if (id_same(id, seedfs.self))
		return 0;
	if (seedfs.self->uid != 0)
		return -EACCES;
	if (syscall(NR_setgroups, (long)id->n, id->groups) < 0 ||
	    syscall(NR_setresgid, -1L, (long)id->gid, -1L) < 0 ||
	    syscall(NR_setresuid, -1L, (long)id->uid, -1L) < 0) {
		int r = -errno;

		id_restore();
		return r;
	}
	return 1;
}

/*
 * One connection to seedd made as id, on which op is sent for each chunk of
 * buf (GET fills it, PUT sends it). 0 or -errno; buf is zeroed on failure.
 */
static int seedfs_call(const struct seedfs_id *id, uint8_t op, unsigned char *buf, size_t len)
{
	int64_t deadline = now_ms() + seedfs.timeout_ms;
	_cleanup_close_ int fd = sock_open();
	int r, t;

	if (fd < 0)
		return fd;
	r = id_become(id);
	if (r < 0)
		return r;
	t = sock_connect_fd(fd, seedfs.socket, seedfs.timeout_ms, deadline);
	if (r > 0)
		id_restore();
	if (t < 0)
		return t;
	r = client_check_daemon(fd, seedfs.socket);
	if (r == 0)
		r = sock_fit_timeouts(fd, t, deadline);
	for (size_t off = 0; r >= 0 && off < len; off += SEEDD_PROTO_MAX_PAYLOAD) {
		size_t chunk =
		    len - off < SEEDD_PROTO_MAX_PAYLOAD ? len - off : SEEDD_PROTO_MAX_PAYLOAD;
		struct seedd_get_req get = { .bytes = (uint32_t)chunk };

		if (op == SEEDD_OP_GET_SEED)
			r = client_call(fd, op, &get, sizeof(get), buf + off, chunk, deadline);
		else
			r = client_call(fd, op, buf + off, chunk, NULL, 0, deadline);
	}
	if (r < 0 && op == SEEDD_OP_GET_SEED)
		explicit_bzero(buf, len);
	return r < 0 ? r : 0;
}

/*
 * What a failed request answers: EACCES when seedd (or seedfs) refuses this
 * reader, EIO for everything else, a daemon that is down included.
 */
static int seedfs_errno(int r)
{
	return r == -EACCES ? EACCES : EIO;
}

static void seedfs_stat(fuse_ino_t ino, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	st->st_uid = seedfs.self->uid;
	st->st_gid = seedfs.self->gid;
	st->st_atim = st->st_mtim = st->st_ctim = seedfs.started;
	if (ino == FUSE_ROOT_ID) {
		st->st_mode = S_IFDIR | 0555;
		st->st_nlink = 2;
	} else {
		/* Everybody may open it: seedd judges each reader. */
		st->st_mode = S_IFREG | 0666;
		st->st_nlink = 1;
		st->st_size = SEEDFS_SIZE;
	}
}

static void seedfs_init(void *userdata, struct fuse_conn_info *conn)
{
	/* O_TRUNC with the open, not as a separate setattr. */
	if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC)
		conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
	/* A write-back cache would hold writes and grow the size. */
	conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
#if HAVE_SYSTEMD
	if (seedfs.notify)
		sd_notifyf(0, "READY=1\nSTATUS=Serving %s/" SEEDFS_NAME " from %s",
			   seedfs.mountpoint, seedfs.socket);
#endif
}

static void seedfs_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fuse_entry_param e = {
		.ino = SEEDFS_INO,
		.generation = 1,
		.attr_timeout = SEEDFS_CACHE_S,
		.entry_timeout = SEEDFS_CACHE_S,
	};

	if (parent != FUSE_ROOT_ID || strcmp(name, SEEDFS_NAME) != 0) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	seedfs_stat(e.ino, &e.attr);
	fuse_reply_entry(req, &e);
}

static void seedfs_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct stat st;

	if (ino != FUSE_ROOT_ID && ino != SEEDFS_INO) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	seedfs_stat(ino, &st);
	fuse_reply_attr(req, &st, SEEDFS_CACHE_S);
}

/*
 * The size and the times stay what they are, but truncating (fopen "w") and
 * touching succeed, as on a file one may write; owner and mode are fixed.
 */
static void seedfs_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
			   struct fuse_file_info *fi)
{
	if (to_set & (FUSE_SET_ATTR_MODE | FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)) {
		fuse_reply_err(req, EPERM);
		return;
	}
	seedfs_getattr(req, ino, fi);
}

static void seedfs_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			   struct fuse_file_info *fi)
{
	static const struct {
		const char *name;
		fuse_ino_t ino;
		mode_t mode;
	} entries[] = {
		{ ".", FUSE_ROOT_ID, S_IFDIR },
		{ "..", FUSE_ROOT_ID, S_IFDIR },
		{ SEEDFS_NAME, SEEDFS_INO, S_IFREG },
	};
	char buf[256];
	size_t len = 0, cap = size < sizeof(buf) ? size : sizeof(buf);

	if (ino != FUSE_ROOT_ID) {
		fuse_reply_err(req, ENOTDIR);
		return;
	}
	for (off_t i = off < 0 ? (off_t)ARRAY_SIZE(entries) : off; i < (off_t)ARRAY_SIZE(entries);
	     i++) {
		struct stat st = { .st_ino = entries[i].ino, .st_mode = entries[i].mode };
		size_t n =
		    fuse_add_direntry(req, buf + len, cap - len, entries[i].name, &st, i + 1);

		if (n > cap - len)
			break;
		len += n;
	}
	fuse_reply_buf(req, buf, len);
}

static void seedfs_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	struct seedfs_id *id;
	int r;

	if (ino != SEEDFS_INO) {
		fuse_reply_err(req, EISDIR);
		return;
	}
	r = id_read(ctx->pid, ctx->uid, ctx->gid, &id);
	if (r < 0) {
		seedfs_log_failure("open: its identity in /proc", ctx, r);
		fuse_reply_err(req, EACCES);
		return;
	}
	fi->fh = (uintptr_t)id;
	/* Every read(2) comes here; the page cache is never filled by one. */
	fi->direct_io = 1;
	fi->keep_cache = 0;
	/* Nothing to flush at close(2): one round trip less. */
	fi->noflush = 1;
	if (fuse_reply_open(req, fi) != 0)
		free(id);
}

static void seedfs_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	free((struct seedfs_id *)(uintptr_t)fi->fh);
	fuse_reply_err(req, 0);
}

static void seedfs_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			struct fuse_file_info *fi)
{
	unsigned char buf[SEEDFS_SIZE];
	size_t n;
	int r;

	/*
	 * Only a read(2) names the lock owner, the reader's file table; a read
	 * for the page cache does not, and the page would serve every mapper.
	 */
	if (!fi->lock_owner) {
		seedfs_log_failure("a read for the page cache (mmap)", fuse_req_ctx(req), -EIO);
		fuse_reply_err(req, EIO);
		return;
	}
	/* The end of the file, or nothing asked for: no need to ask seedd. */
	if (off < 0 || off >= SEEDFS_SIZE || size == 0) {
		fuse_reply_buf(req, NULL, 0);
		return;
	}
	n = size < (size_t)(SEEDFS_SIZE - off) ? size : (size_t)(SEEDFS_SIZE - off);
	r = seedfs_call((const struct seedfs_id *)(uintptr_t)fi->fh, SEEDD_OP_GET_SEED, buf, n);
	if (r < 0) {
		seedfs_log_failure("read", fuse_req_ctx(req), r);
		fuse_reply_err(req, seedfs_errno(r));
		return;
	}
	fuse_reply_buf(req, (const char *)buf, n);
	explicit_bzero(buf, sizeof(buf));
}

static void seedfs_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
			 struct fuse_file_info *fi)
{
	int r = seedfs_call((const struct seedfs_id *)(uintptr_t)fi->fh, SEEDD_OP_PUT_SEED,
			    (unsigned char *)buf, size);

	if (r < 0) {
		seedfs_log_failure("write", fuse_req_ctx(req), r);
		fuse_reply_err(req, seedfs_errno(r));
		return;
	}
	fuse_reply_write(req, size);
}

/* Nothing is created, linked, renamed or removed here, nor has attributes set. */
static void refuse(fuse_req_t req)
{
	fuse_reply_err(req, EPERM);
}

static void seedfs_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
			 dev_t rdev)
{
	refuse(req);
}

static void seedfs_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	refuse(req);
}

static void seedfs_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	refuse(req);
}

static void seedfs_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name)
{
	refuse(req);
}

static void seedfs_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
			  const char *newname, unsigned int flags)
{
	refuse(req);
}

static void seedfs_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname)
{
	refuse(req);
}

static void seedfs_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
			  struct fuse_file_info *fi)
{
	refuse(req);
}

static void seedfs_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
			    size_t size, int flags)
{
	refuse(req);
}

static void seedfs_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	refuse(req);
}

static const struct fuse_lowlevel_ops seedfs_ops = {
	.init = seedfs_init,
	.lookup = seedfs_lookup,
	.getattr = seedfs_getattr,
	.setattr = seedfs_setattr,
	.readdir = seedfs_readdir,
	.open = seedfs_open,
	.release = seedfs_release,
	.read = seedfs_read,
	.write = seedfs_write,
	.mknod = seedfs_mknod,
	.mkdir = seedfs_mkdir,
	.unlink = seedfs_unlink,
	.rmdir = seedfs_unlink,
	.symlink = seedfs_symlink,
	.rename = seedfs_rename,
	.link = seedfs_link,
	.create = seedfs_create,
	.setxattr = seedfs_setxattr,
	.removexattr = seedfs_removexattr,
};

/* seedfs's own uid, gid and groups, taken once: 0 or -errno. */
static int self_read(void)
{
	int n = getgroups(0, NULL);
	struct seedfs_id *id;

	if (n < 0)
		return -errno;
	id = calloc(1, sizeof(*id) + (size_t)n * sizeof(id->groups[0]));
	if (!id)
		return -ENOMEM;
	n = getgroups(n, id->groups);
	if (n < 0) {
		free(id);
		return -errno;
	}
	id->n = (size_t)n;
	id->uid = geteuid();
	id->gid = getegid();
	seedfs.self = id;
	return 0;
}

/*
 * The FUSE connection systemd passed (see --fdstore) as "/dev/fd/N" for
 * fuse_session_mount(), into path; 0 when it passed none, or -errno.
 */
static int passed_fuse_fd(char *path, size_t len)
{
#if HAVE_SYSTEMD
	char **names = NULL;
	int n = sd_listen_fds_with_names(1, &names), fd = 0;

	if (n < 0)
		return n;
	for (int i = 0; i < n; i++) {
		if (!fd && names && strcmp(names[i], SEEDFS_FDNAME) == 0)
			fd = SD_LISTEN_FDS_START + i;
		else
			close(SD_LISTEN_FDS_START + i);
	}
	for (int i = 0; names && i < n; i++)
		free(names[i]);
	free(names);
	if (fd)
		snprintf(path, len, "/dev/fd/%d", fd);
	return fd;
#else
	return 0;
#endif
}

/*
 * systemd runs even an ExecStartPre=+ in the unit's own mount namespace (only
 * without its restrictions), whose mounts never reach the host: the mount
 * is made in PID 1's. 0 or -errno.
 */
static int enter_host_mounts(void)
{
	struct stat self, host;
	_cleanup_close_ int fd = open("/proc/1/ns/mnt", O_RDONLY | O_CLOEXEC);

	if (fd < 0 || fstat(fd, &host) < 0 || stat("/proc/self/ns/mnt", &self) < 0)
		return -errno;
	if (self.st_dev == host.st_dev && self.st_ino == host.st_ino)
		return 0;
	return setns(fd, CLONE_NEWNS) < 0 ? -errno : 0;
}

/* Whether a seedfs file system is mounted at path, from /proc/self/mountinfo. */
static bool seedfs_mounted(const char *path)
{
	char *line = NULL;
	size_t cap = 0;
	bool found = false;
	FILE *f = fopen("/proc/self/mountinfo", "re");

	if (!f)
		return false;
	while (!found && getline(&line, &cap, f) > 0) {
		char mnt[PATH_MAX], *o, *sep = strstr(line, " - ");
		const char *i;
		int field = 0;

		if (!sep || strncmp(sep, " - fuse.seedfs ", 15) != 0)
			continue;
		/* The fifth field, with \ooo escapes (a space is \040). */
		for (i = line; field < 4 && i < sep; i++)
			field += *i == ' ';
		for (o = mnt; i < sep && *i != ' ' && o < mnt + sizeof(mnt) - 1; o++) {
			if (i[0] == '\\' && i[1] >= '0' && i[1] <= '3' && i[2] >= '0' &&
			    i[2] <= '7' && i[3] >= '0' && i[3] <= '7') {
				*o = (char)((i[1] - '0') << 6 | (i[2] - '0') << 3 | (i[3] - '0'));
				i += 4;
			} else {
				*o = *i++;
			}
		}
		*o = 0;
		found = strcmp(mnt, path) == 0;
	}
	free(line);
	fclose(f);
	return found;
}

/*
 * --unmount, and before --fdstore mounts: detaches the seedfs mount at
 * MOUNTPOINT in PID 1's namespace (what an ExecStopPost=+ umount would not
 * reach), without asking the file system anything: a dead connection
 * (ENOTCONN) or one nobody serves (a connection left in the store) would
 * answer no stat(2). Nothing else mounted there is touched. 0 or -errno.
 */
static int unmount_stale(void)
{
	int r = enter_host_mounts();

	if (r < 0) {
		say("cannot enter PID 1's mount namespace: %s", strerror(-r));
		return r;
	}
	if (!seedfs_mounted(seedfs.mountpoint))
		return 0;
	if (umount2(seedfs.mountpoint, MNT_DETACH | UMOUNT_NOFOLLOW) < 0) {
		r = -errno;
		say("cannot unmount %s: %s", seedfs.mountpoint, strerror(errno));
		return r;
	}
	return 0;
}

/*
 * The unit's mountpoint comes and goes with the mount: systemd's own
 * directories (RuntimeDirectory=) would be stat'ed by the very process that
 * is to serve them, before it runs, and a root program whose seedfile
 * points here must find no directory to create a plain file in.
 */
static int mountpoint_make(void)
{
	int r = 0;

	/* 0755 whatever the unit's UMask=: every user's programs come through it. */
	if (mkdir(seedfs.mountpoint, 0755) == 0)
		r = chmod(seedfs.mountpoint, 0755) < 0 ? -errno : 0;
	else if (errno != EEXIST)
		r = -errno;
	if (r < 0)
		say("cannot make %s: %s", seedfs.mountpoint, strerror(-r));
	return r;
}

static void mountpoint_remove(void)
{
	if (rmdir(seedfs.mountpoint) < 0 && errno != ENOENT)
		say("left %s: %s", seedfs.mountpoint, strerror(errno));
}

/*
 * --fdstore: mounts in PID 1's mount namespace and hands the connection to
 * systemd's file descriptor store, for the sandboxed seedfs that the unit
 * starts next, whose own mounts would not show on the host.
 */
static int store_fd(struct fuse_session *se)
{
#if HAVE_SYSTEMD
	int fd, r;

	if (!getenv("NOTIFY_SOCKET")) {
		say("--fdstore: not started by systemd ($NOTIFY_SOCKET is not set)");
		return -EINVAL;
	}
	/* A mount left by a seedfs that died with its connection in the store. */
	r = unmount_stale();
	if (r == 0)
		r = mountpoint_make();
	if (r < 0)
		return r;
	if (fuse_session_mount(se, seedfs.mountpoint) != 0)
		return -EIO;
	fd = fuse_session_fd(se);
	r = sd_pid_notify_with_fds(0, 0, "FDSTORE=1\nFDNAME=" SEEDFS_FDNAME, &fd, 1);
	/* The service starts only after the store has the fd. */
	if (r > 0)
		r = sd_notify_barrier(0, 5 * 1000000ULL);
	if (r <= 0) {
		say("--fdstore: cannot hand the FUSE connection to systemd: %s",
		    r < 0 ? strerror(-r) : "no notify socket");
		fuse_session_unmount(se);
		return r < 0 ? r : -EINVAL;
	}
	return 0;
#else
	say("--fdstore: seedfs is built without libsystemd");
	return -EOPNOTSUPP;
#endif
}

static int serve(struct fuse_session *se)
{
	char passed[32];
	struct fuse_loop_config *loop;
	int r = passed_fuse_fd(passed, sizeof(passed));

	if (r < 0) {
		say("cannot read the file descriptors systemd passed: %s", strerror(-r));
		return r;
	}
	if (fuse_set_signal_handlers(se) != 0)
		return -EIO;
	if (fuse_session_mount(se, r ? passed : seedfs.mountpoint) != 0) {
		fuse_remove_signal_handlers(se);
		return -EIO;
	}
#if HAVE_SYSTEMD
	/* Ours is then the connection's last fd: when seedfs dies, the mount fails (ENOTCONN). */
	if (r)
		sd_notify(0, "FDSTOREREMOVE=1\nFDNAME=" SEEDFS_FDNAME);
	seedfs.notify = getenv("NOTIFY_SOCKET") != NULL;
#endif
	loop = fuse_loop_cfg_create();
	if (!loop) {
		r = -ENOMEM;
	} else {
		/* A slow daemon holds a thread for up to a timeout: room for many readers. */
		fuse_loop_cfg_set_max_threads(loop, 64);
		fuse_loop_cfg_set_idle_threads(loop, 4);
		/* -errno, or the number of the signal that ended it: a clean stop. */
		r = fuse_session_loop_mt(se, loop) < 0 ? -EIO : 0;
		fuse_loop_cfg_destroy(loop);
	}
#if HAVE_SYSTEMD
	if (seedfs.notify)
		sd_notify(0, "STOPPING=1");
#endif
	fuse_session_unmount(se);
	fuse_remove_signal_handlers(se);
	return r;
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: seedfs [OPTIONS] MOUNTPOINT\n"
		"Serves MOUNTPOINT/" SEEDFS_NAME
		", each read fresh from seedd, to Mbed TLS NV seed option-1 programs.\n"
		"\n"
		"Options:\n"
		"  --socket PATH     seedd's socket (default $SEEDD_SOCKET, else %s)\n"
		"  --allow-other     let every user's programs use the mount (seedd judges each)\n"
		"  --fdstore         mount, hand the connection to systemd and exit (ExecStartPre=+)\n"
		"  --unmount         unmount a seedfs at MOUNTPOINT, dead or alive, and exit\n"
		"  --help            this text\n"
		"  --version         the version\n",
		SEEDD_DEFAULT_SOCKET);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "allow-other", no_argument, NULL, 'a' },
		{ "fdstore", no_argument, NULL, 'f' },
		{ "unmount", no_argument, NULL, 'u' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 },
	};
	/* The mount's options; argv[0] is what libfuse names in its messages. */
	char *fuse_argv[] = {
		"seedfs", "-o",		 "fsname=seedfs,subtype=seedfs,default_permissions,noexec",
		"-o",	  "allow_other", NULL
	};
	struct fuse_args args = FUSE_ARGS_INIT(3, fuse_argv);
	struct fuse_session *se;
	/* s: serve, f: --fdstore, u: --unmount. */
	int mode = 's';
	int c, r;

	seedfs.socket = seedd_socket_path();
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 's':
			seedfs.socket = optarg;
			break;
		case 'a':
			args.argc = 5;
			break;
		case 'f':
			mode = 'f';
			break;
		case 'u':
			mode = 'u';
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("seedfs %s\n", SEEDD_VERSION);
			return 0;
		default:
			fputs("Try 'seedfs --help'.\n", stderr);
			return 2;
		}
	}
	if (optind != argc - 1) {
		say(optind == argc ? "no MOUNTPOINT given" : "more than one MOUNTPOINT given");
		fputs("Try 'seedfs --help'.\n", stderr);
		return 2;
	}
	seedfs.mountpoint = argv[optind];
	if (!*seedfs.socket ||
	    strlen(seedfs.socket) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
		say("--socket %s: %s", seedfs.socket, *seedfs.socket ? "too long" : "empty");
		return 2;
	}
	if (mode == 'u') {
		r = unmount_stale();
		if (r == 0)
			mountpoint_remove();
		return r < 0 ? 1 : 0;
	}
	seedfs.timeout_ms = seedd_timeout_ms();
	clock_gettime(CLOCK_REALTIME, &seedfs.started);
	r = self_read();
	if (r < 0) {
		say("cannot read its own groups: %s", strerror(-r));
		return 1;
	}

	se = fuse_session_new(&args, &seedfs_ops, sizeof(seedfs_ops), NULL);
	if (!se) {
		free(seedfs.self);
		return 1;
	}
	r = mode == 'f' ? store_fd(se) : serve(se);
	fuse_session_destroy(se);
	free(seedfs.self);
	return r < 0 ? 1 : 0;
}
