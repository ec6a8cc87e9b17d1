/*
 * engine/loader.c — GGUF file -> struct eng_model (engine/model.h), and the model descriptor.
 *
 * Weights point into the read-only mapping until place_weights copies the matrices into huge
 * pages. Norm and bias vectors are converted (or copied) to F32 into memory the model owns. A
 * missing output.weight means the output matrix is tied to token_embd. Q/K rows are used as stored: GGUF llama files hold them
 * in the "normal" adjacent-pair RoPE layout (see gguf.h); qwen2 and qwen3 files are not permuted
 * and rotate with NEOX pairs, as llama.cpp does for them.
 *
 * Architectures: llama (optional Q/K/V biases, optional rope_freqs.weight), qwen2 (Q/K/V biases
 * required), qwen3 (attn_q_norm/attn_k_norm required, head_dim from attention.key_length). Keys
 * and values the engine does not implement (another architecture, rope.scaling.type yarn) are
 * errors naming the file and the key.
 */
#include "engine/gguf.h"
#include "engine/kernels.h"
#include "engine/loader.h"
#include "engine/tokenizer.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>

/* ---- types ---- */

static const struct {
	int type;
	const char *name;
} type_names[] = {
	{ ENG_TYPE_F32, "f32" },
	{ ENG_TYPE_F16, "f16" },
	{ ENG_TYPE_Q8_0, "q8_0" },
	{ ENG_TYPE_Q4_0, "q4_0" },
	{ ENG_TYPE_Q4_1, "q4_1" },
	{ ENG_TYPE_Q5_0, "q5_0" },
	{ ENG_TYPE_Q5_1, "q5_1" },
	{ ENG_TYPE_Q2_K, "q2_k" },
	{ ENG_TYPE_Q3_K, "q3_k" },
	{ ENG_TYPE_Q4_K, "q4_k" },
	{ ENG_TYPE_Q5_K, "q5_k" },
	{ ENG_TYPE_Q6_K, "q6_k" },
};

const char *eng_type_name(int type)
{
	for (size_t i = 0; i < sizeof type_names / sizeof type_names[0]; i++)
		if (type_names[i].type == type)
			return type_names[i].name;
	return NULL;
}

int eng_type_parse(const char *name, enum eng_type *out)
{
	for (size_t i = 0; i < sizeof type_names / sizeof type_names[0]; i++)
		if (name && !strcasecmp(name, type_names[i].name)) {
			*out = (enum eng_type)type_names[i].type;
			return 0;
		}
	return -EINVAL;
}

static bool type_supported(uint32_t t)
{
	return t < 64 && eng_type_name((int)t) != NULL;
}

uint32_t eng_file_type(int type)
{
	/* llama_ftype of a file whose weights are all `type`: ALL_F32 0, MOSTLY_F16 1, Q4_0 2, Q4_1 3,
	 * Q8_0 7, Q5_0 8, Q5_1 9, Q2_K 10, Q3_K_S 11, Q4_K_S 14, Q5_K_S 16, Q6_K 18 */
	switch (type) {
	case ENG_TYPE_F16: return 1;
	case ENG_TYPE_Q4_0: return 2;
	case ENG_TYPE_Q4_1: return 3;
	case ENG_TYPE_Q8_0: return 7;
	case ENG_TYPE_Q5_0: return 8;
	case ENG_TYPE_Q5_1: return 9;
	case ENG_TYPE_Q2_K: return 10;
	case ENG_TYPE_Q3_K: return 11;
	case ENG_TYPE_Q4_K: return 14;
	case ENG_TYPE_Q5_K: return 16;
	case ENG_TYPE_Q6_K: return 18;
	default: return 0;
	}
}

/* ---- architectures ---- */

static const char *const arch_names[] = {
	[ENG_ARCH_LLAMA] = "llama",
	[ENG_ARCH_QWEN2] = "qwen2",
	[ENG_ARCH_QWEN3] = "qwen3",
};

const char *eng_arch_name(int arch)
{
	if (arch < 0 || arch >= (int)(sizeof arch_names / sizeof arch_names[0]))
		return NULL;
	return arch_names[arch];
}

int eng_arch_parse(const char *name, enum eng_arch *out)
{
	for (size_t i = 0; i < sizeof arch_names / sizeof arch_names[0]; i++)
		if (name && !strcmp(name, arch_names[i])) {
			*out = (enum eng_arch)i;
			return 0;
		}
	return -EINVAL;
}

/* The RoPE pairing llama.cpp uses for an architecture. */
int eng_arch_rope_type(int arch)
{
	return arch == ENG_ARCH_QWEN2 || arch == ENG_ARCH_QWEN3 ? ENG_ROPE_NEOX : ENG_ROPE_NORM;
}

void eng_llama3_freqs(const struct eng_config *c, float *out)
{
	const struct eng_rope_llama3 *r = &c->rope_llama3;
	const double low_wavelen = r->orig_ctx / (double)r->low_freq_factor;
	const double high_wavelen = r->orig_ctx / (double)r->high_freq_factor;

	/* As Meta's reference and llama.cpp's converter compute them: short wavelengths keep their
	 * frequency, long ones are divided by `factor`, and a band in between blends the two. */
	for (int i = 0; i < c->rope_dim / 2; i++) {
		double freq = pow((double)c->rope_theta, -2.0 * i / c->rope_dim);
		double wavelen = 2.0 * M_PI / freq;

		if (wavelen < high_wavelen) {
			out[i] = 1.0f;
		} else if (wavelen > low_wavelen) {
			out[i] = r->factor;
		} else {
			double smooth = (r->orig_ctx / wavelen - r->low_freq_factor) /
					(r->high_freq_factor - r->low_freq_factor);

			out[i] = (float)(1.0 / ((1.0 - smooth) / r->factor + smooth));
		}
	}
}

