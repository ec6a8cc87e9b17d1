/*
 * engine/forward.h — private to engine/: the context (RunState of activation buffers, KV caches,
 * thread pool) and the forward-pass building blocks that forward.c (one sequence: prefill and
 * decode) and forward_batch.c (one token in each of several sequences) share.
 *
 * A context holds n_seq sequences, each with its own KV cache of n_ctx positions. Every token of
 * a batch names its sequence and position (tok_seq, tok_pos), so one pass through the layers can
 * run a prompt of one sequence or the next token of several sequences at once: the matmuls see
 * n_tok = batch rows either way, attention reads each token's own cache.
 */
#ifndef JB_ENGINE_FORWARD_H
#define JB_ENGINE_FORWARD_H

#include "engine/engine.h"
#include "engine/model.h"

/* Largest batch one pass through the layers takes; longer prompts are split. */
#define ENG_BATCH_MAX 512

/* Activation buffers for a batch of up to n_batch tokens (row t of each holds token t). */
struct run_state {
	float *x;      /* (n_batch, dim) residual stream */
	float *xb;     /* (n_batch, dim) normed input of a sub-layer, then its output */
	float *q;      /* (n_batch, q_dim) */
	float *k;      /* (n_batch, kv_dim) */
	float *v;      /* (n_batch, kv_dim) */
	float *att;    /* (n_batch, q_dim) attention output, before Wo */
	float *hb;     /* (n_batch, hidden_dim) gate, then silu(gate) * up */
	float *hb2;    /* (n_batch, hidden_dim) up */
	float *scores; /* (n_threads, group, n_ctx) attention scores: group = n_heads / n_kv_heads */
	float *kvrow;  /* (n_threads, 2 * head_dim) F16 cache rows widened to F32 */
	float *rope_cs; /* (n_batch, rope_dim) cos and sin of each RoPE pair at each token's position */
};

struct eng_ctx {
	struct eng_model *m;
	struct eng_config cfg;
	struct eng_pool *pool;
	int n_threads;
	int n_ctx;   /* KV cache length of each sequence */
	int n_batch; /* rows of the run_state buffers */
	int kv_type; /* ENG_TYPE_F32 or ENG_TYPE_F16 */
	int q_dim;   /* n_heads * head_dim */
	int kv_dim;  /* n_kv_heads * head_dim */
	int n_seq;    /* sequences, each with its own KV cache */
	int *seq_pos; /* (n_seq) tokens in each sequence's cache; eng_prefill/eng_decode use 0 */
	int *tok_seq; /* (n_batch) sequence of each token of the batch being run */
	int *tok_pos; /* (n_batch) position of each token of the batch being run */
	double *rope_freq; /* (rope_dim/2) angle per position of each RoPE pair */
	struct run_state s;
	/* KV cache: (n_seq, n_layers, n_ctx, kv_dim) elements of kv_type each */
	void *key_cache;
	void *value_cache;
	char err[256];
};

/* Runs tokens[0..n) (n <= n_batch, ids already checked) through every layer, token t at
 * (tok_seq[t], tok_pos[t]): its key and value go to that sequence's cache at that position and
 * it attends to positions 0..tok_pos[t] of that sequence. Leaves the final residual streams in
 * s.x. Does not move seq_pos. */
void eng_fwd_rows(struct eng_ctx *c, const int32_t *tokens, int n);
/* Final norm of rows [t0, t0+n) of s.x and their logits into out (n * vocab_size floats), as one
 * matmul with n_tok = n. */
void eng_fwd_logits(struct eng_ctx *c, int t0, int n, float *out);
/* eng_prefill on sequence `seq` (0 <= seq < n_seq, unchecked). */
int eng_fwd_prefill(struct eng_ctx *c, int seq, const int32_t *tokens, int n, float *logits,
		    float *all_logits);
/* Writes a message for eng_ctx_error(). */
void eng_fwd_error(struct eng_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
