/*
 * tests/test_gguf.c — the GGUF reader against a table of malformed files, the writer round trip,
 * and the llama loader (shapes, types, tied output, norm conversion, error messages).
 *
 * Malformed files are built byte by byte here (not with the writer under test) from one valid
 * base file whose field positions are recorded, then patched or truncated.
 */
#include "helpers/testutil.h"

#include "engine/gguf.h"
#include "engine/kernels.h"
#include "engine/model.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- a byte builder ---- */

struct blob {
	uint8_t *p;
	size_t n, cap;
};

static void b_put(struct blob *b, const void *p, size_t n)
{
	if (b->n + n > b->cap) {
		b->cap = (b->n + n) * 2 + 64;
		b->p = realloc(b->p, b->cap);
		assert_non_null(b->p);
	}
	memcpy(b->p + b->n, p, n);
	b->n += n;
}

static void b_u32(struct blob *b, uint32_t v)
{
	b_put(b, &v, 4);
}

static void b_u64(struct blob *b, uint64_t v)
{
	b_put(b, &v, 8);
}

static void b_str(struct blob *b, const char *s)
{
	b_u64(b, strlen(s));
	b_put(b, s, strlen(s));
}

/* Positions of fields in the base file, for patching. */
struct base {
	struct blob b;
	size_t version, n_tensors, n_kv;
	size_t kv_start[4], key0_len, kv1_type, align_val, kv2_arr_n, kv3_arr_type, kv3_arr_n;
	size_t t_start[2], t0_ndims, t0_ne0, t0_type, t1_type, t1_offset, t0_name;
	size_t data_start;
};

/* A valid v3 file: 4 metadata entries, an F32 [4,2] and a Q8_0 [32] tensor. kv3_key names the
 * last entry (to make duplicate keys). */
static void make_base(struct base *s, const char *kv3_key)
{
	struct blob *b = &s->b;
	float fl[2] = { 1.5f, -2.0f };

	memset(s, 0, sizeof *s);
	b_put(b, "GGUF", 4);
	s->version = b->n;
	b_u32(b, 3);
	s->n_tensors = b->n;
	b_u64(b, 2);
	s->n_kv = b->n;
	b_u64(b, 4);

	s->kv_start[0] = s->key0_len = b->n;
	b_str(b, "general.architecture");
	b_u32(b, GGUF_VT_STRING);
	b_str(b, "llama");

	s->kv_start[1] = b->n;
	b_str(b, "general.alignment");
	s->kv1_type = b->n;
	b_u32(b, GGUF_VT_U32);
	s->align_val = b->n;
	b_u32(b, 32);

	s->kv_start[2] = b->n;
	b_str(b, "tokenizer.ggml.tokens");
	b_u32(b, GGUF_VT_ARRAY);
	b_u32(b, GGUF_VT_STRING);
	s->kv2_arr_n = b->n;
	b_u64(b, 3);
	b_str(b, "a");
	b_str(b, "bb");
	b_str(b, "<0x41>");

	s->kv_start[3] = b->n;
	b_str(b, kv3_key);
	b_u32(b, GGUF_VT_ARRAY);
	s->kv3_arr_type = b->n;
	b_u32(b, GGUF_VT_F32);
	s->kv3_arr_n = b->n;
	b_u64(b, 2);
	b_put(b, fl, sizeof fl);

	s->t_start[0] = b->n;
	s->t0_name = b->n + 8;
	b_str(b, "t.a");
	s->t0_ndims = b->n;
	b_u32(b, 2);
	s->t0_ne0 = b->n;
	b_u64(b, 4);
	b_u64(b, 2);
	s->t0_type = b->n;
	b_u32(b, 0);
	b_u64(b, 0);

	s->t_start[1] = b->n;
	b_str(b, "t.b");
	b_u32(b, 1);
	b_u64(b, 32);
	s->t1_type = b->n;
	b_u32(b, 8);
	s->t1_offset = b->n;
	b_u64(b, 32);

	while (b->n % 32)
		b_put(b, "", 1);
	s->data_start = b->n;
	for (int i = 0; i < 8; i++) {
		float v = (float)i;
		b_put(b, &v, 4);
	}
	for (int i = 0; i < 34; i++) {
		uint8_t v = (uint8_t)i;
		b_put(b, &v, 1);
	}
}

static void patch32(struct base *s, size_t at, uint32_t v)
{
	memcpy(s->b.p + at, &v, 4);
}

static void patch64(struct base *s, size_t at, uint64_t v)
{
	memcpy(s->b.p + at, &v, 8);
}

