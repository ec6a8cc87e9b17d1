/*
 * engine/synth.c — named model shapes (configs/models/NAME.json) and deterministic synthetic
 * models of any shape and type, built in memory ("synth:SHAPE:TYPE") or written as a GGUF that
 * llama.cpp loads.
 *
 * Weights: every row of every tensor has its own seeded generator (seed, tensor index, row), so
 * the in-memory and the written model are bit-identical and rows can be generated in parallel.
 * Values are approximately normal (sum of four uniforms) with standard deviation 0.02, the scale
 * Llama initialises with (a shape's "weight_std" may ask for more: the test shapes use 0.2 so
 * that attention is sharp enough for a wrong RoPE to show); norm weights are 1.0. Rows are
 * generated in F32 and quantized one at a time: no full-precision copy of the model ever exists.
 *
 * Architectures follow the shape's "arch": qwen2 adds Q/K/V biases (std 0.2), qwen3 per-head
 * attn_q_norm/attn_k_norm (1.0, as other norms), and a "rope_scaling" of type llama3 adds
 * rope_freqs.weight computed as llama.cpp's converter computes it.
 *
 * TYPE is a tensor type (every weight matrix stored in it: "pure") or one of llama.cpp's file
 * types ("mixes": q4_k_m, q5_k_s, q3_k_m, q2_k, q6_k, q5_0, ...), whose tensors get the types
 * llama.cpp's quantizer (src/llama-quant.cpp, llama_tensor_get_type, no importance matrix) gives
 * them: output.weight (and a tied token_embd) Q6_K, attn_v / ffn_down / attn_output promoted in the
 * layers the mix names, everything else the mix's base type.
 *
 * A quantized type needs rows of a multiple of its block (32, or 256 for K-quants); a tensor whose
 * rows are not falls back as llama.cpp's quantizer does: Q2_K/Q3_K to Q4_0, Q4_K to Q5_0, Q5_K to
 * Q5_1, Q6_K to Q8_0, and to F16 when even 32 does not divide the rows (the ffn_down of
 * stories260k, hidden_dim 172).
 */
#include "engine/gguf.h"
#include "engine/kernels.h"
#include "engine/kquants.h"
#include "engine/loader.h"
#include "engine/tokenizer.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <dirent.h>
#include <stdbool.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <strings.h>
#include <unistd.h>

#define SYNTH_STD 0.02f
#define SYNTH_DEFAULT_SEED 42

/* ---- synthetic file types: tensor types and llama.cpp's mixes ---- */

/* A mix is ENG_SYNTH_MIX + its llama_ftype value. */
#define ENG_SYNTH_MIX 256

/* llama.cpp's llama_ftype values (include/llama.h) and the base tensor type of each mix. */
enum {
	FT_Q4_1 = 3, FT_Q5_0 = 8, FT_Q5_1 = 9, FT_Q2_K = 10, FT_Q3_K_S = 11, FT_Q3_K_M = 12, FT_Q3_K_L = 13,
	FT_Q4_K_S = 14, FT_Q4_K_M = 15, FT_Q5_K_S = 16, FT_Q5_K_M = 17, FT_Q6_K = 18, FT_Q2_K_S = 21,
};
static const struct {
	const char *name;
	int ftype;
	int base;
} mixes[] = {
	{ "q4_1", FT_Q4_1, ENG_TYPE_Q4_1 },	  { "q5_0", FT_Q5_0, ENG_TYPE_Q5_0 },
	{ "q5_1", FT_Q5_1, ENG_TYPE_Q5_1 },	  { "q2_k", FT_Q2_K, ENG_TYPE_Q2_K },
	{ "q2_k_s", FT_Q2_K_S, ENG_TYPE_Q2_K },	  { "q3_k_s", FT_Q3_K_S, ENG_TYPE_Q3_K },
	{ "q3_k_m", FT_Q3_K_M, ENG_TYPE_Q3_K },	  { "q3_k_l", FT_Q3_K_L, ENG_TYPE_Q3_K },
	{ "q4_k_s", FT_Q4_K_S, ENG_TYPE_Q4_K },	  { "q4_k_m", FT_Q4_K_M, ENG_TYPE_Q4_K },
	{ "q5_k_s", FT_Q5_K_S, ENG_TYPE_Q5_K },	  { "q5_k_m", FT_Q5_K_M, ENG_TYPE_Q5_K },
	{ "q6_k", FT_Q6_K, ENG_TYPE_Q6_K },
};
#define N_MIXES (sizeof mixes / sizeof mixes[0])

static int mix_index(int type)
{
	for (size_t i = 0; i < N_MIXES; i++)
		if (type == ENG_SYNTH_MIX + mixes[i].ftype)
			return (int)i;
	return -1;
}

int eng_synth_type_parse(const char *name, int *out)
{
	enum eng_type t;

	for (size_t i = 0; name && i < N_MIXES; i++)
		if (!strcasecmp(name, mixes[i].name)) {
			*out = ENG_SYNTH_MIX + mixes[i].ftype;
			return 0;
		}
	if (eng_type_parse(name, &t))
		return -EINVAL;
	*out = t;
	return 0;
}

const char *eng_synth_type_name(int type)
{
	int i = mix_index(type);

	return i >= 0 ? mixes[i].name : eng_type_name(type);
}

/* The file type key of a synthetic file. */
static uint32_t synth_file_type(int type)
{
	int i = mix_index(type);

	return i >= 0 ? (uint32_t)mixes[i].ftype : eng_file_type(type);
}

enum tcat { CAT_TOKEN_EMBD, CAT_OUTPUT, CAT_ATTN_V, CAT_ATTN_OUTPUT, CAT_FFN_DOWN, CAT_OTHER };