int eng_config_describe(const struct eng_config *c, bool tied, char *buf, size_t len)
{
	const char *arch = eng_arch_name(c->arch);
	char rope[160];
	int k;

	k = snprintf(rope, sizeof rope, "%s RoPE (theta %g", c->rope_type == ENG_ROPE_NEOX ? "NEOX" : "normal",
		     c->rope_theta);
	if (c->rope_dim != c->head_dim)
		k += snprintf(rope + k, sizeof rope - (size_t)k, ", %d of %d dims", c->rope_dim, c->head_dim);
	if (c->rope_llama3.factor > 0)
		k += snprintf(rope + k, sizeof rope - (size_t)k, ", llama3 scaling x%g low %g high %g orig %d",
			      c->rope_llama3.factor, c->rope_llama3.low_freq_factor,
			      c->rope_llama3.high_freq_factor, c->rope_llama3.orig_ctx);
	else if (c->rope_freqs)
		k += snprintf(rope + k, sizeof rope - (size_t)k, ", rope_freqs");
	if (c->rope_scale > 0 && c->rope_scale != 1)
		k += snprintf(rope + k, sizeof rope - (size_t)k, ", linear scaling x%g", c->rope_scale);
	snprintf(rope + k, sizeof rope - (size_t)k, ")");
	return snprintf(buf, len, "%s: %s %d/%d, head_dim %d%s, %s%s%s, %s output, eps %g, context %d%s",
			arch ? arch : "?", c->n_kv_heads == c->n_heads ? "MHA" : "GQA", c->n_heads,
			c->n_kv_heads, c->head_dim,
			c->head_dim * c->n_heads != c->dim ? " (heads x head_dim != dim)" : "", rope,
			c->qkv_bias ? ", Q/K/V bias" : "", c->qk_norm ? ", Q/K RMSNorm" : "",
			tied ? "tied" : "separate", c->norm_eps, c->seq_len,
			c->sliding_window ? " (sliding window: longer contexts refused)" : "");
}

/* ---- configuration ---- */

int eng_config_check(const struct eng_config *c, const char *what, char *err, size_t errlen)
{
#define BAD(...) do { snprintf(err, errlen, __VA_ARGS__); return -EINVAL; } while (0)
	if (c->dim < 1 || c->dim > 65536)
		BAD("%s: embedding_length %d out of range (1..65536)", what, c->dim);
	if (c->hidden_dim < 1 || c->hidden_dim > 1 << 20)
		BAD("%s: feed_forward_length %d out of range", what, c->hidden_dim);
	if (c->n_layers < 1 || c->n_layers > 1024)
		BAD("%s: block_count %d out of range (1..1024)", what, c->n_layers);
	if (c->n_heads < 1 || c->n_heads > 4096)
		BAD("%s: head_count %d out of range (1..4096)", what, c->n_heads);
	if (c->head_dim < 1 && c->dim % c->n_heads)
		BAD("%s: head_count %d does not divide embedding_length %d (and no attention.key_length)",
		    what, c->n_heads, c->dim);
	if (c->head_dim < 1 || c->head_dim > 1024)
		BAD("%s: head dimension (attention.key_length) %d out of range (1..1024)", what, c->head_dim);
	if (c->n_kv_heads < 1 || c->n_kv_heads > c->n_heads || c->n_heads % c->n_kv_heads)
		BAD("%s: head_count_kv %d does not divide head_count %d", what, c->n_kv_heads, c->n_heads);
	if (c->head_dim % 2)
		BAD("%s: head dimension %d is odd (RoPE rotates pairs)", what, c->head_dim);
	if (c->rope_dim < 2 || c->rope_dim > c->head_dim || c->rope_dim % 2)
		BAD("%s: rope.dimension_count %d must be even and at most the head dimension %d", what,
		    c->rope_dim, c->head_dim);
	if (c->vocab_size < 1 || c->vocab_size > 1 << 24)
		BAD("%s: vocabulary size %d out of range", what, c->vocab_size);
	if (c->seq_len < 1 || c->seq_len > 1 << 22)
		BAD("%s: context_length %d out of range (1..%d)", what, c->seq_len, 1 << 22);
	if (!(c->rope_theta > 0) || !(c->norm_eps > 0) || c->norm_eps > 1)
		BAD("%s: rope.freq_base %g / layer_norm_rms_epsilon %g out of range", what, c->rope_theta,
		    c->norm_eps);
	if (!eng_arch_name(c->arch))
		BAD("%s: architecture %d unknown", what, c->arch);
	if (c->rope_scale < 0 || !(c->rope_scale < 1e6))
		BAD("%s: rope.scaling.factor %g out of range", what, c->rope_scale);
	if (c->rope_llama3.factor != 0 &&
	    (!(c->rope_llama3.factor >= 1) || !(c->rope_llama3.low_freq_factor > 0) ||
	     !(c->rope_llama3.high_freq_factor > c->rope_llama3.low_freq_factor) || c->rope_llama3.orig_ctx < 1))
		BAD("%s: llama3 rope scaling needs factor >= 1, 0 < low_freq_factor < high_freq_factor and "
		    "original_context_length >= 1 (got %g, %g, %g, %d)", what, c->rope_llama3.factor,
		    c->rope_llama3.low_freq_factor, c->rope_llama3.high_freq_factor, c->rope_llama3.orig_ctx);
	if (c->sliding_window < 0)
		BAD("%s: attention.sliding_window %d is negative", what, c->sliding_window);
	return 0;
#undef BAD
}

/* Reads the integer {arch}.{key}; a missing key takes dflt when dflt >= 0, else is an error. */
static int get_dim(const struct gguf_file *f, const char *arch, const char *key, int64_t dflt, int *out,
		   char *err, size_t errlen)
{
	char name[128];
	int64_t v;
	int rc;

	snprintf(name, sizeof name, "%s.%s", arch, key);
	rc = gguf_get_int(f, name, &v);
	if (rc == -ENOENT && dflt >= 0) {
		*out = (int)dflt;
		return 0;
	}
	if (rc == -ENOENT) {
		snprintf(err, errlen, "%s: metadata key %s is missing", f->path, name);
		return -EINVAL;
	}
	if (rc || v < 0 || v > INT32_MAX || (v == 0 && dflt != 0)) {
		snprintf(err, errlen, "%s: metadata %s is not a positive integer", f->path, name);
		return -EINVAL;
	}
	*out = (int)v;
	return 0;
}

