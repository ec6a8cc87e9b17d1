/*
 * engine/engine.h — the reference inference engine for Llama-family models (llama, qwen2, qwen3
 * architectures): what the rest of joulebench may use.
 *
 * A model comes from a GGUF file or is synthesised from a named shape ("synth:SHAPE:TYPE"); a
 * context holds the KV cache, activations and the thread pool for one sequence. Prefill takes
 * the prompt as one batch; decode takes one token at a time. Nothing here knows about power
 * probes or the benchmark runner.
 *
 * Errors: functions return 0 / negative errno (or NULL) and write a message naming the file,
 * field or value into the caller's `err` buffer.
 */
#ifndef JB_ENGINE_H
#define JB_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Tensor types, numbered as ggml/GGUF number them. */
enum eng_type {
	ENG_TYPE_F32 = 0,
	ENG_TYPE_F16 = 1,
	ENG_TYPE_Q4_0 = 2,
	ENG_TYPE_Q4_1 = 3,
	ENG_TYPE_Q5_0 = 6,
	ENG_TYPE_Q5_1 = 7,
	ENG_TYPE_Q8_0 = 8,
	ENG_TYPE_Q2_K = 10, /* K-quants: super-blocks of 256 elements */
	ENG_TYPE_Q3_K = 11,
	ENG_TYPE_Q4_K = 12,
	ENG_TYPE_Q5_K = 13,
	ENG_TYPE_Q6_K = 14,
};

/* "f32", "f16", "q4_0", "q4_1", "q5_0", "q5_1", "q8_0", "q2_k" .. "q6_k", or NULL for a type the
 * engine does not support. */
const char *eng_type_name(int type);
/* Parses a name as above (case-insensitive); returns 0 or -EINVAL. */
int eng_type_parse(const char *name, enum eng_type *out);

/* Architectures (general.architecture); see README "Architectures". */
enum eng_arch {
	ENG_ARCH_LLAMA = 0, /* Llama 1/2/3, Mistral, TinyLlama, SmolLM: adjacent-pair RoPE */
	ENG_ARCH_QWEN2 = 1, /* Q/K/V biases, NEOX RoPE */
	ENG_ARCH_QWEN3 = 2, /* per-head RMSNorm of q and k before RoPE, NEOX RoPE */
};
/* "llama", "qwen2", "qwen3", or NULL. */
const char *eng_arch_name(int arch);
/* Parses an architecture name; returns 0 or -EINVAL. */
int eng_arch_parse(const char *name, enum eng_arch *out);

/* How RoPE pairs the dimensions of a head (llama.cpp's rope types). */
enum eng_rope_type {
	ENG_ROPE_NORM = 0, /* pairs (2i, 2i+1): llama */
	ENG_ROPE_NEOX = 2, /* pairs (i, i + rope_dim/2): qwen2, qwen3 */
};

/* Llama 3.1 RoPE frequency scaling (rope_scaling type "llama3" in a Hugging Face config.json):
 * the frequency of each rotated pair is divided by a factor between 1 (short wavelengths) and
 * `factor` (long ones). factor 0 = none. GGUF files carry the result as rope_freqs.weight. */
struct eng_rope_llama3 {
	float factor;           /* e.g. 32 (Llama 3.2), 8 (Llama 3.1) */
	float low_freq_factor;  /* 1 */
	float high_freq_factor; /* 4 */
	int orig_ctx;           /* original_max_position_embeddings, 8192 */
};

/* Model hyper-parameters ({arch}.* keys in GGUF). */
struct eng_config {
	int dim;            /* embedding_length */
	int hidden_dim;     /* feed_forward_length */
	int n_layers;       /* block_count */
	int n_heads;        /* attention.head_count */
	int n_kv_heads;     /* attention.head_count_kv */
	int vocab_size;     /* rows of token_embd */
	int seq_len;        /* context_length */
	int head_dim;       /* attention.key_length (default dim / n_heads) */
	int rope_dim;       /* rope.dimension_count (defaults to head_dim) */
	float rope_theta;   /* rope.freq_base (default 10000) */
	float norm_eps;     /* attention.layer_norm_rms_epsilon (default 1e-5) */
	int arch;           /* enum eng_arch (0 = llama) */
	int rope_type;      /* enum eng_rope_type (0 = adjacent pairs) */
	float rope_scale;   /* linear RoPE scaling: positions divided by it (rope.scaling.factor); 0 or 1 = none */
	struct eng_rope_llama3 rope_llama3; /* shapes and files with rope.scaling.type llama3 */
	int sliding_window; /* attention.sliding_window: contexts longer than it are refused; 0 = none */
	bool qkv_bias;      /* blk.N.attn_{q,k,v}.bias present (qwen2) */
	bool qk_norm;       /* blk.N.attn_{q,k}_norm present (qwen3) */
	bool rope_freqs;    /* per-pair frequency divisors (rope_freqs.weight, or llama3 scaling) */
};

