/*
 * engine/kbench.c — the engine side of `joulebench kernels`: kernel cases at the real sizes of a
 * model shape, their deterministic inputs, one call of the fast or the `_ref` version, and the
 * bytes and operations of one call. The timing, statistics and output live in bench/.
 *
 * Traffic model (bytes_per_call): every input read once and every output written once, at the
 * size it is stored (a Q4_0 weight matrix counts 18 bytes per 32 weights). Operation model
 * (flops_per_call): a multiply-add counts 2; exp, division and square root count 1 each. Both
 * are documented field by field in reports/SCHEMA.md.
 */
#include "engine/engine.h"
#include "engine/kernels.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void kb_err(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void kb_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* ---- the case list ----------------------------------------------------------------------- */

static struct eng_kbench_case *kb_add(struct eng_kbench_case *v, int *n, const char *op, const char *suffix,
				      enum eng_kbench_op kind, int type)
{
	struct eng_kbench_case *c = &v[(*n)++];

	memset(c, 0, sizeof *c);
	snprintf(c->op, sizeof c->op, "%s", op);
	snprintf(c->name, sizeof c->name, "%s.%s%s%s", op, eng_type_name(type), suffix[0] ? "." : "", suffix);
	c->kind = kind;
	c->type = type;
	c->rows = 1;
	c->n_tok = 1;
	c->has_ref = true;
	return c;
}

/* A distinct weight size of the shape: the case suffix, the tensors of that size, rows x cols. */
struct kb_mat {
	const char *suffix, *tensors;
	int64_t rows, cols;
};

static void kb_matmul_model(struct eng_kbench_case *c)
{
	size_t rb = eng_row_bytes(c->type, c->cols);

	c->bytes_per_call = (double)rb * (double)c->rows + 4.0 * (double)c->n_tok * (double)(c->cols + c->rows);
	c->flops_per_call = 2.0 * (double)c->rows * (double)c->cols * c->n_tok;
}

int eng_kbench_cases(const struct eng_config *cfg, const struct eng_kbench_spec *s,
		     struct eng_kbench_case **out, char *err, size_t errlen)
{
	struct kb_mat mats[6];
	struct eng_kbench_case *v = NULL, *c;
	int n = 0, n_mats = 0, q_dim, kv_dim;

	*out = NULL;
	if (!cfg || cfg->dim <= 0 || cfg->n_heads <= 0 || cfg->n_kv_heads <= 0 || cfg->head_dim <= 0 ||
	    cfg->hidden_dim <= 0 || cfg->vocab_size <= 0 || cfg->n_heads % cfg->n_kv_heads) {
		kb_err(err, errlen, "kernel cases: incomplete shape (dim %d, heads %d/%d, head_dim %d, ffn %d, vocab %d)",
		       cfg ? cfg->dim : 0, cfg ? cfg->n_heads : 0, cfg ? cfg->n_kv_heads : 0,
		       cfg ? cfg->head_dim : 0, cfg ? cfg->hidden_dim : 0, cfg ? cfg->vocab_size : 0);
		return -EINVAL;
	}
	if (s->n_types < 0 || (s->n_types > 0 && !s->types)) {
		kb_err(err, errlen, "kernel cases: bad weight type list");
		return -EINVAL;
	}
	if (s->n_tok < 2 || s->n_tok > 4096) {
		kb_err(err, errlen, "kernel cases: matmul batch %d is outside 2..4096", s->n_tok);
		return -EINVAL;
	}
	if (s->kv_len < 1 || (cfg->seq_len > 0 && s->kv_len > cfg->seq_len)) {
		kb_err(err, errlen, "kernel cases: KV length %d is outside 1..%d (the shape's context length)",
		       s->kv_len, cfg->seq_len);
		return -EINVAL;
	}
	for (int i = 0; i < s->n_types; i++) {
		int t = s->types[i];

		if (!eng_type_name(t)) {
			kb_err(err, errlen, "kernel cases: unsupported weight type %d", t);
			return -EINVAL;
		}
		if (t != ENG_TYPE_F32 && t != ENG_TYPE_F16 && (cfg->dim % 32 || cfg->hidden_dim % 32)) {
			kb_err(err, errlen, "kernel cases: %s needs dim and ffn sizes that are multiples of 32 (dim %d, ffn %d)",
			       eng_type_name(t), cfg->dim, cfg->hidden_dim);
			return -EINVAL;
		}
	}