/* Parses buf[0..n) expecting failure with `want` in the message (and the file name). */
static void expect_error(const uint8_t *buf, size_t n, const char *want)
{
	struct gguf_file *f = (struct gguf_file *)0x1;
	char err[1024] = "";
	/* A copy of exactly n bytes so ASan catches any read past the end. */
	uint8_t *copy = malloc(n ? n : 1);
	int rc;

	memcpy(copy, buf, n);
	rc = gguf_parse(copy, n, "bad.gguf", &f, err, sizeof err);
	if (rc == 0 || f != NULL || !strstr(err, want) || strncmp(err, "bad.gguf: ", 10)) {
		fprintf(stderr, "size %zu: rc %d, expected an error containing '%s', got '%s'\n", n, rc, want, err);
		gguf_close(rc == 0 ? f : NULL);
		free(copy);
		fail();
	}
	free(copy);
}

static void test_base_is_valid(void **state)
{
	struct base s;
	struct gguf_file *f = NULL;
	const struct gguf_kv *kv;
	char err[512], buf[64];
	uint64_t pos = 0;
	int64_t align;
	struct gguf_str str;

	(void)state;
	make_base(&s, "test.floats");
	assert_int_equal(gguf_parse(s.b.p, s.b.n, "ok.gguf", &f, err, sizeof err), 0);
	assert_int_equal(f->version, 3);
	assert_int_equal(f->n_kv, 4);
	assert_int_equal(f->n_tensors, 2);
	assert_int_equal(f->data_offset, s.data_start);
	assert_int_equal(gguf_get_str(f, "general.architecture", buf, sizeof buf), 0);
	assert_string_equal(buf, "llama");
	assert_int_equal(gguf_get_int(f, "general.alignment", &align), 0);
	assert_int_equal(align, 32);
	assert_int_equal(gguf_get_int(f, "missing.key", &align), -ENOENT);
	assert_int_equal(gguf_get_int(f, "general.architecture", &align), -EINVAL);
	kv = gguf_find(f, "tokenizer.ggml.tokens");
	assert_non_null(kv);
	assert_int_equal(kv->arr_n, 3);
	str = gguf_arr_next_str(kv, &pos);
	assert_true(str.len == 1 && str.p[0] == 'a');
	str = gguf_arr_next_str(kv, &pos);
	assert_true(str.len == 2 && !memcmp(str.p, "bb", 2));
	str = gguf_arr_next_str(kv, &pos);
	assert_true(str.len == 6 && !memcmp(str.p, "<0x41>", 6));
	kv = gguf_find(f, "test.floats");
	assert_true(gguf_arr_float(kv, 1) == -2.0);
	assert_int_equal(f->tensors[0].nbytes, 32);
	assert_int_equal(f->tensors[1].nbytes, 34);
	assert_ptr_equal(f->tensors[1].data, (const uint8_t *)s.b.p + s.data_start + 32);
	assert_int_equal(((const float *)f->tensors[0].data)[7], 7);
	assert_non_null(gguf_find_tensor(f, "t.b"));
	assert_null(gguf_find_tensor(f, "t.c"));
	gguf_close(f);
	free(s.b.p);
}

/* Every proper prefix of the file is an error, never a crash; boundaries get exact messages. */
static void test_truncation_everywhere(void **state)
{
	struct base s;

	(void)state;
	make_base(&s, "test.floats");
	for (size_t n = 0; n < s.b.n; n++) {
		/* Past the last tensor info only the padding or data is missing: the data then
		 * lies outside the file. */
		const size_t end_infos = s.t_start[1] + 8 + 3 + 4 + 8 + 4 + 8;
		const char *want = n < end_infos ? "truncated at byte" : "lies outside the file";

		expect_error(s.b.p, n, want);
	}
	expect_error(s.b.p, 3, "while reading the magic");
	expect_error(s.b.p, s.version + 2, "while reading the version");
	expect_error(s.b.p, s.n_kv + 4, "while reading the metadata count");
	expect_error(s.b.p, s.kv_start[1] + 3, "while reading the key of metadata entry 1");
	expect_error(s.b.p, s.kv1_type + 2, "the type of metadata entry 1 (general.alignment)");
	expect_error(s.b.p, s.align_val + 1, "the value of metadata entry 1 (general.alignment)");
	expect_error(s.b.p, s.kv2_arr_n + 12, "value of metadata entry 2 (tokenizer.ggml.tokens)");
	expect_error(s.b.p, s.t_start[0] + 2, "the name of tensor info 0");
	expect_error(s.b.p, s.t1_offset + 4, "tensor info 1 (t.b)");
	expect_error(s.b.p, s.data_start + 40, "tensor t.b (offset 32, 34 bytes");
	free(s.b.p);
}

struct patch_case {
	const char *what;
	int field;     /* which position */
	int width;     /* 4 or 8 */
	uint64_t value;
	const char *want;
};

enum { F_MAGIC, F_VERSION, F_NT, F_NKV, F_KEY0LEN, F_KV1TYPE, F_ALIGN, F_KV2N, F_KV3TYPE, F_KV3N, F_T0NDIMS,
       F_T0NE0, F_T0TYPE, F_T1TYPE, F_T1OFF, F_T0NAME };