/* One line naming the architecture and its features, e.g. "qwen2: GQA 14/2, head_dim 64, NEOX
 * RoPE (theta 1e+06), Q/K/V bias, tied output". Returns what snprintf returns. */
int eng_config_describe(const struct eng_config *c, bool tied, char *buf, size_t len);

struct eng_model;
struct eng_ctx;

struct eng_open_opts {
	/* For "synth:" specs: seed of the deterministic weights (0 = default). */
	uint64_t seed;
	/* Optional vocabulary GGUF (tokenizer only) attached to synthetic models. */
	const char *vocab_path;
	/* Load only the configuration and vocabulary, no tensors (a vocabulary-only GGUF such as
	 * ggml-vocab-llama-spm.gguf opens this way; "synth:" specs generate no weights). Such a
	 * model cannot run: its config holds only vocab_size (eng_ctx_new refuses it) and
	 * m->w.layers is NULL. */
	bool vocab_only;
};

/*
 * Opens a model. `spec` is a GGUF path or "synth:SHAPE:TYPE" (SHAPE from configs/models/,
 * TYPE as eng_synth_type_parse takes it: f32, q4_0, q4_k_m, ...). `opts` may be NULL. On success *out owns the mapping or the
 * synthesised weights until eng_model_close().
 */
int eng_model_open(const char *spec, const struct eng_open_opts *opts, struct eng_model **out,
		   char *err, size_t errlen);
void eng_model_close(struct eng_model *m);

const struct eng_config *eng_model_config(const struct eng_model *m);

/* What a result file records about a model. */
struct eng_model_desc {
	char arch[32];          /* "llama", "qwen2", "qwen3" */
	char name[128];         /* general.name, or the shape name for synthetic models */
	char shape[64];         /* configs/models shape name, "" if not from a shape */
	char path[1024];        /* file path, "" for in-memory synthetic models */
	int wtype;              /* dominant weight type (enum eng_type) */
	bool synthetic;
	uint64_t n_params;      /* all parameters, embeddings included */
	uint64_t file_bytes;    /* 0 for in-memory models */
	uint64_t weight_bytes;  /* bytes of all weight tensors as stored */
	uint64_t decode_bytes_per_token; /* weight bytes one decode step reads (bandwidth bound) */
	uint64_t relaid_bytes;  /* weight bytes reordered at load into the kernels' own layout (the
				 * same bytes, another order: engine/kquants.h), 0 if none */
	uint64_t hugepage_bytes; /* a file's weight bytes copied at load into memory advised for 2 MiB
				  * pages (loader.c), 0 when they stay in the file mapping */
};
void eng_model_describe(const struct eng_model *m, struct eng_model_desc *d);

/* ---- model files: shapes, synthetic models, import, inspection ----------------------------- */

/* A named model shape, configs/models/NAME.json (looked up relative to the working directory,
 * then to the executable's directory). */
struct eng_shape {
	char name[64];
	char title[128];      /* "Llama 2 7B" */
	char source[512];     /* where the dimensions come from */
	struct eng_config cfg;
	bool tied;            /* output shares token_embd */
	float weight_std;     /* synthetic weights' standard deviation ("weight_std", default 0.02) */
};
/* SHAPE may also be a path to a JSON file of the same format ("dir/tiny.json"), for tests. */
/* Returns 0 or -errno (unknown shape, bad JSON) with a message naming the file and field. */
int eng_shape_load(const char *name, struct eng_shape *out, char *err, size_t errlen);
/* Every shape in configs/models, sorted by name; *out is malloc'd (free()). Returns the count or
 * -errno. */
int eng_shape_list(struct eng_shape **out, char *err, size_t errlen);