/* Reads the number {arch}.{key} into *out if present; 0, or -EINVAL for a non-number. */
static int get_num(const struct gguf_file *f, const char *arch, const char *key, float *out, char *err,
		   size_t errlen)
{
	char name[128];
	double v;
	int rc;

	snprintf(name, sizeof name, "%s.%s", arch, key);
	rc = gguf_get_float(f, name, &v);
	if (rc == -ENOENT)
		return 0;
	if (rc || !isfinite(v)) {
		snprintf(err, errlen, "%s: metadata %s is not a number", f->path, name);
		return -EINVAL;
	}
	*out = (float)v;
	return 0;
}

/* RoPE scaling keys, as llama.cpp reads them: rope.scaling.type (default linear) with
 * rope.scaling.factor; "llama3" (with low/high_freq_factor and original_context_length) is read
 * too, for files that carry the parameters instead of rope_freqs.weight. */
static int read_rope_scaling(const struct gguf_file *f, const char *arch, struct eng_config *c, char *err,
			     size_t errlen)
{
	char key[128], type[32] = "linear";
	float factor = 0.0f;
	int rc;

	snprintf(key, sizeof key, "%s.rope.scaling.type", arch);
	rc = gguf_get_str(f, key, type, sizeof type);
	if (rc && rc != -ENOENT) {
		snprintf(err, errlen, "%s: metadata %s is not a string", f->path, key);
		return -EINVAL;
	}
	if ((rc = get_num(f, arch, "rope.scaling.factor", &factor, err, errlen)))
		return rc;
	if (!strcmp(type, "none"))
		return 0;
	if (!strcmp(type, "linear")) {
		if (factor == 0.0f && (rc = get_num(f, arch, "rope.scale_linear", &factor, err, errlen)))
			return rc;
		c->rope_scale = factor > 0 ? factor : 0.0f;
		return 0;
	}
	if (!strcmp(type, "llama3")) {
		float orig = 8192.0f;

		c->rope_llama3 = (struct eng_rope_llama3){ factor > 0 ? factor : 8.0f, 1.0f, 4.0f, 8192 };
		if ((rc = get_num(f, arch, "rope.scaling.low_freq_factor", &c->rope_llama3.low_freq_factor, err,
				  errlen)) ||
		    (rc = get_num(f, arch, "rope.scaling.high_freq_factor", &c->rope_llama3.high_freq_factor, err,
				  errlen)) ||
		    (rc = get_num(f, arch, "rope.scaling.original_context_length", &orig, err, errlen)))
			return rc;
		c->rope_llama3.orig_ctx = orig >= 1 && orig < 1 << 30 ? (int)orig : 0;
		c->rope_freqs = true;
		return 0;
	}
	snprintf(err, errlen, "%s: %s is '%s', which this engine does not implement (supported: none, linear, "
		 "llama3)", f->path, key, type);
	return -EINVAL;
}

/* A tensor blk.0.SUFFIX exists. */
static bool has_layer_tensor(const struct gguf_file *f, const char *suffix)
{
	char name[96];

	snprintf(name, sizeof name, "blk.0.%s", suffix);
	return gguf_find_tensor(f, name) != NULL;
}

static int read_config(const struct gguf_file *f, int arch_id, struct eng_config *c, char *err, size_t errlen)
{
	const char *arch = eng_arch_name(arch_id);
	int rc, head_dim_v;

	memset(c, 0, sizeof *c);
	c->arch = arch_id;
	c->rope_type = eng_arch_rope_type(arch_id);
	if ((rc = get_dim(f, arch, "embedding_length", -1, &c->dim, err, errlen)) ||
	    (rc = get_dim(f, arch, "feed_forward_length", -1, &c->hidden_dim, err, errlen)) ||
	    (rc = get_dim(f, arch, "block_count", -1, &c->n_layers, err, errlen)) ||
	    (rc = get_dim(f, arch, "attention.head_count", -1, &c->n_heads, err, errlen)) ||
	    (rc = get_dim(f, arch, "attention.head_count_kv", c->n_heads, &c->n_kv_heads, err, errlen)) ||
	    (rc = get_dim(f, arch, "context_length", -1, &c->seq_len, err, errlen)))
		return rc;
	if ((rc = get_dim(f, arch, "attention.key_length", c->dim % c->n_heads ? 0 : c->dim / c->n_heads,
			  &c->head_dim, err, errlen)) ||
	    (rc = get_dim(f, arch, "attention.value_length", c->head_dim, &head_dim_v, err, errlen)))
		return rc;
	if (head_dim_v != c->head_dim) {
		snprintf(err, errlen, "%s: %s.attention.value_length %d differs from key_length %d, which this "
			 "engine does not implement", f->path, arch, head_dim_v, c->head_dim);
		return -EINVAL;
	}
	if ((rc = get_dim(f, arch, "rope.dimension_count", c->head_dim > 0 ? c->head_dim : 1, &c->rope_dim,
			  err, errlen)) ||
	    (rc = get_dim(f, arch, "attention.sliding_window", 0, &c->sliding_window, err, errlen)))
		return rc;
	c->rope_theta = 10000.0f;
	c->norm_eps = 1e-5f;
	if ((rc = get_num(f, arch, "rope.freq_base", &c->rope_theta, err, errlen)) ||
	    (rc = get_num(f, arch, "attention.layer_norm_rms_epsilon", &c->norm_eps, err, errlen)) ||
	    (rc = read_rope_scaling(f, arch, c, err, errlen)))
		return rc;
	if (c->sliding_window >= c->seq_len)
		c->sliding_window = 0; /* never reached: full attention is exact */
	if (gguf_find_tensor(f, "rope_freqs.weight")) {
		c->rope_freqs = true;
		c->rope_llama3.factor = 0; /* the file's own factors win */
	}
	c->qkv_bias = has_layer_tensor(f, "attn_q.bias");
	c->qk_norm = has_layer_tensor(f, "attn_q_norm.weight");
	if (arch_id == ENG_ARCH_QWEN2 && !c->qkv_bias) {
		snprintf(err, errlen, "%s: qwen2 needs tensor blk.0.attn_q.bias, which is missing", f->path);
		return -EINVAL;
	}
	if (arch_id == ENG_ARCH_QWEN3 && !c->qk_norm) {
		snprintf(err, errlen, "%s: qwen3 needs tensor blk.0.attn_q_norm.weight, which is missing", f->path);
		return -EINVAL;
	}
	if (arch_id != ENG_ARCH_QWEN3 && c->qk_norm) {
		snprintf(err, errlen, "%s: tensor blk.0.attn_q_norm.weight is only implemented for qwen3, not %s",
			 f->path, arch);
		return -EINVAL;
	}
	{
		static const char *const unsupported[] = { "attn_output.bias", "ffn_up.bias", "ffn_down.bias",
							   "ffn_gate.bias", "attn_norm.bias" };

		for (size_t i = 0; i < sizeof unsupported / sizeof unsupported[0]; i++)
			if (has_layer_tensor(f, unsupported[i])) {
				snprintf(err, errlen, "%s: tensor blk.0.%s is not implemented by this engine",
					 f->path, unsupported[i]);
				return -EINVAL;
			}
	}
	return 0;
}

