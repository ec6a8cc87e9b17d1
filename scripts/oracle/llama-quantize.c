/*
 * scripts/oracle/llama-quantize.c — llama.cpp's own quantizer, reached through the prebuilt
 * library that node-llama-cpp ships (scripts/oracle/node_modules), for the oracle tests: it turns
 * an F32 or F16 GGUF file into one of llama.cpp's file types exactly as `llama-quantize` would,
 * so joulebench can be checked on files it did not write itself.
 *
 *   llama-quantize [--lib LIBLLAMA] [--pure] [--threads N] INPUT.gguf OUTPUT.gguf TYPE
 *   llama-quantize [--lib LIBLLAMA] --version
 *
 * TYPE is a llama.cpp file type (q4_0 q4_1 q5_0 q5_1 q8_0 q2_k q3_k_s q3_k_m q3_k_l q4_k_s q4_k_m
 * q5_k_s q5_k_m q6_k); --pure stores every weight matrix in the type's base tensor type, as
 * llama-quantize --pure does. Without --lib the library is looked for under
 * scripts/oracle/node_modules/@node-llama-cpp/linux-ARCH/bins/linux-ARCH/ of the working
 * directory, then of each directory above this program (the repository root when it runs from
 * the build tree). --version loads and checks the library and prints its llama.cpp version.
 * Exit status 0 on success, 1 when the library cannot be used or the quantization fails, 2 for a
 * usage error, 3 when no library was named and none is installed.
 *
 * The library is opened at run time, so this builds without node_modules. Its parameter struct is
 * not ABI-stable across llama.cpp releases: the binding below mirrors one version, and the
 * program refuses any library whose llama_version() is not that one, and any whose default
 * parameters do not look as that version's do, rather than pass it a struct of the wrong layout.
 */
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* The node-llama-cpp release whose library this binding matches (package 3.22.1, llama.cpp
 * release tag v0.5.0, whose llama_version() says "0.5.0-dev"). */
#define PINNED_VERSION "0.5.0"
#define LIB_NAME "libllama.v" PINNED_VERSION ".so"

/* ggml_type's count in that release (ggml/include/ggml.h, GGML_TYPE_COUNT): the default
 * parameters use it for "no override" of the output and token-embedding types. */
#define PINNED_GGML_TYPE_COUNT 43

/*
 * Mirror of struct llama_model_quantize_params from include/llama.h of llama.cpp at the release
 * above (node-llama-cpp 3.22.1's llama/gitRelease.bundle). Same members, same order; only the
 * names of the pointer targets are left opaque since this program never sets them.
 */
struct lq_params {
	int32_t nthread;              /* <= 0: the library uses every hardware thread */
	int ftype;                    /* enum llama_ftype */
	int output_tensor_type;       /* enum ggml_type; GGML_TYPE_COUNT = the mix decides */
	int token_embedding_type;     /* enum ggml_type; GGML_TYPE_COUNT = the mix decides */
	bool allow_requantize;        /* quantize tensors that are not F32/F16 */
	bool quantize_output_tensor;  /* quantize output.weight */
	bool only_copy;               /* copy tensors as they are */
	bool pure;                    /* every tensor the ftype's base type */
	bool keep_split;              /* one output shard per input shard */
	bool dry_run;                 /* report sizes, write nothing */
	const void *imatrix;          /* const struct llama_model_imatrix_data * */
	const void *kv_overrides;     /* const struct llama_model_kv_override * */
	const void *tt_overrides;     /* const struct llama_model_tensor_override * */
	const int32_t *prune_layers;  /* layer indices to drop */
	size_t max_buf_size;          /* bytes of rows held at once; 0 = the library's default */
};

/* The file types this tool offers, with their enum llama_ftype values (include/llama.h). */
static const struct {
	const char *name;
	int ftype;
} ftypes[] = {
	{ "q4_0", 2 },	  { "q4_1", 3 },    { "q8_0", 7 },    { "q5_0", 8 },	{ "q5_1", 9 },
	{ "q2_k", 10 },	  { "q3_k_s", 11 }, { "q3_k_m", 12 }, { "q3_k_l", 13 }, { "q4_k_s", 14 },
	{ "q4_k_m", 15 }, { "q5_k_s", 16 }, { "q5_k_m", 17 }, { "q6_k", 18 },
};
#define N_FTYPES (sizeof ftypes / sizeof ftypes[0])

