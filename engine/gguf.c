/*
 * engine/gguf.c — the GGUF reader (see gguf.h for the layout). Every read goes through a cursor
 * that checks the remaining length first, so a short or lying file ends in an error message
 * ("truncated at byte N while reading ...") instead of a read past the mapping.
 */
#include "engine/gguf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- ggml types ---- */

struct type_info {
	const char *name;
	int blck;
	int size;
};

/* ggml's type ids with block sizes and block bytes (ggml.c type_traits). */
static const struct type_info type_table[] = {
	[0] = { "F32", 1, 4 },        [1] = { "F16", 1, 2 },         [2] = { "Q4_0", 32, 18 },
	[3] = { "Q4_1", 32, 20 },     [6] = { "Q5_0", 32, 22 },      [7] = { "Q5_1", 32, 24 },
	[8] = { "Q8_0", 32, 34 },     [9] = { "Q8_1", 32, 36 },      [10] = { "Q2_K", 256, 84 },
	[11] = { "Q3_K", 256, 110 },  [12] = { "Q4_K", 256, 144 },   [13] = { "Q5_K", 256, 176 },
	[14] = { "Q6_K", 256, 210 },  [15] = { "Q8_K", 256, 292 },   [16] = { "IQ2_XXS", 256, 66 },
	[17] = { "IQ2_XS", 256, 74 }, [18] = { "IQ3_XXS", 256, 98 }, [19] = { "IQ1_S", 256, 50 },
	[20] = { "IQ4_NL", 32, 18 },  [21] = { "IQ3_S", 256, 110 },  [22] = { "IQ2_S", 256, 82 },
	[23] = { "IQ4_XS", 256, 136 }, [24] = { "I8", 1, 1 },        [25] = { "I16", 1, 2 },
	[26] = { "I32", 1, 4 },       [27] = { "I64", 1, 8 },        [28] = { "F64", 1, 8 },
	[29] = { "IQ1_M", 256, 56 },  [30] = { "BF16", 1, 2 },       [34] = { "TQ1_0", 256, 54 },
	[35] = { "TQ2_0", 256, 66 },
};
#define N_TYPES (sizeof type_table / sizeof type_table[0])

const char *gguf_type_name(uint32_t type)
{
	return type < N_TYPES ? type_table[type].name : NULL;
}

int gguf_type_block(uint32_t type)
{
	return type < N_TYPES && type_table[type].name ? type_table[type].blck : 0;
}

uint64_t gguf_row_bytes(uint32_t type, int64_t n)
{
	if (type >= N_TYPES || !type_table[type].name || n < 0 || n % type_table[type].blck)
		return 0;
	return (uint64_t)(n / type_table[type].blck) * (uint64_t)type_table[type].size;
}

static const char *const vtype_names[GGUF_VT_COUNT] = {
	"u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool", "string", "array", "u64", "i64", "f64",
};

const char *gguf_vtype_name(uint32_t type)
{
	return type < GGUF_VT_COUNT ? vtype_names[type] : "?";
}

size_t gguf_vtype_size(uint32_t type)
{
	static const uint8_t sz[GGUF_VT_COUNT] = { 1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8 };

	return type < GGUF_VT_COUNT ? sz[type] : 0;
}

/* ---- cursor ---- */

struct cursor {
	const uint8_t *p;
	uint64_t size;
	uint64_t pos;
	const char *name;
	char *err;
	size_t errlen;
	char what[200]; /* what is being read, for the truncation message */
};

static int fail(struct cursor *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct cursor *c, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (c->err && c->errlen)
		snprintf(c->err, c->errlen, "%s: %s", c->name, msg);
	return -EINVAL;
}

static void what(struct cursor *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void what(struct cursor *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->what, sizeof c->what, fmt, ap);
	va_end(ap);
}

static int need(struct cursor *c, uint64_t n)
{
	if (n > c->size - c->pos)
		return fail(c, "truncated at byte %llu while reading %s (needs %llu more bytes, file has %llu)",
			    (unsigned long long)c->size, c->what, (unsigned long long)n,
			    (unsigned long long)(c->size - c->pos));
	return 0;
}

