/*
 * tests/test_forward.c — the forward pass against an independent double-precision reference.
 *
 * Small models are built by hand here (struct eng_model, weights from a seeded generator) in
 * several shapes: multi-head, grouped-query (n_kv_heads < n_heads), partial RoPE
 * (rope_dim < head_dim), tied and separate output matrices, and F32 / F16 / Q8_0 / Q4_0 weights.
 * The reference below implements rmsnorm, RoPE (adjacent pairs), causal grouped-query attention
 * and the SwiGLU feed-forward in double from the maths; it reads weights through
 * eng_dequantize_row (so it sees exactly the stored values) and calls no engine compute kernel.
 *
 * Tolerances, as max |engine - reference| over a position's logits divided by the RMS of that
 * position's reference logits:
 *   F32  2e-4  — only float32 rounding and summation order differ.
 *   F16  2e-3  — weights are exact halves; a kernel may also round activations to F16 (2^-11
 *                relative per element, as ggml does), which the reference does not.
 *   Q8_0, Q4_0 8e-2 — the weights are exactly the stored blocks, but the engine quantizes every
 *                matmul input (activations) to Q8_0 for integer dot products: each element is
 *                off by up to half a step, amax/254 of its block (RMS ~0.5% of a Gaussian
 *                element); over 7 matmul inputs per layer and 2-3 layers this compounds to
 *                ~2% RMS on the logits, and the worst of ~100 logits is ~2.5x that (4-5%
 *                measured). The reference keeps activations in double. A wrong formula (RoPE
 *                pair, head mapping, norm, causal mask) gives errors of order 1.
 * Batch prefill against token-by-token decode: the same kernels on the same rows, only the
 * batch and vector code paths may sum in another order: 1e-4 (F32), 5e-3 (quantized: a one-ulp
 * change can flip an activation's Q8_0 rounding). KV cache F16 against F32: 5e-3.
 */
#include "helpers/testutil.h"

#include "engine/engine.h"
#include "engine/kernels.h"
#include "engine/loader.h"
#include "engine/model.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct shape {
	const char *name;
	int dim, hidden, layers, heads, kv_heads, vocab, seq, rope_dim, wtype;
	bool tied;
	float theta;
	/* architecture features (zero: llama) */
	int arch;            /* enum eng_arch: qwen2 adds Q/K/V biases, qwen3 Q/K norms; both NEOX RoPE */
	int head_dim;        /* 0: dim / heads */
	float llama3_factor; /* > 0: Llama 3 RoPE scaling with original context llama3_orig */
	int llama3_orig;
	float rope_scale;    /* linear RoPE scaling */
};

/* A model built by the test: the engine's struct plus everything it points to. */
struct test_model {
	struct eng_model m;
	struct eng_layer *layers;
	void *blobs[128];
	int n_blobs;
};

static uint64_t rng_state;
static double rnd(void) /* uniform in [-1, 1) */
{
	rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
	return (double)(rng_state >> 11) * (2.0 / 9007199254740992.0) - 1.0;
}

static void *keep(struct test_model *t, void *p)
{
	assert_non_null(p);
	assert_true(t->n_blobs < 128);
	t->blobs[t->n_blobs++] = p;
	return p;
}

/* A rows x cols matrix of uniform values in [-scale, scale) stored as `type`. */
static struct eng_mat make_mat(struct test_model *t, int type, int rows, int cols, double scale)
{
	struct eng_mat w = { NULL, type, rows, cols, eng_row_bytes(type, cols), ENG_LAYOUT_GGML };
	float *row = malloc((size_t)cols * sizeof *row);
	char *data = keep(t, malloc(w.row_bytes * (size_t)rows));

	assert_non_null(row);
	assert_true(w.row_bytes > 0);
	for (int r = 0; r < rows; r++) {
		for (int c = 0; c < cols; c++)
			row[c] = (float)(rnd() * scale);
		eng_quantize_row(type, row, data + (size_t)r * w.row_bytes, cols);
	}
	free(row);
	w.data = data;
	return w;
}

static const float *make_norm(struct test_model *t, int n)
{
	float *w = keep(t, malloc((size_t)n * sizeof *w));

	for (int i = 0; i < n; i++)
		w[i] = (float)(1.0 + 0.3 * rnd());
	return w;
}

/* Llama 3.1 frequency divisors from the definition (Meta's reference: wavelength 2 pi / freq;
 * below orig/high_factor keep, above orig/low_factor divide by factor, blend in between). */