/* llama.cpp's layer rule for the _M mixes: the first and last eighth, and every third between. */
static bool use_more_bits(int i, int n)
{
	return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2;
}

/* The type llama.cpp's quantizer gives a tensor of category `cat` in layer i of n (n_gqa = query
 * heads per KV head) for mix m, before the shape fallback. */
static int mix_tensor_type(int m, enum tcat cat, int i, int n, int n_gqa, bool tied, int64_t ne0)
{
	int ft = mixes[m].ftype, base = mixes[m].base;

	if (cat == CAT_OUTPUT || (tied && cat == CAT_TOKEN_EMBD))
		return ne0 % eng_type_block(base) ? ENG_TYPE_Q8_0 : ENG_TYPE_Q6_K;
	switch (cat) {
	case CAT_ATTN_V:
		if (ft == FT_Q2_K)
			return n_gqa >= 4 ? ENG_TYPE_Q4_K : ENG_TYPE_Q3_K;
		if (ft == FT_Q2_K_S && n_gqa >= 4)
			return ENG_TYPE_Q4_K;
		if (ft == FT_Q3_K_M)
			return i < 2 ? ENG_TYPE_Q5_K : ENG_TYPE_Q4_K;
		if (ft == FT_Q3_K_L)
			return ENG_TYPE_Q5_K;
		if ((ft == FT_Q4_K_M || ft == FT_Q5_K_M) && use_more_bits(i, n))
			return ENG_TYPE_Q6_K;
		if (ft == FT_Q4_K_S && i < 4)
			return ENG_TYPE_Q5_K;
		return base;
	case CAT_FFN_DOWN:
		if (ft == FT_Q2_K)
			return ENG_TYPE_Q3_K;
		if (ft == FT_Q2_K_S)
			return i < n / 8 ? ENG_TYPE_Q4_K : base;
		if (ft == FT_Q3_K_M)
			return i < n / 16 ? ENG_TYPE_Q5_K : ENG_TYPE_Q4_K;
		if (ft == FT_Q3_K_L)
			return ENG_TYPE_Q5_K;
		if ((ft == FT_Q4_K_M || ft == FT_Q5_K_M) && use_more_bits(i, n))
			return ENG_TYPE_Q6_K;
		if (ft == FT_Q4_K_S && i < n / 8)
			return ENG_TYPE_Q5_K;
		return base;
	case CAT_ATTN_OUTPUT:
		if (ft == FT_Q2_K)
			return ENG_TYPE_Q3_K;
		if (ft == FT_Q3_K_M)
			return ENG_TYPE_Q4_K;
		if (ft == FT_Q3_K_L)
			return ENG_TYPE_Q5_K;
		return base;
	default:
		return base;
	}
}

/* llama.cpp's fallback for rows that are not a whole number of blocks of `type`. */
static int shape_fallback(int type, int64_t ne0)
{
	if (ne0 % eng_type_block(type) == 0)
		return type;
	switch (type) {
	case ENG_TYPE_Q2_K:
	case ENG_TYPE_Q3_K: type = ENG_TYPE_Q4_0; break;
	case ENG_TYPE_Q4_K: type = ENG_TYPE_Q5_0; break;
	case ENG_TYPE_Q5_K: type = ENG_TYPE_Q5_1; break;
	case ENG_TYPE_Q6_K: type = ENG_TYPE_Q8_0; break;
	default: break;
	}
	return ne0 % eng_type_block(type) ? ENG_TYPE_F16 : type;
}

/* ---- shapes ---- */

static bool valid_shape_name(const char *s)
{
	if (!*s || strlen(s) >= 64)
		return false;
	for (; *s; s++)
		if (!islower((unsigned char)*s) && !isdigit((unsigned char)*s) && *s != '-' && *s != '.' &&
		    *s != '_')
			return false;
	return true;
}

#ifndef JB_DATADIR
#define JB_DATADIR "/usr/local/share/joulebench"
#endif

static bool is_dir(const char *p)
{
	DIR *d = opendir(p);

	if (!d)
		return false;
	closedir(d);
	return true;
}

/* configs/models: $JOULEBENCH_DATA/configs/models, else relative to the working directory, else
 * next to the executable, else <exe dir>/../share/joulebench (make install), else JB_DATADIR —
 * the same search as pwr_data_path() for every other shipped file. */
static int models_dir(char *buf, size_t len)
{
	const char *env = getenv("JOULEBENCH_DATA");
	char exe[PATH_MAX - 64];
	ssize_t n;

	if (env && *env) {
		snprintf(buf, len, "%.3900s/configs/models", env);
		if (is_dir(buf))
			return 0;
	}
	if (is_dir("configs/models")) {
		snprintf(buf, len, "configs/models");
		return 0;
	}
	n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (n > 0) {
		char *slash;

		exe[n] = '\0';
		slash = strrchr(exe, '/');
		if (slash) {
			*slash = '\0';
			snprintf(buf, len, "%s/configs/models", exe);
			if (is_dir(buf))
				return 0;
			snprintf(buf, len, "%s/../share/joulebench/configs/models", exe);
			if (is_dir(buf))
				return 0;
		}
	}
	snprintf(buf, len, "%s/configs/models", JB_DATADIR);
	if (is_dir(buf))
		return 0;
	snprintf(buf, len, "configs/models");
	return -ENOENT;
}

static int json_int(const cJSON *o, const char *key, const char *path, int *out, bool required,
		    char *err, size_t errlen)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	if (!v) {
		if (!required)
			return 0;
		snprintf(err, errlen, "%s: field '%s' is missing", path, key);
		return -EINVAL;
	}
	if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || v->valuedouble < 1 ||
	    v->valuedouble > INT32_MAX) {
		snprintf(err, errlen, "%s: field '%s' must be a positive integer", path, key);
		return -EINVAL;
	}
	*out = (int)v->valuedouble;
	return 0;
}

