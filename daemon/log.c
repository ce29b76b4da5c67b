// SPDX-License-Identifier: MIT
/* seedd's log: lines on stderr, with the journal's priority prefixes when stderr is the journal. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
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
}

void log_msg(int prio, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if (to_journal)
		fprintf(stderr, "<%d>%s\n", prio, line);
	else if (prio <= LOG_ERR)
		fprintf(stderr, "seedd: error: %s\n", line);
	else if (prio == LOG_WARNING)
		fprintf(stderr, "seedd: warning: %s\n", line);
	else
		fprintf(stderr, "seedd: %s\n", line);
}