/*
 * Synthetic model types: a tensor type name (every weight matrix that type, "pure") or a llama.cpp
 * file type whose tensors get llama.cpp's per-tensor types ("q4_k_m": Q4_K with Q6_K output and
 * promoted attn_v/ffn_down layers). Parse returns 0 or -EINVAL; name returns NULL for a bad type.
 */
#define ENG_SYNTH_TYPES                                                                            \
	"f32 f16 q8_0 q4_0 q4_1 q5_0 q5_1 q2_k q2_k_s q3_k_s q3_k_m q3_k_l q4_k_s q4_k_m q5_k_s q5_k_m q6_k " \
	"(pure) q3_k q4_k q5_k"
int eng_synth_type_parse(const char *name, int *out);
const char *eng_synth_type_name(int type);

/* Writes a deterministic synthetic model of a shape as a GGUF file llama.cpp can load, with the
 * vocabulary of vocab_path (a GGUF, may be NULL: generated placeholder). Weights are generated
 * and quantized row by row (no full-precision copy of the model). */
int eng_synth_write(const char *shape, int type, uint64_t seed, const char *vocab_path,
		    const char *out_path, char *err, size_t errlen);
/* Converts a llama2.c checkpoint (.bin, version 0) and its tokenizer.bin into an F32 GGUF. */
int eng_llama2c_import(const char *ckpt, const char *tokenizer, const char *out_path, char *err,
		       size_t errlen);
/*
 * Converts a Hugging Face tokenizer.json of a byte-level BPE tokenizer into a vocabulary-only GGUF
 * (tokenizer.ggml.model "gpt2", pre, tokens, token_type, merges, bos/eos ids, add_bos/add_eos) as
 * llama.cpp's converter writes it. `pre` names the pre-tokenizer (NULL: inferred from the
 * pre_tokenizer's regex; an error says to pass it when it cannot be). BOS/EOS come from
 * tokenizer_config.json beside the file when present. Returns 0 or -errno with a message.
 */
int eng_vocab_from_hf(const char *json_path, const char *pre, const char *out_path, char *err,
		      size_t errlen);
/* Prints a GGUF file's header, metadata (arrays abbreviated), tensors (name, type, shape,
 * bytes), total size and parameter count to `out`. */
int eng_gguf_info(const char *path, FILE *out, char *err, size_t errlen);

/* ---- running ---------------------------------------------------------------------------- */

struct eng_ctx_opts {
	int n_threads;   /* >= 1 */
	int n_ctx;       /* KV cache length in tokens; 0 = the model's seq_len */
	int kv_type;     /* ENG_TYPE_F32 (default) or ENG_TYPE_F16 */
	int n_seq;       /* sequences (server slots), each with its own KV cache of n_ctx tokens;
			  * 0 = 1. eng_prefill/eng_decode/eng_ctx_pos run on sequence 0. */
};

/* A context owns a persistent thread pool, activations and the KV cache. */
struct eng_ctx *eng_ctx_new(struct eng_model *m, const struct eng_ctx_opts *o, char *err,
			    size_t errlen);
void eng_ctx_free(struct eng_ctx *c);
/* Forgets the sequence (position back to 0); keeps buffers and threads. */
void eng_ctx_reset(struct eng_ctx *c);
/* Number of tokens in the KV cache. */
int eng_ctx_pos(const struct eng_ctx *c);
/* Tokens the KV cache holds (n_ctx) and its size in bytes (keys and values, every layer). */
int eng_ctx_len(const struct eng_ctx *c);
size_t eng_ctx_kv_bytes(const struct eng_ctx *c);

/*
 * Runs n tokens as one batch starting at the current position (prompts over 512 tokens as
 * several batches). If `logits` is not NULL it receives vocab_size floats for the last token;
 * if `all_logits` is not NULL it receives n * vocab_size floats (teacher-forced logits for every
 * position); both may be NULL (fill the cache only). Returns 0 or -errno: -ENOSPC when the
 * context is full, -EINVAL for a token outside the vocabulary (nothing is run then), with a
 * message in eng_ctx_error().
 */
int eng_prefill(struct eng_ctx *c, const int32_t *tokens, int n, float *logits, float *all_logits);
/* One token at the current position; logits (vocab_size floats) may not be NULL. */
int eng_decode(struct eng_ctx *c, int32_t token, float *logits);
const char *eng_ctx_error(const struct eng_ctx *c);

