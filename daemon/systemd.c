// SPDX-License-Identifier: MIT
/* systemd glue through sd_listen_fds() and sd_notify(); no-ops without libsystemd. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "config.h"

#if HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "systemd.h"

#if HAVE_SYSTEMD
int systemd_listen_fd(char *why, size_t whylen)
{
	int n = sd_listen_fds(1);

	if (n < 0) {
		snprintf(why, whylen, "cannot read the sockets systemd passed: %s", strerror(-n));
		return n;
	}
	if (n == 0)
		return 0;
	if (n > 1) {
		snprintf(why, whylen, "systemd passed %d sockets; seedd takes exactly one", n);
		return -EINVAL;
	}
	if (sd_is_socket_unix(SD_LISTEN_FDS_START, SOCK_SEQPACKET, 1, NULL, 0) <= 0) {
		snprintf(why, whylen,
			 "the socket systemd passed is not a listening AF_UNIX SOCK_SEQPACKET socket "
			 "(use ListenSequentialPacket=)");
		return -EINVAL;
	}
	/* systemd passes a blocking socket; the server accepts in batches until EAGAIN. */
	int flags = fcntl(SD_LISTEN_FDS_START, F_GETFL);

	if (flags < 0 || fcntl(SD_LISTEN_FDS_START, F_SETFL, flags | O_NONBLOCK) < 0) {
		n = -errno;
		snprintf(why, whylen, "cannot make the socket systemd passed non-blocking: %s",
			 strerror(errno));
		return n;
	}
	return SD_LISTEN_FDS_START;
}

void systemd_ready(const char *status)
{
	sd_notifyf(0, "READY=1\nSTATUS=%s", status);
}

__attribute__((format(printf, 1, 2))) static void systemd_status(const char *fmt, ...)
{
	char buf[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	sd_notifyf(0, "STATUS=%s", buf);
}

void systemd_stopping(void)
{
	sd_notify(0, "STOPPING=1\nSTATUS=Saving the seed and stopping");
}

void systemd_watchdog(void)
{
	sd_notify(0, "WATCHDOG=1");
}

uint64_t systemd_watchdog_usec(void)
{
	uint64_t usec = 0;

	return sd_watchdog_enabled(0, &usec) > 0 ? usec : 0;
}
#else
int systemd_listen_fd(char *why, size_t whylen)
{
	(void)why;
	(void)whylen;
	return 0;
}

void systemd_ready(const char *status)
{
	(void)status;
}

__attribute__((format(printf, 1, 2))) static void systemd_status(const char *fmt, ...)
{
	(void)fmt;
}

void systemd_stopping(void)
{
}

void systemd_watchdog(void)
{
}

uint64_t systemd_watchdog_usec(void)
{
	return 0;
}
#endif

void systemd_saved(const char *socket, const char *seed_file, int error)
{
	if (error)
		systemd_status("Serving on %s; saving %s failed: %s", socket, seed_file,
			       strerror(error));
	else
		systemd_status("Serving on %s; seed file %s saved", socket, seed_file);
}