static int rd(struct cursor *c, void *dst, uint64_t n)
{
	if (need(c, n))
		return -EINVAL;
	memcpy(dst, c->p + c->pos, n);
	c->pos += n;
	return 0;
}

static int rd_u32(struct cursor *c, uint32_t *v)
{
	return rd(c, v, 4);
}

static int rd_u64(struct cursor *c, uint64_t *v)
{
	return rd(c, v, 8);
}

static int rd_str(struct cursor *c, struct gguf_str *s)
{
	uint64_t len;

	if (rd_u64(c, &len))
		return -EINVAL;
	if (len > c->size - c->pos)
		return fail(c, "truncated at byte %llu while reading %s: string length %llu at byte %llu runs past the end of the file",
			    (unsigned long long)c->size, c->what, (unsigned long long)len,
			    (unsigned long long)(c->pos - 8));
	s->p = (const char *)c->p + c->pos;
	s->len = len;
	c->pos += len;
	return 0;
}

/* Reads (skips over) one value of `type`, checking every length. */
static int rd_value(struct cursor *c, struct gguf_kv *kv)
{
	size_t esz;

	if (kv->type >= GGUF_VT_COUNT)
		return fail(c, "%s has unknown value type %u", c->what, kv->type);
	if (kv->type == GGUF_VT_STRING) {
		struct gguf_str s;
		uint64_t start = c->pos;

		if (rd_str(c, &s))
			return -EINVAL;
		kv->val = c->p + start;
		kv->val_bytes = c->pos - start;
		return 0;
	}
	if (kv->type != GGUF_VT_ARRAY) {
		esz = gguf_vtype_size(kv->type);
		if (need(c, esz))
			return -EINVAL;
		kv->val = c->p + c->pos;
		kv->val_bytes = esz;
		c->pos += esz;
		return 0;
	}
	if (rd_u32(c, &kv->arr_type) || rd_u64(c, &kv->arr_n))
		return -EINVAL;
	if (kv->arr_type >= GGUF_VT_COUNT)
		return fail(c, "%s is an array of unknown type %u", c->what, kv->arr_type);
	if (kv->arr_type == GGUF_VT_ARRAY)
		return fail(c, "%s is an array of arrays, which GGUF readers do not support", c->what);
	kv->val = c->p + c->pos;
	if (kv->arr_type == GGUF_VT_STRING) {
		uint64_t start = c->pos;

		if (kv->arr_n > (c->size - c->pos) / 8)
			return fail(c, "truncated at byte %llu while reading %s: it claims %llu strings, more than the %llu bytes left can hold",
				    (unsigned long long)c->size, c->what, (unsigned long long)kv->arr_n,
				    (unsigned long long)(c->size - c->pos));
		for (uint64_t i = 0; i < kv->arr_n; i++) {
			struct gguf_str s;

			if (rd_str(c, &s))
				return -EINVAL;
		}
		kv->val_bytes = c->pos - start;
		return 0;
	}
	esz = gguf_vtype_size(kv->arr_type);
	if (kv->arr_n > (c->size - c->pos) / esz)
		return fail(c, "truncated at byte %llu while reading %s: %llu elements of %zu bytes do not fit",
			    (unsigned long long)c->size, c->what, (unsigned long long)kv->arr_n, esz);
	kv->val_bytes = kv->arr_n * esz;
	c->pos += kv->val_bytes;
	return 0;
}

static bool str_eq(struct gguf_str s, const char *z)
{
	size_t n = strlen(z);

	return s.len == n && !memcmp(s.p, z, n);
}

static int cmp_str(const struct gguf_str *a, const struct gguf_str *b)
{
	uint64_t n = a->len < b->len ? a->len : b->len;
	int r = memcmp(a->p, b->p, n);

	if (r)
		return r;
	return a->len < b->len ? -1 : a->len > b->len;
}

static int cmp_kv_ptr(const void *a, const void *b)
{
	return cmp_str(&(*(const struct gguf_kv *const *)a)->key, &(*(const struct gguf_kv *const *)b)->key);
}

