// SPDX-License-Identifier: MIT
/*
 * A fresh process that fetches one seed and exits, as a short-lived tool
 * linking libseedclient would. With "getrandom" it asks the kernel instead:
 * the same process start-up cost, without the daemon.
 */
#include <string.h>
#include <sys/random.h>

#include "seedclient.h"

int main(int argc, char **argv)
{
	unsigned char buf[64];
	int ok;

	if (argc > 1 && strcmp(argv[1], "getrandom") == 0)
		ok = getrandom(buf, sizeof(buf), 0) == (ssize_t)sizeof(buf);
	else
		ok = seedclient_nv_seed_read(buf, sizeof(buf)) == (int)sizeof(buf);
	explicit_bzero(buf, sizeof(buf));
	return ok ? 0 : 1;
}