	q_dim = cfg->n_heads * cfg->head_dim;
	kv_dim = cfg->n_kv_heads * cfg->head_dim;
	/* One case per distinct size; tensors of the same size share it (stories15m: q = k = v = o). */
	if (q_dim == cfg->dim && kv_dim == q_dim)
		mats[n_mats++] = (struct kb_mat){ "attn_q", "attn_q,attn_k,attn_v,attn_output", q_dim, cfg->dim };
	else if (q_dim == cfg->dim)
		mats[n_mats++] = (struct kb_mat){ "attn_q", "attn_q,attn_output", q_dim, cfg->dim };
	else
		mats[n_mats++] = (struct kb_mat){ "attn_q", "attn_q", q_dim, cfg->dim };
	if (q_dim != cfg->dim)
		mats[n_mats++] = (struct kb_mat){ "attn_output", "attn_output", cfg->dim, q_dim };
	if (kv_dim != q_dim || q_dim != cfg->dim)
		mats[n_mats++] = (struct kb_mat){ "attn_k", "attn_k,attn_v", kv_dim, cfg->dim };
	mats[n_mats++] = (struct kb_mat){ "ffn_up", "ffn_gate,ffn_up", cfg->hidden_dim, cfg->dim };
	mats[n_mats++] = (struct kb_mat){ "ffn_down", "ffn_down", cfg->dim, cfg->hidden_dim };
	mats[n_mats++] = (struct kb_mat){ "output", "output", cfg->vocab_size, cfg->dim };

	v = calloc((size_t)(2 * n_mats * s->n_types + 8), sizeof *v);
	if (!v) {
		kb_err(err, errlen, "kernel cases: out of memory");
		return -ENOMEM;
	}
	for (int ti = 0; ti < s->n_types; ti++) {
		for (int batch = 0; batch < 2; batch++) {
			for (int i = 0; i < n_mats; i++) {
				c = kb_add(v, &n, batch ? "matmul" : "matvec", mats[i].suffix, ENG_KB_MATMUL,
					   s->types[ti]);
				snprintf(c->tensors, sizeof c->tensors, "%s", mats[i].tensors);
				c->rows = mats[i].rows;
				c->cols = mats[i].cols;
				c->n_tok = batch ? s->n_tok : 1;
				kb_matmul_model(c);
			}
		}
	}

	/* Activations are quantized to Q8_0 before every quantized matmul: one row of dim per token. */
	if (cfg->dim % 32 == 0) {
		c = kb_add(v, &n, "quantize", "", ENG_KB_QUANTIZE, ENG_TYPE_Q8_0);
		c->cols = cfg->dim;
		c->has_ref = false; /* eng_quantize_row is plain C; it has no SIMD twin */
		c->bytes_per_call = 4.0 * c->cols + (double)eng_row_bytes(ENG_TYPE_Q8_0, c->cols);
		c->flops_per_call = 2.0 * c->cols; /* |x| max and x / d per element */
	}

	c = kb_add(v, &n, "rmsnorm", "", ENG_KB_RMSNORM, ENG_TYPE_F32);
	c->cols = cfg->dim;
	c->bytes_per_call = 12.0 * c->cols;         /* x, weight in; o out */
	c->flops_per_call = 4.0 * c->cols + 2;      /* sum of squares, scale*x*w; sqrt and divide */

	c = kb_add(v, &n, "rope", "", ENG_KB_ROPE, ENG_TYPE_F32);
	c->rows = cfg->n_heads;
	c->cols = cfg->head_dim;
	c->n_heads = cfg->n_heads;
	c->head_dim = cfg->head_dim;
	c->rope_dim = cfg->rope_dim > 0 ? cfg->rope_dim : cfg->head_dim;
	c->kv_len = s->kv_len;
	c->bytes_per_call = 8.0 * q_dim;                                  /* in place: read + write */
	c->flops_per_call = 6.0 * cfg->n_heads * (c->rope_dim / 2);       /* 4 mul + 2 add per pair */

	c = kb_add(v, &n, "softmax", "", ENG_KB_SOFTMAX, ENG_TYPE_F32);
	c->cols = s->kv_len;
	c->kv_len = s->kv_len;
	c->bytes_per_call = 8.0 * c->cols;
	c->flops_per_call = 4.0 * c->cols; /* max, subtract+exp, sum, scale */

	c = kb_add(v, &n, "swiglu", "", ENG_KB_SWIGLU, ENG_TYPE_F32);
	c->cols = cfg->hidden_dim;
	c->bytes_per_call = 12.0 * c->cols;
	c->flops_per_call = 5.0 * c->cols; /* negate, exp, add, divide, multiply */