static int json_float(const cJSON *o, const char *key, const char *path, float *out, char *err,
		      size_t errlen)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	if (!v)
		return 0;
	if (!cJSON_IsNumber(v) || !(v->valuedouble > 0)) {
		snprintf(err, errlen, "%s: field '%s' must be a positive number", path, key);
		return -EINVAL;
	}
	*out = (float)v->valuedouble;
	return 0;
}

static void json_str(const cJSON *o, const char *key, char *buf, size_t len)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	if (cJSON_IsString(v))
		snprintf(buf, len, "%s", v->valuestring);
}

/* "rope_scaling": {"type": "llama3", "factor": F, "low_freq_factor": L, "high_freq_factor": H,
 * "original_context_length": N} (the Hugging Face config.json fields), or "linear" with a factor. */
static int shape_rope_scaling(const cJSON *root, const char *path, struct eng_config *c, char *err,
			      size_t errlen)
{
	const cJSON *rs = cJSON_GetObjectItemCaseSensitive(root, "rope_scaling");
	const cJSON *type;
	int rc;

	if (!rs || cJSON_IsNull(rs))
		return 0;
	type = cJSON_GetObjectItemCaseSensitive(rs, "type");
	if (!cJSON_IsObject(rs) || !cJSON_IsString(type)) {
		snprintf(err, errlen, "%s: field 'rope_scaling' must be an object with a string 'type'", path);
		return -EINVAL;
	}
	if (!strcmp(type->valuestring, "linear"))
		return json_float(rs, "factor", path, &c->rope_scale, err, errlen);
	if (strcmp(type->valuestring, "llama3")) {
		snprintf(err, errlen, "%s: rope_scaling type '%s' is not implemented (supported: llama3, linear)",
			 path, type->valuestring);
		return -EINVAL;
	}
	c->rope_llama3 = (struct eng_rope_llama3){ 8.0f, 1.0f, 4.0f, 8192 };
	if ((rc = json_float(rs, "factor", path, &c->rope_llama3.factor, err, errlen)) ||
	    (rc = json_float(rs, "low_freq_factor", path, &c->rope_llama3.low_freq_factor, err, errlen)) ||
	    (rc = json_float(rs, "high_freq_factor", path, &c->rope_llama3.high_freq_factor, err, errlen)) ||
	    (rc = json_int(rs, "original_context_length", path, &c->rope_llama3.orig_ctx, false, err, errlen)))
		return rc;
	c->rope_freqs = true;
	return 0;
}

static int shape_parse(const char *path, const char *text, struct eng_shape *s, char *err, size_t errlen)
{
	const char *end = NULL;
	cJSON *root = cJSON_ParseWithOpts(text, &end, 1);
	struct eng_config *c = &s->cfg;
	const cJSON *tied, *arch;
	int rc = -EINVAL;

	if (!root) {
		snprintf(err, errlen, "%s: invalid JSON at byte %ld", path, end ? (long)(end - text) : 0L);
		return -EINVAL;
	}
	if (!cJSON_IsObject(root)) {
		snprintf(err, errlen, "%s: expected a JSON object", path);
		goto out;
	}
	c->rope_theta = 10000.0f;
	c->norm_eps = 1e-5f;
	if ((rc = json_int(root, "dim", path, &c->dim, true, err, errlen)) ||
	    (rc = json_int(root, "hidden_dim", path, &c->hidden_dim, true, err, errlen)) ||
	    (rc = json_int(root, "n_layers", path, &c->n_layers, true, err, errlen)) ||
	    (rc = json_int(root, "n_heads", path, &c->n_heads, true, err, errlen)) ||
	    (rc = json_int(root, "vocab_size", path, &c->vocab_size, true, err, errlen)) ||
	    (rc = json_int(root, "seq_len", path, &c->seq_len, true, err, errlen)))
		goto out;
	arch = cJSON_GetObjectItemCaseSensitive(root, "arch");
	if (arch) {
		enum eng_arch a;

		if (!cJSON_IsString(arch) || eng_arch_parse(arch->valuestring, &a)) {
			snprintf(err, errlen, "%s: field 'arch' must be one of llama, qwen2, qwen3", path);
			rc = -EINVAL;
			goto out;
		}
		c->arch = a;
	}
	c->rope_type = eng_arch_rope_type(c->arch);
	c->qkv_bias = c->arch == ENG_ARCH_QWEN2;
	c->qk_norm = c->arch == ENG_ARCH_QWEN3;
	c->n_kv_heads = c->n_heads;
	c->head_dim = c->dim % c->n_heads ? 0 : c->dim / c->n_heads;
	if ((rc = json_int(root, "head_dim", path, &c->head_dim, false, err, errlen)))
		goto out;
	c->rope_dim = c->head_dim;
	if ((rc = json_int(root, "n_kv_heads", path, &c->n_kv_heads, false, err, errlen)) ||
	    (rc = json_int(root, "rope_dim", path, &c->rope_dim, false, err, errlen)) ||
	    (rc = json_float(root, "rope_theta", path, &c->rope_theta, err, errlen)) ||
	    (rc = json_float(root, "norm_eps", path, &c->norm_eps, err, errlen)) ||
	    (rc = shape_rope_scaling(root, path, c, err, errlen)))
		goto out;
	tied = cJSON_GetObjectItemCaseSensitive(root, "tied_embeddings");
	if (tied && !cJSON_IsBool(tied)) {
		snprintf(err, errlen, "%s: field 'tied_embeddings' must be true or false", path);
		rc = -EINVAL;
		goto out;
	}
	s->tied = cJSON_IsTrue(tied);
	s->weight_std = SYNTH_STD;
	if ((rc = json_float(root, "weight_std", path, &s->weight_std, err, errlen)))
		goto out;
	json_str(root, "title", s->title, sizeof s->title);
	json_str(root, "source", s->source, sizeof s->source);
	rc = eng_config_check(c, path, err, errlen);
out:
	cJSON_Delete(root);
	return rc;
}

