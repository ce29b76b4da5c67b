// SPDX-License-Identifier: MIT
/*
 * The power-loss suite's control: an LD_PRELOAD shim that turns fsync(2) and
 * fdatasync(2) of a directory into no-ops that succeed, as a careless writer
 * (or a file system that lies) would. The suite must catch it.
 */
#include <dlfcn.h>
#include <sys/stat.h>
#include <unistd.h>

static int is_dir(int fd)
{
	struct stat st;

	return fstat(fd, &st) == 0 && S_ISDIR(st.st_mode);
}

int fsync(int fd)
{
	int (*real)(int) = (int (*)(int))dlsym(RTLD_NEXT, "fsync");

	return is_dir(fd) ? 0 : real(fd);
}

int fdatasync(int fd)
{
	int (*real)(int) = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");

	return is_dir(fd) ? 0 : real(fd);
}
