// SPDX-License-Identifier: MIT
/* User and group ids from numbers or names, for seedd's allow lists and seedctl's owners. */
#include <errno.h>
#include <grp.h>
#include <pwd.h>

#include "ids.h"
#include "util.h"

/* The largest id an option may name: (uint32_t)-1 means "no id" to the kernel. */
#define ID_MAX ((uint32_t)-2)

int ids_uid(const char *arg, uid_t *out)
{
	struct passwd *pw;
	uint64_t v;

	if (parse_u64(arg, 0, ID_MAX, &v) == 0) {
		*out = (uid_t)v;
		return 0;
	}
	pw = getpwnam(arg);
	if (!pw)
		return -ENOENT;
	*out = pw->pw_uid;
	return 0;
}

int ids_gid(const char *arg, gid_t *out)
{
	struct group *g;
	uint64_t v;

	if (parse_u64(arg, 0, ID_MAX, &v) == 0) {
		*out = (gid_t)v;
		return 0;
	}
	g = getgrnam(arg);
	if (!g)
		return -ENOENT;
	*out = g->gr_gid;
	return 0;
}
