/*
 * power/datadir.c — where power/ finds its shipped data (configs/hardware): the same search as
 * the engine's model shapes and the runner's configs (see pwr_data_path in backend.h).
 */
#include "power/backend.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef JB_DATADIR
#define JB_DATADIR "/usr/local/share/joulebench"
#endif

static bool exists(const char *p)
{
	struct stat st;

	return stat(p, &st) == 0;
}

int pwr_data_path(const char *rel, char *buf, size_t len)
{
	const char *env = getenv("JOULEBENCH_DATA");
	char exe[PATH_MAX];
	ssize_t n;

	if (env && *env) {
		pwr_strf(buf, len, "%s/%s", env, rel);
		if (exists(buf))
			return 0;
	}
	if (exists(rel)) {
		pwr_strf(buf, len, "%s", rel);
		return 0;
	}
	n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (n > 0) {
		char *slash;

		exe[n] = '\0';
		slash = strrchr(exe, '/');
		if (slash) {
			*slash = '\0';
			pwr_strf(buf, len, "%s/%s", exe, rel);
			if (exists(buf))
				return 0;
			pwr_strf(buf, len, "%s/../share/joulebench/%s", exe, rel);
			if (exists(buf))
				return 0;
		}
	}
	pwr_strf(buf, len, "%s/%s", JB_DATADIR, rel);
	if (exists(buf))
		return 0;
	pwr_strf(buf, len, "%s", rel);
	return -ENOENT;
}