/* ---- tensors ---- */

struct load {
	struct gguf_file *f;
	char *err;
	size_t errlen;
	float *norm_buf; /* converted norms */
	size_t norm_used;
};

static int get_tensor(struct load *L, const char *name, int64_t ne0, int64_t ne1,
		      const struct gguf_tensor **out)
{
	const struct gguf_tensor *t = gguf_find_tensor(L->f, name);
	size_t align;

	if (!t) {
		snprintf(L->err, L->errlen, "%s: tensor %s is missing", L->f->path, name);
		return -EINVAL;
	}
	if (t->ne[0] != ne0 || t->ne[1] != ne1 || t->ne[2] != 1 || t->ne[3] != 1) {
		snprintf(L->err, L->errlen, "%s: tensor %s has shape [%lld, %lld, %lld, %lld], expected [%lld, %lld]",
			 L->f->path, name, (long long)t->ne[0], (long long)t->ne[1], (long long)t->ne[2],
			 (long long)t->ne[3], (long long)ne0, (long long)ne1);
		return -EINVAL;
	}
	if (!type_supported(t->type)) {
		snprintf(L->err, L->errlen,
			 "%s: %s is %s; supported: F32 F16 Q8_0 Q4_0 Q4_1 Q5_0 Q5_1 Q2_K Q3_K Q4_K Q5_K Q6_K",
			 L->f->path, name, gguf_type_name(t->type));
		return -EINVAL;
	}
	align = t->type == ENG_TYPE_F32 ? 4 : 2;
	if ((uintptr_t)t->data % align) {
		snprintf(L->err, L->errlen, "%s: tensor %s data (offset %llu) is not %zu-byte aligned",
			 L->f->path, name, (unsigned long long)(L->f->data_offset + t->offset), align);
		return -EINVAL;
	}
	*out = t;
	return 0;
}

static int get_mat(struct load *L, const char *name, int64_t rows, int64_t cols, struct eng_mat *m)
{
	const struct gguf_tensor *t;
	int rc = get_tensor(L, name, cols, rows, &t);

	if (rc)
		return rc;
	m->data = t->data;
	m->type = (int)t->type;
	m->rows = rows;
	m->cols = cols;
	m->row_bytes = (size_t)gguf_row_bytes(t->type, cols);
	return 0;
}

static int get_norm(struct load *L, const char *name, int n, const float **out)
{
	const struct gguf_tensor *t = gguf_find_tensor(L->f, name);
	float *dst;
	int rc;

	/* A norm is a vector: accept [n] (stored as [n, 1]). */
	if ((rc = get_tensor(L, name, n, 1, &t)))
		return rc;
	/* copied even when stored as F32: read at every token, they would keep their pages of the
	 * file mapped (a whole 2 MiB folio each where the page cache has large ones) after the
	 * matrices around them were copied out of it (place_weights) */
	dst = L->norm_buf + L->norm_used;
	L->norm_used += (size_t)n;
	eng_dequantize_row((int)t->type, t->data, dst, n);
	*out = dst;
	return 0;
}