static double ref_llama3_divisor(int i, int rope_dim, double theta, double factor, double low, double high,
				 double orig)
{
	double freq = pow(theta, -2.0 * i / rope_dim), wavelen = 2.0 * M_PI / freq;
	double smooth = (orig / wavelen - low) / (high - low);

	if (wavelen < orig / high)
		return 1.0;
	if (wavelen > orig / low)
		return factor;
	return 1.0 / ((1.0 - smooth) / factor + smooth);
}

static float *make_vec(struct test_model *t, int n, double scale)
{
	float *w = keep(t, malloc((size_t)n * sizeof *w));

	for (int i = 0; i < n; i++)
		w[i] = (float)(rnd() * scale);
	return w;
}

static struct test_model *build(const struct shape *s, uint64_t seed)
{
	struct test_model *t = calloc(1, sizeof *t);
	struct eng_config *p;
	int hd = s->head_dim ? s->head_dim : s->dim / s->heads;

	assert_non_null(t);
	rng_state = seed;
	p = &t->m.cfg;
	*p = (struct eng_config){ .dim = s->dim, .hidden_dim = s->hidden, .n_layers = s->layers,
				  .n_heads = s->heads, .n_kv_heads = s->kv_heads, .vocab_size = s->vocab,
				  .seq_len = s->seq, .head_dim = hd, .rope_dim = s->rope_dim,
				  .rope_theta = s->theta, .norm_eps = 1e-5f, .arch = s->arch,
				  .rope_type = s->arch == ENG_ARCH_LLAMA ? ENG_ROPE_NORM : ENG_ROPE_NEOX,
				  .rope_scale = s->rope_scale, .qkv_bias = s->arch == ENG_ARCH_QWEN2,
				  .qk_norm = s->arch == ENG_ARCH_QWEN3 };
	if (s->llama3_factor > 0) {
		float *ff = keep(t, malloc((size_t)(s->rope_dim / 2) * sizeof *ff));

		p->rope_llama3 = (struct eng_rope_llama3){ s->llama3_factor, 1.0f, 4.0f, s->llama3_orig };
		p->rope_freqs = true;
		for (int i = 0; i < s->rope_dim / 2; i++)
			ff[i] = (float)ref_llama3_divisor(i, s->rope_dim, s->theta, s->llama3_factor, 1.0, 4.0,
							  s->llama3_orig);
		t->m.w.rope_freqs = ff;
	}
	t->layers = keep(t, calloc((size_t)s->layers, sizeof *t->layers));
	t->m.w.layers = t->layers;
	t->m.w.token_embd = make_mat(t, s->wtype, s->vocab, s->dim, 1.0);
	for (int l = 0; l < s->layers; l++) {
		struct eng_layer *L = &t->layers[l];
		double sd = 1.0 / sqrt(s->dim), sh = 1.0 / sqrt(s->hidden);

		L->attn_norm = make_norm(t, s->dim);
		L->wq = make_mat(t, s->wtype, s->heads * hd, s->dim, 2.0 * sd);
		L->wk = make_mat(t, s->wtype, s->kv_heads * hd, s->dim, 2.0 * sd);
		L->wv = make_mat(t, s->wtype, s->kv_heads * hd, s->dim, 1.5 * sd);
		L->wo = make_mat(t, s->wtype, s->dim, s->heads * hd, 1.5 * sd);
		L->ffn_norm = make_norm(t, s->dim);
		L->w_gate = make_mat(t, s->wtype, s->hidden, s->dim, 1.5 * sd);
		L->w_up = make_mat(t, s->wtype, s->hidden, s->dim, 1.5 * sd);
		L->w_down = make_mat(t, s->wtype, s->dim, s->hidden, 1.5 * sh);
		if (p->qkv_bias) {
			L->bq = make_vec(t, s->heads * hd, 0.5);
			L->bk = make_vec(t, s->kv_heads * hd, 0.5);
			L->bv = make_vec(t, s->kv_heads * hd, 0.5);
		}
		if (p->qk_norm) {
			L->q_norm = make_norm(t, hd);
			L->k_norm = make_norm(t, hd);
		}
	}
	t->m.w.output_norm = make_norm(t, s->dim);
	t->m.w.output = s->tied ? t->m.w.token_embd : make_mat(t, s->wtype, s->vocab, s->dim, 1.0);
	return t;
}

