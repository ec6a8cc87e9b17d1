/*
 * tests/helpers/testutil.h — small helpers shared by the cmocka tests.
 * Tests run with the repository root as the working directory (scripts/run-tests.sh does that).
 */
#ifndef JB_TESTUTIL_H
#define JB_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

/* Path of ../shared/models/NAME if it exists, else NULL (the caller skips). Static buffer. */
const char *tu_shared_model(const char *name);

/* Skip the current test with a reason printed to stderr (cmocka's skip() takes none). */
#define TU_SKIP(...)                                                                               \
	do {                                                                                       \
		tu_note(__VA_ARGS__);                                                              \
		skip();                                                                            \
	} while (0)
void tu_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Creates a fresh temporary directory under $TMPDIR (or /tmp); returns a malloc'd path that the
 * caller frees after tu_rmtree(). */
char *tu_mkdtemp(void);
/* Recursively removes a directory tree created by a test. */
void tu_rmtree(const char *path);

/* Writes/reads whole files. tu_read_file returns a malloc'd NUL-terminated buffer (length in
 * *len if non-NULL) or NULL. */
int tu_write_file(const char *path, const void *data, size_t len);
char *tu_read_file(const char *path, size_t *len);

/* Path of a test-side tool that make test-build builds beside the test programs, with the
 * suite's compiler: $(BUILD)/tests/tools/NAME (found from /proc/self/exe, so make test-arm's
 * cross-built programs find their own). Static buffer; NULL when it does not exist. */
const char *tu_tool_path(const char *name);

/* The joulebench binary under test: $JOULEBENCH_BIN or ./joulebench. */
const char *tu_joulebench(void);

/* Runs `sh -c CMDLINE` (CMDLINE may use "$JB" for the binary) with stdin from /dev/null and a
 * timeout; captures stdout and stderr (malloc'd, NUL-terminated). Returns the exit code, 128+sig
 * when killed by a signal, 124 on timeout, or -1 if it could not run. */
int tu_run(const char *cmdline, int timeout_s, char **out, char **err);

#endif