static size_t field_pos(const struct base *s, int f)
{
	switch (f) {
	case F_MAGIC: return 0;
	case F_VERSION: return s->version;
	case F_NT: return s->n_tensors;
	case F_NKV: return s->n_kv;
	case F_KEY0LEN: return s->key0_len;
	case F_KV1TYPE: return s->kv1_type;
	case F_ALIGN: return s->align_val;
	case F_KV2N: return s->kv2_arr_n;
	case F_KV3TYPE: return s->kv3_arr_type;
	case F_KV3N: return s->kv3_arr_n;
	case F_T0NDIMS: return s->t0_ndims;
	case F_T0NE0: return s->t0_ne0;
	case F_T0TYPE: return s->t0_type;
	case F_T1TYPE: return s->t1_type;
	case F_T1OFF: return s->t1_offset;
	default: return s->t0_name;
	}
}

static const struct patch_case patch_cases[] = {
	{ "bad magic", F_MAGIC, 4, 0x46554758, "bad magic" },
	{ "version 1", F_VERSION, 4, 1, "unsupported version 1" },
	{ "version 4", F_VERSION, 4, 4, "unsupported version 4" },
	{ "big-endian", F_VERSION, 4, 0x03000000, "big-endian" },
	{ "huge tensor count", F_NT, 8, 1ull << 60, "tensor info 2 of 1152921504606846976" },
	{ "huge metadata count", F_NKV, 8, UINT64_MAX, " of 18446744073709551615" },
	{ "key length past EOF", F_KEY0LEN, 8, 1ull << 40, "runs past the end of the file" },
	{ "unknown value type", F_KV1TYPE, 4, 13, "unknown value type 13" },
	{ "alignment not u32", F_KV1TYPE, 4, GGUF_VT_I32, "general.alignment has type i32" },
	{ "alignment 48", F_ALIGN, 4, 48, "not a power of two" },
	{ "alignment 0", F_ALIGN, 4, 0, "not a power of two" },
	{ "huge string array", F_KV2N, 8, 1ull << 50, "claims 1125899906842624 strings" },
	{ "string array one too long", F_KV2N, 8, 4, "runs past the end" },
	{ "array of arrays", F_KV3TYPE, 4, GGUF_VT_ARRAY, "array of arrays" },
	{ "array of unknown", F_KV3TYPE, 4, 77, "unknown type 77" },
	{ "huge f32 array", F_KV3N, 8, 1ull << 62, "do not fit" },
	{ "5 dimensions", F_T0NDIMS, 4, 5, "has 5 dimensions" },
	{ "0 dimensions", F_T0NDIMS, 4, 0, "has 0 dimensions" },
	{ "dimension overflow", F_T0NE0, 8, 1ull << 63, "impossible shape" },
	{ "huge tensor", F_T0NE0, 8, 1ull << 40, "outside the file" },
	{ "tensor bytes overflow", F_T0NE0, 8, 1ull << 61, "impossibly large" },
	{ "unknown tensor type", F_T0TYPE, 4, 99, "unknown type 99" },
	{ "removed type 4", F_T0TYPE, 4, 4, "unknown type 4" },
	{ "block size", F_T1TYPE, 4, 14, "not a multiple of the Q6_K block size 256" },
	{ "offset outside", F_T1OFF, 8, 1ull << 40, "tensor t.b (offset 1099511627776" },
	{ "offset wraps", F_T1OFF, 8, UINT64_MAX - 31, "lies outside the file" },
	{ "misaligned offset", F_T1OFF, 8, 16, "not a multiple of the alignment 32" },
	{ "overlapping tensors", F_T1OFF, 8, 0, "overlap" },
	{ "duplicate tensor name", F_T0NAME, 1, 'b', "tensor name 't.b' appears twice" },
};

static void test_patched_files(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof patch_cases / sizeof patch_cases[0]; i++) {
		const struct patch_case *c = &patch_cases[i];
		struct base s;
		size_t at;

		make_base(&s, "test.floats");
		at = field_pos(&s, c->field);
		if (c->field == F_T0NAME)
			at += 2;
		if (c->width == 8)
			patch64(&s, at, c->value);
		else if (c->width == 4)
			patch32(&s, at, (uint32_t)c->value);
		else
			s.b.p[at] = (uint8_t)c->value;
		fprintf(stderr, "  case: %s\n", c->what);
		expect_error(s.b.p, s.b.n, c->want);
		free(s.b.p);
	}
}

static void test_duplicate_key(void **state)
{
	struct base s;

	(void)state;
	make_base(&s, "general.architecture");
	expect_error(s.b.p, s.b.n, "metadata key 'general.architecture' appears twice");
	free(s.b.p);
}