static void destroy(struct test_model *t)
{
	for (int i = 0; i < t->n_blobs; i++)
		free(t->blobs[i]);
	free(t);
}

/* ---- the reference, in double ------------------------------------------------------------ */

/* A matrix dequantized once to double. */
static double *ref_mat(const struct eng_mat *w)
{
	double *d = malloc((size_t)(w->rows * w->cols) * sizeof *d);
	float *row = malloc((size_t)w->cols * sizeof *row);

	assert_non_null(d);
	assert_non_null(row);
	for (int64_t r = 0; r < w->rows; r++) {
		eng_dequantize_row(w->type, (const char *)w->data + r * w->row_bytes, row, w->cols);
		for (int64_t c = 0; c < w->cols; c++)
			d[r * w->cols + c] = row[c];
	}
	free(row);
	return d;
}

static void ref_matvec(const double *w, int rows, int cols, const double *x, double *y)
{
	for (int r = 0; r < rows; r++) {
		double s = 0.0;

		for (int c = 0; c < cols; c++)
			s += w[(size_t)r * cols + c] * x[c];
		y[r] = s;
	}
}

static void ref_rmsnorm(double *o, const double *x, const float *w, int n, double eps)
{
	double ss = 0.0;

	for (int i = 0; i < n; i++)
		ss += x[i] * x[i];
	ss = 1.0 / sqrt(ss / n + eps);
	for (int i = 0; i < n; i++)
		o[i] = x[i] * ss * w[i];
}

/* RoPE: pair i of the first rope_dim dims of each head — (2i, 2i+1), or (i, i + rope_dim/2) for
 * NEOX — turns by pos * theta^(-2i/rope_dim) / divisor_i / scale (Llama 3 divisors from the
 * definition above, linear scale). */
static void ref_rope(double *v, int heads, int hd, const struct eng_config *c, int pos)
{
	const int half = c->rope_dim / 2;

	for (int h = 0; h < heads; h++)
		for (int i = 0; i < half; i++) {
			double a = pos * pow(c->rope_theta, -2.0 * i / c->rope_dim);
			double *x0p = v + h * hd + (c->rope_type == ENG_ROPE_NEOX ? i : 2 * i);
			double *x1p = c->rope_type == ENG_ROPE_NEOX ? x0p + half : x0p + 1, x0 = *x0p, x1 = *x1p;

			if (c->rope_llama3.factor > 0)
				a /= ref_llama3_divisor(i, c->rope_dim, c->rope_theta, c->rope_llama3.factor,
							c->rope_llama3.low_freq_factor,
							c->rope_llama3.high_freq_factor, c->rope_llama3.orig_ctx);
			if (c->rope_scale > 0)
				a /= c->rope_scale;
			*x0p = x0 * cos(a) - x1 * sin(a);
			*x1p = x0 * sin(a) + x1 * cos(a);
		}
}

/* Adds a float bias to n doubles. */
static void ref_add(double *x, const float *b, int n)
{
	for (int i = 0; i < n; i++)
		x[i] += b[i];
}

