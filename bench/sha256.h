/*
 * bench/sha256.h — private to bench/: SHA-256 (FIPS 180-4) of a file, for the model hash in
 * result files.
 */
#ifndef JB_BENCH_SHA256_H
#define JB_BENCH_SHA256_H

#include <stddef.h>
#include <stdint.h>

struct bench_sha256 {
	uint32_t h[8];
	uint64_t len;       /* bytes hashed so far */
	uint8_t buf[64];
	size_t n;           /* bytes in buf */
};

void bench_sha256_init(struct bench_sha256 *c);
void bench_sha256_update(struct bench_sha256 *c, const void *data, size_t len);
/* Writes 64 lowercase hex digits and a NUL into hex[65]. */
void bench_sha256_final(struct bench_sha256 *c, char hex[65]);
/* Hashes a whole file; 0, or -errno with "PATH: why" in err. */
int bench_sha256_file(const char *path, char hex[65], char *err, size_t errlen);

#endif
