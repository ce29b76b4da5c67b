/* SPDX-License-Identifier: MIT */
/* systemd glue: socket activation, readiness and status, the watchdog. */
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
void systemd_stopping(void);

/* The status after a save: serving on socket, and whether seed_file was saved (error 0). */
void systemd_saved(const char *socket, const char *seed_file, int error);
void systemd_watchdog(void);

/* The watchdog period systemd asked for, in microseconds; 0 when none. */
uint64_t systemd_watchdog_usec(void);

#endif