/* Logits (n_tok x vocab, float) of teacher-forced tokens, computed in double. */
static float *ref_forward(const struct eng_model *m, const int32_t *tok, int n_tok)
{
	const struct eng_config *p = &m->cfg;
	const int dim = p->dim, hd = p->head_dim, qd = p->n_heads * hd, kvd = p->n_kv_heads * hd;
	const int group = p->n_heads / p->n_kv_heads;
	float *out = malloc((size_t)n_tok * p->vocab_size * sizeof *out);
	double *emb = ref_mat(&m->w.token_embd), *wout = ref_mat(&m->w.output);
	double **W = calloc((size_t)p->n_layers * 7, sizeof *W);
	double *x = malloc(dim * sizeof *x), *xb = malloc(dim * sizeof *xb);
	double *q = malloc(qd * sizeof *q), *att = malloc(qd * sizeof *att);
	double *h1 = malloc(p->hidden_dim * sizeof *h1), *h2 = malloc(p->hidden_dim * sizeof *h2);
	double *kc = malloc((size_t)p->n_layers * n_tok * kvd * sizeof *kc);
	double *vc = malloc((size_t)p->n_layers * n_tok * kvd * sizeof *vc);
	double *sc = malloc(n_tok * sizeof *sc), *lg = malloc(p->vocab_size * sizeof *lg);

	assert_true(out && W && x && xb && q && att && h1 && h2 && kc && vc && sc && lg);
	for (int l = 0; l < p->n_layers; l++) {
		const struct eng_layer *L = &m->w.layers[l];
		const struct eng_mat *ms[7] = { &L->wq, &L->wk, &L->wv, &L->wo, &L->w_gate, &L->w_up,
						&L->w_down };
		for (int i = 0; i < 7; i++)
			W[l * 7 + i] = ref_mat(ms[i]);
	}
	for (int pos = 0; pos < n_tok; pos++) {
		memcpy(x, emb + (size_t)tok[pos] * dim, dim * sizeof *x);
		for (int l = 0; l < p->n_layers; l++) {
			const struct eng_layer *L = &m->w.layers[l];
			double **w = W + l * 7;
			double *k = kc + ((size_t)l * n_tok + pos) * kvd;
			double *v = vc + ((size_t)l * n_tok + pos) * kvd;

			ref_rmsnorm(xb, x, L->attn_norm, dim, p->norm_eps);
			ref_matvec(w[0], qd, dim, xb, q);
			ref_matvec(w[1], kvd, dim, xb, k);
			ref_matvec(w[2], kvd, dim, xb, v);
			if (L->bq) {
				ref_add(q, L->bq, qd);
				ref_add(k, L->bk, kvd);
				ref_add(v, L->bv, kvd);
			}
			if (L->q_norm) {
				for (int h = 0; h < p->n_heads; h++)
					ref_rmsnorm(q + h * hd, q + h * hd, L->q_norm, hd, p->norm_eps);
				for (int h = 0; h < p->n_kv_heads; h++)
					ref_rmsnorm(k + h * hd, k + h * hd, L->k_norm, hd, p->norm_eps);
			}
			ref_rope(q, p->n_heads, hd, p, pos);
			ref_rope(k, p->n_kv_heads, hd, p, pos);
			for (int h = 0; h < p->n_heads; h++) {
				int kvh = h / group;
				double mx = -INFINITY, sum = 0.0;

				for (int s = 0; s <= pos; s++) {
					const double *ks = kc + ((size_t)l * n_tok + s) * kvd + kvh * hd;
					double d = 0.0;

					for (int i = 0; i < hd; i++)
						d += q[h * hd + i] * ks[i];
					sc[s] = d / sqrt((double)hd);
					mx = fmax(mx, sc[s]);
				}
				for (int s = 0; s <= pos; s++)
					sum += sc[s] = exp(sc[s] - mx);
				for (int i = 0; i < hd; i++) {
					double a = 0.0;

					for (int s = 0; s <= pos; s++)
						a += sc[s] / sum *
						     vc[((size_t)l * n_tok + s) * kvd + kvh * hd + i];
					att[h * hd + i] = a;
				}
			}
			ref_matvec(w[3], dim, qd, att, xb);
			for (int i = 0; i < dim; i++)
				x[i] += xb[i];
			ref_rmsnorm(xb, x, L->ffn_norm, dim, p->norm_eps);
			ref_matvec(w[4], p->hidden_dim, dim, xb, h1);
			ref_matvec(w[5], p->hidden_dim, dim, xb, h2);
			for (int i = 0; i < p->hidden_dim; i++)
				h1[i] = h1[i] / (1.0 + exp(-h1[i])) * h2[i];
			ref_matvec(w[6], dim, p->hidden_dim, h1, xb);
			for (int i = 0; i < dim; i++)
				x[i] += xb[i];
		}
		ref_rmsnorm(xb, x, m->w.output_norm, dim, p->norm_eps);
		ref_matvec(wout, p->vocab_size, dim, xb, lg);
		for (int i = 0; i < p->vocab_size; i++)
			out[(size_t)pos * p->vocab_size + i] = (float)lg[i];
	}
	for (int i = 0; i < p->n_layers * 7; i++)
		free(W[i]);
	free(W);
	free(emb);
	free(wout);
	free(x);
	free(xb);
	free(q);
	free(att);
	free(h1);
	free(h2);
	free(kc);
	free(vc);
	free(sc);
	free(lg);
	return out;
}

/* ---- comparisons ------------------------------------------------------------------------- */