/* Random byte flips: any result is fine as long as it is a clean one (ASan watches). */
static void test_random_corruption(void **state)
{
	struct base s;
	uint64_t rng = 12345;
	int ok = 0, bad = 0;

	(void)state;
	make_base(&s, "test.floats");
	for (int it = 0; it < 3000; it++) {
		uint8_t *copy = malloc(s.b.n);
		struct gguf_file *f = NULL;
		char err[512] = "";
		int flips;

		memcpy(copy, s.b.p, s.b.n);
		rng = rng * 6364136223846793005ull + 1442695040888963407ull;
		flips = 1 + (int)(rng >> 60) % 4;
		for (int k = 0; k < flips; k++) {
			rng = rng * 6364136223846793005ull + 1442695040888963407ull;
			copy[(rng >> 33) % s.b.n] = (uint8_t)(rng >> 20);
		}
		if (gguf_parse(copy, s.b.n, "x.gguf", &f, err, sizeof err) == 0) {
			ok++;
			gguf_close(f);
		} else {
			assert_non_null(strstr(err, "x.gguf: "));
			bad++;
		}
		free(copy);
	}
	assert_true(bad > 0);
	fprintf(stderr, "  %d corrupted files parsed, %d rejected\n", ok, bad);
	free(s.b.p);
}

static void test_open_errors(void **state)
{
	struct gguf_file *f = NULL;
	char err[512];
	char *dir = tu_mkdtemp(), path[600];

	(void)state;
	assert_int_equal(gguf_open("/nonexistent/x.gguf", &f, err, sizeof err), -ENOENT);
	assert_non_null(strstr(err, "/nonexistent/x.gguf"));
	snprintf(path, sizeof path, "%s/empty.gguf", dir);
	tu_write_file(path, "", 0);
	assert_int_equal(gguf_open(path, &f, err, sizeof err), -EINVAL);
	assert_non_null(strstr(err, "empty file"));
	assert_int_equal(gguf_open(dir, &f, err, sizeof err), -EINVAL);
	assert_non_null(strstr(err, "not a regular file"));
	tu_rmtree(dir);
	free(dir);
}

/* ---- writer round trip ---- */

