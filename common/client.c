// SPDX-License-Identifier: MIT
/* The private client call: connect, the daemon's credentials, one request and reply. */
#include <errno.h>
#include <pwd.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "client.h"
#include "config.h"
#include "seedd-protocol.h"
#include "util.h"

/*
 * A daemon we may send to runs as root, as ourselves or as the build's daemon
 * user. The name is looked up only for another uid, so the common case costs
 * no NSS lookup; a lookup that fails or does not fit the buffer refuses.
 */
static bool daemon_trusted(uid_t uid)
{
	struct passwd pw, *res = NULL;
	char buf[1024];

	if (uid == 0 || uid == geteuid())
		return true;
	return getpwuid_r(uid, &pw, buf, sizeof(buf), &res) == 0 && res &&
	       strcmp(res->pw_name, SEEDD_DAEMON_USER) == 0;
}

int client_connect_fd(int fd, const char *path, int timeout_ms, int64_t deadline)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	int t = sock_connect_fd(fd, path, timeout_ms, deadline);

	if (t < 0)
		return t;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return -errno;
	if (len != sizeof(cred) || !daemon_trusted(cred.uid))
		return -EPERM;
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

int client_call(int fd, uint8_t op, const void *payload, size_t plen, void *out, size_t outlen,
		int64_t deadline)
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
	if (r == 0 && msg.len != outlen)
		r = -EPROTO;
	if (r == 0 && outlen)
		memcpy(out, msg.payload, outlen);
	explicit_bzero(req, reqlen);
	explicit_bzero(reply, sizeof(reply));
	return r;
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