/* Largest, over positions, of max |a - b| / rms(b) for one position's logits. */
static double worst_error(const float *a, const float *b, int n_pos, int vocab, int *at)
{
	double worst = 0.0;

	for (int p = 0; p < n_pos; p++) {
		double rms = 0.0, mx = 0.0;

		for (int i = 0; i < vocab; i++) {
			double bv = b[(size_t)p * vocab + i];

			rms += bv * bv;
			mx = fmax(mx, fabs(a[(size_t)p * vocab + i] - bv));
		}
		rms = sqrt(rms / vocab);
		if (mx / rms > worst || !(mx == mx)) {
			worst = mx == mx ? mx / rms : INFINITY;
			if (at)
				*at = p;
		}
	}
	return worst;
}

static const char *type_name(int type)
{
	return type == ENG_TYPE_F32 ? "f32" : type == ENG_TYPE_F16 ? "f16" : type == ENG_TYPE_Q8_0 ? "q8_0" : "q4_0";
}

static void expect_close(const char *what, const struct shape *s, const float *a, const float *b,
			 int n_pos, double tol)
{
	int at = -1;
	double e = worst_error(a, b, n_pos, s->vocab, &at);

	if (!(e <= tol)) {
		fprintf(stderr, "%s, shape %s (%s): error %.3g at position %d exceeds %.3g\n", what,
			s->name, type_name(s->wtype), e, at, tol);
		fail();
	}
}

static double ref_tolerance(int wtype)
{
	switch (wtype) {
	case ENG_TYPE_F32:
		return 2e-4;
	case ENG_TYPE_F16:
		return 2e-3;
	default:
		return 8e-2;
	}
}

static struct eng_ctx *new_ctx(struct test_model *t, int threads, int n_ctx, int kv_type)
{
	char err[256] = "";
	struct eng_ctx_opts o = { .n_threads = threads, .n_ctx = n_ctx, .kv_type = kv_type };
	struct eng_ctx *c = eng_ctx_new(&t->m, &o, err, sizeof err);

	if (!c) {
		fprintf(stderr, "eng_ctx_new: %s\n", err);
		fail();
	}
	return c;
}

static void make_tokens(int32_t *tok, int n, int vocab, unsigned seed)
{
	for (int i = 0; i < n; i++) {
		seed = seed * 1664525u + 1013904223u;
		tok[i] = (int32_t)((seed >> 10) % (unsigned)vocab);
	}
}

#define NPOS 24

static const struct shape shapes[] = {
	/* name        dim hidden L heads kv vocab seq rope type           tied   theta */
	{ "mha", 64, 160, 2, 4, 4, 96, 64, 16, ENG_TYPE_F32, true, 10000.0f, .arch = ENG_ARCH_LLAMA },
	{ "gqa", 64, 128, 2, 8, 2, 80, 64, 8, ENG_TYPE_F32, false, 10000.0f, .arch = ENG_ARCH_LLAMA },
	{ "partial-rope", 128, 96, 2, 4, 2, 64, 64, 16, ENG_TYPE_F32, false, 500000.0f, .arch = ENG_ARCH_LLAMA },
	{ "gqa-f16", 64, 128, 2, 8, 4, 80, 64, 8, ENG_TYPE_F16, false, 10000.0f, .arch = ENG_ARCH_LLAMA },
	{ "gqa-q8", 128, 192, 2, 8, 2, 96, 64, 16, ENG_TYPE_Q8_0, false, 10000.0f, .arch = ENG_ARCH_LLAMA },
	{ "rope-q4", 128, 192, 2, 4, 2, 96, 64, 16, ENG_TYPE_Q4_0, true, 10000.0f, .arch = ENG_ARCH_LLAMA },
	{ "mha-q4", 64, 160, 3, 2, 2, 64, 64, 32, ENG_TYPE_Q4_0, false, 10000.0f, .arch = ENG_ARCH_LLAMA },
	/* architectures: biases and NEOX (qwen2), Q/K norms and head_dim != dim/heads (qwen3), Llama 3
	 * scaling with an original context short enough to matter within NPOS, GQA 3:1 and 6:1,
	 * linear scaling with partial NEOX RoPE */
	{ "qwen2-bias", 64, 128, 2, 8, 2, 80, 64, 8, ENG_TYPE_F32, false, 1e6f, .arch = ENG_ARCH_QWEN2 },
	{ "qwen2-q8", 128, 160, 2, 8, 2, 96, 64, 16, ENG_TYPE_Q8_0, true, 1e6f, .arch = ENG_ARCH_QWEN2 },
	{ "qwen3-qknorm", 64, 128, 2, 4, 2, 80, 64, 32, ENG_TYPE_F32, true, 1e6f, .arch = ENG_ARCH_QWEN3,
	  .head_dim = 32 },
	{ "qwen3-f16", 64, 96, 2, 6, 1, 72, 64, 24, ENG_TYPE_F16, false, 1e6f, .arch = ENG_ARCH_QWEN3,
	  .head_dim = 24 },
	{ "qwen3-q4", 64, 128, 2, 4, 2, 64, 64, 64, ENG_TYPE_Q4_0, false, 1e6f, .arch = ENG_ARCH_QWEN3,
	  .head_dim = 64 },
	{ "llama3-scaling", 64, 128, 2, 4, 1, 80, 64, 16, ENG_TYPE_F32, true, 10000.0f, .llama3_factor = 8.0f,
	  .llama3_orig = 16 },
	{ "gqa-3to1-f16", 96, 128, 2, 6, 2, 80, 64, 16, ENG_TYPE_F16, false, 10000.0f, .arch = ENG_ARCH_LLAMA },
	{ "neox-partial-linear", 64, 128, 2, 4, 4, 80, 64, 8, ENG_TYPE_F32, false, 10000.0f,
	  .arch = ENG_ARCH_QWEN2, .rope_scale = 4.0f },
};

