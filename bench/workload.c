/*
 * bench/workload.c — configs/workloads/NAME.json → struct bench_workload, with errors that name
 * the file, the JSON path of the bad field and what was expected.
 */
#include "bench/workload.h"
#include "power/power.h"
#include "reports/reports.h"

#include "engine/engine.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

void bench_workload_init(struct bench_workload *w)
{
	memset(w, 0, sizeof *w);
	snprintf(w->name, sizeof w->name, "%s", "custom");
	w->n_prompt_tokens = 1;
	w->prompt_tokens[0] = 32;
	w->gen_tokens = 32;
	w->n_threads = 1;
	w->threads[0] = 1;
	w->reps = 3;
	w->warmup = 1;
	w->cooldown_s = 0;
	w->idle_s = 2;
	w->interval_ms = 50;
	w->seed = 42;
	w->stop_rule = false;
	w->stop_rsd_pct = 3.5;
	w->max_reps = 20;
}

void bench_workload_free(struct bench_workload *w)
{
	free(w->prompt_text);
	w->prompt_text = NULL;
}

int bench_workload_set_prompt(struct bench_workload *w, const char *text)
{
	char *copy = NULL;

	if (text) {
		copy = strdup(text);
		if (!copy)
			return -ENOMEM;
	}
	free(w->prompt_text);
	w->prompt_text = copy;
	return 0;
}

void bench_workload_path(const char *arg, char *out, size_t outlen)
{
	size_t n = strlen(arg);

	if (strchr(arg, '/') || (n >= 5 && !strcmp(arg + n - 5, ".json")))
		snprintf(out, outlen, "%s", arg);
	else {
		char rel[300];

		snprintf(rel, sizeof rel, "configs/workloads/%.250s.json", arg);
		if (pwr_data_path(rel, out, outlen) < 0)
			snprintf(out, outlen, "%s", rel);
	}
}

/* ---- errors ------------------------------------------------------------------------------ */

struct perr {
	const char *file;
	char *buf;
	size_t len;
};

/* "FILE: PATH: expected WHAT, got VALUE" */
static int bad(struct perr *e, const char *path, const cJSON *got, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int bad(struct perr *e, const char *path, const cJSON *got, const char *fmt, ...)
{
	char what[256], val[96] = "";
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	if (got) {
		char *s = cJSON_PrintUnformatted(got);

		if (s) {
			if (strlen(s) > 60)
				snprintf(val, sizeof val, ", got %.57s...", s);
			else
				snprintf(val, sizeof val, ", got %s", s);
			free(s);
		}
	}
	snprintf(e->buf, e->len, "%s: %s: %s%s", e->file, path, what, val);
	return -EINVAL;
}

/* ---- typed field readers ------------------------------------------------------------------ */

static bool is_integer(const cJSON *v)
{
	return cJSON_IsNumber(v) && isfinite(v->valuedouble) && v->valuedouble == floor(v->valuedouble);
}

static int get_int(struct perr *e, const cJSON *v, const char *path, long min, long max, int *out)
{
	if (!is_integer(v) || v->valuedouble < (double)min) {
		if (min == 0)
			return bad(e, path, v, "expected a non-negative integer");
		if (min == 1)
			return bad(e, path, v, "expected a positive integer");
		return bad(e, path, v, "expected an integer of at least %ld", min);
	}
	if (v->valuedouble > (double)max)
		return bad(e, path, v, "expected an integer of at most %ld", max);
	*out = (int)v->valuedouble;
	return 0;
}

static int get_num(struct perr *e, const cJSON *v, const char *path, double min, double max,
		   bool min_exclusive, double *out)
{
	if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble < min ||
	    v->valuedouble > max || (min_exclusive && v->valuedouble <= min)) {
		if (min_exclusive)
			return bad(e, path, v, "expected a number greater than %g (at most %g)", min, max);
		return bad(e, path, v, "expected a number from %g to %g", min, max);
	}
	*out = v->valuedouble;
	return 0;
}

static int get_str(struct perr *e, const cJSON *v, const char *path, char *out, size_t outlen,
		   bool nonempty)
{
	if (!cJSON_IsString(v) || (nonempty && !v->valuestring[0]))
		return bad(e, path, v, nonempty ? "expected a non-empty string" : "expected a string");
	if (strlen(v->valuestring) >= outlen)
		return bad(e, path, NULL, "expected a string of at most %zu bytes", outlen - 1);
	snprintf(out, outlen, "%s", v->valuestring);
	return 0;
}