static char *read_text(const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long n;

	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	if (fseek(f, 0, SEEK_END) || (n = ftell(f)) < 0 || n > (1 << 20) || fseek(f, 0, SEEK_SET)) {
		snprintf(err, errlen, "%s: not a readable file under 1 MiB", path);
		fclose(f);
		return NULL;
	}
	buf = malloc((size_t)n + 1);
	if (buf && fread(buf, 1, (size_t)n, f) == (size_t)n) {
		buf[n] = '\0';
	} else {
		snprintf(err, errlen, "%s: read error", path);
		free(buf);
		buf = NULL;
	}
	fclose(f);
	return buf;
}

int eng_shape_load(const char *name, struct eng_shape *out, char *err, size_t errlen)
{
	char dir[PATH_MAX], path[PATH_MAX + 80];
	char *text;
	int rc;

	memset(out, 0, sizeof *out);
	if (strlen(name) > 5 && !strcmp(name + strlen(name) - 5, ".json") && strchr(name, '/')) {
		/* a shape file given by path */
		const char *base = strrchr(name, '/') + 1;

		if (!(text = read_text(name, err, errlen)))
			return -ENOENT;
		rc = shape_parse(name, text, out, err, errlen);
		free(text);
		snprintf(out->name, sizeof out->name, "%.*s", (int)(strlen(base) - 5 < 63 ? strlen(base) - 5 : 63),
			 base);
		if (!out->title[0])
			snprintf(out->title, sizeof out->title, "%s", out->name);
		return rc;
	}
	if (!valid_shape_name(name)) {
		snprintf(err, errlen, "invalid shape name '%s' (lowercase letters, digits, '-', '.', '_')", name);
		return -EINVAL;
	}
	if (models_dir(dir, sizeof dir)) {
		snprintf(err, errlen, "unknown shape '%s': no configs/models directory here or next to the executable",
			 name);
		return -ENOENT;
	}
	snprintf(path, sizeof path, "%s/%s.json", dir, name);
	text = read_text(path, err, errlen);
	if (!text) {
		if (errno == ENOENT)
			snprintf(err, errlen, "unknown shape '%s' (no %s; 'joulebench model shapes' lists them)",
				 name, path);
		return -ENOENT;
	}
	rc = shape_parse(path, text, out, err, errlen);
	free(text);
	snprintf(out->name, sizeof out->name, "%s", name);
	if (!out->title[0])
		snprintf(out->title, sizeof out->title, "%s", name);
	return rc;
}

static int cmp_shape(const void *a, const void *b)
{
	return strcmp(((const struct eng_shape *)a)->name, ((const struct eng_shape *)b)->name);
}

int eng_shape_list(struct eng_shape **out, char *err, size_t errlen)
{
	char dir[PATH_MAX];
	struct eng_shape *list = NULL;
	struct dirent *e;
	DIR *d;
	int n = 0, rc = 0;

	*out = NULL;
	if (models_dir(dir, sizeof dir) || !(d = opendir(dir))) {
		snprintf(err, errlen, "no configs/models directory here or next to the executable");
		return -ENOENT;
	}
	while ((e = readdir(d))) {
		size_t len = strlen(e->d_name);
		char name[64];
		struct eng_shape *nl;

		if (len < 6 || len - 5 >= sizeof name || strcmp(e->d_name + len - 5, ".json"))
			continue;
		memcpy(name, e->d_name, len - 5);
		name[len - 5] = '\0';
		if (!valid_shape_name(name))
			continue;
		nl = realloc(list, (size_t)(n + 1) * sizeof *list);
		if (!nl) {
			rc = -ENOMEM;
			break;
		}
		list = nl;
		if ((rc = eng_shape_load(name, &list[n], err, errlen)))
			break;
		n++;
	}
	closedir(d);
	if (rc) {
		free(list);
		return rc;
	}
	qsort(list, (size_t)n, sizeof *list, cmp_shape);
	*out = list;
	return n;
}

/* ---- weights ---- */

static uint64_t splitmix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Row `row` of tensor `tensor`: n approximately normal values with standard deviation `std`. */
static void gen_row(uint64_t seed, uint32_t tensor, int64_t row, float std, float *out, int64_t n)
{
	/* Sum of four 16-bit uniforms: mean 2 * 65535, variance 4 * (65536^2 - 1) / 12. */
	const float scale = std / (65536.0f * 0.57735027f), mean = 2.0f * 65535.0f;
	uint64_t s = seed ^ ((uint64_t)tensor << 40) ^ ((uint64_t)row * 0xd1342543de82ef95ull);

	splitmix(&s);
	for (int64_t i = 0; i < n; i++) {
		uint64_t r = splitmix(&s);
		float sum = (float)(r & 0xffff) + (float)((r >> 16) & 0xffff) + (float)((r >> 32) & 0xffff) +
			    (float)(r >> 48);

		out[i] = (sum - mean) * scale;
	}
}