static void test_writer_round_trip(void **state)
{
	char *dir = tu_mkdtemp(), path[600], err[512];
	struct gguf_writer *w = gguf_writer_new();
	struct gguf_file *f = NULL;
	const char *strs[] = { "x", "", "\xe2\x96\x81hello" };
	int32_t ints[3] = { -1, 0, 7 };
	float data_a[6] = { 1, 2, 3, 4, 5, 6 };
	uint8_t data_b[18 * 2];
	int64_t ne_a[2] = { 3, 2 }, ne_b[2] = { 32, 2 };
	const struct gguf_kv *kv;
	uint64_t pos = 0;
	int64_t iv;
	double dv;
	char sbuf[32];

	(void)state;
	for (size_t i = 0; i < sizeof data_b; i++)
		data_b[i] = (uint8_t)(i * 7);
	snprintf(path, sizeof path, "%s/rt.gguf", dir);
	assert_int_equal(gguf_w_str(w, "general.architecture", "llama"), 0);
	assert_int_equal(gguf_w_u32(w, "general.alignment", 64), 0);
	assert_int_equal(gguf_w_i32(w, "k.i32", -5), 0);
	assert_int_equal(gguf_w_u64(w, "k.u64", 1ull << 40), 0);
	assert_int_equal(gguf_w_f32(w, "k.f32", 0.25f), 0);
	assert_int_equal(gguf_w_bool(w, "k.bool", true), 0);
	assert_int_equal(gguf_w_arr_str(w, "k.strs", strs, NULL, 3), 0);
	assert_int_equal(gguf_w_arr(w, "k.ints", GGUF_VT_I32, ints, 3), 0);
	assert_int_equal(gguf_w_tensor(w, "a", 0, 2, ne_a), 0);
	assert_int_equal(gguf_w_tensor(w, "b", ENG_TYPE_Q4_0, 2, ne_b), 0);
	assert_int_not_equal(gguf_w_tensor(w, "c", ENG_TYPE_Q4_0, 1, (int64_t[]){ 31 }), 0);
	assert_int_equal(gguf_writer_open(w, path), 0);
	assert_int_equal(gguf_writer_write(w, data_a, 10), 0); /* split writes across a boundary */
	assert_int_equal(gguf_writer_write(w, (uint8_t *)data_a + 10, sizeof data_a - 10), 0);
	assert_int_equal(gguf_writer_write(w, data_b, sizeof data_b), 0);
	assert_int_equal(gguf_writer_write(w, data_b, 1), -EINVAL); /* more than declared */
	gguf_writer_free(w);
	assert_int_not_equal(gguf_open(path, &f, err, sizeof err), 0); /* never renamed into place */

	w = gguf_writer_new();
	assert_int_equal(gguf_w_str(w, "general.architecture", "llama"), 0);
	assert_int_equal(gguf_w_u32(w, "general.alignment", 64), 0);
	assert_int_equal(gguf_w_i32(w, "k.i32", -5), 0);
	assert_int_equal(gguf_w_u64(w, "k.u64", 1ull << 40), 0);
	assert_int_equal(gguf_w_f32(w, "k.f32", 0.25f), 0);
	assert_int_equal(gguf_w_bool(w, "k.bool", true), 0);
	assert_int_equal(gguf_w_arr_str(w, "k.strs", strs, NULL, 3), 0);
	assert_int_equal(gguf_w_arr(w, "k.ints", GGUF_VT_I32, ints, 3), 0);
	assert_int_equal(gguf_w_tensor(w, "a", 0, 2, ne_a), 0);
	assert_int_equal(gguf_w_tensor(w, "b", ENG_TYPE_Q4_0, 2, ne_b), 0);
	assert_int_equal(gguf_writer_open(w, path), 0);
	assert_int_equal(gguf_writer_write(w, data_a, 10), 0);
	assert_int_equal(gguf_writer_write(w, (uint8_t *)data_a + 10, sizeof data_a - 10), 0);
	assert_int_not_equal(gguf_writer_finish(w), 0); /* b not written yet */
	gguf_writer_free(w);

	w = gguf_writer_new();
	gguf_w_str(w, "general.architecture", "llama");
	gguf_w_u32(w, "general.alignment", 64);
	gguf_w_i32(w, "k.i32", -5);
	gguf_w_u64(w, "k.u64", 1ull << 40);
	gguf_w_f32(w, "k.f32", 0.25f);
	gguf_w_bool(w, "k.bool", true);
	gguf_w_arr_str(w, "k.strs", strs, NULL, 3);
	gguf_w_arr(w, "k.ints", GGUF_VT_I32, ints, 3);
	gguf_w_tensor(w, "a", 0, 2, ne_a);
	gguf_w_tensor(w, "b", ENG_TYPE_Q4_0, 2, ne_b);
	assert_int_equal(gguf_writer_open(w, path), 0);
	assert_int_equal(gguf_writer_write(w, data_a, sizeof data_a), 0);
	assert_int_equal(gguf_writer_write(w, data_b, sizeof data_b), 0);
	assert_int_equal(gguf_writer_finish(w), 0);
	gguf_writer_free(w);

	assert_int_equal(gguf_open(path, &f, err, sizeof err), 0);
	assert_int_equal(f->version, 3);
	assert_int_equal(f->alignment, 64);
	assert_int_equal(f->data_offset % 64, 0);
	assert_int_equal(f->n_kv, 8);
	assert_int_equal(gguf_get_int(f, "k.i32", &iv), 0);
	assert_int_equal(iv, -5);
	assert_int_equal(gguf_get_int(f, "k.u64", &iv), 0);
	assert_int_equal(iv, 1ll << 40);
	assert_int_equal(gguf_get_float(f, "k.f32", &dv), 0);
	assert_true(dv == 0.25);
	assert_int_equal(gguf_get_int(f, "k.bool", &iv), 0);
	assert_int_equal(iv, 1);
	assert_int_equal(gguf_get_str(f, "general.architecture", sbuf, sizeof sbuf), 0);
	assert_string_equal(sbuf, "llama");
	kv = gguf_find(f, "k.strs");
	assert_int_equal(kv->arr_type, GGUF_VT_STRING);
	assert_int_equal(kv->arr_n, 3);
	for (int i = 0; i < 3; i++) {
		struct gguf_str s = gguf_arr_next_str(kv, &pos);

		assert_int_equal(s.len, strlen(strs[i]));
		assert_memory_equal(s.p, strs[i], s.len);
	}
	kv = gguf_find(f, "k.ints");
	for (int i = 0; i < 3; i++)
		assert_int_equal(gguf_arr_int(kv, (uint64_t)i), ints[i]);
	assert_int_equal(f->n_tensors, 2);
	assert_string_equal(f->tensors[0].name, "a");
	assert_int_equal(f->tensors[0].ne[0], 3);
	assert_int_equal(f->tensors[0].ne[1], 2);
	assert_memory_equal(f->tensors[0].data, data_a, sizeof data_a);
	assert_int_equal(f->tensors[1].type, ENG_TYPE_Q4_0);
	assert_int_equal(f->tensors[1].offset % 64, 0);
	assert_memory_equal(f->tensors[1].data, data_b, sizeof data_b);

	/* Copying every entry into a new file gives the same metadata bytes. */
	{
		char path2[640];
		struct gguf_file *g = NULL;

		w = gguf_writer_new();
		for (uint64_t i = 0; i < f->n_kv; i++)
			assert_int_equal(gguf_w_copy_kv(w, &f->kv[i]), 0);
		snprintf(path2, sizeof path2, "%s/copy.gguf", dir);
		assert_int_equal(gguf_writer_open(w, path2), 0);
		assert_int_equal(gguf_writer_finish(w), 0);
		gguf_writer_free(w);
		assert_int_equal(gguf_open(path2, &g, err, sizeof err), 0);
		assert_int_equal(g->n_kv, f->n_kv);
		for (uint64_t i = 0; i < f->n_kv; i++) {
			assert_int_equal(g->kv[i].type, f->kv[i].type);
			assert_int_equal(g->kv[i].val_bytes, f->kv[i].val_bytes);
			assert_memory_equal(g->kv[i].val, f->kv[i].val, f->kv[i].val_bytes);
		}
		gguf_close(g);
	}
	gguf_close(f);
	tu_rmtree(dir);
	free(dir);
}