	c = kb_add(v, &n, "attention", "", ENG_KB_ATTENTION, ENG_TYPE_F32);
	c->rows = cfg->n_heads;
	c->cols = cfg->head_dim;
	c->kv_len = s->kv_len;
	c->n_heads = cfg->n_heads;
	c->n_kv_heads = cfg->n_kv_heads;
	c->head_dim = cfg->head_dim;
	snprintf(c->name, sizeof c->name, "attention.f32.kv%d", s->kv_len);
	/* K and V caches of one layer (f32) read once, q in, out written. */
	c->bytes_per_call = 2.0 * 4 * (double)s->kv_len * kv_dim + 8.0 * q_dim;
	/* Per head: kv_len dots and kv_len axpys of head_dim, a scale and a softmax of kv_len. */
	c->flops_per_call = (double)cfg->n_heads * ((double)s->kv_len * (4.0 * cfg->head_dim + 1) + 4.0 * s->kv_len);

	*out = v;
	return n;
}

/* ---- prepared cases ---------------------------------------------------------------------- */

struct eng_kbench {
	struct eng_kbench_case c;
	struct eng_pool *pool;
	struct eng_mat w;
	void *wdata;
	float *x;     /* inputs: activations, vector, q, gate (a) */
	float *aux;   /* weight of rmsnorm, b of swiglu */
	float *y;     /* outputs */
	void *qout;   /* quantize: Q8_0 blocks */
	float *kc, *vc;   /* attention caches (kv_len x kv_dim) */
	float *scores;    /* attention: n_threads x kv_len scratch */
	int n_threads;
	size_t n_x, n_y;
};

/* splitmix64: a fixed, platform-independent stream of uniform floats in [-1, 1). */
static uint64_t kb_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static float kb_uniform(uint64_t *s)
{
	return (float)((double)(kb_next(s) >> 11) * 0x1.0p-53 * 2.0 - 1.0);
}

static void kb_fill(float *v, size_t n, float scale, uint64_t *s)
{
	for (size_t i = 0; i < n; i++)
		v[i] = kb_uniform(s) * scale;
}

static void *kb_alloc(size_t bytes, size_t *total, char *err, size_t errlen, const char *what)
{
	void *p = NULL;

	/* 64-byte alignment for the SIMD loads; the size rounded up as aligned_alloc requires. */
	if (bytes == 0)
		bytes = 64;
	bytes = (bytes + 63) / 64 * 64;
	p = aligned_alloc(64, bytes);
	if (!p)
		kb_err(err, errlen, "kernel %s: cannot allocate %zu bytes", what, bytes);
	*total += bytes;
	return p;
}

int eng_kbench_prepare(const struct eng_kbench_case *c, int n_threads, uint64_t seed,
		       struct eng_kbench **out, char *err, size_t errlen)
{
	struct eng_kbench *k = NULL;
	uint64_t st = seed ? seed : 0x6a6f756c65ull;
	size_t total = 0;
	int rc = -ENOMEM;

	*out = NULL;
	if (n_threads < 1 || c->cols < 1 || c->rows < 1 || c->n_tok < 1) {
		kb_err(err, errlen, "kernel %s: bad case (threads %d, %lldx%lld, n_tok %d)", c->name, n_threads,
		       (long long)c->rows, (long long)c->cols, c->n_tok);
		return -EINVAL;
	}
	k = calloc(1, sizeof *k);
	if (!k) {
		kb_err(err, errlen, "kernel %s: out of memory", c->name);
		return -ENOMEM;
	}
	k->c = *c;
	k->n_threads = n_threads;