/* Engine against the reference per position, for batch prefill and for token-by-token decode,
 * and the two paths against each other; with 1 and 3 threads. */
static void test_against_reference(void **state)
{
	(void)state;
	for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
		const struct shape *s = &shapes[si];
		struct test_model *t = build(s, 1000 + si);
		int32_t tok[NPOS];
		size_t nl = (size_t)NPOS * s->vocab;
		float *ref, *batch = malloc(nl * sizeof *batch), *dec = malloc(nl * sizeof *dec);
		float *last = malloc((size_t)s->vocab * sizeof *last);

		assert_true(batch && dec && last);
		make_tokens(tok, NPOS, s->vocab, 77 + si);
		ref = ref_forward(&t->m, tok, NPOS);
		for (int threads = 1; threads <= 3; threads += 2) {
			struct eng_ctx *c = new_ctx(t, threads, 0, ENG_TYPE_F32);

			assert_int_equal(eng_prefill(c, tok, NPOS, last, batch), 0);
			assert_int_equal(eng_ctx_pos(c), NPOS);
			expect_close("batch prefill vs reference", s, batch, ref, NPOS,
				     ref_tolerance(s->wtype));
			/* the last-token logits equal the last row of all_logits */
			assert_memory_equal(last, batch + (size_t)(NPOS - 1) * s->vocab,
					    (size_t)s->vocab * sizeof *last);

			eng_ctx_reset(c);
			assert_int_equal(eng_ctx_pos(c), 0);
			for (int i = 0; i < NPOS; i++)
				assert_int_equal(eng_decode(c, tok[i], dec + (size_t)i * s->vocab), 0);
			expect_close("decode vs reference", s, dec, ref, NPOS, ref_tolerance(s->wtype));
			expect_close("batch prefill vs decode", s, batch, dec, NPOS,
				     s->wtype == ENG_TYPE_F32 ? 1e-4 : 5e-3);

			/* a prompt run for its cache only (no logits) leaves the same state behind */
			eng_ctx_reset(c);
			assert_int_equal(eng_prefill(c, tok, NPOS - 1, NULL, NULL), 0);
			assert_int_equal(eng_decode(c, tok[NPOS - 1], last), 0);
			expect_close("decode after a logit-less prefill vs decode", s, last,
				     dec + (size_t)(NPOS - 1) * s->vocab, 1,
				     s->wtype == ENG_TYPE_F32 ? 1e-4 : 5e-3);

			/* prompt of 9 as a batch, then decode: the same logits again */
			eng_ctx_reset(c);
			assert_int_equal(eng_prefill(c, tok, 9, last, NULL), 0);
			expect_close("prefill(9) last logits vs decode", s, last,
				     dec + (size_t)8 * s->vocab, 1, s->wtype == ENG_TYPE_F32 ? 1e-4 : 5e-3);
			for (int i = 9; i < NPOS; i++) {
				assert_int_equal(eng_decode(c, tok[i], last), 0);
				expect_close("decode after prefill vs decode", s, last,
					     dec + (size_t)i * s->vocab, 1,
					     s->wtype == ENG_TYPE_F32 ? 1e-4 : 5e-3);
			}
			eng_ctx_free(c);
		}
		free(ref);
		free(batch);
		free(dec);
		free(last);
		destroy(t);
	}
}