static int load_weights(struct load *L, struct eng_model *m)
{
	const struct eng_config *c = &m->cfg;
	const int64_t dim = c->dim, q_dim = (int64_t)c->n_heads * c->head_dim,
		      kv_dim = (int64_t)c->n_kv_heads * c->head_dim, hid = c->hidden_dim;
	char name[96];
	int rc;

	m->w.layers = calloc((size_t)c->n_layers, sizeof *m->w.layers);
	/* F32 copies of norms, biases and RoPE factors: at most this many floats */
	L->norm_buf = malloc(((size_t)c->n_layers * (2 * (size_t)dim + (size_t)q_dim + 2 * (size_t)kv_dim +
						     2 * (size_t)c->head_dim) +
			      (size_t)dim + (size_t)c->rope_dim) *
			     sizeof(float));
	if (!m->w.layers || !L->norm_buf) {
		snprintf(L->err, L->errlen, "%s: out of memory", L->f->path);
		return -ENOMEM;
	}
	m->owned = L->norm_buf;
	if ((rc = get_mat(L, "token_embd.weight", c->vocab_size, dim, &m->w.token_embd)) ||
	    (rc = get_norm(L, "output_norm.weight", c->dim, &m->w.output_norm)))
		return rc;
	if (gguf_find_tensor(L->f, "output.weight")) {
		if ((rc = get_mat(L, "output.weight", c->vocab_size, dim, &m->w.output)))
			return rc;
	} else {
		m->w.output = m->w.token_embd; /* tied */
	}
	if (gguf_find_tensor(L->f, "rope_freqs.weight")) {
		if ((rc = get_norm(L, "rope_freqs.weight", c->rope_dim / 2, &m->w.rope_freqs)))
			return rc;
		for (int i = 0; i < c->rope_dim / 2; i++)
			if (!(m->w.rope_freqs[i] > 0) || !isfinite(m->w.rope_freqs[i])) {
				snprintf(L->err, L->errlen, "%s: rope_freqs.weight[%d] is %g, not a positive "
					 "frequency divisor", L->f->path, i, m->w.rope_freqs[i]);
				return -EINVAL;
			}
	} else if (c->rope_llama3.factor > 0) {
		float *ff = L->norm_buf + L->norm_used;

		L->norm_used += (size_t)c->rope_dim / 2;
		eng_llama3_freqs(c, ff);
		m->w.rope_freqs = ff;
	}
	for (int l = 0; l < c->n_layers; l++) {
		struct eng_layer *y = &m->w.layers[l];

#define MAT(field, suffix, rows, cols)                                                             \
	snprintf(name, sizeof name, "blk.%d.%s.weight", l, suffix);                                \
	if ((rc = get_mat(L, name, rows, cols, &y->field)))                                        \
		return rc;
#define VEC(field, tensor, n)                                                                      \
	snprintf(name, sizeof name, "blk.%d.%s", l, tensor);                                       \
	if ((rc = get_norm(L, name, (int)(n), &y->field)))                                         \
		return rc;
#define NORM(field, suffix) VEC(field, suffix ".weight", c->dim)
		NORM(attn_norm, "attn_norm")
		MAT(wq, "attn_q", q_dim, dim)
		MAT(wk, "attn_k", kv_dim, dim)
		MAT(wv, "attn_v", kv_dim, dim)
		MAT(wo, "attn_output", dim, q_dim)
		NORM(ffn_norm, "ffn_norm")
		MAT(w_gate, "ffn_gate", hid, dim)
		MAT(w_up, "ffn_up", hid, dim)
		MAT(w_down, "ffn_down", dim, hid)
		if (c->qkv_bias) {
			VEC(bq, "attn_q.bias", q_dim)
			VEC(bk, "attn_k.bias", kv_dim)
			VEC(bv, "attn_v.bias", kv_dim)
		}
		if (c->qk_norm) {
			VEC(q_norm, "attn_q_norm.weight", c->head_dim)
			VEC(k_norm, "attn_k_norm.weight", c->head_dim)
		}
#undef MAT
#undef VEC
#undef NORM
	}
	return 0;
}

static uint64_t mat_bytes(const struct eng_mat *m)
{
	return (uint64_t)m->row_bytes * (uint64_t)m->rows;
}

void eng_model_fill_sizes(struct eng_model *m)
{
	const struct eng_config *c = &m->cfg;
	const struct eng_weights *w = &m->w;
	bool tied = w->output.data == w->token_embd.data;
	uint64_t by_type[64] = { 0 };
	uint64_t params, layer_bytes = 0, norm_bytes = 4ull * (uint64_t)c->dim;
	struct eng_model_desc *d = &m->desc;

	if (!w->layers)
		return;
	params = (uint64_t)w->token_embd.rows * (uint64_t)w->token_embd.cols + (uint64_t)c->dim;
	if (!tied)
		params += (uint64_t)w->output.rows * (uint64_t)w->output.cols;
	for (int l = 0; l < c->n_layers; l++) {
		const struct eng_mat *mats[] = { &w->layers[l].wq, &w->layers[l].wk, &w->layers[l].wv,
						 &w->layers[l].wo, &w->layers[l].w_gate, &w->layers[l].w_up,
						 &w->layers[l].w_down };

		uint64_t vec = 2ull * (uint64_t)c->dim +
			       (c->qkv_bias ? (uint64_t)(c->n_heads + 2 * c->n_kv_heads) * (uint64_t)c->head_dim : 0) +
			       (c->qk_norm ? 2ull * (uint64_t)c->head_dim : 0);

		params += vec;
		norm_bytes += 4 * vec;
		for (size_t i = 0; i < sizeof mats / sizeof mats[0]; i++) {
			params += (uint64_t)mats[i]->rows * (uint64_t)mats[i]->cols;
			layer_bytes += mat_bytes(mats[i]);
			by_type[mats[i]->type & 63] += mat_bytes(mats[i]);
		}
	}
	by_type[w->output.type & 63] += mat_bytes(&w->output);
	d->n_params = params;
	/* Norms are counted as F32, the form the engine reads them in. */
	d->weight_bytes = layer_bytes + norm_bytes + mat_bytes(&w->token_embd) + (tied ? 0 : mat_bytes(&w->output));
	/* One decode step reads every layer matrix and norm, the output matrix, and one row of
	 * token_embd (which is the output matrix itself when tied). */
	d->decode_bytes_per_token = layer_bytes + norm_bytes + mat_bytes(&w->output) +
				    (tied ? 0 : w->token_embd.row_bytes);
	d->wtype = 0;
	for (int t = 0; t < 64; t++)
		if (by_type[t] > by_type[d->wtype])
			d->wtype = t;
}

static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? s + 1 : path;
}

