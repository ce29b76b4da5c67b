/* SPDX-License-Identifier: MIT */
/* User and group ids as options name them: a number, or a name the system knows. */
#ifndef SEEDD_IDS_H
#define SEEDD_IDS_H

#include <sys/types.h>

/* A uid: decimal (not (uid_t)-1), else a user name. 0, or -ENOENT for an unknown name. */
int ids_uid(const char *arg, uid_t *out);

/* A gid: decimal (not (gid_t)-1), else a group name. 0, or -ENOENT for an unknown name. */
int ids_gid(const char *arg, gid_t *out);

#endif
