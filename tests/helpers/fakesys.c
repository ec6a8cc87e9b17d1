/*
 * tests/helpers/fakesys.c — fake sysfs trees and probe-set look-ups for the power tests
 * (see fakesys.h).
 */
#include "helpers/fakesys.h"
#include "helpers/testutil.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

void fs_put(const char *root, const char *rel, const char *text)
{
	char path[PATH_MAX];

	snprintf(path, sizeof path, "%s/%s", root, rel);
	for (char *p = path + strlen(root) + 1; *p; p++)
		if (*p == '/') {
			*p = '\0';
			mkdir(path, 0755);
			*p = '/';
		}
	if (tu_write_file(path, text, strlen(text)) != 0)
		fail_msg("cannot write %s", path);
}

char *fs_copy_fixture(const char *name)
{
	char *dir = tu_mkdtemp(), cmd[PATH_MAX + 128];
	char *out = NULL, *err = NULL;
	int rc;

	if (!dir)
		fail_msg("cannot create a temporary directory");
	snprintf(cmd, sizeof cmd, "cp -a " FS_FIXTURES "%s/. '%s'/", name, dir);
	rc = tu_run(cmd, 30, &out, &err);
	if (rc != 0)
		fail_msg("%s: exit %d: %s", cmd, rc, err ? err : "");
	free(out);
	free(err);
	return dir;
}

struct pwr_set *fs_open_one(const struct pwr_backend *b, const struct pwr_opts *o)
{
	const struct pwr_backend *list[] = { b };
	struct pwr_set *s = NULL;
	char err[256] = "";
	int rc = pwr_open_backends(o, list, 1, &s, err, sizeof err);

	if (rc)
		fail_msg("pwr_open_backends(%s, root %s): %d %s", b->name, o && o->sysfs_root ? o->sysfs_root : "/",
			 rc, err);
	return s;
}

int fs_dom_index(struct pwr_set *s, const char *id)
{
	for (int i = 0; i < pwr_n_domains(s); i++)
		if (!strcmp(pwr_domain(s, i)->id, id))
			return i;
	return -1;
}

struct pwr_dom *fs_dom(struct pwr_set *s, const char *id)
{
	int i = fs_dom_index(s, id);

	return i >= 0 ? s->doms[i] : NULL;
}

const char *fs_reason(struct pwr_set *s, const char *what)
{
	for (int i = 0; i < pwr_n_unavailable(s); i++)
		if (!strcmp(pwr_unavailable(s, i)->what, what))
			return pwr_unavailable(s, i)->reason;
	return NULL;
}

const char *fs_reason_prefix(struct pwr_set *s, const char *prefix)
{
	for (int i = 0; i < pwr_n_unavailable(s); i++)
		if (!strncmp(pwr_unavailable(s, i)->what, prefix, strlen(prefix)))
			return pwr_unavailable(s, i)->reason;
	return NULL;
}