/* What a tensor's values are. */
enum skind {
	SK_WEIGHT,     /* random, std weight_std; 1.0 everywhere for a norm */
	SK_BIAS,       /* random, std SYNTH_BIAS_STD */
	SK_ROPE_FREQS, /* llama3 frequency divisors */
};
#define SYNTH_BIAS_STD 0.2f

/* One tensor of the synthetic model in file order. */
struct stensor {
	char name[64];
	int n_dims;
	int64_t ne[2];  /* ne[0] = row length */
	int type;
	bool norm;      /* a vector, stored as F32 */
	enum skind kind;
	size_t row_bytes;
	size_t offset;  /* in the in-memory buffer */
};

struct plan {
	struct eng_shape shape;
	int type;
	uint64_t seed;
	struct stensor *t;
	int n;
	size_t total;   /* in-memory bytes, every tensor 64-byte aligned */
};

static void plan_add(struct plan *p, const char *name, int type, int64_t ne0, int64_t ne1, bool norm)
{
	struct stensor *t = &p->t[p->n++];

	snprintf(t->name, sizeof t->name, "%s", name);
	t->n_dims = norm ? 1 : 2;
	t->ne[0] = ne0;
	t->ne[1] = ne1;
	t->type = norm ? ENG_TYPE_F32 : shape_fallback(type, ne0);
	t->norm = norm;
	t->row_bytes = (size_t)gguf_row_bytes((uint32_t)t->type, ne0);
	t->offset = p->total;
	p->total += (t->row_bytes * (size_t)ne1 + 63) / 64 * 64;
}

/* A vector (stored as F32) of values other than a norm's. */
static void plan_add_kind(struct plan *p, const char *name, int64_t ne0, enum skind kind)
{
	plan_add(p, name, ENG_TYPE_F32, ne0, 1, true);
	p->t[p->n - 1].kind = kind;
}

/* Tensors in llama.cpp's order and shapes (ne[0] = input dimension). */
static int plan_make(struct plan *p, const char *shape, int type, uint64_t seed, char *err, size_t errlen)
{
	const struct eng_config *c = &p->shape.cfg;
	int64_t dim, q_dim, kv_dim, hid;
	int rc, m, n_gqa;

	memset(p, 0, sizeof *p);
	if ((rc = eng_shape_load(shape, &p->shape, err, errlen)))
		return rc;
	if (!eng_synth_type_name(type)) {
		snprintf(err, errlen, "unsupported weight type %d; supported: %s", type, ENG_SYNTH_TYPES);
		return -EINVAL;
	}
	dim = c->dim;
	q_dim = (int64_t)c->n_heads * c->head_dim;
	kv_dim = (int64_t)c->n_kv_heads * c->head_dim;
	hid = c->hidden_dim;
	p->type = type;
	p->seed = seed ? seed : SYNTH_DEFAULT_SEED;
	p->t = calloc((size_t)c->n_layers * 14 + 4, sizeof *p->t);
	if (!p->t) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	m = mix_index(type);
	n_gqa = c->n_heads / c->n_kv_heads;
#define TYPE_OF(cat, l, ne0) (m >= 0 ? mix_tensor_type(m, cat, l, c->n_layers, n_gqa, p->shape.tied, ne0) : type)
	plan_add(p, "token_embd.weight", TYPE_OF(CAT_TOKEN_EMBD, 0, dim), dim, c->vocab_size, false);
	for (int l = 0; l < c->n_layers; l++) {
		static const char *const names[] = { "attn_norm", "attn_q", "attn_k", "attn_v", "attn_output",
						     "ffn_norm", "ffn_gate", "ffn_up", "ffn_down" };
		static const enum tcat cats[] = { CAT_OTHER, CAT_OTHER, CAT_OTHER, CAT_ATTN_V, CAT_ATTN_OUTPUT,
						  CAT_OTHER, CAT_OTHER, CAT_OTHER, CAT_FFN_DOWN };
		const int64_t ne0[] = { dim, dim, dim, dim, q_dim, dim, dim, dim, hid };
		const int64_t ne1[] = { 1, q_dim, kv_dim, kv_dim, dim, 1, hid, hid, dim };

		for (int i = 0; i < 9; i++) {
			char name[64];

			snprintf(name, sizeof name, "blk.%d.%s.weight", l, names[i]);
			plan_add(p, name, TYPE_OF(cats[i], l, ne0[i]), ne0[i], ne1[i], ne1[i] == 1);
		}
		if (c->qkv_bias) {
			static const char *const bn[] = { "attn_q", "attn_k", "attn_v" };
			const int64_t bl[] = { q_dim, kv_dim, kv_dim };

			for (int i = 0; i < 3; i++) {
				char name[64];

				snprintf(name, sizeof name, "blk.%d.%s.bias", l, bn[i]);
				plan_add_kind(p, name, bl[i], SK_BIAS);
			}
		}
		if (c->qk_norm) {
			char name[64];

			snprintf(name, sizeof name, "blk.%d.attn_q_norm.weight", l);
			plan_add(p, name, ENG_TYPE_F32, c->head_dim, 1, true);
			snprintf(name, sizeof name, "blk.%d.attn_k_norm.weight", l);
			plan_add(p, name, ENG_TYPE_F32, c->head_dim, 1, true);
		}
	}
	plan_add(p, "output_norm.weight", ENG_TYPE_F32, dim, 1, true);
	if (!p->shape.tied)
		plan_add(p, "output.weight", TYPE_OF(CAT_OUTPUT, 0, dim), dim, c->vocab_size, false);
	if (c->rope_llama3.factor > 0)
		plan_add_kind(p, "rope_freqs.weight", c->rope_dim / 2, SK_ROPE_FREQS);
#undef TYPE_OF
	return 0;
}