/* An F16 KV cache gives nearly the F32 cache's logits. */
static void test_kv_f16(void **state)
{
	(void)state;
	const struct shape *s = &shapes[1];
	struct test_model *t = build(s, 555);
	int32_t tok[NPOS];
	size_t nl = (size_t)NPOS * s->vocab;
	float *a = malloc(nl * sizeof *a), *b = malloc(nl * sizeof *b), *ref;
	struct eng_ctx *c32 = new_ctx(t, 2, 32, ENG_TYPE_F32), *c16 = new_ctx(t, 2, 32, ENG_TYPE_F16);

	make_tokens(tok, NPOS, s->vocab, 5);
	assert_int_equal(eng_prefill(c32, tok, NPOS, NULL, a), 0);
	assert_int_equal(eng_prefill(c16, tok, NPOS, NULL, b), 0);
	expect_close("KV F16 vs F32", s, b, a, NPOS, 5e-3);
	ref = ref_forward(&t->m, tok, NPOS);
	expect_close("KV F16 vs reference", s, b, ref, NPOS, 5e-3);
	eng_ctx_free(c32);
	eng_ctx_free(c16);
	free(a);
	free(b);
	free(ref);
	destroy(t);
}

/* A prompt longer than one batch runs as several batches with the same result, and decode steps
 * after it are long enough (kv group 4, 3 threads) for attention to run across the pool. */
static void test_long_prompt_in_chunks(void **state)
{
	(void)state;
	const struct shape s = { "long", 256, 64, 1, 8, 2, 40, 1200, 32, ENG_TYPE_F32, true, 10000.0f, .arch = ENG_ARCH_LLAMA };
	struct test_model *t = build(&s, 99);
	const int n = 600, n_dec = 6;
	int32_t *tok = malloc((n + n_dec) * sizeof *tok);
	float *all = malloc((size_t)n * s.vocab * sizeof *all), *last = malloc(s.vocab * sizeof *last);
	float *ref;
	struct eng_ctx *c = new_ctx(t, 3, 0, ENG_TYPE_F32);

	make_tokens(tok, n + n_dec, s.vocab, 11);
	assert_int_equal(eng_prefill(c, tok, n, last, all), 0);
	assert_int_equal(eng_ctx_pos(c), n);
	ref = ref_forward(&t->m, tok, n + n_dec);
	expect_close("chunked prefill vs reference", &s, all, ref, n, 5e-4);
	assert_memory_equal(last, all + (size_t)(n - 1) * s.vocab, s.vocab * sizeof *last);
	for (int i = n; i < n + n_dec; i++) {
		assert_int_equal(eng_decode(c, tok[i], last), 0);
		expect_close("long decode vs reference", &s, last, ref + (size_t)i * s.vocab, 1, 5e-4);
	}
	eng_ctx_free(c);
	free(tok);
	free(all);
	free(last);
	free(ref);
	destroy(t);
}

static void test_errors(void **state)
{
	(void)state;
	const struct shape *s = &shapes[0];
	struct test_model *t = build(s, 7);
	char err[256] = "";
	struct eng_ctx_opts bad = { .n_threads = 0, .n_ctx = 8, .kv_type = ENG_TYPE_F32 };
	int32_t tok[10] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 };
	float *lg = malloc(s->vocab * sizeof *lg);
	struct eng_ctx *c;

	assert_null(eng_ctx_new(&t->m, &bad, err, sizeof err));
	assert_non_null(strstr(err, "thread"));
	bad.n_threads = 1;
	bad.kv_type = ENG_TYPE_Q4_0;
	assert_null(eng_ctx_new(&t->m, &bad, err, sizeof err));
	assert_non_null(strstr(err, "KV cache type"));
	t->m.cfg.n_kv_heads = 3; /* 4 heads do not split into 3 groups */
	bad.kv_type = ENG_TYPE_F32;
	assert_null(eng_ctx_new(&t->m, &bad, err, sizeof err));
	assert_non_null(strstr(err, "head_count_kv"));
	t->m.cfg.n_kv_heads = s->kv_heads;

	c = new_ctx(t, 2, 8, ENG_TYPE_F32);
	assert_int_equal(eng_prefill(c, tok, 9, lg, NULL), -ENOSPC);
	assert_non_null(strstr(eng_ctx_error(c), "context full"));
	assert_int_equal(eng_ctx_pos(c), 0);
	assert_int_equal(eng_prefill(c, tok, 8, lg, NULL), 0);
	assert_int_equal(eng_decode(c, 1, lg), -ENOSPC);
	eng_ctx_reset(c);
	tok[3] = s->vocab; /* one past the vocabulary */
	assert_int_equal(eng_prefill(c, tok, 5, lg, NULL), -EINVAL);
	assert_non_null(strstr(eng_ctx_error(c), "outside the vocabulary"));
	assert_int_equal(eng_decode(c, -1, lg), -EINVAL);
	assert_int_equal(eng_decode(c, 1, NULL), -EINVAL);
	assert_int_equal(eng_ctx_pos(c), 0);
	eng_ctx_free(c);
	free(lg);
	destroy(t);
}

