/*
 * engine/gguf.h — private to engine/: GGUF v2/v3 files, read over a read-only mmap and written
 * as a stream (ggml docs/gguf.md describes the format).
 *
 * Layout (all little-endian):
 *   "GGUF" u32 version, u64 n_tensors, u64 n_kv
 *   n_kv times:      string key, u32 value type, value (arrays: u32 elem type, u64 n, elements)
 *   n_tensors times: string name, u32 n_dims, u64 ne[n_dims], u32 ggml type, u64 offset
 *   zero padding to general.alignment (default 32), then the tensor data; every tensor's offset
 *   is relative to the start of the data and a multiple of the alignment.
 * A string is a u64 byte length followed by that many bytes (no NUL).
 *
 * The reader treats the file as untrusted: every count, length and offset is checked against the
 * file size before it is used, and an error names the file and what is wrong.
 *
 * Llama tensors follow llama.cpp: ne[0] is the input dimension (a row), ne[1] the number of rows.
 * Q/K weights are in the "normal" (adjacent pairs 2i, 2i+1) RoPE layout: llama.cpp's HF converter
 * permutes the rows of HF's rotate-half layout into it, and llama2.c / Meta checkpoints use it
 * natively, so files are read and written without any permutation here.
 */
#ifndef JB_ENGINE_GGUF_H
#define JB_ENGINE_GGUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GGUF_MAGIC "GGUF"
#define GGUF_DEFAULT_ALIGNMENT 32
#define GGUF_MAX_DIMS 4

enum gguf_vtype {
	GGUF_VT_U8 = 0,
	GGUF_VT_I8 = 1,
	GGUF_VT_U16 = 2,
	GGUF_VT_I16 = 3,
	GGUF_VT_U32 = 4,
	GGUF_VT_I32 = 5,
	GGUF_VT_F32 = 6,
	GGUF_VT_BOOL = 7,
	GGUF_VT_STRING = 8,
	GGUF_VT_ARRAY = 9,
	GGUF_VT_U64 = 10,
	GGUF_VT_I64 = 11,
	GGUF_VT_F64 = 12,
	GGUF_VT_COUNT
};

/* A string inside the mapping: not NUL-terminated. */
struct gguf_str {
	const char *p;
	uint64_t len;
};

struct gguf_kv {
	struct gguf_str key;
	uint32_t type;       /* enum gguf_vtype */
	uint32_t arr_type;   /* element type when type == GGUF_VT_ARRAY */
	uint64_t arr_n;      /* element count when type == GGUF_VT_ARRAY */
	const uint8_t *val;  /* the value's bytes (arrays: the first element) */
	uint64_t val_bytes;  /* bytes of the value (arrays: all elements) */
};

struct gguf_tensor {
	char *name;          /* NUL-terminated copy */
	uint32_t n_dims;
	int64_t ne[GGUF_MAX_DIMS]; /* unused dims are 1 */
	uint32_t type;       /* ggml type id */
	uint64_t offset;     /* relative to the data section */
	uint64_t nbytes;
	const void *data;    /* inside the mapping */
};

struct gguf_file {
	char path[1024];
	uint32_t version;
	const uint8_t *base; /* the whole file */
	uint64_t size;
	uint64_t alignment;
	uint64_t data_offset; /* start of the tensor data section */
	uint64_t n_kv;
	struct gguf_kv *kv;
	uint64_t n_tensors;
	struct gguf_tensor *tensors;
	/* ownership */
	void *map;            /* mmap'd region, or NULL for gguf_parse() on a caller's buffer */
	size_t map_len;
};

/* ggml type table: name ("Q4_0"), elements per block and bytes per block; name NULL for ids ggml
 * does not define. Covers every type a GGUF may hold, not only those the engine computes with. */
const char *gguf_type_name(uint32_t type);
/* Bytes of a row of n elements of `type`; 0 for an unknown type or n not a multiple of its block. */
uint64_t gguf_row_bytes(uint32_t type, int64_t n);
int gguf_type_block(uint32_t type);

