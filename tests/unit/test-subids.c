// SPDX-License-Identifier: MIT
/* /etc/subuid as seedd reads it: the lines it takes, the ones it skips, overlaps, changes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "subids.h"
#include "test.h"

static int parse(const char *text, struct subid_range **r, size_t *n, size_t *skipped)
{
	FILE *f = fmemopen((void *)text, strlen(text), "r");
	int e;

	CHECK(f != NULL);
	if (!f)
		return -1;
	e = subids_parse(f, r, n, skipped);
	fclose(f);
	return e;
}

static void test_lines(void)
{
	struct subid_range *r;
	size_t n, skipped;

	/* Sorted by start; names and numbers; comments and blank lines are no lines. */
	CHECK_EQ(parse("# a comment\n"
		       "1000:300000:65536\n"
		       "\n"
		       "root:100000:65536\n"
		       "1001:165536:10",
		       &r, &n, &skipped),
		 0);
	CHECK_EQ(n, 3);
	CHECK_EQ(skipped, 0);
	if (n == 3) {
		CHECK_EQ(r[0].start, 100000);
		CHECK_EQ(r[0].owner, 0);
		CHECK_EQ(r[1].start, 165536);
		CHECK_EQ(r[1].count, 10);
		CHECK_EQ(r[1].owner, 1001);
		CHECK_EQ(r[2].owner, 1000);
	}
	free(r);

	/* Malformed lines, an unknown user, a zero count, past 2^32, an overlap: skipped. */
	CHECK_EQ(parse("1000:100000\n"
		       "nosuchuser-seedd-test:200000:10\n"
		       "1000:x:10\n"
		       "1000:300000:0\n"
		       "1000:4294967295:2\n"
		       "1000:4294967295:1\n"
		       "1002:500000:100\n"
		       "1003:500050:100\n"
		       "1004:499990:5\n",
		       &r, &n, &skipped),
		 0);
	CHECK_EQ(n, 3);
	CHECK_EQ(skipped, 6);
	if (n == 3) {
		CHECK_EQ(r[0].start, 499990);
		CHECK_EQ(r[1].start, 500000);
		CHECK_EQ(r[1].owner, 1002);
		CHECK_EQ(r[2].start, 4294967295u);
	}
	free(r);

	CHECK_EQ(parse("", &r, &n, &skipped), 0);
	CHECK_EQ(n, 0);
	CHECK(r == NULL);
}

static void test_changes(void)
{
	char dir[] = "/tmp/seedd-subids-XXXXXX", path[64], tmp[80];
	struct subids_file sf = { .path = path };
	struct subid_range *r;
	size_t n, skipped;
	FILE *f;

	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/subuid", dir);
	/* Missing: no ranges, and no change after the first look. */
	CHECK_EQ(subids_changed(&sf), 0);
	CHECK_EQ(subids_read(&sf, &r, &n, &skipped), 0);
	CHECK_EQ(n, 0);
	f = fopen(path, "w");
	CHECK(f != NULL);
	fputs("1000:100000:65536\n", f);
	fclose(f);
	CHECK_EQ(subids_changed(&sf), 1);
	CHECK_EQ(subids_changed(&sf), 0);
	CHECK_EQ(subids_read(&sf, &r, &n, &skipped), 0);
	CHECK_EQ(n, 1);
	free(r);
	/* Replaced by rename, as shadow's tools do. */
	snprintf(tmp, sizeof(tmp), "%s+", path);
	f = fopen(tmp, "w");
	CHECK(f != NULL);
	fputs("1000:100000:65536\n1001:165536:65536\n", f);
	fclose(f);
	CHECK_EQ(rename(tmp, path), 0);
	CHECK_EQ(subids_changed(&sf), 1);
	CHECK_EQ(subids_read(&sf, &r, &n, &skipped), 0);
	CHECK_EQ(n, 2);
	free(r);
	unlink(path);
	CHECK_EQ(subids_changed(&sf), 1);
	rmdir(dir);
}

int main(void)
{
	test_lines();
	test_changes();
	return TEST_DONE();
}