/* ---- loader ---- */

struct tiny {
	int down_type;    /* type of blk.0.ffn_down */
	bool bad_q_shape;
	bool omit_k;
	bool norm_f16;
	bool tied;
	const char *arch;
	const char *scaling;  /* llama.rope.scaling.type, with factor 4 */
	bool rope_freqs;      /* a rope_freqs.weight of 8 values */
	int sliding_window;
};

/* A one-layer llama: dim 32, hidden 256, 2 heads, 1 kv head, vocab 8. Weights: value = index. */
static void write_tiny(const char *path, const struct tiny *o)
{
	struct gguf_writer *w = gguf_writer_new();
	struct {
		const char *name;
		int type;
		int nd;
		int64_t ne0, ne1;
	} t[] = {
		{ "token_embd.weight", 0, 2, 32, 8 },       { "output_norm.weight", 0, 1, 32, 1 },
		{ "output.weight", 0, 2, 32, 8 },           { "blk.0.attn_norm.weight", 0, 1, 32, 1 },
		{ "blk.0.attn_q.weight", 0, 2, 32, 32 },    { "blk.0.attn_k.weight", 0, 2, 32, 16 },
		{ "blk.0.attn_v.weight", 8, 2, 32, 16 },    { "blk.0.attn_output.weight", 2, 2, 32, 32 },
		{ "blk.0.ffn_norm.weight", 0, 1, 32, 1 },   { "blk.0.ffn_gate.weight", 1, 2, 32, 256 },
		{ "blk.0.ffn_up.weight", 0, 2, 32, 256 },   { "blk.0.ffn_down.weight", 0, 2, 256, 32 },
		{ "rope_freqs.weight", 0, 1, 8, 1 },
	};
	const size_t nt = sizeof t / sizeof t[0];

	t[11].type = o->down_type;
	if (o->bad_q_shape)
		t[4].ne1 = 16;
	if (o->norm_f16)
		t[3].type = 1;
	gguf_w_str(w, "general.architecture", o->arch ? o->arch : "llama");
	gguf_w_str(w, "general.name", "tiny");
	gguf_w_u32(w, "llama.context_length", 64);
	gguf_w_u32(w, "llama.embedding_length", 32);
	gguf_w_u32(w, "llama.block_count", 1);
	gguf_w_u32(w, "llama.feed_forward_length", 256);
	gguf_w_u32(w, "llama.attention.head_count", 2);
	gguf_w_u32(w, "llama.attention.head_count_kv", 1);
	gguf_w_f32(w, "llama.rope.freq_base", 500000.0f);
	gguf_w_f32(w, "llama.attention.layer_norm_rms_epsilon", 1e-6f);
	if (o->scaling) {
		gguf_w_str(w, "llama.rope.scaling.type", o->scaling);
		gguf_w_f32(w, "llama.rope.scaling.factor", 4.0f);
	}
	if (o->sliding_window)
		gguf_w_u32(w, "llama.attention.sliding_window", (uint32_t)o->sliding_window);
	for (size_t i = 0; i < nt; i++) {
		if ((o->tied && i == 2) || (o->omit_k && i == 5) || (!o->rope_freqs && i == 12))
			continue;
		assert_int_equal(gguf_w_tensor(w, t[i].name, (uint32_t)t[i].type, t[i].nd, (int64_t[]){ t[i].ne0, t[i].ne1 }), 0);
	}
	assert_int_equal(gguf_writer_open(w, path), 0);
	for (size_t i = 0; i < nt; i++) {
		uint64_t n = gguf_row_bytes((uint32_t)t[i].type, t[i].ne0) * (uint64_t)t[i].ne1;
		uint8_t *buf;

		if ((o->tied && i == 2) || (o->omit_k && i == 5) || (!o->rope_freqs && i == 12))
			continue;
		buf = calloc(1, n);
		if (t[i].type == 0)
			for (uint64_t k = 0; k < n / 4; k++)
				((float *)buf)[k] = (float)k + (i == 12);
		if (t[i].type == 1)
			for (uint64_t k = 0; k < n / 2; k++)
				((eng_f16 *)buf)[k] = eng_f32_to_f16((float)k * 0.5f);
		assert_int_equal(gguf_writer_write(w, buf, n), 0);
		free(buf);
	}
	assert_int_equal(gguf_writer_finish(w), 0);
	gguf_writer_free(w);
}