static void usage(FILE *f)
{
	fprintf(f, "usage: llama-quantize [--lib LIBLLAMA] [--pure] [--threads N] INPUT.gguf OUTPUT.gguf TYPE\n"
		   "       llama-quantize [--lib LIBLLAMA] --version\n"
		   "  TYPE: ");
	for (size_t i = 0; i < N_FTYPES; i++)
		fprintf(f, "%s%s", ftypes[i].name, i + 1 < N_FTYPES ? " " : "\n");
	fprintf(f, "  --lib      llama.cpp's library (default: node-llama-cpp's %s under\n"
		   "             scripts/oracle/node_modules of the working directory or above this program)\n"
		   "  --pure     every weight matrix in TYPE's base type (no per-tensor mix)\n"
		   "  --threads  quantizer threads (default 1; 0 = all)\n"
		   "  --version  load and check the library, print its llama.cpp version\n",
		   LIB_NAME);
}

/* Says what is wrong with the command line, then the usage; returns the usage-error status 2. */
static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "llama-quantize: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	usage(stderr);
	return 2;
}

/* node-llama-cpp's package name for this machine's architecture, or NULL when it ships none. */
static const char *platform_name(void)
{
#if defined(__linux__) && defined(__x86_64__)
	return "linux-x64";
#elif defined(__linux__) && defined(__aarch64__)
	return "linux-arm64";
#elif defined(__linux__) && defined(__arm__)
	return "linux-armv7l";
#elif defined(__linux__) && defined(__riscv) && __riscv_xlen == 64
	return "linux-riscv64";
#else
	return NULL;
#endif
}

/*
 * Finds node-llama-cpp's library for this machine under scripts/oracle/node_modules of the working
 * directory or of the nearest directory above this program that has one (the repository root when
 * run from the build tree). Writes its path to buf; returns 0, or -1 after saying why not.
 */
static int find_library(char *buf, size_t len)
{
	const char *plat = platform_name();
	char base[PATH_MAX], rel[256];
	char *slash;

	if (!plat) {
		fprintf(stderr, "llama-quantize: node-llama-cpp ships no library for this system; name one with --lib\n");
		return -1;
	}
	snprintf(rel, sizeof rel, "scripts/oracle/node_modules/@node-llama-cpp/%s/bins/%s/%s", plat, plat, LIB_NAME);
	if (access(rel, R_OK) == 0) {
		snprintf(buf, len, "%s", rel);
		return 0;
	}
	if (realpath("/proc/self/exe", base)) {
		while ((slash = strrchr(base, '/')) != NULL) {
			*slash = '\0';
			if ((size_t)snprintf(buf, len, "%s/%s", base, rel) < len && access(buf, R_OK) == 0)
				return 0;
		}
	}
	fprintf(stderr, "llama-quantize: no %s under the working directory or above this program "
			"(scripts/install-deps.sh --oracle installs node-llama-cpp; --lib names another)\n",
		rel);
	return -1;
}

/* The index in ftypes[] of NAME (case-insensitive), or -1. */
static int ftype_find(const char *name)
{
	for (size_t i = 0; i < N_FTYPES; i++)
		if (!strcasecmp(name, ftypes[i].name))
			return (int)i;
	return -1;
}

/* Whether a version string is the pinned release, with or without a "-dev" or similar suffix. */
static bool version_is_pinned(const char *v)
{
	size_t n = strlen(PINNED_VERSION);

	return v && !strncmp(v, PINNED_VERSION, n) && (v[n] == '\0' || v[n] == '-');
}

/* The library's entry points this program uses, once checked against the binding. */
struct lq_lib {
	void *dl;
	const char *path;
	const char *version;
	struct lq_params (*defaults)(void);
	uint32_t (*quantize)(const char *, const char *, const struct lq_params *);
};

/*
 * Opens the library at `path` and checks that it is the pinned release with the expected default
 * parameters. Returns 0 with *L filled (the caller dlclose()s L->dl), or 1 after saying why not.
 */