static int cmp_tensor_name(const void *a, const void *b)
{
	return strcmp((*(const struct gguf_tensor *const *)a)->name,
		      (*(const struct gguf_tensor *const *)b)->name);
}

static int cmp_tensor_off(const void *a, const void *b)
{
	const struct gguf_tensor *x = *(const struct gguf_tensor *const *)a;
	const struct gguf_tensor *y = *(const struct gguf_tensor *const *)b;

	return x->offset < y->offset ? -1 : x->offset > y->offset;
}

/* Duplicate keys / tensor names, overlapping tensors: checked on sorted index arrays. */
static int check_unique(struct cursor *c, struct gguf_file *f)
{
	void **idx = NULL;
	uint64_t n = f->n_kv > f->n_tensors ? f->n_kv : f->n_tensors;
	int rc = 0;

	if (n < 2)
		return 0;
	idx = malloc(n * sizeof *idx);
	if (!idx)
		return fail(c, "out of memory");
	for (uint64_t i = 0; i < f->n_kv; i++)
		idx[i] = &f->kv[i];
	qsort(idx, f->n_kv, sizeof *idx, cmp_kv_ptr);
	for (uint64_t i = 1; i < f->n_kv && !rc; i++) {
		const struct gguf_kv *a = idx[i - 1], *b = idx[i];

		if (!cmp_str(&a->key, &b->key))
			rc = fail(c, "metadata key '%.*s' appears twice", (int)(a->key.len > 200 ? 200 : a->key.len),
				  a->key.p);
	}
	for (uint64_t i = 0; i < f->n_tensors && !rc; i++)
		idx[i] = &f->tensors[i];
	if (!rc)
		qsort(idx, f->n_tensors, sizeof *idx, cmp_tensor_name);
	for (uint64_t i = 1; i < f->n_tensors && !rc; i++) {
		const struct gguf_tensor *a = idx[i - 1], *b = idx[i];

		if (!strcmp(a->name, b->name))
			rc = fail(c, "tensor name '%s' appears twice", a->name);
	}
	if (!rc)
		qsort(idx, f->n_tensors, sizeof *idx, cmp_tensor_off);
	for (uint64_t i = 1; i < f->n_tensors && !rc; i++) {
		const struct gguf_tensor *a = idx[i - 1], *b = idx[i];

		if (a->offset + a->nbytes > b->offset)
			rc = fail(c, "tensors %s (offset %llu, %llu bytes) and %s (offset %llu) overlap", a->name,
				  (unsigned long long)a->offset, (unsigned long long)a->nbytes, b->name,
				  (unsigned long long)b->offset);
	}
	free(idx);
	return rc;
}

/* Doubles a zero-initialised array. */
static int grow(void **arr, uint64_t *cap, size_t elem)
{
	uint64_t n = *cap ? 2 * *cap : 16;
	void *p;

	if (n > SIZE_MAX / elem || !(p = realloc(*arr, (size_t)n * elem)))
		return -ENOMEM;
	memset((char *)p + *cap * elem, 0, (size_t)(n - *cap) * elem);
	*arr = p;
	*cap = n;
	return 0;
}

static int parse_kvs(struct cursor *c, struct gguf_file *f)
{
	/* The array grows as entries parse, so a lying count costs no memory up front. */
	uint64_t cap = 0;

	for (uint64_t i = 0; i < f->n_kv; i++) {
		struct gguf_kv *kv;

		if (i == cap && grow((void **)&f->kv, &cap, sizeof *f->kv))
			return fail(c, "out of memory for %llu metadata entries", (unsigned long long)i);
		kv = &f->kv[i];

		what(c, "the key of metadata entry %llu of %llu", (unsigned long long)i,
		     (unsigned long long)f->n_kv);
		if (rd_str(c, &kv->key))
			return -EINVAL;
		what(c, "the type of metadata entry %llu (%.*s)", (unsigned long long)i,
		     (int)(kv->key.len > 100 ? 100 : kv->key.len), kv->key.p);
		if (rd_u32(c, &kv->type))
			return -EINVAL;
		what(c, "the value of metadata entry %llu (%.*s)", (unsigned long long)i,
		     (int)(kv->key.len > 100 ? 100 : kv->key.len), kv->key.p);
		if (rd_value(c, kv))
			return -EINVAL;
		if (str_eq(kv->key, "general.alignment")) {
			uint32_t a;

			if (kv->type != GGUF_VT_U32)
				return fail(c, "general.alignment has type %s, expected u32",
					    gguf_vtype_name(kv->type));
			memcpy(&a, kv->val, 4);
			if (a == 0 || (a & (a - 1)))
				return fail(c, "general.alignment %u is not a power of two", a);
			f->alignment = a;
		}
	}
	return 0;
}