/* ---- several sequences in one context (engine/forward_batch.c) ---------------------------- */

/* Sequences the context holds (eng_ctx_opts.n_seq) and tokens in one's KV cache. */
int eng_ctx_n_seq(const struct eng_ctx *c);
int eng_seq_pos(const struct eng_ctx *c, int seq);
/* Forgets sequence `seq` (its position back to 0); the others keep theirs. */
void eng_seq_reset(struct eng_ctx *c, int seq);
/* eng_prefill on sequence `seq`; -EINVAL for a sequence outside 0..n_seq-1. */
int eng_seq_prefill(struct eng_ctx *c, int seq, const int32_t *tokens, int n, float *logits);
/*
 * One decode step of n sequences as one batch: tokens[i] goes to sequence seq[i] at that
 * sequence's current position, which then moves on by one. The matmuls run once with n_tok = n
 * (the weights are read once for all of them), attention reads each sequence's own cache.
 * logits receives n * vocab_size floats, row i for seq[i]; it equals what eng_decode gives in a
 * context holding only that sequence (exactly for Q8_0/Q4_0 weights, to float rounding for F32,
 * whose batched kernel sums in another order). Sequences must be distinct, 1 <= n <= n_seq.
 * Returns 0, or -EINVAL
 * (bad sequence, duplicate, token outside the vocabulary) / -ENOSPC (a sequence is full) with a
 * message in eng_ctx_error() and nothing run.
 */
int eng_decode_batch(struct eng_ctx *c, const int *seq, const int32_t *tokens, int n, float *logits);

/* ---- tokenizer ---------------------------------------------------------------------------- */

/* True when the model carries a vocabulary. */
bool eng_has_vocab(const struct eng_model *m);
int32_t eng_token_bos(const struct eng_model *m);  /* -1 if none */
int32_t eng_token_eos(const struct eng_model *m);  /* -1 if none */
/*
 * Encodes UTF-8 text with the model's vocabulary: SentencePiece BPE ("llama") or byte-level BPE
 * ("gpt2": Llama 3, Qwen2/3, GPT-2, SmolLM pre-tokenizers). Writes at most max tokens; returns the
 * number of tokens the text needs (which may exceed max: call again with a larger buffer) or
 * -errno with a message in err. add_bos adds the special tokens the vocabulary asks for, as
 * llama.cpp's add_special does: BOS when tokenizer.ggml.add_bos_token is true (its default is true
 * for SentencePiece and Llama 3, false for other BPE vocabularies), EOS at the end when
 * add_eos_token is true. Like llama.cpp's prompt tokenization, the text of a control token ("<s>",
 * "<|begin_of_text|>") in the text becomes that token; eng_tokenize_ex() with parse_special false
 * keeps it as text (user-defined tokens are matched either way).
 */
int eng_tokenize(const struct eng_model *m, const char *text, bool add_bos, int32_t *out, int max,
		 char *err, size_t errlen);
int eng_tokenize_ex(const struct eng_model *m, const char *text, bool add_bos, bool parse_special,
		    int32_t *out, int max, char *err, size_t errlen);
/* The text of a token as it should be printed after `prev` (leading-space and byte tokens
 * handled); returns the number of bytes written to buf (NUL-terminated). */
int eng_token_to_piece(const struct eng_model *m, int32_t prev, int32_t tok, char *buf, size_t len);

/* ---- sampler ------------------------------------------------------------------------------ */

struct eng_sampler_opts {
	float temp;      /* 0 = greedy */
	int top_k;       /* 0 = off */
	float top_p;     /* 1 = off */
	uint64_t seed;
};
struct eng_sampler;
struct eng_sampler *eng_sampler_new(const struct eng_sampler_opts *o, int n_vocab);
void eng_sampler_free(struct eng_sampler *s);
/* Picks the next token; may reorder/modify `logits`. */
int32_t eng_sample(struct eng_sampler *s, float *logits);

/* ---- machine ------------------------------------------------------------------------------ */

/* Which SIMD kernels this CPU runs ("avx512vnni", "avx2+fma", "neon", "ref"). */
const char *eng_simd_name(void);
/* Which instruction-set path runs ("avx512", "avx2", "neon", "ref"): the best this CPU has, or
 * the one JOULEBENCH_ISA=ref|avx2|avx512|neon selects. */
