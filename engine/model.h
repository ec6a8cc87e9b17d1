/*
 * engine/model.h — private to engine/: the model layout shared by the loaders (GGUF, synthetic,
 * llama2.c import) and the forward pass. Laid out as llama2.c does: a Config of sizes, Weights
 * that point into a read-only mapping (or into owned memory for synthetic models), and one owner.
 */
#ifndef JB_ENGINE_MODEL_H
#define JB_ENGINE_MODEL_H

#include "engine/engine.h"

/* A weight matrix in ggml layout: `rows` rows of `cols` elements, each row stored contiguously in
 * `type` (for quantized types, cols/32 blocks per row). y = W x maps cols -> rows. */
struct eng_mat {
	const void *data;
	int type;         /* enum eng_type */
	int64_t rows;     /* ggml ne[1] */
	int64_t cols;     /* ggml ne[0] */
	size_t row_bytes; /* bytes per row */
	int layout;       /* ENG_LAYOUT_GGML (0): as stored in files; else a kernel set's own order of
			   * the same blocks (kquants.h), see eng_mat_relayout */
};

struct eng_layer {
	const float *attn_norm; /* (dim) */
	struct eng_mat wq;      /* (n_heads*head_dim, dim)   blk.N.attn_q */
	struct eng_mat wk;      /* (n_kv_heads*head_dim, dim) blk.N.attn_k */
	struct eng_mat wv;      /* (n_kv_heads*head_dim, dim) blk.N.attn_v */
	struct eng_mat wo;      /* (dim, n_heads*head_dim)   blk.N.attn_output */
	const float *ffn_norm;  /* (dim) */
	struct eng_mat w_gate;  /* (hidden_dim, dim) blk.N.ffn_gate */
	struct eng_mat w_down;  /* (dim, hidden_dim) blk.N.ffn_down */
	struct eng_mat w_up;    /* (hidden_dim, dim) blk.N.ffn_up */
	/* optional, NULL when absent */
	const float *bq;        /* (n_heads*head_dim)    blk.N.attn_q.bias (qwen2) */
	const float *bk;        /* (n_kv_heads*head_dim) blk.N.attn_k.bias */
	const float *bv;        /* (n_kv_heads*head_dim) blk.N.attn_v.bias */
	const float *q_norm;    /* (head_dim) blk.N.attn_q_norm, RMSNorm of each query head (qwen3) */
	const float *k_norm;    /* (head_dim) blk.N.attn_k_norm */
};

struct eng_weights {
	struct eng_mat token_embd; /* (vocab_size, dim); rows are looked up, not multiplied */
	struct eng_layer *layers;  /* n_layers */
	const float *output_norm;  /* (dim) */
	struct eng_mat output;     /* (vocab_size, dim); == token_embd when tied */
	const float *rope_freqs;   /* (rope_dim/2) divisors of each RoPE pair's frequency, or NULL */
};

struct eng_vocab; /* engine/tokenizer.c */
struct gguf_file; /* engine/gguf.h */

struct eng_model {
	struct eng_config cfg;
	struct eng_weights w;
	struct eng_vocab *vocab;   /* NULL when the model has none */
	struct eng_model_desc desc;
	/* ownership */
	struct gguf_file *gguf;    /* the mapped file, or NULL */
	void *owned;               /* synthesised weights / converted norms, freed on close */
	void *weights_map;         /* a file's matrices copied into huge pages (loader.c), or NULL */
	size_t weights_map_len;
	struct eng_vocab *owned_vocab;
};

#endif