/* Fills rows [r0, r1) of tensor i into dst (row r0 first). */
static void fill_rows(const struct plan *p, int i, int64_t r0, int64_t r1, uint8_t *dst, float *tmp)
{
	const struct stensor *t = &p->t[i];

	for (int64_t r = r0; r < r1; r++, dst += t->row_bytes) {
		if (t->kind == SK_ROPE_FREQS) {
			eng_llama3_freqs(&p->shape.cfg, tmp);
		} else if (t->kind == SK_BIAS) {
			gen_row(p->seed, (uint32_t)i, r, SYNTH_BIAS_STD, tmp, t->ne[0]);
		} else if (t->norm) {
			for (int64_t k = 0; k < t->ne[0]; k++)
				tmp[k] = 1.0f;
		} else {
			gen_row(p->seed, (uint32_t)i, r, p->shape.weight_std, tmp, t->ne[0]);
		}
		if (t->type == ENG_TYPE_F32)
			memcpy(dst, tmp, t->row_bytes);
		else
			eng_quantize_row(t->type, tmp, dst, t->ne[0]);
	}
}

struct fill_job {
	const struct plan *p;
	int tensor;
	int64_t r0, r1;
	uint8_t *dst;
	int ith, nth;
	int rc;
};

static void *fill_thread(void *arg)
{
	struct fill_job *j = arg;
	const struct stensor *t = &j->p->t[j->tensor];
	int64_t n = j->r1 - j->r0, a = j->r0 + n * j->ith / j->nth, b = j->r0 + n * (j->ith + 1) / j->nth;
	float *tmp = malloc((size_t)t->ne[0] * sizeof *tmp);

	if (!tmp) {
		j->rc = -ENOMEM;
		return NULL;
	}
	fill_rows(j->p, j->tensor, a, b, j->dst + (size_t)(a - j->r0) * t->row_bytes, tmp);
	free(tmp);
	return NULL;
}

static int n_workers(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n < 1 ? 1 : n > 16 ? 16 : (int)n;
}

/* Fills rows [r0, r1) of tensor i into dst, split over the CPUs. */
static int fill_parallel(const struct plan *p, int i, int64_t r0, int64_t r1, uint8_t *dst)
{
	struct fill_job jobs[16];
	pthread_t th[16];
	int nth = n_workers(), started = 0, rc = 0;

	if (r1 - r0 < 2 * nth)
		nth = 1;
	for (int k = 0; k < nth; k++) {
		jobs[k] = (struct fill_job){ p, i, r0, r1, dst, k, nth, 0 };
		if (k == 0 || pthread_create(&th[k], NULL, fill_thread, &jobs[k]))
			continue;
		started |= 1 << k;
	}
	for (int k = 0; k < nth; k++)
		if (!(started & (1 << k)))
			fill_thread(&jobs[k]);
	for (int k = 1; k < nth; k++)
		if (started & (1 << k))
			pthread_join(th[k], NULL);
	for (int k = 0; k < nth; k++)
		if (jobs[k].rc)
			rc = jobs[k].rc;
	return rc;
}

static int parse_spec(const char *spec, char *shape, size_t len, int *type, char *err, size_t errlen)
{
	const char *colon = strrchr(spec, ':');
	int t;

	if (!colon || colon == spec || (size_t)(colon - spec) >= len) {
		snprintf(err, errlen, "model spec 'synth:%s' must be synth:SHAPE:TYPE (e.g. synth:bench-1b:q4_0)",
			 spec);
		return -EINVAL;
	}
	memcpy(shape, spec, (size_t)(colon - spec));
	shape[colon - spec] = '\0';
	if (eng_synth_type_parse(colon + 1, &t)) {
		snprintf(err, errlen, "model spec 'synth:%s': unsupported type '%s'; supported: %s", spec, colon + 1,
			 ENG_SYNTH_TYPES);
		return -EINVAL;
	}
	*type = t;
	return 0;
}

static int load_vocab(const char *vocab_path, int n_vocab, const char *shape, struct eng_vocab **out,
		      struct gguf_file **keep, char *err, size_t errlen)
{
	struct gguf_file *f = NULL;
	int rc;

	*out = NULL;
	if (!vocab_path) {
		*out = eng_vocab_placeholder(n_vocab);
		if (!*out) {
			snprintf(err, errlen, "out of memory for a %d-token vocabulary", n_vocab);
			return -ENOMEM;
		}
		return 0;
	}
	if ((rc = gguf_open(vocab_path, &f, err, errlen)))
		return rc;
	rc = eng_vocab_from_gguf(f, out, err, errlen);
	if (!rc && !*out) {
		snprintf(err, errlen, "%s: the file has no vocabulary (tokenizer.ggml.tokens)", vocab_path);
		rc = -EINVAL;
	} else if (!rc && eng_vocab_error(*out)[0]) {
		snprintf(err, errlen, "%s", eng_vocab_error(*out));
		rc = -EINVAL;
	} else if (!rc && eng_vocab_size(*out) != n_vocab) {
		snprintf(err, errlen, "%s: vocabulary has %d tokens, shape %s needs %d", vocab_path,
			 eng_vocab_size(*out), shape, n_vocab);
		rc = -EINVAL;
	}
	if (rc) {
		eng_vocab_free(*out);
		*out = NULL;
	}
	if (!rc && keep)
		*keep = f;
	else
		gguf_close(f);
	return rc;
}

static void mat_at(const struct plan *p, int i, uint8_t *base, struct eng_mat *m)
{
	const struct stensor *t = &p->t[i];

	m->data = base + t->offset;
	m->type = t->type;
	m->rows = t->ne[1];
	m->cols = t->ne[0];
	m->row_bytes = t->row_bytes;
}

