// SPDX-License-Identifier: MIT
/*
 * seedd's log: lines on stderr, with the journal's priority prefixes when
 * stderr is the journal, else each with the local time (a file written by
 * an init script or a supervisor has no other record of when).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static int to_journal;

void log_init(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	/* JOURNAL_STREAM names the stream only if stderr is still that stream. */
	if (js && sscanf(js, "%llu:%llu", &dev, &ino) == 2 && fstat(STDERR_FILENO, &st) == 0)
		to_journal = st.st_dev == dev && st.st_ino == ino;
	/* Once, so that no line waits for the time zone file. */
	tzset();
}

/* RFC 3339, local time to the millisecond with its offset: 2026-12-02T14:03:07.412+01:00. */
static void timestamp(char *buf, size_t len)
{
	struct timespec ts;
	struct tm tm;
	char zone[8];
	size_t n;

	buf[0] = '\0';
	if (clock_gettime(CLOCK_REALTIME, &ts) < 0 || !localtime_r(&ts.tv_sec, &tm) ||
	    strftime(zone, sizeof(zone), "%z", &tm) != 5)
		return;
	n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
	if (n)
		snprintf(buf + n, len - n, ".%03d%.3s:%s ", (int)(ts.tv_nsec / 1000000), zone,
			 zone + 3);
}

void log_msg(int prio, const char *fmt, ...)
{
	const char *level = prio <= LOG_ERR ? "error: " : prio == LOG_WARNING ? "warning: " : "";
	char line[1024], when[64];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if (to_journal) {
		fprintf(stderr, "<%d>%s\n", prio, line);
		return;
	}
	timestamp(when, sizeof(when));
	fprintf(stderr, "%sseedd: %s%s\n", when, level, line);
}