	switch (c->kind) {
	case ENG_KB_MATMUL: {
		size_t rb = eng_row_bytes(c->type, c->cols);
		float *row = NULL;

		if (!rb) {
			kb_err(err, errlen, "kernel %s: %s rows of %lld elements are not supported", c->name,
			       eng_type_name(c->type) ? eng_type_name(c->type) : "?", (long long)c->cols);
			rc = -EINVAL;
			goto fail;
		}
		k->wdata = kb_alloc(rb * (size_t)c->rows, &total, err, errlen, c->name);
		row = malloc((size_t)c->cols * sizeof *row);
		if (!k->wdata || !row) {
			free(row);
			goto fail;
		}
		/* Weights ~ U(-1,1)/sqrt(cols) as a trained layer's; each row stored in the case's type. */
		for (int64_t r = 0; r < c->rows; r++) {
			kb_fill(row, (size_t)c->cols, 1.0f / sqrtf((float)c->cols), &st);
			eng_quantize_row(c->type, row, (char *)k->wdata + (size_t)r * rb, c->cols);
		}
		free(row);
		k->w = (struct eng_mat){ .data = k->wdata, .type = c->type, .rows = c->rows, .cols = c->cols, .row_bytes = rb };
		/* in the layout the model loader would give this type (the same bytes, reordered) */
		if (eng_weight_layout(c->type) != ENG_LAYOUT_GGML)
			(void)eng_mat_relayout(&k->w, eng_weight_layout(c->type), k->wdata);
		k->n_x = (size_t)c->n_tok * (size_t)c->cols;
		k->n_y = (size_t)c->n_tok * (size_t)c->rows;
		break;
	}
	case ENG_KB_QUANTIZE:
		k->n_x = (size_t)c->n_tok * (size_t)c->cols;
		k->n_y = k->n_x;
		k->qout = kb_alloc(eng_row_bytes(ENG_TYPE_Q8_0, c->cols) * (size_t)c->n_tok, &total, err, errlen, c->name);
		if (!k->qout)
			goto fail;
		memset(k->qout, 0, eng_row_bytes(ENG_TYPE_Q8_0, c->cols) * (size_t)c->n_tok);
		break;
	case ENG_KB_RMSNORM:
	case ENG_KB_SWIGLU:
		k->n_x = k->n_y = (size_t)c->cols;
		k->aux = kb_alloc(k->n_x * sizeof(float), &total, err, errlen, c->name);
		if (!k->aux)
			goto fail;
		break;
	case ENG_KB_ROPE:
		k->n_x = k->n_y = (size_t)c->n_heads * (size_t)c->head_dim;
		break;
	case ENG_KB_SOFTMAX:
		k->n_x = k->n_y = (size_t)c->cols;
		break;
	case ENG_KB_ATTENTION: {
		size_t kv = (size_t)c->kv_len * (size_t)c->n_kv_heads * (size_t)c->head_dim;

		k->n_x = k->n_y = (size_t)c->n_heads * (size_t)c->head_dim;
		k->kc = kb_alloc(kv * sizeof(float), &total, err, errlen, c->name);
		k->vc = kb_alloc(kv * sizeof(float), &total, err, errlen, c->name);
		k->scores = kb_alloc((size_t)n_threads * (size_t)c->kv_len * sizeof(float), &total, err, errlen, c->name);
		if (!k->kc || !k->vc || !k->scores)
			goto fail;
		kb_fill(k->kc, kv, 1.0f, &st);
		kb_fill(k->vc, kv, 1.0f, &st);
		break;
	}
	default:
		kb_err(err, errlen, "kernel %s: unknown kind %d", c->name, (int)c->kind);
		rc = -EINVAL;
		goto fail;
	}

	k->x = kb_alloc(k->n_x * sizeof(float), &total, err, errlen, c->name);
	k->y = kb_alloc(k->n_y * sizeof(float), &total, err, errlen, c->name);
	if (!k->x || !k->y)
		goto fail;
	kb_fill(k->x, k->n_x, 1.0f, &st);
	if (c->kind == ENG_KB_SWIGLU) {
		/*
		 * In place and called again and again: a = silu(a) * b with b = 1 + exp(-a) keeps a
		 * where it is (silu(a) * (1 + e^-a) = a), and for a in [-2, -0.25] that fixed point is
		 * stable, so repeated calls never drift into denormals or infinities.
		 */
		for (size_t i = 0; i < k->n_x; i++) {
			k->x[i] = -1.125f + 0.875f * k->x[i];
			k->aux[i] = 1.0f + expf(-k->x[i]);
		}
	} else if (c->kind == ENG_KB_RMSNORM) {
		for (size_t i = 0; i < k->n_x; i++)
			k->aux[i] = 1.0f + 0.25f * kb_uniform(&st);
	}
	memset(k->y, 0, k->n_y * sizeof(float));

	if (c->kind == ENG_KB_MATMUL || c->kind == ENG_KB_ATTENTION) {
		k->pool = eng_pool_new(n_threads);
		if (!k->pool) {
			kb_err(err, errlen, "kernel %s: cannot start %d threads", c->name, n_threads);
			goto fail;
		}
	}
	*out = k;
	return 0;
fail:
	if (rc == -ENOMEM && err && !err[0])
		kb_err(err, errlen, "kernel %s: out of memory (%zu bytes)", c->name, total);
	eng_kbench_free(k);
	return rc;
}

void eng_kbench_free(struct eng_kbench *k)
{
	if (!k)
		return;
	if (k->pool)
		eng_pool_free(k->pool);
	free(k->wdata);
	free(k->x);
	free(k->aux);
	free(k->y);
	free(k->qout);
	free(k->kc);
	free(k->vc);
	free(k->scores);
	free(k);
}

