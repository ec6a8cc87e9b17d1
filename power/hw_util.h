/*
 * power/hw_util.h — private to power/: small readers for sysfs-style attribute files, shared by
 * the hardware backends (perf_power.c, msr.c, battery.c, hwmon.c).
 *
 * Each reads the whole file afresh (so a vanished device shows up as an error, not a stale value)
 * and returns 0 or -errno; -EINVAL when the contents are not what the name promises.
 */
#ifndef JB_POWER_HW_UTIL_H
#define JB_POWER_HW_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* Joins "a/b" into buf; returns 0, or -ENAMETOOLONG when it does not fit (buf then holds a
 * truncated path that opens nothing useful). */
int pwr_hw_join(char *buf, size_t len, const char *a, const char *b);
/* Reads at most len-1 bytes into buf, NUL-terminated, trailing whitespace removed. */
int pwr_hw_read_str(const char *path, char *buf, size_t len);
/* A whole file holding one unsigned decimal integer. */
int pwr_hw_read_u64(const char *path, uint64_t *v);
/* A whole file holding one signed decimal integer. */
int pwr_hw_read_i64(const char *path, int64_t *v);
/* A whole file holding one floating-point number ("2.3283064365386962890625e-10"). */
int pwr_hw_read_double(const char *path, double *v);
/* Parses a kernel CPU list ("0", "0,18", "0-3,8") into cpus[] (at most max); returns the count
 * or -EINVAL. */
int pwr_hw_parse_cpulist(const char *s, int *cpus, int max);
/* "errno name: message" for a reason text, e.g. "EACCES (Permission denied)". Static buffer. */
const char *pwr_hw_errstr(int err);

#endif
