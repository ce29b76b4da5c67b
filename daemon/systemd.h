/* SPDX-License-Identifier: MIT */
#ifndef SEEDD_SYSTEMD_H
#define SEEDD_SYSTEMD_H

#include <stddef.h>
#include <stdint.h>

/*
 * The listening socket systemd passed us: its fd, 0 when none was passed, or
 * -errno with a message in why when what was passed is unusable.
 */
int systemd_listen_fd(char *why, size_t whylen);

/* sd_notify() wrappers; no-ops outside systemd or without libsystemd. */
void systemd_ready(const char *status);
void systemd_status(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void systemd_stopping(void);
void systemd_watchdog(void);

/* The watchdog period systemd asked for, in microseconds; 0 when none. */
uint64_t systemd_watchdog_usec(void);

#endif