static int open_gguf(const char *path, const struct eng_open_opts *opts, struct eng_model **out,
		     char *err, size_t errlen)
{
	struct eng_model *m = calloc(1, sizeof *m);
	struct load L = { .err = err, .errlen = errlen };
	char arch[64] = "";
	enum eng_arch arch_id;
	int64_t seed;
	int rc;

	if (!m) {
		snprintf(err, errlen, "%s: out of memory", path);
		return -ENOMEM;
	}
	if ((rc = gguf_open(path, &m->gguf, err, errlen)))
		goto fail;
	L.f = m->gguf;
	if ((rc = eng_vocab_from_gguf(m->gguf, &m->owned_vocab, err, errlen)))
		goto fail;
	m->vocab = m->owned_vocab;
	snprintf(m->desc.path, sizeof m->desc.path, "%s", path);
	m->desc.file_bytes = m->gguf->size;
	if (gguf_get_str(m->gguf, "general.name", m->desc.name, sizeof m->desc.name))
		snprintf(m->desc.name, sizeof m->desc.name, "%s", base_name(path));
	if (!gguf_get_str(m->gguf, "joulebench.shape", m->desc.shape, sizeof m->desc.shape))
		m->desc.synthetic = !gguf_get_int(m->gguf, "joulebench.seed", &seed);
	rc = gguf_get_str(m->gguf, "general.architecture", arch, sizeof arch);
	if (opts && opts->vocab_only) {
		snprintf(m->desc.arch, sizeof m->desc.arch, "%.31s", arch);
		if (!m->vocab) {
			snprintf(err, errlen, "%s: the file has no vocabulary (tokenizer.ggml.tokens)", path);
			rc = -EINVAL;
			goto fail;
		}
		m->cfg.vocab_size = eng_vocab_size(m->vocab);
		*out = m;
		return 0;
	}
	if (rc) {
		snprintf(err, errlen, "%s: general.architecture is missing", path);
		rc = -EINVAL;
		goto fail;
	}
	if (eng_arch_parse(arch, &arch_id)) {
		snprintf(err, errlen, "%s: general.architecture '%s' is not supported (supported: llama, qwen2, "
			 "qwen3)", path, arch);
		rc = -EINVAL;
		goto fail;
	}
	snprintf(m->desc.arch, sizeof m->desc.arch, "%s", eng_arch_name(arch_id));
	if ((rc = read_config(m->gguf, arch_id, &m->cfg, err, errlen)))
		goto fail;
	{
		const struct gguf_tensor *te = gguf_find_tensor(m->gguf, "token_embd.weight");

		if (!te) {
			snprintf(err, errlen, "%s: tensor token_embd.weight is missing", path);
			rc = -EINVAL;
			goto fail;
		}
		m->cfg.vocab_size = te->ne[1] > 0 && te->ne[1] <= INT32_MAX ? (int)te->ne[1] : 0;
	}
	if ((rc = eng_config_check(&m->cfg, path, err, errlen)))
		goto fail;
	if (m->vocab && eng_vocab_size(m->vocab) > m->cfg.vocab_size) {
		snprintf(err, errlen, "%s: the vocabulary has %d tokens but token_embd.weight only %d rows",
			 path, eng_vocab_size(m->vocab), m->cfg.vocab_size);
		rc = -EINVAL;
		goto fail;
	}
	if ((rc = load_weights(&L, m)))
		goto fail;
	eng_model_fill_sizes(m);
	*out = m;
	return 0;
fail:
	eng_model_close(m);
	return rc;
}

/*
 * Where the weights of a GGUF file live while the model runs. A decode step streams every
 * matrix once. A private file mapping made writable and reordered in place (as the T layout
 * once was) ends up on 4 KiB pages, one TLB miss and page walk per 4 KiB; the same Q4_K
 * matrix-vector product read 8% fewer GB/s from 4 KiB pages than from 2 MiB ones (Zen 4 EPYC,
 * 2 threads, 8 interleaved rounds). So, where the kernel grants transparent huge pages (`enabled`
 * is not [never]), the matrices the forward pass multiplies (every layer's, and the output unless
 * it is token_embd, whose rows are looked up) are copied once into one anonymous region advised
 * for 2 MiB pages, reordered on the way where the active kernel set reads its own layout
 * (eng_weight_layout), and each slice's pages of the file mapping are dropped after its copy
 * (the page cache keeps them; resident memory does not count them twice: peak RSS 486 MiB either
 * way for bench-1b Q4_K_M). bench-1b Q4_K_M decode, 2 threads, 10 interleaved rounds: 60.1
 * against 56.1 tok/s, faster in every round; copying only the reordered matrices gained half as
 * much. Q4_0, which needs no reordering, decoded at 66.2 against 65.5 tok/s (10 rounds): Linux
 * 6.18 here maps that file's page cache in 2 MiB folios already; older kernels do not. The copy
 * costs load time (0.2-0.7 s for 450 MB here). JOULEBENCH_MMAP=1 keeps the weights in the file
 * mapping, as does a machine without huge pages, or with less than 10/9 of the region free
 * (MemAvailable), or where the region cannot be mapped: there the reordered matrices are
 * reordered in place (the private mapping made writable; its pages become the process's copies,
 * the file is untouched), and if it cannot be made writable they stay as stored, which every
 * kernel reads. Synthetic weights are the model's own memory,
 * advised for 2 MiB pages when they are allocated (synth.c).
 */
static bool thp_enabled(void)
{
	char line[128] = "";
	FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");

	if (!f)
		return false;
	if (!fgets(line, sizeof line, f))
		line[0] = '\0';
	fclose(f);
	return line[0] && !strstr(line, "[never]");
}

#define HP_ALIGN ((size_t)2 << 20)

static const char *g_meminfo_path;

void eng_loader_meminfo_path(const char *path)
{
	g_meminfo_path = path;
}

/* MemAvailable of /proc/meminfo in bytes; 0 when it cannot be read. */
static uint64_t mem_available(void)
{
	char line[128];
	unsigned long long kb = 0;
	FILE *f = fopen(g_meminfo_path ? g_meminfo_path : "/proc/meminfo", "r");

	if (!f)
		return 0;
	while (fgets(line, sizeof line, f))
		if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1)
			break;
	fclose(f);
	return (uint64_t)kb << 10;
}

/* The pages wholly inside [p, p + n) of a file mapping, unmapped from this process (read again
 * from the file if ever touched). */
static void drop_mapped(const void *p, size_t n)
{
	uintptr_t a = ((uintptr_t)p + 4095) & ~(uintptr_t)4095, e = ((uintptr_t)p + n) & ~(uintptr_t)4095;

	if (e > a)
		(void)madvise((void *)a, e - a, MADV_DONTNEED);
}

/* Rows [r0, r0 + nr) of mat into dst's same rows, reordered into `layout` (reorder) or copied as
 * they are; then those rows' pages of the file mapping are dropped. */