/* An integer or a non-empty array of them (each in [min, max]) into out[0..*n). */
static int get_int_list(struct perr *e, const cJSON *v, const char *path, long min, long max,
			int *out, int *n)
{
	char p[160];
	const cJSON *it;
	int i = 0, rc;

	if (cJSON_IsNumber(v)) {
		rc = get_int(e, v, path, min, max, &out[0]);
		if (rc == 0)
			*n = 1;
		return rc;
	}
	if (!cJSON_IsArray(v))
		return bad(e, path, v, "expected a positive integer or an array of them");
	if (cJSON_GetArraySize(v) == 0)
		return bad(e, path, v, "expected a non-empty array of positive integers");
	if (cJSON_GetArraySize(v) > BENCH_MAX_LIST)
		return bad(e, path, NULL, "expected at most %d values", BENCH_MAX_LIST);
	cJSON_ArrayForEach(it, v) {
		snprintf(p, sizeof p, "%.100s[%d]", path, i);
		rc = get_int(e, it, p, min, max, &out[i]);
		if (rc)
			return rc;
		i++;
	}
	*n = i;
	return 0;
}

static int get_types(struct perr *e, const cJSON *v, const char *path, struct bench_workload *w)
{
	char p[160];
	const cJSON *it;
	int t, i = 0;

	if (cJSON_IsString(v)) {
		if (eng_synth_type_parse(v->valuestring, &t) < 0)
			return bad(e, path, v, "expected a weight type or llama.cpp file type (" ENG_SYNTH_TYPES ")");
		w->types[0] = t;
		w->n_types = 1;
		return 0;
	}
	if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) == 0)
		return bad(e, path, v, "expected a non-empty array of weight types or llama.cpp file types (" ENG_SYNTH_TYPES ")");
	if (cJSON_GetArraySize(v) > BENCH_MAX_LIST)
		return bad(e, path, NULL, "expected at most %d types", BENCH_MAX_LIST);
	cJSON_ArrayForEach(it, v) {
		snprintf(p, sizeof p, "%.100s[%d]", path, i);
		if (!cJSON_IsString(it) || eng_synth_type_parse(it->valuestring, &t) < 0)
			return bad(e, p, it, "expected a weight type or llama.cpp file type (" ENG_SYNTH_TYPES ")");
		w->types[i++] = t;
	}
	w->n_types = i;
	return 0;
}

static int get_probes(struct perr *e, const cJSON *v, const char *path, struct bench_workload *w)
{
	char p[160];
	const cJSON *it;
	int i = 0, rc;

	if (cJSON_IsNull(v)) {
		w->n_probes = 0;
		return 0;
	}
	if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) == 0)
		return bad(e, path, v,
			   "expected null (automatic) or a non-empty array of \"backend\" or "
			   "\"backend:domain\" strings");
	if (cJSON_GetArraySize(v) > BENCH_MAX_PROBES)
		return bad(e, path, NULL, "expected at most %d probes", BENCH_MAX_PROBES);
	cJSON_ArrayForEach(it, v) {
		snprintf(p, sizeof p, "%.100s[%d]", path, i);
		rc = get_str(e, it, p, w->probes[i], sizeof w->probes[i], true);
		if (rc)
			return rc;
		i++;
	}
	w->n_probes = i;
	return 0;
}

static int get_stop_rule(struct perr *e, const cJSON *v, struct bench_workload *w)
{
	const cJSON *it;
	char p[160];
	int rc;

	if (cJSON_IsNull(v) || cJSON_IsFalse(v)) {
		w->stop_rule = false;
		return 0;
	}
	if (!cJSON_IsObject(v))
		return bad(e, ".stop_rule", v, "expected null or an object {\"rsd_pct\", \"max_reps\"}");
	w->stop_rule = true;
	cJSON_ArrayForEach(it, v) {
		snprintf(p, sizeof p, ".stop_rule.%.100s", it->string);
		if (!strcmp(it->string, "rsd_pct"))
			rc = get_num(e, it, p, 0, 100, true, &w->stop_rsd_pct);
		else if (!strcmp(it->string, "max_reps"))
			rc = get_int(e, it, p, 1, 100000, &w->max_reps);
		else
			rc = bad(e, p, NULL, "unknown field (expected rsd_pct or max_reps)");
		if (rc)
			return rc;
	}
	return 0;
}

