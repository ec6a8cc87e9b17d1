/*
 * engine/gguf_write.c — the GGUF v3 writer (see gguf.h). Metadata is serialised into one growing
 * buffer as it is added; tensor data is streamed after the header with zero padding to the
 * alignment between tensors, into NAME.tmp, renamed to NAME when complete.
 */
#include "engine/gguf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct wtensor {
	char *name;
	uint32_t type;
	int n_dims;
	int64_t ne[GGUF_MAX_DIMS];
	uint64_t nbytes;
	uint64_t offset;
};

struct gguf_writer {
	uint8_t *kv;     /* serialised metadata entries */
	size_t kv_len, kv_cap;
	uint64_t n_kv;
	uint32_t alignment;
	struct wtensor *t;
	size_t n_t, cap_t;
	FILE *fp;
	char *path, *tmp_path;
	size_t cur;       /* tensor being streamed */
	uint64_t cur_done; /* its bytes written so far */
	char err[512];
};

static int werr(struct gguf_writer *w, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int werr(struct gguf_writer *w, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(w->err, sizeof w->err, fmt, ap);
	va_end(ap);
	return rc;
}

struct gguf_writer *gguf_writer_new(void)
{
	struct gguf_writer *w = calloc(1, sizeof *w);

	if (w)
		w->alignment = GGUF_DEFAULT_ALIGNMENT;
	return w;
}

void gguf_writer_free(struct gguf_writer *w)
{
	if (!w)
		return;
	if (w->fp) {
		fclose(w->fp);
		unlink(w->tmp_path);
	}
	for (size_t i = 0; i < w->n_t; i++)
		free(w->t[i].name);
	free(w->t);
	free(w->kv);
	free(w->path);
	free(w->tmp_path);
	free(w);
}

const char *gguf_writer_error(const struct gguf_writer *w)
{
	return w->err;
}

static int put(struct gguf_writer *w, const void *p, size_t n)
{
	if (w->kv_len + n > w->kv_cap) {
		size_t cap = w->kv_cap ? w->kv_cap : 4096;
		uint8_t *nb;

		while (cap < w->kv_len + n)
			cap *= 2;
		nb = realloc(w->kv, cap);
		if (!nb)
			return werr(w, -ENOMEM, "out of memory for metadata (%zu bytes)", cap);
		w->kv = nb;
		w->kv_cap = cap;
	}
	memcpy(w->kv + w->kv_len, p, n);
	w->kv_len += n;
	return 0;
}

static int put_u32(struct gguf_writer *w, uint32_t v)
{
	return put(w, &v, 4);
}

static int put_u64(struct gguf_writer *w, uint64_t v)
{
	return put(w, &v, 8);
}

static int put_str(struct gguf_writer *w, const char *s, uint64_t len)
{
	return put_u64(w, len) || put(w, s, len) ? -ENOMEM : 0;
}

static int key(struct gguf_writer *w, const char *k, uint32_t type)
{
	if (!strcmp(k, "general.alignment") && type != GGUF_VT_U32)
		return werr(w, -EINVAL, "general.alignment must be u32");
	w->n_kv++;
	return put_str(w, k, strlen(k)) || put_u32(w, type) ? -ENOMEM : 0;
}

int gguf_w_u32(struct gguf_writer *w, const char *k, uint32_t v)
{
	if (!strcmp(k, "general.alignment")) {
		if (v == 0 || (v & (v - 1)))
			return werr(w, -EINVAL, "general.alignment %u is not a power of two", v);
		w->alignment = v;
	}
	return key(w, k, GGUF_VT_U32) || put_u32(w, v) ? -ENOMEM : 0;
}

int gguf_w_i32(struct gguf_writer *w, const char *k, int32_t v)
{
	return key(w, k, GGUF_VT_I32) || put(w, &v, 4) ? -ENOMEM : 0;
}

int gguf_w_u64(struct gguf_writer *w, const char *k, uint64_t v)
{
	return key(w, k, GGUF_VT_U64) || put_u64(w, v) ? -ENOMEM : 0;
}

int gguf_w_f32(struct gguf_writer *w, const char *k, float v)
{
	return key(w, k, GGUF_VT_F32) || put(w, &v, 4) ? -ENOMEM : 0;
}

int gguf_w_bool(struct gguf_writer *w, const char *k, bool v)
{
	uint8_t b = v;

	return key(w, k, GGUF_VT_BOOL) || put(w, &b, 1) ? -ENOMEM : 0;
}

int gguf_w_str(struct gguf_writer *w, const char *k, const char *v)
{
	return key(w, k, GGUF_VT_STRING) || put_str(w, v, strlen(v)) ? -ENOMEM : 0;
}

int gguf_w_arr(struct gguf_writer *w, const char *k, uint32_t elem_type, const void *data, uint64_t n)
{
	size_t esz = gguf_vtype_size(elem_type);

	if (!esz)
		return werr(w, -EINVAL, "%s: array element type %s is not fixed-size", k,
			    gguf_vtype_name(elem_type));
	return key(w, k, GGUF_VT_ARRAY) || put_u32(w, elem_type) || put_u64(w, n) || put(w, data, n * esz)
		       ? -ENOMEM
		       : 0;
}

int gguf_w_arr_str(struct gguf_writer *w, const char *k, const char *const *strs, const uint64_t *lens,
		   uint64_t n)
{
	if (key(w, k, GGUF_VT_ARRAY) || put_u32(w, GGUF_VT_STRING) || put_u64(w, n))
		return -ENOMEM;
	for (uint64_t i = 0; i < n; i++)
		if (put_str(w, strs[i], lens ? lens[i] : strlen(strs[i])))
			return -ENOMEM;
	return 0;
}

int gguf_w_copy_kv(struct gguf_writer *w, const struct gguf_kv *kv)
{
	char name[256];

	snprintf(name, sizeof name, "%.*s", (int)(kv->key.len > 255 ? 255 : kv->key.len), kv->key.p);
	if (!strcmp(name, "general.alignment")) {
		uint32_t a;

		memcpy(&a, kv->val, 4);
		return gguf_w_u32(w, name, a);
	}
	w->n_kv++;
	if (put_str(w, kv->key.p, kv->key.len) || put_u32(w, kv->type))
		return -ENOMEM;
	if (kv->type == GGUF_VT_ARRAY && (put_u32(w, kv->arr_type) || put_u64(w, kv->arr_n)))
		return -ENOMEM;
	return put(w, kv->val, kv->val_bytes);
}

int gguf_w_tensor(struct gguf_writer *w, const char *name, uint32_t type, int n_dims, const int64_t *ne)
{
	struct wtensor *t;
	uint64_t nbytes;

	if (w->fp)
		return werr(w, -EINVAL, "tensor %s declared after the file was opened", name);
	if (n_dims < 1 || n_dims > GGUF_MAX_DIMS)
		return werr(w, -EINVAL, "tensor %s: %d dimensions", name, n_dims);
	nbytes = gguf_row_bytes(type, ne[0]);
	if (!nbytes)
		return werr(w, -EINVAL, "tensor %s: row of %lld elements cannot be stored as %s", name,
			    (long long)ne[0], gguf_type_name(type) ? gguf_type_name(type) : "?");
	for (int d = 1; d < n_dims; d++)
		nbytes *= (uint64_t)ne[d];
	if (w->n_t == w->cap_t) {
		size_t cap = w->cap_t ? 2 * w->cap_t : 64;
		struct wtensor *nt = realloc(w->t, cap * sizeof *nt);

		if (!nt)
			return werr(w, -ENOMEM, "out of memory");
		w->t = nt;
		w->cap_t = cap;
	}
	t = &w->t[w->n_t];
	memset(t, 0, sizeof *t);
	t->name = strdup(name);
	if (!t->name)
		return werr(w, -ENOMEM, "out of memory");
	t->type = type;
	t->n_dims = n_dims;
	for (int d = 0; d < GGUF_MAX_DIMS; d++)
		t->ne[d] = d < n_dims ? ne[d] : 1;
	t->nbytes = nbytes;
	w->n_t++;
	return 0;
}

static uint64_t pad_to(uint64_t x, uint64_t a)
{
	return (x + a - 1) / a * a;
}

static int write_zeros(struct gguf_writer *w, uint64_t n)
{
	static const uint8_t z[64];

	while (n) {
		size_t k = n < sizeof z ? (size_t)n : sizeof z;

		if (fwrite(z, 1, k, w->fp) != k)
			return werr(w, -EIO, "%s: write failed", w->tmp_path);
		n -= k;
	}
	return 0;
}

int gguf_writer_open(struct gguf_writer *w, const char *path)
{
	uint64_t off = 0, hdr;
	uint32_t version = 3;

	if (w->fp)
		return werr(w, -EINVAL, "writer already open");
	w->path = strdup(path);
	if (!w->path || asprintf(&w->tmp_path, "%s.tmp", path) < 0)
		return werr(w, -ENOMEM, "out of memory");
	for (size_t i = 0; i < w->n_t; i++) {
		w->t[i].offset = off;
		off = pad_to(off + w->t[i].nbytes, w->alignment);
	}
	w->fp = fopen(w->tmp_path, "wb");
	if (!w->fp)
		return werr(w, -errno, "%s: %s", w->tmp_path, strerror(errno));
	fwrite(GGUF_MAGIC, 1, 4, w->fp);
	fwrite(&version, 4, 1, w->fp);
	fwrite(&(uint64_t){ w->n_t }, 8, 1, w->fp);
	fwrite(&w->n_kv, 8, 1, w->fp);
	fwrite(w->kv, 1, w->kv_len, w->fp);
	hdr = 24 + w->kv_len;
	for (size_t i = 0; i < w->n_t; i++) {
		const struct wtensor *t = &w->t[i];
		uint64_t len = strlen(t->name);
		uint32_t nd = (uint32_t)t->n_dims;

		fwrite(&len, 8, 1, w->fp);
		fwrite(t->name, 1, len, w->fp);
		fwrite(&nd, 4, 1, w->fp);
		for (int d = 0; d < t->n_dims; d++)
			fwrite(&(uint64_t){ (uint64_t)t->ne[d] }, 8, 1, w->fp);
		fwrite(&t->type, 4, 1, w->fp);
		fwrite(&t->offset, 8, 1, w->fp);
		hdr += 8 + len + 4 + 8 * (uint64_t)t->n_dims + 4 + 8;
	}
	if (ferror(w->fp))
		return werr(w, -EIO, "%s: write failed", w->tmp_path);
	w->cur = 0;
	w->cur_done = 0;
	return write_zeros(w, pad_to(hdr, w->alignment) - hdr);
}

int gguf_writer_write(struct gguf_writer *w, const void *data, size_t n)
{
	const uint8_t *p = data;

	if (!w->fp)
		return werr(w, -EINVAL, "writer is not open");
	while (n) {
		const struct wtensor *t;
		uint64_t k;

		if (w->cur >= w->n_t)
			return werr(w, -EINVAL, "more data written than the tensors declared hold");
		t = &w->t[w->cur];
		k = t->nbytes - w->cur_done;
		if (k > n)
			k = n;
		if (fwrite(p, 1, k, w->fp) != k)
			return werr(w, -EIO, "%s: write failed: %s", w->tmp_path, strerror(errno));
		p += k;
		n -= k;
		w->cur_done += k;
		if (w->cur_done == t->nbytes) {
			if (write_zeros(w, pad_to(t->nbytes, w->alignment) - t->nbytes))
				return -EIO;
			w->cur++;
			w->cur_done = 0;
		}
	}
	return 0;
}

int gguf_writer_finish(struct gguf_writer *w)
{
	int rc;

	if (!w->fp)
		return werr(w, -EINVAL, "writer is not open");
	/* Zero-sized tensors complete without any write. */
	while (w->cur < w->n_t && w->t[w->cur].nbytes == 0)
		w->cur++;
	if (w->cur < w->n_t)
		return werr(w, -EINVAL, "tensor %s: only %llu of %llu bytes written", w->t[w->cur].name,
			    (unsigned long long)w->cur_done, (unsigned long long)w->t[w->cur].nbytes);
	rc = fflush(w->fp) || ferror(w->fp) ? -EIO : 0;
	if (fclose(w->fp) || rc) {
		w->fp = NULL;
		unlink(w->tmp_path);
		return werr(w, -EIO, "%s: write failed (disk full?)", w->tmp_path);
	}
	w->fp = NULL;
	if (rename(w->tmp_path, w->path)) {
		rc = -errno;
		unlink(w->tmp_path);
		return werr(w, rc, "%s: %s", w->path, strerror(-rc));
	}
	return 0;
}
