/* SPDX-License-Identifier: MIT */
/* seedd's log lines, by priority. */
#ifndef SEEDD_LOG_H
#define SEEDD_LOG_H

#include <syslog.h>

/* Writes "<N>" priority prefixes when stderr is connected to the journal. */
void log_init(void);

void log_msg(int prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_err(...) log_msg(LOG_ERR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARNING, __VA_ARGS__)
#define log_notice(...) log_msg(LOG_NOTICE, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)

#endif