int eng_synth_open(const char *shape_type, const struct eng_open_opts *opts, struct eng_model **out,
		   char *err, size_t errlen)
{
	struct eng_model *m = NULL;
	struct plan p = { 0 };
	char shape[64];
	uint8_t *base = NULL;
	long pages = sysconf(_SC_PHYS_PAGES), psize = sysconf(_SC_PAGESIZE);
	int type, rc, k = 0;

	*out = NULL;
	if ((rc = parse_spec(shape_type, shape, sizeof shape, &type, err, errlen)) ||
	    (rc = plan_make(&p, shape, type, opts ? opts->seed : 0, err, errlen)))
		goto fail;
	if (opts && opts->vocab_only) {
		/* configuration and vocabulary only: no weights are generated */
		m = calloc(1, sizeof *m);
		if (!m) {
			rc = -ENOMEM;
			snprintf(err, errlen, "out of memory");
			goto fail;
		}
		/* As for vocabulary-only files, only vocab_size is set, so a context cannot be made. */
		m->cfg.vocab_size = p.shape.cfg.vocab_size;
		if ((rc = load_vocab(opts->vocab_path, m->cfg.vocab_size, shape, &m->owned_vocab, NULL, err,
				     errlen)))
			goto fail;
		m->vocab = m->owned_vocab;
		snprintf(m->desc.arch, sizeof m->desc.arch, "%s", eng_arch_name(p.shape.cfg.arch));
		snprintf(m->desc.shape, sizeof m->desc.shape, "%s", p.shape.name);
		m->desc.synthetic = true;
		free(p.t);
		*out = m;
		return 0;
	}
	if (pages > 0 && psize > 0 && (double)p.total > 0.9 * (double)pages * (double)psize) {
		snprintf(err, errlen, "synth:%s needs %.1f GiB of memory, more than this machine has (%.1f GiB); "
				      "use a smaller type or shape",
			 shape_type, p.total / 1073741824.0, (double)pages * (double)psize / 1073741824.0);
		rc = -ENOMEM;
		goto fail;
	}
	m = calloc(1, sizeof *m);
	base = aligned_alloc(64, p.total);
#if defined(MADV_HUGEPAGE)
	/* 2 MiB pages where the kernel grants them: decode streams every matrix (loader.c, place_weights) */
	if (base && p.total > ((size_t)4 << 20)) {
		uintptr_t a = ((uintptr_t)base + 4095) & ~(uintptr_t)4095, e = ((uintptr_t)base + p.total) & ~(uintptr_t)4095;

		(void)madvise((void *)a, e - a, MADV_HUGEPAGE);
	}
#endif
	if (m)
		m->w.layers = calloc((size_t)p.shape.cfg.n_layers, sizeof *m->w.layers);
	if (!m || !base || !m->w.layers) {
		snprintf(err, errlen, "out of memory for synth:%s (%.1f MiB)", shape_type, p.total / 1048576.0);
		rc = -ENOMEM;
		free(base);
		goto fail;
	}
	m->owned = base;
	m->cfg = p.shape.cfg;
	if ((rc = load_vocab(opts ? opts->vocab_path : NULL, m->cfg.vocab_size, shape, &m->owned_vocab, NULL,
			     err, errlen)))
		goto fail;
	m->vocab = m->owned_vocab;
	for (int i = 0; i < p.n; i++)
		if ((rc = fill_parallel(&p, i, 0, p.t[i].ne[1], base + p.t[i].offset))) {
			snprintf(err, errlen, "out of memory while generating synth:%s", shape_type);
			goto fail;
		}
	mat_at(&p, k++, base, &m->w.token_embd);
	for (int l = 0; l < m->cfg.n_layers; l++) {
		struct eng_layer *y = &m->w.layers[l];

		y->attn_norm = (const float *)(base + p.t[k++].offset);
		mat_at(&p, k++, base, &y->wq);
		mat_at(&p, k++, base, &y->wk);
		mat_at(&p, k++, base, &y->wv);
		mat_at(&p, k++, base, &y->wo);
		y->ffn_norm = (const float *)(base + p.t[k++].offset);
		mat_at(&p, k++, base, &y->w_gate);
		mat_at(&p, k++, base, &y->w_up);
		mat_at(&p, k++, base, &y->w_down);
		if (m->cfg.qkv_bias) {
			y->bq = (const float *)(base + p.t[k++].offset);
			y->bk = (const float *)(base + p.t[k++].offset);
			y->bv = (const float *)(base + p.t[k++].offset);
		}
		if (m->cfg.qk_norm) {
			y->q_norm = (const float *)(base + p.t[k++].offset);
			y->k_norm = (const float *)(base + p.t[k++].offset);
		}
	}
	m->w.output_norm = (const float *)(base + p.t[k++].offset);
	if (p.shape.tied)
		m->w.output = m->w.token_embd;
	else
		mat_at(&p, k++, base, &m->w.output);
	if (m->cfg.rope_llama3.factor > 0)
		m->w.rope_freqs = (const float *)(base + p.t[k++].offset);
	snprintf(m->desc.arch, sizeof m->desc.arch, "%s", eng_arch_name(m->cfg.arch));
	snprintf(m->desc.name, sizeof m->desc.name, "synthetic %.100s %s", p.shape.title, eng_synth_type_name(type));
	snprintf(m->desc.shape, sizeof m->desc.shape, "%s", p.shape.name);
	m->desc.synthetic = true;
	eng_model_fill_sizes(m);
	free(p.t);
	*out = m;
	return 0;
fail:
	free(p.t);
	eng_model_close(m);
	return rc;
}