static const char *const known_fields =
	"name, description, model, vocab, prompt_tokens, prompt, gen_tokens, threads, types, reps, "
	"warmup, cooldown_s, idle_s, interval_ms, probes, seed, tdp_w, stop_rule";

static int parse_field(struct perr *e, const cJSON *it, struct bench_workload *w)
{
	const char *k = it->string;
	char path[96];
	int rc;

	snprintf(path, sizeof path, ".%.80s", k);
	if (!strcmp(k, "name"))
		return get_str(e, it, path, w->name, sizeof w->name, true);
	if (!strcmp(k, "description"))
		return get_str(e, it, path, w->description, sizeof w->description, false);
	if (!strcmp(k, "model"))
		return get_str(e, it, path, w->model, sizeof w->model, true);
	if (!strcmp(k, "vocab")) {
		if (cJSON_IsNull(it)) {
			w->vocab[0] = '\0';
			return 0;
		}
		return get_str(e, it, path, w->vocab, sizeof w->vocab, true);
	}
	if (!strcmp(k, "prompt_tokens"))
		return get_int_list(e, it, path, 1, 1 << 20, w->prompt_tokens, &w->n_prompt_tokens);
	if (!strcmp(k, "prompt")) {
		if (cJSON_IsNull(it))
			return bench_workload_set_prompt(w, NULL);
		if (!cJSON_IsString(it) || !it->valuestring[0])
			return bad(e, path, it, "expected a non-empty string (or null)");
		rc = bench_workload_set_prompt(w, it->valuestring);
		return rc ? bad(e, path, NULL, "out of memory") : 0;
	}
	if (!strcmp(k, "gen_tokens"))
		return get_int(e, it, path, 2, 1 << 20, &w->gen_tokens);
	if (!strcmp(k, "threads"))
		return get_int_list(e, it, path, 1, 512, w->threads, &w->n_threads);
	if (!strcmp(k, "types"))
		return get_types(e, it, path, w);
	if (!strcmp(k, "reps"))
		return get_int(e, it, path, 1, 100000, &w->reps);
	if (!strcmp(k, "warmup"))
		return get_int(e, it, path, 0, 1000000, &w->warmup);
	if (!strcmp(k, "cooldown_s"))
		return get_num(e, it, path, 0, 86400, false, &w->cooldown_s);
	if (!strcmp(k, "idle_s"))
		return get_num(e, it, path, 0, 86400, false, &w->idle_s);
	if (!strcmp(k, "interval_ms"))
		return get_int(e, it, path, 1, 60000, &w->interval_ms);
	if (!strcmp(k, "probes"))
		return get_probes(e, it, path, w);
	if (!strcmp(k, "seed")) {
		if (!is_integer(it) || it->valuedouble < 0 || it->valuedouble > 9007199254740992.0)
			return bad(e, path, it, "expected a non-negative integer");
		w->seed = (uint64_t)it->valuedouble;
		return 0;
	}
	if (!strcmp(k, "stop_rule"))
		return get_stop_rule(e, it, w);
	if (!strcmp(k, "tdp_w")) {
		if (cJSON_IsNull(it)) {
			w->tdp_w = 0;
			return 0;
		}
		return get_num(e, it, path, 0, 10000, true, &w->tdp_w);
	}
	return bad(e, path, NULL, "unknown field (known: %s)", known_fields);
}

/* Line and column (1-based) of byte offset off in text. */
static void line_col(const char *text, size_t off, int *line, int *col)
{
	*line = 1;
	*col = 1;
	for (size_t i = 0; i < off && text[i]; i++) {
		if (text[i] == '\n') {
			(*line)++;
			*col = 1;
		} else {
			(*col)++;
		}
	}
}