/* ---- one call ---------------------------------------------------------------------------- */

struct kb_attn_job {
	struct eng_kbench *k;
	bool ref;
};

/* Grouped-query attention of one token over the cache, heads split by (ith, nth) as the forward
 * pass splits them: scores = q.K^T / sqrt(hd), softmax, out = scores.V. */
static void kb_attn_worker(void *arg, int ith, int nth)
{
	const struct kb_attn_job *j = arg;
	struct eng_kbench *k = j->k;
	const struct eng_kbench_case *c = &k->c;
	const int hd = c->head_dim, group = c->n_heads / c->n_kv_heads, kv_dim = c->n_kv_heads * hd;
	const float scale = 1.0f / sqrtf((float)hd);
	float *scores = k->scores + (size_t)ith * (size_t)c->kv_len;

	for (int h = ith; h < c->n_heads; h += nth) {
		const float *q = k->x + (size_t)h * hd;
		float *o = k->y + (size_t)h * hd;
		const size_t off = (size_t)(h / group) * hd;

		for (int s = 0; s < c->kv_len; s++)
			scores[s] = (j->ref ? eng_dot_f32_ref : eng_dot_f32)(q, k->kc + (size_t)s * kv_dim + off, hd) * scale;
		if (j->ref)
			eng_softmax_ref(scores, c->kv_len);
		else
			eng_softmax(scores, c->kv_len);
		memset(o, 0, (size_t)hd * sizeof *o);
		for (int s = 0; s < c->kv_len; s++)
			(j->ref ? eng_axpy_f32_ref : eng_axpy_f32)(o, scores[s], k->vc + (size_t)s * kv_dim + off, hd);
	}
}

void eng_kbench_run(struct eng_kbench *k, bool ref)
{
	const struct eng_kbench_case *c = &k->c;

	ref = ref && c->has_ref;
	switch (c->kind) {
	case ENG_KB_MATMUL:
		if (ref)
			eng_matmul_ref(&k->w, k->x, c->n_tok, k->y);
		else
			eng_matmul(k->pool, &k->w, k->x, c->n_tok, k->y);
		break;
	case ENG_KB_QUANTIZE:
		for (int t = 0; t < c->n_tok; t++)
			eng_quantize_row(ENG_TYPE_Q8_0, k->x + (size_t)t * c->cols,
					 (char *)k->qout + (size_t)t * eng_row_bytes(ENG_TYPE_Q8_0, c->cols), c->cols);
		break;
	case ENG_KB_RMSNORM:
		(ref ? eng_rmsnorm_ref : eng_rmsnorm)(k->y, k->x, k->aux, (int)c->cols, 1e-5f);
		break;
	case ENG_KB_ROPE:
		(ref ? eng_rope_ref : eng_rope)(k->x, c->n_heads, c->head_dim, c->rope_dim, c->kv_len, 10000.0f);
		break;
	case ENG_KB_SOFTMAX:
		(ref ? eng_softmax_ref : eng_softmax)(k->x, (int)c->cols);
		break;
	case ENG_KB_SWIGLU:
		(ref ? eng_swiglu_ref : eng_swiglu)(k->x, k->aux, (int)c->cols);
		break;
	case ENG_KB_ATTENTION: {
		struct kb_attn_job j = { k, ref };

		if (ref)
			kb_attn_worker(&j, 0, 1);
		else
			eng_pool_run(k->pool, kb_attn_worker, &j);
		break;
	}
	}
}

size_t eng_kbench_output(const struct eng_kbench *k, float *dst, size_t max)
{
	const struct eng_kbench_case *c = &k->c;
	size_t n = k->n_y;

	switch (c->kind) {
	case ENG_KB_QUANTIZE:
		for (int t = 0; t < c->n_tok && (size_t)(t + 1) * (size_t)c->cols <= max; t++)
			eng_dequantize_row(ENG_TYPE_Q8_0,
					   (const char *)k->qout + (size_t)t * eng_row_bytes(ENG_TYPE_Q8_0, c->cols),
					   dst + (size_t)t * c->cols, c->cols);
		return n;
	case ENG_KB_ROPE:
	case ENG_KB_SOFTMAX:
	case ENG_KB_SWIGLU: /* in place */
		memcpy(dst, k->x, (n < max ? n : max) * sizeof *dst);
		return n;
	default:
		memcpy(dst, k->y, (n < max ? n : max) * sizeof *dst);
		return n;
	}
}