/* On failure *cap_out says how many entries of f->tensors exist (for gguf_close). */
static int parse_tensors(struct cursor *c, struct gguf_file *f, uint64_t *cap_out)
{
	uint64_t *cap = cap_out;

	*cap = 0;
	for (uint64_t i = 0; i < f->n_tensors; i++) {
		struct gguf_tensor *t;
		struct gguf_str name;
		uint64_t n_el = 1, row;

		if (i == *cap && grow((void **)&f->tensors, cap, sizeof *f->tensors))
			return fail(c, "out of memory for %llu tensors", (unsigned long long)i);
		t = &f->tensors[i];
		what(c, "the name of tensor info %llu of %llu", (unsigned long long)i,
		     (unsigned long long)f->n_tensors);
		if (rd_str(c, &name))
			return -EINVAL;
		if (name.len == 0 || name.len > 255 || memchr(name.p, '\0', name.len))
			return fail(c, "tensor info %llu of %llu has an invalid name (length %llu)",
				    (unsigned long long)i, (unsigned long long)f->n_tensors,
				    (unsigned long long)name.len);
		t->name = strndup(name.p, name.len);
		if (!t->name)
			return fail(c, "out of memory");
		what(c, "tensor info %llu (%s)", (unsigned long long)i, t->name);
		if (rd_u32(c, &t->n_dims))
			return -EINVAL;
		if (t->n_dims < 1 || t->n_dims > GGUF_MAX_DIMS)
			return fail(c, "tensor %s has %u dimensions (1 to %d allowed)", t->name, t->n_dims,
				    GGUF_MAX_DIMS);
		for (int d = 0; d < GGUF_MAX_DIMS; d++)
			t->ne[d] = 1;
		for (uint32_t d = 0; d < t->n_dims; d++) {
			uint64_t v;

			if (rd_u64(c, &v))
				return -EINVAL;
			if (v > (uint64_t)INT64_MAX || (v && n_el > (uint64_t)INT64_MAX / v))
				return fail(c, "tensor %s has an impossible shape (dimension %u is %llu)", t->name,
					    d, (unsigned long long)v);
			t->ne[d] = (int64_t)v;
			n_el *= v;
		}
		if (rd_u32(c, &t->type) || rd_u64(c, &t->offset))
			return -EINVAL;
		if (!gguf_type_name(t->type))
			return fail(c, "tensor %s has unknown type %u", t->name, t->type);
		row = gguf_row_bytes(t->type, t->ne[0]);
		if (!row && t->ne[0])
			return fail(c, "tensor %s: row length %lld is not a multiple of the %s block size %d",
				    t->name, (long long)t->ne[0], gguf_type_name(t->type),
				    gguf_type_block(t->type));
		t->nbytes = row;
		for (int d = 1; d < GGUF_MAX_DIMS; d++) {
			if (t->ne[d] && t->nbytes > UINT64_MAX / (uint64_t)t->ne[d])
				return fail(c, "tensor %s is impossibly large", t->name);
			t->nbytes *= (uint64_t)t->ne[d];
		}
	}
	return 0;
}