int eng_synth_write(const char *shape, int type, uint64_t seed, const char *vocab_path, const char *out_path,
		    char *err, size_t errlen)
{
	const struct eng_config *c;
	struct plan p = { 0 };
	struct gguf_writer *w = NULL;
	struct gguf_file *vf = NULL;
	struct eng_vocab *v = NULL;
	uint8_t *buf = NULL;
	char name[256], key[128];
	const char *arch;
	int rc;

	if ((rc = plan_make(&p, shape, type, seed, err, errlen)))
		goto out;
	c = &p.shape.cfg;
	if ((rc = load_vocab(vocab_path, c->vocab_size, shape, &v, &vf, err, errlen)))
		goto out;
	w = gguf_writer_new();
	if (!w) {
		rc = -ENOMEM;
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	snprintf(name, sizeof name, "joulebench synthetic %s %s", p.shape.title, eng_synth_type_name(type));
	arch = eng_arch_name(c->arch);
#define KEY(suffix) (snprintf(key, sizeof key, "%s.%s", arch, suffix), key)
	rc = gguf_w_str(w, "general.architecture", arch) || gguf_w_str(w, "general.name", name) ||
	     gguf_w_u32(w, "general.alignment", 32) ||
	     gguf_w_u32(w, "general.file_type", synth_file_type(type)) ||
	     gguf_w_u32(w, "general.quantization_version", 2) ||
	     gguf_w_u32(w, KEY("context_length"), (uint32_t)c->seq_len) ||
	     gguf_w_u32(w, KEY("embedding_length"), (uint32_t)c->dim) ||
	     gguf_w_u32(w, KEY("block_count"), (uint32_t)c->n_layers) ||
	     gguf_w_u32(w, KEY("feed_forward_length"), (uint32_t)c->hidden_dim) ||
	     gguf_w_u32(w, KEY("attention.head_count"), (uint32_t)c->n_heads) ||
	     gguf_w_u32(w, KEY("attention.head_count_kv"), (uint32_t)c->n_kv_heads) ||
	     gguf_w_f32(w, KEY("rope.freq_base"), c->rope_theta) ||
	     gguf_w_f32(w, KEY("attention.layer_norm_rms_epsilon"), c->norm_eps) ||
	     gguf_w_u32(w, KEY("rope.dimension_count"), (uint32_t)c->rope_dim) ||
	     gguf_w_u32(w, KEY("vocab_size"), (uint32_t)c->vocab_size) ||
	     gguf_w_str(w, "joulebench.shape", p.shape.name) || gguf_w_u64(w, "joulebench.seed", p.seed)
		     ? -ENOMEM
		     : 0;
	/* head_dim when it is not dim / n_heads (qwen3 writes it always, as its converter does) */
	if (!rc && (c->arch == ENG_ARCH_QWEN3 || c->head_dim * c->n_heads != c->dim))
		rc = gguf_w_u32(w, KEY("attention.key_length"), (uint32_t)c->head_dim) ||
			     gguf_w_u32(w, KEY("attention.value_length"), (uint32_t)c->head_dim)
		     ? -ENOMEM
		     : 0;
	/* linear scaling; llama3 scaling travels as rope_freqs.weight, which llama.cpp reads */
	if (!rc && c->rope_scale > 0 && c->rope_scale != 1)
		rc = gguf_w_str(w, KEY("rope.scaling.type"), "linear") ||
			     gguf_w_f32(w, KEY("rope.scaling.factor"), c->rope_scale)
		     ? -ENOMEM
		     : 0;
#undef KEY
	if (!rc && vf) {
		/* The vocabulary file's tokenizer keys, byte for byte. */
		for (uint64_t i = 0; i < vf->n_kv && !rc; i++)
			if (vf->kv[i].key.len > 10 && !memcmp(vf->kv[i].key.p, "tokenizer.", 10))
				rc = gguf_w_copy_kv(w, &vf->kv[i]);
	} else if (!rc) {
		rc = eng_vocab_write_gguf(v, w);
	}
	for (int i = 0; i < p.n && !rc; i++)
		rc = gguf_w_tensor(w, p.t[i].name, (uint32_t)p.t[i].type, p.t[i].n_dims, p.t[i].ne);
	if (rc || (rc = gguf_writer_open(w, out_path))) {
		snprintf(err, errlen, "%s: %s", out_path, gguf_writer_error(w));
		goto out;
	}
	/* Stream each tensor in chunks of rows of at most 32 MiB. */
	buf = malloc(32u << 20);
	if (!buf) {
		rc = -ENOMEM;
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	for (int i = 0; i < p.n; i++) {
		const struct stensor *t = &p.t[i];
		int64_t chunk = (int64_t)((32u << 20) / t->row_bytes);

		if (chunk < 1) {
			rc = -E2BIG;
			snprintf(err, errlen, "tensor %s has rows over 32 MiB", t->name);
			goto out;
		}
		for (int64_t r = 0; r < t->ne[1]; r += chunk) {
			int64_t r1 = r + chunk < t->ne[1] ? r + chunk : t->ne[1];

			if ((rc = fill_parallel(&p, i, r, r1, buf))) {
				snprintf(err, errlen, "out of memory while generating %s", t->name);
				goto out;
			}
			if ((rc = gguf_writer_write(w, buf, (size_t)(r1 - r) * t->row_bytes))) {
				snprintf(err, errlen, "%s", gguf_writer_error(w));
				goto out;
			}
		}
	}
	if ((rc = gguf_writer_finish(w)))
		snprintf(err, errlen, "%s", gguf_writer_error(w));
out:
	free(buf);
	gguf_writer_free(w);
	gguf_close(vf);
	eng_vocab_free(v);
	free(p.t);
	return rc;
}