static int copy_rows(const struct eng_mat *mat, bool reorder, int layout, int64_t r0, int64_t nr, char *dst)
{
	struct eng_mat part = *mat;
	size_t off = (size_t)r0 * mat->row_bytes, n = (size_t)nr * mat->row_bytes;
	int rc = 0;

	part.data = (const char *)mat->data + off;
	part.rows = nr;
	if (reorder)
		rc = eng_mat_relayout(&part, layout, dst + off);
	else
		memcpy(dst + off, part.data, n);
	drop_mapped((const char *)mat->data + off, n);
	return rc;
}

/* mat reordered into the active kernels' layout where they have one for its type, into dst (the
 * rows a slice at a time, so resident memory never holds a large matrix twice) or, without dst,
 * in place. 1: left as stored (the mapping cannot be made writable). */
static int relayout_mat(struct eng_model *m, struct eng_mat *mat, bool *writable, char *dst, char *err,
			size_t errlen)
{
	const int64_t slice = (int64_t)(((size_t)8 << 20) / mat->row_bytes) + 1;
	int layout = eng_weight_layout(mat->type), rc = 0;
	bool reorder = layout != ENG_LAYOUT_GGML && mat->layout != layout;

	if (dst) {
		for (int64_t r = 0; r < mat->rows && rc == 0; r += slice)
			rc = copy_rows(mat, reorder, layout, r, mat->rows - r < slice ? mat->rows - r : slice, dst);
		if (rc == 0) {
			mat->data = dst;
			if (reorder)
				mat->layout = layout;
		}
	} else if (reorder) {
		if (!*writable) {
			if (gguf_map_writable(m->gguf))
				return 1; /* stays as stored */
			*writable = true;
		}
		rc = eng_mat_relayout(mat, layout, (void *)(uintptr_t)mat->data);
	}
	if (rc) {
		snprintf(err, errlen, "%s: cannot reorder a %s matrix for the %s kernels", m->desc.path,
			 eng_type_name(mat->type), eng_kernels_isa());
		return rc;
	}
	if (reorder)
		m->desc.relaid_bytes += mat_bytes(mat);
	return 0;
}

/* A matrix's place in the huge-page region: its bytes rounded up to a cache line. */
static size_t padded_bytes(const struct eng_mat *mat)
{
	return (mat_bytes(mat) + 63) & ~(size_t)63;
}

