/*
 * engine/forward.c — the forward pass of the llama, qwen2 and qwen3 architectures: a context
 * (RunState of activation buffers, KV cache, thread pool), prefill of a whole prompt as one batch,
 * and single-token decode.
 *
 * Per layer, for a batch of n tokens at positions pos..pos+n-1 (x holds their residual streams):
 *
 *     xb  = rmsnorm(x) * attn_norm
 *     q, k, v = Wq xb, Wk xb, Wv xb                 (one dispatch: eng_matmul_multi)
 *     q, k, v += bq, bk, bv                         (qwen2; llama files may have them too)
 *     q, k = rmsnorm(q) * q_norm, rmsnorm(k) * k_norm  (qwen3: each head on its own)
 *     q, k = rope(q, k)                             (first rope_dim dims of each head; pairs
 *                                                    (2i, 2i+1) for llama, (i, i + rope_dim/2)
 *                                                    NEOX for qwen; frequency of pair i is
 *                                                    theta^(-2i/rope_dim) / rope_freqs[i] / scale)
 *     K[pos..], V[pos..] = k, v                     (KV cache, F32 or F16)
 *     att = softmax(q K^T / sqrt(head_dim)) V       (grouped-query, causal; heads across threads)
 *     x  += Wo att
 *     xb  = rmsnorm(x) * ffn_norm
 *     x  += W_down (silu(W_gate xb) * W_up xb)
 *
 * then logits = W_out rmsnorm(x) * output_norm — for the last token only unless every position's
 * logits are asked for. Buffers are sized once, for a batch of up to ENG_BATCH_MAX tokens; longer
 * prompts run as several batches. Nothing is allocated per token. Each token of a batch carries
 * its own sequence and position (engine/forward.h): here all are in sequence 0 (or the one
 * eng_seq_prefill names); forward_batch.c runs one token of each of several sequences.
 */
#include "engine/engine.h"
#include "engine/forward.h"
#include "engine/kernels.h"
#include "engine/model.h"

#include <errno.h>
#include <math.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ctx_error eng_fwd_error /* shared with forward_batch.c (engine/forward.h) */
void eng_fwd_error(struct eng_ctx *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->err, sizeof c->err, fmt, ap);
	va_end(ap);
}

