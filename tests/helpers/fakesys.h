/*
 * tests/helpers/fakesys.h — helpers shared by the power tests: fake sysfs trees written or copied
 * into temporary directories, a probe set opened with one backend, and look-ups of a set's
 * domains and unavailable reasons. Tests run with the repository root as the working directory.
 */
#ifndef JB_FAKESYS_H
#define JB_FAKESYS_H

#include "power/internal.h"

/* Where the fixture trees modelled on real machines live. */
#define FS_FIXTURES "tests/fixtures/sysfs/"

/* Writes ROOT/REL (REL may contain directories, created 0755 as needed); fails the test if the
 * file cannot be written. */
void fs_put(const char *root, const char *rel, const char *text);

/* Copies the fixture tests/fixtures/sysfs/NAME to a fresh temporary directory and returns it
 * (malloc'd; the caller tu_rmtree()s and frees it). Fails the test if the copy fails. */
char *fs_copy_fixture(const char *name);

/* pwr_open_backends() with the single backend b and options o (NULL: defaults); fails the test
 * with the error if it returns non-zero. */
struct pwr_set *fs_open_one(const struct pwr_backend *b, const struct pwr_opts *o);

/* Index of the domain with id ("backend:domain") in s, or -1. */
int fs_dom_index(struct pwr_set *s, const char *id);
/* The domain with that id (backend state included), or NULL. */
struct pwr_dom *fs_dom(struct pwr_set *s, const char *id);
/* The reason recorded for an unavailable `what`, or NULL. fs_reason_prefix matches the first
 * whose `what` starts with prefix. */
const char *fs_reason(struct pwr_set *s, const char *what);
const char *fs_reason_prefix(struct pwr_set *s, const char *prefix);

#endif