int gguf_parse(const void *buf, size_t size, const char *name, struct gguf_file **out, char *err,
	       size_t errlen)
{
	struct cursor c = { .p = buf, .size = size, .name = name, .err = err, .errlen = errlen };
	struct gguf_file *f = NULL;
	char magic[4];
	uint64_t t_cap = 0;
	int rc = -EINVAL;

	*out = NULL;
	f = calloc(1, sizeof *f);
	if (!f)
		return fail(&c, "out of memory");
	snprintf(f->path, sizeof f->path, "%s", name);
	f->base = buf;
	f->size = size;
	f->alignment = GGUF_DEFAULT_ALIGNMENT;

	what(&c, "the magic");
	if (rd(&c, magic, 4))
		goto out;
	if (memcmp(magic, GGUF_MAGIC, 4)) {
		fail(&c, "bad magic (not a GGUF file): starts with %02x %02x %02x %02x", (uint8_t)magic[0],
		     (uint8_t)magic[1], (uint8_t)magic[2], (uint8_t)magic[3]);
		goto out;
	}
	what(&c, "the version");
	if (rd_u32(&c, &f->version))
		goto out;
	if (f->version != 2 && f->version != 3) {
		if ((f->version & 0xffff) == 0 && f->version)
			fail(&c, "big-endian GGUF files are not supported (version field %#x)", f->version);
		else
			fail(&c, "unsupported version %u (2 and 3 are supported)", f->version);
		goto out;
	}
	what(&c, "the tensor count");
	if (rd_u64(&c, &f->n_tensors))
		goto out;
	what(&c, "the metadata count");
	if (rd_u64(&c, &f->n_kv))
		goto out;
	if (parse_kvs(&c, f))
		goto out;
	if (parse_tensors(&c, f, &t_cap)) {
		if (f->n_tensors > t_cap)
			f->n_tensors = t_cap; /* only these exist, for gguf_close() */
		goto out;
	}

	/* The data section starts at the next multiple of the alignment. A file without tensors may
	 * end before that padding. */
	f->data_offset = c.pos + (f->alignment - c.pos % f->alignment) % f->alignment;
	for (uint64_t i = 0; i < f->n_tensors; i++) {
		struct gguf_tensor *t = &f->tensors[i];

		if (t->offset % f->alignment) {
			fail(&c, "tensor %s has offset %llu, not a multiple of the alignment %llu", t->name,
			     (unsigned long long)t->offset, (unsigned long long)f->alignment);
			goto out;
		}
		if (f->data_offset > size || t->offset > size - f->data_offset ||
		    t->nbytes > size - f->data_offset - t->offset) {
			fail(&c, "tensor %s (offset %llu, %llu bytes, data section at byte %llu) lies outside the file (%llu bytes)",
			     t->name, (unsigned long long)t->offset, (unsigned long long)t->nbytes,
			     (unsigned long long)f->data_offset, (unsigned long long)size);
			goto out;
		}
		t->data = c.p + f->data_offset + t->offset;
	}
	if (check_unique(&c, f))
		goto out;
	*out = f;
	f = NULL;
	rc = 0;
out:
	gguf_close(f);
	return rc;
}

int gguf_open(const char *path, struct gguf_file **out, char *err, size_t errlen)
{
	struct stat st;
	void *map = NULL;
	int fd, rc;

	*out = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return rc;
	}
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		close(fd);
		return rc;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", path);
		close(fd);
		return -EINVAL;
	}
	if (st.st_size == 0) {
		snprintf(err, errlen, "%s: empty file (not a GGUF file)", path);
		close(fd);
		return -EINVAL;
	}
	map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	rc = map == MAP_FAILED ? -errno : 0;
	close(fd);
	if (rc) {
		snprintf(err, errlen, "%s: mmap: %s", path, strerror(-rc));
		return rc;
	}
	rc = gguf_parse(map, (size_t)st.st_size, path, out, err, errlen);
	if (rc) {
		munmap(map, (size_t)st.st_size);
		return rc;
	}
	(*out)->map = map;
	(*out)->map_len = (size_t)st.st_size;
	return 0;
}

int gguf_map_writable(struct gguf_file *f)
{
	if (!f->map)
		return -EINVAL;
	/* a private mapping: writes make the process's own copy of a page, the file is untouched */
	return mprotect(f->map, f->map_len, PROT_READ | PROT_WRITE) ? -errno : 0;
}

void gguf_close(struct gguf_file *f)
{
	if (!f)
		return;
	if (f->tensors)
		for (uint64_t i = 0; i < f->n_tensors; i++)
			free(f->tensors[i].name);
	free(f->tensors);
	free(f->kv);
	if (f->map)
		munmap(f->map, f->map_len);
	free(f);
}