static int place_weights(struct eng_model *m, char *err, size_t errlen)
{
	struct eng_weights *w = &m->w;
	const char *env = getenv("JOULEBENCH_MMAP");
	bool writable = m->gguf == NULL, copy = m->gguf && !(env && *env && strcmp(env, "0")) && thp_enabled();
	int n_mats = 7 * m->cfg.n_layers + 1, n = 0, rc = 0;
	struct eng_mat **mats = calloc((size_t)n_mats, sizeof *mats);
	size_t total = 0, off = 0;
	char *region = NULL;

	if (!mats) {
		snprintf(err, errlen, "%s: out of memory", m->desc.path);
		return -ENOMEM;
	}
	for (int l = 0; l < m->cfg.n_layers; l++) {
		struct eng_layer *L = &w->layers[l];

		mats[n++] = &L->wq;
		mats[n++] = &L->wk;
		mats[n++] = &L->wv;
		mats[n++] = &L->wo;
		mats[n++] = &L->w_gate;
		mats[n++] = &L->w_up;
		mats[n++] = &L->w_down;
	}
	if (w->output.data != w->token_embd.data)
		mats[n++] = &w->output;
	for (int i = 0; i < n; i++)
		total += padded_bytes(mats[i]);
	if (copy && total > 0) {
		/* a copy that could not stay resident would turn reclaimable file pages into anonymous
		 * ones: a model near the size of the free memory stays in the file mapping */
		uint64_t avail = mem_available();

		copy = !avail || (uint64_t)total <= avail / 10 * 9;
	}
	if (copy && total > 0) {
		void *map = mmap(NULL, total + HP_ALIGN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (map != MAP_FAILED) {
			m->weights_map = map;
			m->weights_map_len = total + HP_ALIGN;
			region = (char *)(((uintptr_t)map + HP_ALIGN - 1) & ~(uintptr_t)(HP_ALIGN - 1));
			(void)madvise(region, total, MADV_HUGEPAGE);
			m->desc.hugepage_bytes = total;
		}
	}
	for (int i = 0; i < n && rc == 0; i++) {
		rc = relayout_mat(m, mats[i], &writable, region ? region + off : NULL, err, errlen);
		off += padded_bytes(mats[i]);
	}
	free(mats);
	return rc > 0 ? 0 : rc;
}

int eng_model_open(const char *spec, const struct eng_open_opts *opts, struct eng_model **out,
		   char *err, size_t errlen)
{
	int rc;

	*out = NULL;
	if (!spec || !*spec) {
		snprintf(err, errlen, "no model given");
		return -EINVAL;
	}
	if (!strncmp(spec, "synth:", 6))
		rc = eng_synth_open(spec + 6, opts, out, err, errlen);
	else
		rc = open_gguf(spec, opts, out, err, errlen);
	if (rc || (opts && opts->vocab_only) || !(*out)->w.layers)
		return rc;
	if ((rc = place_weights(*out, err, errlen))) {
		eng_model_close(*out);
		*out = NULL;
	}
	return rc;
}

void eng_model_close(struct eng_model *m)
{
	if (!m)
		return;
	if (m->weights_map)
		munmap(m->weights_map, m->weights_map_len);
	free(m->w.layers);
	free(m->owned);
	eng_vocab_free(m->owned_vocab);
	gguf_close(m->gguf);
	free(m);
}

const struct eng_config *eng_model_config(const struct eng_model *m)
{
	return &m->cfg;
}

void eng_model_describe(const struct eng_model *m, struct eng_model_desc *d)
{
	*d = m->desc;
}

/* ---- model info ---- */

static void print_value(FILE *out, uint32_t type, const uint8_t *p)
{
	int64_t i;
	double f;

	switch (type) {
	case GGUF_VT_F32: {
		float x;

		memcpy(&x, p, 4);
		fprintf(out, "%g", x);
		break;
	}
	case GGUF_VT_F64:
		memcpy(&f, p, 8);
		fprintf(out, "%g", f);
		break;
	case GGUF_VT_BOOL: fprintf(out, "%s", *p ? "true" : "false"); break;
	case GGUF_VT_STRING: {
		uint64_t n;

		memcpy(&n, p, 8);
		fprintf(out, "\"");
		for (uint64_t k = 0; k < n && k < 120; k++) {
			uint8_t ch = p[8 + k];

			if (ch < 0x20 || ch == '"' || ch == '\\')
				fprintf(out, "\\x%02x", ch);
			else
				fputc(ch, out);
		}
		fprintf(out, "\"%s", n > 120 ? "..." : "");
		break;
	}
	default: {
		uint64_t u;

		if (type == GGUF_VT_U64) {
			memcpy(&u, p, 8);
			fprintf(out, "%llu", (unsigned long long)u);
		} else {
			struct gguf_kv kv = { .arr_type = type, .val = p };

			i = gguf_arr_int(&kv, 0);
			fprintf(out, "%lld", (long long)i);
		}
	}
	}
}

int eng_gguf_info(const char *path, FILE *out, char *err, size_t errlen)
{
	struct gguf_file *f = NULL;
	uint64_t params = 0, bytes = 0, by_type_bytes[64] = { 0 }, by_type_n[64] = { 0 };
	int rc = gguf_open(path, &f, err, errlen);

	if (rc)
		return rc;
	fprintf(out, "file:      %s\n", path);
	fprintf(out, "size:      %llu bytes (%.2f MiB)\n", (unsigned long long)f->size, f->size / 1048576.0);
	fprintf(out, "gguf:      version %u, alignment %llu, data at byte %llu\n", f->version,
		(unsigned long long)f->alignment, (unsigned long long)f->data_offset);
	{
		/* what the engine makes of the file: architecture and features, or why it cannot run */
		char arch[64] = "", line[512], why[512];
		enum eng_arch id;
		struct eng_config c;
		const struct gguf_tensor *te = gguf_find_tensor(f, "token_embd.weight");

		if (gguf_get_str(f, "general.architecture", arch, sizeof arch)) {
			fprintf(out, "arch:      none (general.architecture is missing)\n");
		} else if (eng_arch_parse(arch, &id)) {
			fprintf(out, "arch:      %s, which this engine does not implement (supported: llama, qwen2, qwen3)\n",
				arch);
		} else if (read_config(f, id, &c, why, sizeof why) ||
			   (c.vocab_size = te && te->ne[1] <= INT32_MAX ? (int)te->ne[1] : 0,
			    eng_config_check(&c, path, why, sizeof why))) {
			fprintf(out, "arch:      %s, not runnable: %s\n", arch, why);
		} else {
			eng_config_describe(&c, !gguf_find_tensor(f, "output.weight"), line, sizeof line);
			fprintf(out, "arch:      %s\n", line);
		}
	}
	fprintf(out, "\nmetadata (%llu keys):\n", (unsigned long long)f->n_kv);
	for (uint64_t i = 0; i < f->n_kv; i++) {
		const struct gguf_kv *kv = &f->kv[i];

		fprintf(out, "  %-44.*s ", (int)(kv->key.len > 200 ? 200 : kv->key.len), kv->key.p);
		if (kv->type == GGUF_VT_ARRAY) {
			uint64_t pos = 0;

			fprintf(out, "[%s x %llu]", gguf_vtype_name(kv->arr_type), (unsigned long long)kv->arr_n);
			for (uint64_t k = 0; k < kv->arr_n && k < 4; k++) {
				fprintf(out, k ? ", " : " ");
				if (kv->arr_type == GGUF_VT_STRING) {
					uint64_t at = pos;

					gguf_arr_next_str(kv, &pos);
					print_value(out, GGUF_VT_STRING, kv->val + at);
				} else {
					print_value(out, kv->arr_type, kv->val + k * gguf_vtype_size(kv->arr_type));
				}
			}
			fprintf(out, "%s\n", kv->arr_n > 4 ? ", ..." : "");
		} else {
			fprintf(out, "%-6s ", gguf_vtype_name(kv->type));
			print_value(out, kv->type, kv->val);
			fputc('\n', out);
		}
	}
	fprintf(out, "\ntensors (%llu):\n", (unsigned long long)f->n_tensors);
	for (uint64_t i = 0; i < f->n_tensors; i++) {
		const struct gguf_tensor *t = &f->tensors[i];
		char shape[96];
		int k = 0;
		uint64_t n = 1;

		for (uint32_t d = 0; d < t->n_dims; d++) {
			k += snprintf(shape + k, sizeof shape - (size_t)k, "%s%lld", d ? ", " : "",
				      (long long)t->ne[d]);
			n *= (uint64_t)t->ne[d];
		}
		params += n;
		bytes += t->nbytes;
		by_type_bytes[t->type & 63] += t->nbytes;
		by_type_n[t->type & 63]++;
		fprintf(out, "  %-28s %-6s [%s] %llu bytes\n", t->name, gguf_type_name(t->type), shape,
			(unsigned long long)t->nbytes);
	}
	fprintf(out, "\ntypes:    ");
	for (uint32_t t = 0; t < 64; t++)
		if (by_type_n[t])
			fprintf(out, " %s %llu tensors %.2f MiB;", gguf_type_name(t), (unsigned long long)by_type_n[t],
				by_type_bytes[t] / 1048576.0);
	fprintf(out, "\nparameters: %llu (%.3f B)\n", (unsigned long long)params, params / 1e9);
	fprintf(out, "tensor data: %llu bytes (%.2f MiB)\n", (unsigned long long)bytes, bytes / 1048576.0);
	gguf_close(f);
	return 0;
}