int bench_workload_parse(const char *file, const char *text, struct bench_workload *w, char *err,
			 size_t errlen)
{
	struct perr e = { file, err, errlen };
	const char *end = NULL;
	cJSON *root = NULL;
	const cJSON *it;
	bool has_name = false;
	int rc = 0;

	bench_workload_init(w);
	snprintf(w->file, sizeof w->file, "%s", file);
	root = cJSON_ParseWithOpts(text, &end, true);
	if (!root) {
		int line, col;
		size_t off = end ? (size_t)(end - text) : 0;

		line_col(text, off, &line, &col);
		snprintf(err, errlen, "%s:%d:%d: invalid JSON near '%.20s'", file, line, col,
			 end && *end ? end : "(end of file)");
		return -EINVAL;
	}
	if (!cJSON_IsObject(root)) {
		rc = bad(&e, ".", root, "expected an object");
		goto out;
	}
	cJSON_ArrayForEach(it, root) {
		rc = parse_field(&e, it, w);
		if (rc)
			goto out;
		if (!strcmp(it->string, "name"))
			has_name = true;
	}
	if (w->prompt_text && cJSON_GetObjectItemCaseSensitive(root, "prompt_tokens") &&
	    cJSON_IsString(cJSON_GetObjectItemCaseSensitive(root, "prompt"))) {
		rc = bad(&e, ".prompt", NULL, "expected either prompt or prompt_tokens, not both");
		goto out;
	}
	if (w->prompt_text)
		w->n_prompt_tokens = 0;
	if (!has_name) {
		/* the file name without directory and ".json" */
		const char *b = strrchr(file, '/');
		size_t n;

		b = b ? b + 1 : file;
		n = strlen(b);
		if (n > 5 && !strcmp(b + n - 5, ".json"))
			n -= 5;
		snprintf(w->name, sizeof w->name, "%.*s", (int)(n < sizeof w->name ? n : sizeof w->name - 1), b);
	}
out:
	cJSON_Delete(root);
	return rc;
}

int bench_workload_load(const char *path, struct bench_workload *w, char *err, size_t errlen)
{
	FILE *f = NULL;
	char *text = NULL;
	struct stat st;
	long n;
	int rc = 0;

	bench_workload_init(w);
	f = fopen(path, "rb");
	if (!f) {
		rc = -errno;
		snprintf(err, errlen, "%s: cannot read workload: %s", path, strerror(errno));
		return rc;
	}
	if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
		rc = -EISDIR;
		snprintf(err, errlen, "%s: cannot read workload: is a directory", path);
		goto out;
	}
	if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
		rc = -EIO;
		snprintf(err, errlen, "%s: cannot read workload: not a regular file", path);
		goto out;
	}
	if (n > (16 << 20)) {
		rc = -EFBIG;
		snprintf(err, errlen, "%s: workload file is larger than 16 MiB", path);
		goto out;
	}
	text = malloc((size_t)n + 1);
	if (!text) {
		rc = -ENOMEM;
		snprintf(err, errlen, "%s: out of memory", path);
		goto out;
	}
	if (fread(text, 1, (size_t)n, f) != (size_t)n) {
		rc = -EIO;
		snprintf(err, errlen, "%s: read error", path);
		goto out;
	}
	text[n] = '\0';
	rc = bench_workload_parse(path, text, w, err, errlen);
out:
	free(text);
	if (f)
		fclose(f);
	return rc;
}

int bench_workload_check(const struct bench_workload *w, char *err, size_t errlen)
{
	const char *src = w->file[0] ? w->file : "workload";

	if (!w->model[0]) {
		snprintf(err, errlen, "%s: no model: set \"model\" in the workload or pass --model", src);
		return -EINVAL;
	}
	if (!w->prompt_text && w->n_prompt_tokens < 1) {
		snprintf(err, errlen, "%s: no prompt: set prompt_tokens or prompt", src);
		return -EINVAL;
	}
	if (w->gen_tokens < 2) {
		snprintf(err, errlen, "%s: .gen_tokens: expected at least 2 (the first token comes from "
				      "prefill, decode needs one more), got %d",
			 src, w->gen_tokens);
		return -EINVAL;
	}
	if (w->n_threads < 1) {
		snprintf(err, errlen, "%s: .threads: expected at least one thread count", src);
		return -EINVAL;
	}
	if (w->stop_rule && w->max_reps < w->reps) {
		snprintf(err, errlen, "%s: .stop_rule.max_reps: expected at least reps (%d), got %d", src,
			 w->reps, w->max_reps);
		return -EINVAL;
	}
	if (w->n_types > 1 && strncmp(w->model, "synth:", 6) != 0) {
		snprintf(err, errlen,
			 "%s: .types: a type sweep needs a synthetic model (synth:SHAPE); '%s' is a file "
			 "with one weight type",
			 src, w->model);
		return -EINVAL;
	}
	if (w->n_types == 0 && !strncmp(w->model, "synth:", 6) && !strchr(w->model + 6, ':')) {
		snprintf(err, errlen,
			 "%s: .model: '%s' names no weight type: write synth:SHAPE:TYPE (e.g. %s:q4_0) "
			 "or give .types (--type)",
			 src, w->model, w->model);
		return -EINVAL;
	}
	return 0;
}