static int lq_open(const char *path, struct lq_lib *L)
{
	const char *(*version_fn)(void);
	struct lq_params p;

	memset(L, 0, sizeof *L);
	L->path = path;
	L->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!L->dl) {
		fprintf(stderr, "llama-quantize: cannot load llama.cpp's library: %s\n", dlerror());
		return 1;
	}
	*(void **)&version_fn = dlsym(L->dl, "llama_version");
	*(void **)&L->defaults = dlsym(L->dl, "llama_model_quantize_default_params");
	*(void **)&L->quantize = dlsym(L->dl, "llama_model_quantize");
	if (!version_fn || !L->defaults || !L->quantize) {
		fprintf(stderr, "llama-quantize: %s lacks llama_version, llama_model_quantize_default_params or "
				"llama_model_quantize\n",
			path);
		goto fail;
	}
	/* The version first: only the pinned release may fill a struct lq_params. */
	L->version = version_fn();
	if (!version_is_pinned(L->version)) {
		fprintf(stderr, "llama-quantize: %s is llama.cpp %s, but this program's binding of "
				"llama_model_quantize_params is for %s; update the binding before using it\n",
			path, L->version ? L->version : "(no version)", PINNED_VERSION);
		goto fail;
	}
	p = L->defaults();
	if (p.ftype != 7 || p.output_tensor_type != PINNED_GGML_TYPE_COUNT ||
	    p.token_embedding_type != PINNED_GGML_TYPE_COUNT || p.allow_requantize || !p.quantize_output_tensor ||
	    p.only_copy || p.pure || p.dry_run || p.imatrix || p.kv_overrides || p.tt_overrides || p.prune_layers) {
		fprintf(stderr, "llama-quantize: %s's default quantize parameters do not match the binding for "
				"llama.cpp %s; refusing to pass it a struct of another layout\n",
			path, PINNED_VERSION);
		goto fail;
	}
	return 0;
fail:
	dlclose(L->dl);
	L->dl = NULL;
	return 1;
}

int main(int argc, char **argv)
{
	const char *lib = NULL, *files[3];
	char libpath[PATH_MAX];
	int nfiles = 0, ft = -1, threads = 1, rc;
	bool pure = false, version_only = false;
	struct lq_lib L;
	struct lq_params p;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(a, "--version")) {
			version_only = true;
		} else if (!strcmp(a, "--pure")) {
			pure = true;
		} else if (!strcmp(a, "--lib")) {
			if (++i == argc)
				return usage_error("%s needs a path", a);
			lib = argv[i];
		} else if (!strcmp(a, "--threads")) {
			char *end;
			long v;

			if (++i == argc)
				return usage_error("%s needs a number", a);
			errno = 0;
			v = strtol(argv[i], &end, 10);
			if (errno || end == argv[i] || *end || v < 0 || v > 1024)
				return usage_error("--threads '%s' is not a number from 0 to 1024", argv[i]);
			threads = (int)v;
		} else if (a[0] == '-' && a[1] != '\0') {
			return usage_error("unknown option '%s'", a);
		} else if (nfiles == 3) {
			return usage_error("unexpected argument '%s'", a);
		} else {
			files[nfiles++] = a;
		}
	}
	if (version_only && nfiles)
		return usage_error("--version takes no files ('%s')", files[0]);
	if (!version_only) {
		if (nfiles != 3)
			return usage_error("needs INPUT.gguf OUTPUT.gguf TYPE");
		ft = ftype_find(files[2]);
		if (ft < 0)
			return usage_error("unknown type '%s'", files[2]);
		if (!strcmp(files[0], files[1]))
			return usage_error("OUTPUT.gguf must not be INPUT.gguf ('%s')", files[0]);
	}

	if (!lib) {
		if (find_library(libpath, sizeof libpath))
			return 3;
		lib = libpath;
	} else if (!strchr(lib, '/')) {
		/* A name with no slash would make dlopen search the system's library path instead. */
		if (strlen(lib) + 3 > sizeof libpath)
			return usage_error("--lib '%s' is too long", lib);
		memcpy(libpath, "./", 2);
		memcpy(libpath + 2, lib, strlen(lib) + 1);
		lib = libpath;
	}
	if (lq_open(lib, &L))
		return 1;
	if (version_only) {
		printf("llama.cpp %s (%s)\n", L.version, L.path);
		dlclose(L.dl);
		return 0;
	}
	p = L.defaults();
	p.nthread = threads;
	p.ftype = ftypes[ft].ftype;
	p.pure = pure;
	rc = 0;
	if (L.quantize(files[0], files[1], &p)) {
		fprintf(stderr, "llama-quantize: llama.cpp could not quantize %s to %s (its messages are above)\n",
			files[0], ftypes[ft].name);
		rc = 1;
	}
	dlclose(L.dl);
	return rc;
}
