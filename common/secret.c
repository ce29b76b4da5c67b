// SPDX-License-Identifier: MIT
/* Memory for secrets: pages of their own, locked and not dumped, wiped when freed. */
#include <string.h>
#include <sys/mman.h>

#include "secret.h"

void *secret_alloc(size_t len)
{
	void *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (m == MAP_FAILED)
		return NULL;
	(void)mlock(m, len);
	(void)madvise(m, len, MADV_DONTDUMP);
	return m;
}

void secret_free(void *m, size_t len)
{
	if (!m)
		return;
	explicit_bzero(m, len);
	munlock(m, len);
	munmap(m, len);
}