const char *eng_isa_name(void);
/* Why the path differs from what JOULEBENCH_ISA asked for ("JOULEBENCH_ISA=avx512: this CPU
 * lacks it; using avx2"), or NULL when it does not. */
const char *eng_isa_note(void);
/* The ISA paths this build and CPU can run, best first, space separated ("avx512 avx2 ref"). */
const char *eng_isa_available(void);

/* ---- memory read bandwidth (engine/membw.c) ------------------------------------------------ */

/*
 * The read bandwidth n_threads engine threads reach streaming a buffer of `bytes` (each thread
 * its contiguous share, wide loads), the ceiling of decode speed: tokens/s <= GB/s * 1e9 /
 * decode_bytes_per_token. GB are 1e9 bytes.
 */
#define ENG_MEMBW_MAX_REPS 64
#define ENG_MEMBW_DEFAULT_REPS 10
#define ENG_MEMBW_MIN_BYTES (16u << 20)
#define ENG_MEMBW_DEFAULT_BYTES ((size_t)256 << 20)
struct eng_membw {
	int n_threads;
	size_t bytes;                           /* bytes read per pass */
	int n_samples;                          /* timed passes (after one warm-up pass) */
	double samples_gbs[ENG_MEMBW_MAX_REPS]; /* every pass, in order */
	double best_gbs;                        /* fastest pass: the bandwidth figure */
	double median_gbs;
	/* eng_membw_matvec only: a read pass over the same buffer right after each kernel pass (the
	 * read bandwidth of that moment, on the same pages), and the median over passes of kernel /
	 * read: what a shared machine's drifting bandwidth does not skew */
	double paired_read_gbs[ENG_MEMBW_MAX_REPS];
	double paired_read_best_gbs;
	double paired_ratio_median;
};
/* Measures `reps` passes (1..ENG_MEMBW_MAX_REPS) over `bytes` (>= ENG_MEMBW_MIN_BYTES). Returns 0,
 * or -EINVAL / -ENOMEM with a message in err. */
int eng_membw_measure(int n_threads, size_t bytes, int reps, struct eng_membw *out, char *err,
		      size_t errlen);
/*
 * The same over a buffer meant to stay in the last-level cache (any size >= 64 KiB): the
 * bandwidth decode would reach if the weights fitted in the cache.
 */
int eng_membw_measure_cached(int n_threads, size_t bytes, int reps, struct eng_membw *out, char *err,
			     size_t errlen);

/*
 * The caches this machine reports: the last-level cache's size and level, read from
 * SYSFS_ROOT/devices/system/cpu/cpu0/cache/index*\/{level,type,size} (sysfs_root NULL = "/sys"),
 * else from the C library (sysconf, which asks CPUID; a virtual machine may report a whole
 * socket's cache there). source names where the figure came from ("sysfs", "sysconf"), or says
 * why there is none (llc_bytes 0).
 */
struct eng_cache_info {
	size_t llc_bytes;
	int llc_level;
	char source[96];
};
void eng_cache_info(const char *sysfs_root, struct eng_cache_info *out);
/* Buffer sizes for the two bandwidth figures: DRAM = max(ENG_MEMBW_DEFAULT_BYTES, 4 x LLC), at most
 * a quarter of physical memory; cache-resident = LLC / 2, at most ENG_MEMBW_CACHE_MAX_BYTES (a VM's
 * CPUID may claim a whole socket's L3 that one core does not see) and at least 1 MiB. */
#define ENG_MEMBW_CACHE_MAX_BYTES ((size_t)16 << 20)
size_t eng_membw_dram_bytes(const struct eng_cache_info *ci);
size_t eng_membw_cache_bytes(const struct eng_cache_info *ci);

/* Best of ENG_MEMBW_DEFAULT_REPS passes in GB/s, or a negative value with a message in err. */
double eng_membw_read_gbs(int n_threads, size_t bytes, char *err, size_t errlen);
/*
 * The weight-read bandwidth the decode matrix-vector kernel reaches: y = W x (one token) for a
 * rows x cols matrix of `type`, over enough distinct copies of W that a pass streams at least
 * `bytes` from memory (as decode does). Samples are weight bytes / time per pass; each kernel
 * pass is followed by a plain read pass over the same copies (paired_*). 0 or -errno.
 */
