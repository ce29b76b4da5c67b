// SPDX-License-Identifier: MIT
/* The private client call: connect, the daemon's credentials, one request and reply. */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/socket.h>
#include <unistd.h>

#include "client.h"
#include "config.h"
#include "seedd-protocol.h"
#include "util.h"

/* A small file (of /proc), NUL-terminated: its length, or -errno. */
static ssize_t read_small(const char *path, char *buf, size_t cap)
{
	ssize_t n;
	int r = 0, fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

	if (fd < 0)
		return -errno;
	do
		n = read(fd, buf, cap - 1);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		r = -errno;
	close(fd);
	if (r < 0)
		return r;
	buf[n] = 0;
	return n;
}

/*
 * Whether this process is in a user namespace other than the host's, whose
 * map is the identity of every uid. Unreadable: no, which fails closed.
 */
static bool in_user_namespace(void)
{
	unsigned long inside, outside, count;
	char map[256];
	int end = 0;

	if (read_small("/proc/self/uid_map", map, sizeof(map)) <= 0)
		return false;
	return sscanf(map, " %lu %lu %lu %n", &inside, &outside, &count, &end) != 3 || map[end] ||
	       inside != 0 || outside != 0 || count != 4294967295UL;
}

/*
 * In a user namespace, SO_PEERCRED shows a peer whose uid is not mapped there
 * as the overflow uid: the host's root, the daemon user and any other host
 * user alike. Nothing inside can tell them apart, so the overflow uid is
 * trusted only where the path does: the compiled-in default socket, whose
 * directory only root or the daemon user can make on the host, and which a
 * namespace sees only where its creator mounted it. Another path needs the
 * program's consent, $SEEDD_TRUST_UNMAPPED=1; an AT_SECURE process never
 * trusts the overflow uid.
 */
static bool unmapped_trusted(uid_t uid, const char *path)
{
	const char *consent = secure_getenv("SEEDD_TRUST_UNMAPPED");
	uint64_t overflow;
	char num[32];

	if (getauxval(AT_SECURE))
		return false;
	if (strcmp(path, SEEDD_DEFAULT_SOCKET) != 0 && !(consent && strcmp(consent, "1") == 0))
		return false;
	if (read_small("/proc/sys/kernel/overflowuid", num, sizeof(num)) <= 0)
		return false;
	num[strcspn(num, "\n")] = 0;
	return parse_u64(num, 0, UINT32_MAX, &overflow) == 0 && uid == overflow &&
	       in_user_namespace();
}

/*
 * A daemon we may send to runs as root, as ourselves or as the build's daemon
 * user, or is out of sight in a user namespace (unmapped_trusted()). The
 * name is looked up only for another uid, so the common case costs no NSS
 * lookup; a lookup that fails or does not fit the buffer refuses.
 */
static bool daemon_trusted(uid_t uid, const char *path)
{
	struct passwd pw, *res = NULL;
	char buf[1024];

	if (uid == 0 || uid == geteuid())
		return true;
	if (getpwuid_r(uid, &pw, buf, sizeof(buf), &res) == 0 && res &&
	    strcmp(res->pw_name, SEEDD_DAEMON_USER) == 0)
		return true;
	return unmapped_trusted(uid, path);
}

int client_check_daemon(int fd, const char *path)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return -errno;
	if (len != sizeof(cred) || !daemon_trusted(cred.uid, path))
		return -EPERM;
	return 0;
}

int client_connect_fd(int fd, const char *path, int timeout_ms, int64_t deadline)
{
	int r, t = sock_connect_fd(fd, path, timeout_ms, deadline);

	if (t < 0)
		return t;
	r = client_check_daemon(fd, path);
	if (r < 0)
		return r;
	/* A slow user lookup took its share of the time too. */
	return sock_fit_timeouts(fd, t, deadline);
}

int client_connect(const char *path, int timeout_ms, int64_t deadline)
{
	int r, fd = sock_open();

	if (fd < 0)
		return fd;
	r = client_connect_fd(fd, path, timeout_ms, deadline);
	if (r >= 0)
		return fd;
	close(fd);
	return r;
}

int client_call_upto(int fd, uint8_t op, const void *payload, size_t plen, void *out, size_t min,
		     size_t max, size_t *len, int64_t deadline)
{
	uint8_t req[SEEDD_PROTO_MAX_MSG], reply[SEEDD_PROTO_MAX_MSG];
	struct proto_msg msg;
	size_t reqlen;
	ssize_t n;
	int r;

	if (plen > SEEDD_PROTO_MAX_PAYLOAD)
		return -EMSGSIZE;
	reqlen = proto_put_hdr(req, op, SEEDD_ST_OK, (uint32_t)plen);
	if (plen)
		memcpy(req + reqlen, payload, plen);
	reqlen += plen;
	n = sock_call(fd, req, reqlen, reply, sizeof(reply), deadline);
	r = n < 0 ? (int)n : proto_parse_reply(reply, (size_t)n, op, &msg);
	if (r == 0 && (msg.len < min || msg.len > max))
		r = -EPROTO;
	if (r == 0 && msg.len)
		memcpy(out, msg.payload, msg.len);
	if (r == 0 && len)
		*len = msg.len;
	explicit_bzero(req, reqlen);
	explicit_bzero(reply, sizeof(reply));
	return r;
}

int client_call(int fd, uint8_t op, const void *payload, size_t plen, void *out, size_t outlen,
		int64_t deadline)
{
	return client_call_upto(fd, op, payload, plen, out, outlen, outlen, NULL, deadline);
}

int client_request(const char *path, uint8_t op, const void *payload, size_t plen, void *out,
		   size_t outlen, int timeout_ms)
{
	int64_t deadline = now_ms() + timeout_ms;
	int r, fd = client_connect(path, timeout_ms, deadline);

	if (fd < 0)
		return fd;
	r = client_call(fd, op, payload, plen, out, outlen, deadline);
	close(fd);
	return r;
}