static int open_tiny(const struct tiny *o, struct eng_model **m, char *err, size_t len, char *dir)
{
	char path[600];

	snprintf(path, sizeof path, "%s/tiny.gguf", dir);
	write_tiny(path, o);
	return eng_model_open(path, NULL, m, err, len);
}

static void test_loader(void **state)
{
	char *dir = tu_mkdtemp(), err[1024];
	struct eng_model *m = NULL;
	struct eng_model_desc d;
	const struct eng_config *c;

	(void)state;
	assert_int_equal(open_tiny(&(struct tiny){ .down_type = 0 }, &m, err, sizeof err, dir), 0);
	c = eng_model_config(m);
	assert_int_equal(c->dim, 32);
	assert_int_equal(c->hidden_dim, 256);
	assert_int_equal(c->n_layers, 1);
	assert_int_equal(c->n_heads, 2);
	assert_int_equal(c->n_kv_heads, 1);
	assert_int_equal(c->head_dim, 16);
	assert_int_equal(c->rope_dim, 16);
	assert_int_equal(c->vocab_size, 8);
	assert_int_equal(c->seq_len, 64);
	assert_true(c->rope_theta == 500000.0f);
	assert_true(c->norm_eps == 1e-6f);
	assert_int_equal(m->w.layers[0].wk.rows, 16);
	assert_int_equal(m->w.layers[0].wk.cols, 32);
	assert_int_equal(m->w.layers[0].wv.type, ENG_TYPE_Q8_0);
	assert_int_equal(m->w.layers[0].wv.row_bytes, 34);
	assert_int_equal(m->w.layers[0].wo.type, ENG_TYPE_Q4_0);
	assert_int_equal(m->w.layers[0].w_gate.type, ENG_TYPE_F16);
	assert_true(m->w.layers[0].attn_norm[5] == 5.0f);
	assert_ptr_not_equal(m->w.output.data, m->w.token_embd.data);
	eng_model_describe(m, &d);
	assert_string_equal(d.arch, "llama");
	assert_string_equal(d.name, "tiny");
	assert_false(d.synthetic);
	/* parameters: embd 256 + output 256 + norms 3*32 + q 1024 + k 512 + v 512 + o 1024 + 3*8192 */
	assert_int_equal(d.n_params, 256 + 256 + 96 + 1024 + 512 + 512 + 1024 + 3 * 8192);
	/* decode: layer matrices (q 4096, k 2048, v 16*34, o 32*18, gate 256*64, up 256*128,
	 * down 32*1024) + norms 3*128 + output 1024 + one embedding row 128 */
	assert_int_equal(d.decode_bytes_per_token,
			 4096 + 2048 + 544 + 576 + 16384 + 32768 + 32768 + 384 + 1024 + 128);
	assert_int_equal(d.wtype, ENG_TYPE_F32);
	assert_true(d.file_bytes > d.weight_bytes);
	eng_model_close(m);

	/* tied output, F16 norm converted to F32 */
	assert_int_equal(open_tiny(&(struct tiny){ .tied = true, .norm_f16 = true }, &m, err, sizeof err, dir), 0);
	assert_ptr_equal(m->w.output.data, m->w.token_embd.data);
	assert_true(m->w.layers[0].attn_norm[5] == 2.5f);
	eng_model_describe(m, &d);
	assert_int_equal(d.n_params, 256 + 96 + 1024 + 512 + 512 + 1024 + 3 * 8192);
	eng_model_close(m);

	m = (struct eng_model *)0x1;
	/* a mixed-type file (Q6_K ffn_down among F32 tensors) loads as stored */
	assert_int_equal(open_tiny(&(struct tiny){ .down_type = 14 }, &m, err, sizeof err, dir), 0);
	assert_int_equal(m->w.layers[0].w_down.type, ENG_TYPE_Q6_K);
	assert_int_equal(m->w.layers[0].w_down.row_bytes, 210);
	eng_model_close(m);
	m = (struct eng_model *)0x1;
	assert_int_equal(open_tiny(&(struct tiny){ .down_type = 20 }, &m, err, sizeof err, dir), -EINVAL);
	assert_null(m);
	assert_non_null(strstr(err, "blk.0.ffn_down.weight is IQ4_NL; supported: F32 F16 Q8_0 Q4_0"));
	assert_non_null(strstr(err, "tiny.gguf: "));
	assert_int_equal(open_tiny(&(struct tiny){ .bad_q_shape = true }, &m, err, sizeof err, dir), -EINVAL);
	assert_non_null(strstr(err, "tensor blk.0.attn_q.weight has shape [32, 16, 1, 1], expected [32, 32]"));
	assert_int_equal(open_tiny(&(struct tiny){ .omit_k = true }, &m, err, sizeof err, dir), -EINVAL);
	assert_non_null(strstr(err, "tensor blk.0.attn_k.weight is missing"));
	assert_int_equal(open_tiny(&(struct tiny){ .arch = "gpt2" }, &m, err, sizeof err, dir), -EINVAL);
	assert_non_null(strstr(err, "architecture 'gpt2' is not supported"));
	assert_int_equal(open_tiny(&(struct tiny){ .arch = "gemma2" }, &m, err, sizeof err, dir), -EINVAL);
	assert_non_null(strstr(err, "tiny.gguf: general.architecture 'gemma2' is not supported (supported: llama, "
				    "qwen2, qwen3)"));
	/* a qwen2 file needs its biases (the keys here are llama's: the first missing one is named) */
	assert_int_equal(open_tiny(&(struct tiny){ .arch = "qwen2" }, &m, err, sizeof err, dir), -EINVAL);
	assert_non_null(strstr(err, "metadata key qwen2.embedding_length is missing"));

	/* RoPE scaling: yarn is refused by name, linear is read, llama3 keys give divisors */
	assert_int_equal(open_tiny(&(struct tiny){ .scaling = "yarn" }, &m, err, sizeof err, dir), -EINVAL);
	assert_non_null(strstr(err, "tiny.gguf: llama.rope.scaling.type is 'yarn', which this engine does not "
				    "implement"));
	assert_int_equal(open_tiny(&(struct tiny){ .scaling = "linear" }, &m, err, sizeof err, dir), 0);
	assert_true(eng_model_config(m)->rope_scale == 4.0f);
	eng_model_close(m);
	assert_int_equal(open_tiny(&(struct tiny){ .scaling = "llama3" }, &m, err, sizeof err, dir), 0);
	assert_true(eng_model_config(m)->rope_llama3.factor == 4.0f);
	assert_int_equal(eng_model_config(m)->rope_llama3.orig_ctx, 8192);
	assert_non_null(m->w.rope_freqs);
	assert_true(m->w.rope_freqs[0] == 1.0f); /* wavelength 2 pi: not scaled */
	eng_model_close(m);
	assert_int_equal(open_tiny(&(struct tiny){ .rope_freqs = true }, &m, err, sizeof err, dir), 0);
	assert_true(eng_model_config(m)->rope_freqs);
	assert_true(m->w.rope_freqs[7] == 8.0f);
	eng_model_close(m);

	/* a sliding window shorter than the context caps it; a longer context is refused */
	assert_int_equal(open_tiny(&(struct tiny){ .sliding_window = 16 }, &m, err, sizeof err, dir), 0);
	assert_int_equal(eng_model_config(m)->sliding_window, 16);
	{
		struct eng_ctx_opts co = { .n_threads = 1, .n_ctx = 0, .kv_type = ENG_TYPE_F32 };
		struct eng_ctx *cx = eng_ctx_new(m, &co, err, sizeof err);

		assert_non_null(cx);
		assert_int_equal(eng_ctx_len(cx), 16);
		eng_ctx_free(cx);
		co.n_ctx = 32;
		assert_null(eng_ctx_new(m, &co, err, sizeof err));
		assert_non_null(strstr(err, "attention.sliding_window 16"));
	}
	eng_model_close(m);
	tu_rmtree(dir);
	free(dir);
}