/* ---- lookups ---- */

const struct gguf_kv *gguf_find(const struct gguf_file *f, const char *key)
{
	for (uint64_t i = 0; i < f->n_kv; i++)
		if (str_eq(f->kv[i].key, key))
			return &f->kv[i];
	return NULL;
}

static int scalar_int(uint32_t type, const uint8_t *p, int64_t *out)
{
	switch (type) {
	case GGUF_VT_U8: *out = *p; return 0;
	case GGUF_VT_I8: *out = (int8_t)*p; return 0;
	case GGUF_VT_BOOL: *out = *p != 0; return 0;
	case GGUF_VT_U16: { uint16_t v; memcpy(&v, p, 2); *out = v; return 0; }
	case GGUF_VT_I16: { int16_t v; memcpy(&v, p, 2); *out = v; return 0; }
	case GGUF_VT_U32: { uint32_t v; memcpy(&v, p, 4); *out = v; return 0; }
	case GGUF_VT_I32: { int32_t v; memcpy(&v, p, 4); *out = v; return 0; }
	case GGUF_VT_I64: { int64_t v; memcpy(&v, p, 8); *out = v; return 0; }
	case GGUF_VT_U64: {
		uint64_t v;
		memcpy(&v, p, 8);
		if (v > (uint64_t)INT64_MAX)
			return -ERANGE;
		*out = (int64_t)v;
		return 0;
	}
	default: return -EINVAL;
	}
}

static int scalar_float(uint32_t type, const uint8_t *p, double *out)
{
	int64_t i;

	if (type == GGUF_VT_F32) {
		float v;
		memcpy(&v, p, 4);
		*out = v;
		return 0;
	}
	if (type == GGUF_VT_F64) {
		memcpy(out, p, 8);
		return 0;
	}
	if (scalar_int(type, p, &i))
		return -EINVAL;
	*out = (double)i;
	return 0;
}

int gguf_get_int(const struct gguf_file *f, const char *key, int64_t *out)
{
	const struct gguf_kv *kv = gguf_find(f, key);

	if (!kv)
		return -ENOENT;
	return scalar_int(kv->type, kv->val, out);
}

int gguf_get_float(const struct gguf_file *f, const char *key, double *out)
{
	const struct gguf_kv *kv = gguf_find(f, key);

	if (!kv)
		return -ENOENT;
	return scalar_float(kv->type, kv->val, out);
}

int gguf_get_str(const struct gguf_file *f, const char *key, char *buf, size_t len)
{
	const struct gguf_kv *kv = gguf_find(f, key);
	uint64_t n;

	if (!kv)
		return -ENOENT;
	if (kv->type != GGUF_VT_STRING || len == 0)
		return -EINVAL;
	memcpy(&n, kv->val, 8);
	if (n > len - 1)
		n = len - 1;
	memcpy(buf, kv->val + 8, n);
	buf[n] = '\0';
	return 0;
}

struct gguf_str gguf_arr_next_str(const struct gguf_kv *kv, uint64_t *pos)
{
	struct gguf_str s;

	memcpy(&s.len, kv->val + *pos, 8);
	s.p = (const char *)kv->val + *pos + 8;
	*pos += 8 + s.len;
	return s;
}

double gguf_arr_float(const struct gguf_kv *kv, uint64_t i)
{
	double v = 0;

	scalar_float(kv->arr_type, kv->val + i * gguf_vtype_size(kv->arr_type), &v);
	return v;
}

int64_t gguf_arr_int(const struct gguf_kv *kv, uint64_t i)
{
	int64_t v = 0;

	scalar_int(kv->arr_type, kv->val + i * gguf_vtype_size(kv->arr_type), &v);
	return v;
}

const struct gguf_tensor *gguf_find_tensor(const struct gguf_file *f, const char *name)
{
	for (uint64_t i = 0; i < f->n_tensors; i++)
		if (!strcmp(f->tensors[i].name, name))
			return &f->tensors[i];
	return NULL;
}