/* Maps and parses a file. Returns 0 or -errno with a message naming the file in err. */
int gguf_open(const char *path, struct gguf_file **out, char *err, size_t errlen);
/* Parses a file already in memory (`buf` must outlive the result); `name` is used in messages. */
int gguf_parse(const void *buf, size_t size, const char *name, struct gguf_file **out, char *err,
	       size_t errlen);
/* Makes the mapping of a file opened with gguf_open writable (MAP_PRIVATE: the changes stay in
 * this process), for weights a kernel set reorders in place. 0 or -errno. */
int gguf_map_writable(struct gguf_file *f);
void gguf_close(struct gguf_file *f);

/* Metadata lookups; NULL / -ENOENT when the key is absent, -EINVAL for a wrong type. */
const struct gguf_kv *gguf_find(const struct gguf_file *f, const char *key);
/* Any integer type (or bool) whose value fits. */
int gguf_get_int(const struct gguf_file *f, const char *key, int64_t *out);
/* F32 or F64 (or an integer). */
int gguf_get_float(const struct gguf_file *f, const char *key, double *out);
/* Copies a string value, NUL-terminated and truncated to len-1 bytes. */
int gguf_get_str(const struct gguf_file *f, const char *key, char *buf, size_t len);
/* The i-th string of a string array, read sequentially: pass *pos = 0 for the first call on an
 * array and keep it between calls (the reader checked every length already). */
struct gguf_str gguf_arr_next_str(const struct gguf_kv *kv, uint64_t *pos);
/* The i-th element of a numeric array converted to double / int64 (fixed-size elements only). */
double gguf_arr_float(const struct gguf_kv *kv, uint64_t i);
int64_t gguf_arr_int(const struct gguf_kv *kv, uint64_t i);
const struct gguf_tensor *gguf_find_tensor(const struct gguf_file *f, const char *name);
/* Size in bytes of one value of a fixed-size type; 0 for strings/arrays. */
size_t gguf_vtype_size(uint32_t type);
const char *gguf_vtype_name(uint32_t type);

/* ---- writer ---------------------------------------------------------------------------------
 * Metadata and tensor infos are collected first; gguf_writer_open() then writes the header and
 * reserves the layout, and tensor data is streamed in tensor order with gguf_writer_write(), so a
 * 7B model never has to be in memory at once. The file appears under its name only when
 * gguf_writer_finish() succeeds (written as NAME.tmp and renamed). Functions return 0 or -errno
 * with a message in the writer (gguf_writer_error()).
 */
struct gguf_writer;
struct gguf_writer *gguf_writer_new(void);
void gguf_writer_free(struct gguf_writer *w); /* removes an unfinished temporary file */
const char *gguf_writer_error(const struct gguf_writer *w);

int gguf_w_u32(struct gguf_writer *w, const char *key, uint32_t v);
int gguf_w_i32(struct gguf_writer *w, const char *key, int32_t v);
int gguf_w_u64(struct gguf_writer *w, const char *key, uint64_t v);
int gguf_w_f32(struct gguf_writer *w, const char *key, float v);
int gguf_w_bool(struct gguf_writer *w, const char *key, bool v);
int gguf_w_str(struct gguf_writer *w, const char *key, const char *v);
/* Array of fixed-size elements (elem_type not STRING/ARRAY), n elements at data. */
int gguf_w_arr(struct gguf_writer *w, const char *key, uint32_t elem_type, const void *data,
	       uint64_t n);
/* Array of n strings; lens may be NULL for NUL-terminated strings. */
int gguf_w_arr_str(struct gguf_writer *w, const char *key, const char *const *strs,
		   const uint64_t *lens, uint64_t n);
/* Copies a key and its value as they are from another file. */
int gguf_w_copy_kv(struct gguf_writer *w, const struct gguf_kv *kv);
/* Declares a tensor (data streamed later, in declaration order). ne[0] is the row length. */
int gguf_w_tensor(struct gguf_writer *w, const char *name, uint32_t type, int n_dims,
		  const int64_t *ne);

int gguf_writer_open(struct gguf_writer *w, const char *path);
/* Appends bytes of the current tensor; moves to the next tensor when one is complete. */
int gguf_writer_write(struct gguf_writer *w, const void *data, size_t n);
int gguf_writer_finish(struct gguf_writer *w);

#endif