static void set_err(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* Checks that the model's sizes fit together; returns 0 or -EINVAL with a message. */
static int check_config(const struct eng_config *p, char *err, size_t errlen)
{
	if (p->dim <= 0 || p->hidden_dim <= 0 || p->n_layers <= 0 || p->n_heads <= 0 ||
	    p->n_kv_heads <= 0 || p->vocab_size <= 0 || p->head_dim <= 0) {
		set_err(err, errlen, "model has a zero or negative size (dim %d, hidden %d, layers %d, "
			"heads %d, kv heads %d, vocab %d, head_dim %d)", p->dim, p->hidden_dim,
			p->n_layers, p->n_heads, p->n_kv_heads, p->vocab_size, p->head_dim);
		return -EINVAL;
	}
	if (p->n_heads % p->n_kv_heads) {
		set_err(err, errlen, "attention.head_count %d is not a multiple of head_count_kv %d",
			p->n_heads, p->n_kv_heads);
		return -EINVAL;
	}
	if (p->rope_dim < 2 || p->rope_dim > p->head_dim || p->rope_dim % 2) {
		set_err(err, errlen, "rope.dimension_count %d must be even and at most head_dim %d",
			p->rope_dim, p->head_dim);
		return -EINVAL;
	}
	return 0;
}

struct eng_ctx *eng_ctx_new(struct eng_model *m, const struct eng_ctx_opts *o, char *err,
			    size_t errlen)
{
	struct eng_ctx *c = NULL;
	const struct eng_config *p;
	size_t kv_elems, kv_size;
	int nb;

	if (!m || !o) {
		set_err(err, errlen, "no model or options");
		return NULL;
	}
	p = &m->cfg;
	if (check_config(p, err, errlen))
		return NULL;
	if (o->n_threads < 1 || o->n_threads > 512) {
		set_err(err, errlen, "thread count %d is outside 1..512", o->n_threads);
		return NULL;
	}
	if (o->n_ctx < 0) {
		set_err(err, errlen, "context length %d is negative", o->n_ctx);
		return NULL;
	}
	if (o->kv_type != ENG_TYPE_F32 && o->kv_type != ENG_TYPE_F16) {
		set_err(err, errlen, "KV cache type %d is not supported (f32 or f16)", o->kv_type);
		return NULL;
	}
	c = calloc(1, sizeof *c);
	if (!c) {
		set_err(err, errlen, "out of memory for a context");
		return NULL;
	}
	c->m = m;
	c->cfg = *p;
	c->n_threads = o->n_threads;
	c->n_ctx = o->n_ctx ? o->n_ctx : p->seq_len;
	if (c->n_ctx <= 0) {
		set_err(err, errlen, "model has no context_length and no context length was given");
		goto fail;
	}
	if (p->sliding_window > 0 && c->n_ctx > p->sliding_window) {
		if (o->n_ctx) {
			set_err(err, errlen, "context of %d tokens exceeds the model's sliding attention window "
				"(attention.sliding_window %d), which this engine does not implement; contexts up to "
				"%d tokens are exact", c->n_ctx, p->sliding_window, p->sliding_window);
			goto fail;
		}
		c->n_ctx = p->sliding_window;
	}
	c->kv_type = o->kv_type;
	c->q_dim = p->n_heads * p->head_dim;
	c->kv_dim = p->n_kv_heads * p->head_dim;
	c->n_batch = nb = c->n_ctx < ENG_BATCH_MAX ? c->n_ctx : ENG_BATCH_MAX;
	c->n_seq = o->n_seq ? o->n_seq : 1;
	if (c->n_seq < 1 || c->n_seq > ENG_BATCH_MAX) {
		set_err(err, errlen, "sequence count %d is outside 1..%d", o->n_seq, ENG_BATCH_MAX);
		goto fail;
	}
	if (nb < c->n_seq) /* a decode batch holds one token of every sequence */
		c->n_batch = nb = c->n_seq;
	c->seq_pos = calloc((size_t)c->n_seq, sizeof *c->seq_pos);
	c->tok_seq = calloc((size_t)nb, sizeof *c->tok_seq);
	c->tok_pos = calloc((size_t)nb, sizeof *c->tok_pos);

	c->s.x = malloc((size_t)nb * p->dim * sizeof *c->s.x);
	c->s.xb = malloc((size_t)nb * p->dim * sizeof *c->s.xb);
	c->s.q = malloc((size_t)nb * c->q_dim * sizeof *c->s.q);
	c->s.k = malloc((size_t)nb * c->kv_dim * sizeof *c->s.k);
	c->s.v = malloc((size_t)nb * c->kv_dim * sizeof *c->s.v);
	c->s.att = malloc((size_t)nb * c->q_dim * sizeof *c->s.att);
	c->s.hb = malloc((size_t)nb * p->hidden_dim * sizeof *c->s.hb);
	c->s.hb2 = malloc((size_t)nb * p->hidden_dim * sizeof *c->s.hb2);
	c->s.scores = malloc((size_t)c->n_threads * (p->n_heads / p->n_kv_heads) * c->n_ctx *
			     sizeof *c->s.scores);
	c->s.kvrow = malloc((size_t)c->n_threads * 2 * p->head_dim * sizeof *c->s.kvrow);
	c->s.rope_cs = malloc((size_t)nb * p->rope_dim * sizeof *c->s.rope_cs);
	c->rope_freq = malloc((size_t)(p->rope_dim / 2) * sizeof *c->rope_freq);
	kv_elems = (size_t)c->n_seq * p->n_layers * c->n_ctx * c->kv_dim;
	kv_size = c->kv_type == ENG_TYPE_F16 ? sizeof(eng_f16) : sizeof(float);
	/* Untouched cache pages stay unmapped: RSS grows with the sequence, not with n_ctx. */
	c->key_cache = calloc(kv_elems, kv_size);
	c->value_cache = calloc(kv_elems, kv_size);
	if (!c->s.x || !c->s.xb || !c->s.q || !c->s.k || !c->s.v || !c->s.att || !c->s.hb ||
	    !c->s.hb2 || !c->s.scores || !c->s.kvrow || !c->s.rope_cs || !c->rope_freq ||
	    !c->key_cache || !c->value_cache || !c->seq_pos || !c->tok_seq || !c->tok_pos) {
		set_err(err, errlen, "out of memory for a context of %d tokens (KV cache %.1f MiB)",
			c->n_ctx, 2.0 * (double)kv_elems * kv_size / 1048576.0);
		goto fail;
	}
	for (int i = 0; i < p->rope_dim / 2; i++) {
		double f = pow((double)p->rope_theta, -2.0 * i / p->rope_dim);

		if (m->w.rope_freqs)
			f /= m->w.rope_freqs[i];
		if (p->rope_scale > 0)
			f /= p->rope_scale;
		c->rope_freq[i] = f;
	}
	c->pool = eng_pool_new(c->n_threads);
	if (!c->pool) {
		set_err(err, errlen, "cannot start %d threads", c->n_threads);
		goto fail;
	}
	return c;
fail:
	eng_ctx_free(c);
	return NULL;
}

void eng_ctx_free(struct eng_ctx *c)
{
	if (!c)
		return;
	if (c->pool)
		eng_pool_free(c->pool);
	free(c->s.x);
	free(c->s.xb);
	free(c->s.q);
	free(c->s.k);
	free(c->s.v);
	free(c->s.att);
	free(c->s.hb);
	free(c->s.hb2);
	free(c->s.scores);
	free(c->s.kvrow);
	free(c->s.rope_cs);
	free(c->rope_freq);
	free(c->key_cache);
	free(c->value_cache);
	free(c->seq_pos);
	free(c->tok_seq);
	free(c->tok_pos);
	free(c);
}

void eng_ctx_reset(struct eng_ctx *c)
{
	for (int i = 0; i < c->n_seq; i++)
		c->seq_pos[i] = 0;
	c->err[0] = '\0';
}

int eng_ctx_pos(const struct eng_ctx *c)
{
	return c->seq_pos[0];
}

int eng_ctx_len(const struct eng_ctx *c)
{
	return c->n_ctx;
}

size_t eng_ctx_kv_bytes(const struct eng_ctx *c)
{
	size_t elem = c->kv_type == ENG_TYPE_F16 ? sizeof(eng_f16) : sizeof(float);

	return 2 * (size_t)c->n_seq * c->cfg.n_layers * c->n_ctx * c->kv_dim * elem;
}

const char *eng_ctx_error(const struct eng_ctx *c)
{
	return c->err;
}

/* ---- KV cache ---------------------------------------------------------------------------- */

/* Element offset of position `pos` of layer `l` of sequence `seq` in either cache. */
static size_t kv_offset(const struct eng_ctx *c, int seq, int l, int pos)
{
	return (((size_t)seq * c->cfg.n_layers + l) * c->n_ctx + pos) * c->kv_dim;
}

/* Stores the batch's n rows of k and v (kv_dim floats each) in layer l, each row at its token's
 * sequence and position. */
static void kv_store(struct eng_ctx *c, int l, const float *k, const float *v, int n)
{
	const size_t len = (size_t)c->kv_dim;

	for (int t = 0; t < n; t++) {
		size_t off = kv_offset(c, c->tok_seq[t], l, c->tok_pos[t]);
		const float *kt = k + (size_t)t * len, *vt = v + (size_t)t * len;

		if (c->kv_type == ENG_TYPE_F32) {
			memcpy((float *)c->key_cache + off, kt, len * sizeof(float));
			memcpy((float *)c->value_cache + off, vt, len * sizeof(float));
			continue;
		}
		eng_quantize_row(ENG_TYPE_F16, kt, (eng_f16 *)c->key_cache + off, (int64_t)len);
		eng_quantize_row(ENG_TYPE_F16, vt, (eng_f16 *)c->value_cache + off, (int64_t)len);
	}
}

/* Row of one kv head at one position as F32: a pointer into an F32 cache, or `tmp` filled from
 * an F16 cache. */
static const float *kv_row(const struct eng_ctx *c, const void *cache, size_t off, float *tmp)
{
	if (c->kv_type == ENG_TYPE_F32)
		return (const float *)cache + off;
	eng_dequantize_row(ENG_TYPE_F16, (const eng_f16 *)cache + off, tmp, c->cfg.head_dim);
	return tmp;
}

/* ---- attention --------------------------------------------------------------------------- */

struct attn_job {
	struct eng_ctx *c;
	int layer;
	int n;     /* tokens in the batch (token t at c->tok_seq[t], c->tok_pos[t]) */
	int heads; /* query heads per work item: a divisor of the group size */
	atomic_int next; /* next unclaimed work item */
};

/*
 * Grouped-query causal attention. A work item is one token and `heads` query heads that share one
 * kv head, so each cached key and value row is read (and, from an F16 cache, widened) once for all
 * of them. Threads claim items from a shared counter until none are left, so that neither the
 * longer rows of later tokens nor a thread preempted on a shared machine hold the others up (any
 * one thread can do all of it: eng_pool_run_dynamic skips workers that start too late). The
 * batch's keys and values are already in the cache: token t sees positions 0..tok_pos[t] of its
 * sequence's cache.
 */
static void attn_worker(void *arg, int ith, int nth)
{
	struct attn_job *j = arg;
	struct eng_ctx *c = j->c;
	const struct eng_config *p = &c->cfg;
	const int hd = p->head_dim, group = p->n_heads / p->n_kv_heads, nh = j->heads;
	const int per_tok = p->n_heads / nh;
	const float scale = 1.0f / sqrtf((float)hd);
	float *scores = c->s.scores + (size_t)ith * group * c->n_ctx;
	float *tmp = c->s.kvrow + (size_t)ith * 2 * hd;

	(void)nth;
	for (int it; (it = atomic_fetch_add(&j->next, 1)) < j->n * per_tok;) {
		const int t = it / per_tok, h0 = it % per_tok * nh, kvh = h0 / group;
		const int n_seen = c->tok_pos[t] + 1;
		const float *q = c->s.q + (size_t)t * c->q_dim + (size_t)h0 * hd;
		float *out = c->s.att + (size_t)t * c->q_dim + (size_t)h0 * hd;
		const size_t base = kv_offset(c, c->tok_seq[t], j->layer, 0) + (size_t)kvh * hd;
		size_t off = base;

		for (int s = 0; s < n_seen; s++, off += c->kv_dim) {
			const float *k = kv_row(c, c->key_cache, off, tmp);

			for (int h = 0; h < nh; h++)
				scores[(size_t)h * n_seen + s] = eng_dot_f32(q + (size_t)h * hd, k, hd) * scale;
		}
		for (int h = 0; h < nh; h++)
			eng_softmax(scores + (size_t)h * n_seen, n_seen);
		memset(out, 0, (size_t)nh * hd * sizeof *out);
		off = base;
		for (int s = 0; s < n_seen; s++, off += c->kv_dim) {
			const float *v = kv_row(c, c->value_cache, off, tmp + hd);

			for (int h = 0; h < nh; h++)
				eng_axpy_f32(out + (size_t)h * hd, scores[(size_t)h * n_seen + s], v, hd);
		}
	}
}

/* Query heads per attention work item: the whole kv group, unless that leaves threads idle
 * (decode with few kv heads), then the largest divisor of the group that gives every thread
 * at least one item. */
static int attn_heads_per_item(const struct eng_ctx *c, int n)
{
	const int group = c->cfg.n_heads / c->cfg.n_kv_heads;

	for (int nh = group; nh > 1; nh--)
		if (group % nh == 0 && (long)n * (c->cfg.n_heads / nh) >= c->n_threads)
			return nh;
	return 1;
}

/* Attention below this many multiply-adds (QK^T and AV) runs on the calling thread: short
 * decode steps, where a pool dispatch costs about as much as the work and is one more point
 * where a descheduled thread holds the others up. */
#define ENG_ATTN_SERIAL_MACS (1L << 18)

static long attn_macs(const struct eng_ctx *c, int n)
{
	long seen = 0; /* sum of tok_pos + 1 over the batch */

	for (int t = 0; t < n; t++)
		seen += c->tok_pos[t] + 1;

	return 2 * seen * c->cfg.n_heads * c->cfg.head_dim;
}

/* Attention of the batch's n tokens in layer l: s.q and the cache -> s.att. */
static void attention(struct eng_ctx *c, int l, int n)
{
	struct attn_job job = { .c = c, .layer = l, .n = n };

	if (attn_macs(c, n) < ENG_ATTN_SERIAL_MACS) {
		/* a dispatch would cost more than it saves */
		job.heads = c->cfg.n_heads / c->cfg.n_kv_heads;
		atomic_init(&job.next, 0);
		attn_worker(&job, 0, 1);
		return;
	}
	job.heads = attn_heads_per_item(c, n);
	atomic_init(&job.next, 0);
	eng_pool_run_dynamic(c->pool, attn_worker, &job);
}

/* ---- the forward pass -------------------------------------------------------------------- */

/* cos and sin of every RoPE pair at each batch token's position (tok_pos) into s.rope_cs. */
static void rope_table(struct eng_ctx *c, int n)
{
	const int half = c->cfg.rope_dim / 2;

	for (int t = 0; t < n; t++) {
		float *cs = c->s.rope_cs + (size_t)t * c->cfg.rope_dim;

		for (int i = 0; i < half; i++) {
			double a = (double)c->tok_pos[t] * c->rope_freq[i];

			cs[2 * i] = (float)cos(a);
			cs[2 * i + 1] = (float)sin(a);
		}
	}
}

/* Rotates the first rope_dim dims of n_heads vectors of head_dim by the angles of `cs`: pairs
 * (2i, 2i+1), or (i, i + rope_dim/2) when neox. */
static void rope_apply(float *v, int n_heads, int head_dim, int rope_dim, const float *cs, bool neox)
{
	const int half = rope_dim / 2;

	for (int h = 0; h < n_heads; h++) {
		float *x = v + (size_t)h * head_dim;

		for (int i = 0; i < half; i++) {
			float *a = neox ? x + i : x + 2 * i, *b = neox ? x + i + half : x + 2 * i + 1;
			const float co = cs[2 * i], si = cs[2 * i + 1], x0 = *a, x1 = *b;

			*a = x0 * co - x1 * si;
			*b = x0 * si + x1 * co;
		}
	}
}

/* Adds bias (len floats) to each of n rows of len floats. */
static void add_bias(float *x, const float *bias, int n, int len)
{
	for (int t = 0; t < n; t++)
		eng_axpy_f32(x + (size_t)t * len, 1.0f, bias, len);
}

/* RMSNorm of each head_dim slice of n * n_heads heads, in place, times weight (head_dim). */
static void head_norm(float *x, const float *weight, int n_rows, int head_dim, float eps)
{
	for (int r = 0; r < n_rows; r++)
		eng_rmsnorm(x + (size_t)r * head_dim, x + (size_t)r * head_dim, weight, head_dim, eps);
}

/* Runs tokens[0..n) (n <= n_batch), token t at (tok_seq[t], tok_pos[t]), through every layer,
 * leaving the final residual streams in s.x. */
static void forward_batch(struct eng_ctx *c, const int32_t *tokens, int n)
{
	const struct eng_config *p = &c->cfg;
	const struct eng_weights *w = &c->m->w;
	struct run_state *s = &c->s;
	const int dim = p->dim;
	const bool neox = p->rope_type == ENG_ROPE_NEOX;

	rope_table(c, n);
	for (int t = 0; t < n; t++) {
		const char *row = (const char *)w->token_embd.data +
				  (size_t)tokens[t] * w->token_embd.row_bytes;
		eng_dequantize_row(w->token_embd.type, row, s->x + (size_t)t * dim, dim);
	}

	for (int l = 0; l < p->n_layers; l++) {
		const struct eng_layer *L = &w->layers[l];

		/* attention */
		for (int t = 0; t < n; t++)
			eng_rmsnorm(s->xb + (size_t)t * dim, s->x + (size_t)t * dim, L->attn_norm, dim,
				    p->norm_eps);
		{
			const struct eng_mat *const wqkv[3] = { &L->wq, &L->wk, &L->wv };
			float *const yqkv[3] = { s->q, s->k, s->v };

			eng_matmul_multi(c->pool, wqkv, 3, s->xb, n, yqkv);
		}
		if (L->bq) {
			add_bias(s->q, L->bq, n, c->q_dim);
			add_bias(s->k, L->bk, n, c->kv_dim);
			add_bias(s->v, L->bv, n, c->kv_dim);
		}
		if (L->q_norm) {
			head_norm(s->q, L->q_norm, n * p->n_heads, p->head_dim, p->norm_eps);
			head_norm(s->k, L->k_norm, n * p->n_kv_heads, p->head_dim, p->norm_eps);
		}
		for (int t = 0; t < n; t++) {
			const float *cs = s->rope_cs + (size_t)t * p->rope_dim;

			rope_apply(s->q + (size_t)t * c->q_dim, p->n_heads, p->head_dim, p->rope_dim, cs, neox);
			rope_apply(s->k + (size_t)t * c->kv_dim, p->n_kv_heads, p->head_dim, p->rope_dim, cs,
				   neox);
		}
		kv_store(c, l, s->k, s->v, n);
		attention(c, l, n);
		eng_matmul(c->pool, &L->wo, s->att, n, s->xb);
		eng_axpy_f32(s->x, 1.0f, s->xb, n * dim);

		/* feed-forward */
		for (int t = 0; t < n; t++)
			eng_rmsnorm(s->xb + (size_t)t * dim, s->x + (size_t)t * dim, L->ffn_norm, dim,
				    p->norm_eps);
		{
			const struct eng_mat *const wgu[2] = { &L->w_gate, &L->w_up };
			float *const ygu[2] = { s->hb, s->hb2 };

			eng_matmul_multi(c->pool, wgu, 2, s->xb, n, ygu);
		}
		eng_swiglu(s->hb, s->hb2, n * p->hidden_dim);
		eng_matmul(c->pool, &L->w_down, s->hb, n, s->xb);
		eng_axpy_f32(s->x, 1.0f, s->xb, n * dim);
	}
}

/* Final norm of rows [t0, t0+n) of s.x and their logits into out (n * vocab_size floats). */
static void logits_rows(struct eng_ctx *c, int t0, int n, float *out)
{
	const struct eng_config *p = &c->cfg;
	float *xb = c->s.xb + (size_t)t0 * p->dim;

	for (int t = 0; t < n; t++)
		eng_rmsnorm(xb + (size_t)t * p->dim, c->s.x + (size_t)(t0 + t) * p->dim,
			    c->m->w.output_norm, p->dim, p->norm_eps);
	eng_matmul(c->pool, &c->m->w.output, xb, n, out);
}

int eng_prefill(struct eng_ctx *c, const int32_t *tokens, int n, float *logits, float *all_logits)
{
	return eng_fwd_prefill(c, 0, tokens, n, logits, all_logits);
}

int eng_fwd_prefill(struct eng_ctx *c, int seq, const int32_t *tokens, int n, float *logits,
		    float *all_logits)
{
	const int vocab = c->cfg.vocab_size;

	if (n <= 0 || !tokens) {
		ctx_error(c, "no tokens to run");
		return -EINVAL;
	}
	if (n > c->n_ctx - c->seq_pos[seq]) {
		ctx_error(c, "context full: %d tokens at position %d exceed the context of %d", n,
			  c->seq_pos[seq], c->n_ctx);
		return -ENOSPC;
	}
	for (int i = 0; i < n; i++)
		if (tokens[i] < 0 || tokens[i] >= vocab) {
			ctx_error(c, "token %d at index %d is outside the vocabulary (0..%d)", tokens[i],
				  i, vocab - 1);
			return -EINVAL;
		}
	for (int done = 0; done < n;) {
		int nb = n - done < c->n_batch ? n - done : c->n_batch;
		bool last = done + nb == n;

		for (int t = 0; t < nb; t++) {
			c->tok_seq[t] = seq;
			c->tok_pos[t] = c->seq_pos[seq] + t;
		}
		forward_batch(c, tokens + done, nb);
		c->seq_pos[seq] += nb;
		if (all_logits)
			logits_rows(c, 0, nb, all_logits + (size_t)done * vocab);
		if (logits && last) {
			if (all_logits)
				memcpy(logits, all_logits + (size_t)(n - 1) * vocab,
				       (size_t)vocab * sizeof *logits);
			else
				logits_rows(c, nb - 1, 1, logits);
		}
		done += nb;
	}
	return 0;
}

int eng_decode(struct eng_ctx *c, int32_t token, float *logits)
{
	if (!logits) {
		ctx_error(c, "decode needs a logits buffer");
		return -EINVAL;
	}
	return eng_prefill(c, &token, 1, logits, NULL);
}

/* ---- shared with forward_batch.c ---------------------------------------------------------- */

void eng_fwd_rows(struct eng_ctx *c, const int32_t *tokens, int n)
{
	forward_batch(c, tokens, n);
}

void eng_fwd_logits(struct eng_ctx *c, int t0, int n, float *out)
{
	logits_rows(c, t0, n, out);
}