int eng_membw_matvec(int type, int64_t rows, int64_t cols, int n_threads, size_t bytes, int reps,
		     struct eng_membw *out, char *err, size_t errlen);

/* ---- kernel microbenchmarks (engine/kbench.c) ---------------------------------------------- */

/*
 * `joulebench kernels` times each hot kernel alone at the real sizes of a model shape. The kernels
 * stay private to the engine: these functions list the cases of a shape, prepare a case's buffers
 * with deterministic data, run ONE call of the fast (SIMD, threaded) version or of its plain-C
 * `_ref` twin (single-threaded), and say how many bytes and operations one call moves.
 */
enum eng_kbench_op {
	ENG_KB_MATMUL,    /* y = W x for n_tok rows of x; n_tok == 1 is the decode matrix-vector case */
	ENG_KB_QUANTIZE,  /* n_tok activation rows of `cols` floats -> Q8_0 blocks */
	ENG_KB_RMSNORM,   /* o = x / rms(x) * w over cols (= dim) elements */
	ENG_KB_ROPE,      /* the query heads of one token at position kv_len */
	ENG_KB_SOFTMAX,   /* in place over cols (= kv_len) attention scores */
	ENG_KB_SWIGLU,    /* a = silu(a) * b over cols (= hidden_dim) elements */
	ENG_KB_ATTENTION, /* one token's grouped-query attention over kv_len cached positions */
};

struct eng_kbench_case {
	char name[64];      /* unique in a list: "matvec.q4_0.ffn_up", "rmsnorm.f32", ... */
	char op[16];        /* "matvec" "matmul" "quantize" "rmsnorm" "rope" "softmax" "swiglu" "attention" */
	char tensors[96];   /* matmuls: the weight tensors of this size ("ffn_gate,ffn_up"); "" else */
	enum eng_kbench_op kind;
	int type;           /* matmuls: the weight type; quantize: ENG_TYPE_Q8_0; else ENG_TYPE_F32 */
	int64_t rows;       /* matmuls: rows of W; attention/rope: n_heads; else 1 */
	int64_t cols;       /* matmuls: cols of W; vector ops: elements per row */
	int n_tok;          /* rows of activations per call */
	int kv_len;         /* attention: cached positions; rope: the position */
	int n_heads, n_kv_heads, head_dim, rope_dim;
	bool has_ref;       /* false when the kernel has no separate `_ref` twin */
	double bytes_per_call; /* compulsory traffic: every input read once, every output written once */
	double flops_per_call; /* arithmetic operations (a multiply-add counts 2); model in SCHEMA.md */
};

struct eng_kbench_spec {
	const int *types;   /* weight types (enum eng_type) of the matmul cases */
	int n_types;
	int n_tok;          /* batch of the matrix-matrix cases (>= 2) */
	int kv_len;         /* attention/softmax length, 1..cfg->seq_len */
};

/*
 * Lists the cases for a shape: matvec and matmul per weight type for each distinct weight size
 * (attn_q/attn_output, attn_k/attn_v, ffn_gate/ffn_up, ffn_down, output), then quantize, rmsnorm,
 * rope, softmax, swiglu and attention. *out is malloc'd (the caller frees it); returns the count
 * or -EINVAL with a message naming the bad value.
 */
int eng_kbench_cases(const struct eng_config *cfg, const struct eng_kbench_spec *s,
		     struct eng_kbench_case **out, char *err, size_t errlen);

struct eng_kbench;
/* Allocates the case's buffers (a copy of *c is kept), fills them from `seed` and starts a pool of
 * n_threads for the fast version. Returns 0 or -errno (-ENOMEM names the bytes). */
int eng_kbench_prepare(const struct eng_kbench_case *c, int n_threads, uint64_t seed,
		       struct eng_kbench **out, char *err, size_t errlen);
/* One call: the fast version, or with `ref` the single-threaded `_ref` twin (the fast one again
 * when the case has no twin). Inputs stay valid for any number of calls. */
void eng_kbench_run(struct eng_kbench *k, bool ref);
/* Copies the case's output as floats (quantize: dequantized) into dst (at most max); returns the
 * number of output values. For tests holding the fast version to the reference. */
size_t eng_kbench_output(const struct eng_kbench *k, float *dst, size_t max);
void eng_kbench_free(struct eng_kbench *k);

#endif