/* The loader's Llama 3 divisors (what synth writes into rope_freqs.weight) against the
 * definition: Llama 3.1 8B's parameters, and a short original context. */
static void test_llama3_freqs(void **state)
{
	(void)state;
	struct eng_config c = { .rope_dim = 128, .rope_theta = 500000.0f,
				.rope_llama3 = { 8.0f, 1.0f, 4.0f, 8192 } };
	float ff[64];

	eng_llama3_freqs(&c, ff);
	assert_float_equal(ff[0], 1.0f, 0.0f);   /* short wavelengths keep their frequency */
	assert_float_equal(ff[63], 8.0f, 0.0f);  /* long ones are divided by the factor */
	for (int i = 0; i < 64; i++) {
		double want = ref_llama3_divisor(i, 128, 500000.0, 8.0, 1.0, 4.0, 8192.0);

		assert_true(fabs(ff[i] - want) <= 1e-5 * want);
		if (i)
			assert_true(ff[i] >= ff[i - 1]); /* monotonic */
	}
	c = (struct eng_config){ .rope_dim = 16, .rope_theta = 10000.0f, .rope_llama3 = { 32.0f, 1.0f, 4.0f, 16 } };
	eng_llama3_freqs(&c, ff);
	for (int i = 0; i < 8; i++)
		assert_true(fabs(ff[i] - ref_llama3_divisor(i, 16, 10000.0, 32.0, 1.0, 4.0, 16.0)) <= 1e-5 * ff[i]);
}

/* Each feature matters: the engine with a feature switched off is far from the reference that
 * has it (so agreement above is not an accident of weak weights). */
static void test_features_matter(void **state)
{
	(void)state;
	static const char *const names[] = { "qwen2-bias", "qwen3-qknorm", "llama3-scaling" };

	for (size_t k = 0; k < 3; k++) {
		const struct shape *s = NULL;
		struct test_model *t;
		int32_t tok[NPOS];
		float *ref, *got = malloc((size_t)NPOS * 96 * sizeof *got);
		struct eng_ctx *c;
		double e;

		for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
			if (!strcmp(shapes[i].name, names[k]))
				s = &shapes[i];
		assert_non_null(s);
		t = build(s, 4242);
		make_tokens(tok, NPOS, s->vocab, 9);
		ref = ref_forward(&t->m, tok, NPOS);
		if (k == 0)
			for (int l = 0; l < s->layers; l++)
				t->layers[l].bq = t->layers[l].bk = t->layers[l].bv = NULL;
		else if (k == 1)
			for (int l = 0; l < s->layers; l++)
				t->layers[l].q_norm = t->layers[l].k_norm = NULL;
		else
			t->m.w.rope_freqs = NULL;
		c = new_ctx(t, 1, 0, ENG_TYPE_F32);
		assert_int_equal(eng_prefill(c, tok, NPOS, NULL, got), 0);
		e = worst_error(got, ref, NPOS, s->vocab, NULL);
		if (!(e > 0.05)) {
			fprintf(stderr, "%s without its feature: error %.3g, expected > 0.05\n", s->name, e);
			fail();
		}
		eng_ctx_free(c);
		free(ref);
		free(got);
		destroy(t);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_llama3_freqs),
		cmocka_unit_test(test_features_matter),
		cmocka_unit_test(test_against_reference),
		cmocka_unit_test(test_kv_f16),
		cmocka_unit_test(test_long_prompt_in_chunks),
		cmocka_unit_test(test_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