static cJSON *add_array(cJSON *parent, const char *key)
{
	cJSON *a = cJSON_CreateArray();

	cJSON_AddItemToObject(parent, key, a);
	return a;
}

cJSON *bench_workload_json(const struct bench_workload *w)
{
	cJSON *o = cJSON_CreateObject(), *a;

	if (!o)
		return NULL;
	cJSON_AddStringToObject(o, "name", w->name);
	if (w->file[0])
		cJSON_AddStringToObject(o, "file", w->file);
	else
		cJSON_AddNullToObject(o, "file");
	cJSON_AddStringToObject(o, "model", w->model);
	if (w->vocab[0])
		cJSON_AddStringToObject(o, "vocab", w->vocab);
	else
		cJSON_AddNullToObject(o, "vocab");
	a = add_array(o, "prompt_tokens");
	for (int i = 0; i < w->n_prompt_tokens; i++)
		cJSON_AddItemToArray(a, cJSON_CreateNumber(w->prompt_tokens[i]));
	if (w->prompt_text)
		cJSON_AddStringToObject(o, "prompt_text", w->prompt_text);
	else
		cJSON_AddNullToObject(o, "prompt_text");
	cJSON_AddNumberToObject(o, "gen_tokens", w->gen_tokens);
	a = add_array(o, "threads");
	for (int i = 0; i < w->n_threads; i++)
		cJSON_AddItemToArray(a, cJSON_CreateNumber(w->threads[i]));
	a = add_array(o, "types");
	for (int i = 0; i < w->n_types; i++)
		cJSON_AddItemToArray(a, cJSON_CreateString(eng_synth_type_name(w->types[i])));
	cJSON_AddNumberToObject(o, "reps", w->reps);
	cJSON_AddNumberToObject(o, "warmup", w->warmup);
	cJSON_AddNumberToObject(o, "cooldown_s", w->cooldown_s);
	cJSON_AddNumberToObject(o, "idle_s", w->idle_s);
	cJSON_AddNumberToObject(o, "interval_ms", w->interval_ms);
	if (w->n_probes) {
		a = add_array(o, "probes");
		for (int i = 0; i < w->n_probes; i++)
			cJSON_AddItemToArray(a, cJSON_CreateString(w->probes[i]));
	} else {
		cJSON_AddNullToObject(o, "probes");
	}
	cJSON_AddNumberToObject(o, "seed", (double)w->seed);
	if (w->tdp_w > 0)
		cJSON_AddNumberToObject(o, "tdp_w", w->tdp_w);
	else
		cJSON_AddNullToObject(o, "tdp_w");
	if (w->stop_rule) {
		cJSON *s = cJSON_CreateObject();

		cJSON_AddItemToObject(o, "stop_rule", s);
		cJSON_AddNumberToObject(s, "rsd_pct", w->stop_rsd_pct);
		cJSON_AddNumberToObject(s, "max_reps", w->max_reps);
	} else {
		cJSON_AddNullToObject(o, "stop_rule");
	}
	return o;
}

void bench_workload_prompt_ids(uint64_t seed, int n, int vocab_size, int32_t bos, int32_t *out)
{
	struct rpt_rng rng;

	rpt_rng_seed(&rng, seed ^ 0x70726f6d7074ULL);
	for (int i = 0; i < n; i++)
		out[i] = (int32_t)rpt_rng_below(&rng, (uint64_t)vocab_size);
	if (bos >= 0 && n > 0)
		out[0] = bos;
}