static void test_type_names(void **state)
{
	enum eng_type t;

	(void)state;
	assert_string_equal(eng_type_name(ENG_TYPE_Q4_0), "q4_0");
	assert_string_equal(eng_type_name(ENG_TYPE_Q8_0), "q8_0");
	assert_string_equal(eng_type_name(14), "q6_k");
	assert_null(eng_type_name(20)); /* IQ4_NL */
	assert_null(eng_type_name(9));  /* Q8_1: activations only */
	assert_int_equal(eng_type_parse("Q8_0", &t), 0);
	assert_int_equal(t, ENG_TYPE_Q8_0);
	assert_int_equal(eng_type_parse("f16", &t), 0);
	assert_int_equal(t, ENG_TYPE_F16);
	assert_int_equal(eng_type_parse("Q6_K", &t), 0);
	assert_int_equal(t, ENG_TYPE_Q6_K);
	assert_int_equal(eng_type_parse("iq4_nl", &t), -EINVAL);
	assert_string_equal(gguf_type_name(14), "Q6_K");
	assert_int_equal(gguf_row_bytes(14, 512), 420);
	assert_int_equal(gguf_row_bytes(2, 64), 36);
	assert_int_equal(gguf_row_bytes(2, 63), 0);
	assert_null(gguf_type_name(4));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_base_is_valid),
		cmocka_unit_test(test_truncation_everywhere),
		cmocka_unit_test(test_patched_files),
		cmocka_unit_test(test_duplicate_key),
		cmocka_unit_test(test_random_corruption),
		cmocka_unit_test(test_open_errors),
		cmocka_unit_test(test_writer_round_trip),
		cmocka_unit_test(test_loader),
		cmocka_unit_test(test_type_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
