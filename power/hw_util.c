/*
 * power/hw_util.c — attribute-file readers for the hardware backends (see hw_util.h).
 */
#include "power/hw_util.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int pwr_hw_join(char *buf, size_t len, const char *a, const char *b)
{
	int n = snprintf(buf, len, "%s/%s", a, b);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int pwr_hw_read_str(const char *path, char *buf, size_t len)
{
	ssize_t n;
	int fd, err = 0;

	if (len == 0)
		return -EINVAL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	do
		n = read(fd, buf, len - 1);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		err = -errno;
	close(fd);
	if (err)
		return err;
	buf[n] = '\0';
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' ' || buf[n - 1] == '\t'))
		buf[--n] = '\0';
	return 0;
}

int pwr_hw_read_u64(const char *path, uint64_t *v)
{
	char buf[64], *end;
	unsigned long long x;
	int rc = pwr_hw_read_str(path, buf, sizeof buf);

	if (rc)
		return rc;
	if (buf[0] < '0' || buf[0] > '9')
		return -EINVAL;
	errno = 0;
	x = strtoull(buf, &end, 10);
	if (errno || *end != '\0')
		return -EINVAL;
	*v = x;
	return 0;
}

int pwr_hw_read_i64(const char *path, int64_t *v)
{
	char buf[64], *end;
	long long x;
	int rc = pwr_hw_read_str(path, buf, sizeof buf);

	if (rc)
		return rc;
	if (buf[0] == '\0')
		return -EINVAL;
	errno = 0;
	x = strtoll(buf, &end, 10);
	if (errno || *end != '\0')
		return -EINVAL;
	*v = x;
	return 0;
}

int pwr_hw_read_double(const char *path, double *v)
{
	char buf[64], *end;
	double x;
	int rc = pwr_hw_read_str(path, buf, sizeof buf);

	if (rc)
		return rc;
	if (buf[0] == '\0')
		return -EINVAL;
	errno = 0;
	x = strtod(buf, &end);
	if (errno || *end != '\0')
		return -EINVAL;
	*v = x;
	return 0;
}

int pwr_hw_parse_cpulist(const char *s, int *cpus, int max)
{
	int n = 0;

	while (*s) {
		char *end;
		long a, b;

		if (*s < '0' || *s > '9')
			return -EINVAL;
		a = strtol(s, &end, 10);
		b = a;
		if (*end == '-') {
			s = end + 1;
			if (*s < '0' || *s > '9')
				return -EINVAL;
			b = strtol(s, &end, 10);
		}
		if (b < a || b > 65535)
			return -EINVAL;
		for (long c = a; c <= b && n < max; c++)
			cpus[n++] = (int)c;
		s = end;
		if (*s == ',')
			s++;
		else if (*s != '\0')
			return -EINVAL;
	}
	return n;
}

const char *pwr_hw_errstr(int err)
{
	static _Thread_local char buf[96];
	const char *name;

	if (err < 0)
		err = -err;
	name = strerrorname_np(err);
	snprintf(buf, sizeof buf, "%s (%s)", name ? name : "error", strerror(err));
	return buf;
}
