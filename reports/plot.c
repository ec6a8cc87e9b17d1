/*
 * reports/plot.c — gnuplot data files from results, rendered with the versioned scripts in
 * scripts/plot-*.gp (`gnuplot -c SCRIPT DAT OUTBASE TITLE ...`), PNG and SVG each.
 *
 * The .dat files stay next to the images so a plot can be re-rendered or restyled by hand.
 * A missing gnuplot is reported once by the caller; the data files are still written.
 */
#include "reports/reports.h"
#include "reports/rpt_json.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

const char *rpt_gnuplot_path(void)
{
	const char *p = getenv("JOULEBENCH_GNUPLOT");

	return p && *p ? p : "gnuplot";
}

/* Runs argv with stdout/stderr appended to log_path (or /dev/null); returns the exit status,
 * 127 when it could not be executed, or -1 when fork failed. */
static int run_logged(char *const argv[], const char *log_path)
{
	pid_t pid;
	int status = 0;

	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		int fd =
		    open(log_path ? log_path : "/dev/null", O_WRONLY | O_CREAT | O_APPEND, 0644);
		int in = open("/dev/null", O_RDONLY);

		if (in >= 0)
			dup2(in, 0);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execvp(argv[0], argv);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

bool rpt_gnuplot_available(char *why, size_t why_len)
{
	char *argv[] = {(char *)rpt_gnuplot_path(), "--version", NULL};
	int rc = run_logged(argv, NULL);

	if (rc == 0)
		return true;
	if (why)
		snprintf(why, why_len, "gnuplot not available ('%s' %s); plots skipped",
		         rpt_gnuplot_path(),
		         rc == 127 ? "not found: install gnuplot or set JOULEBENCH_GNUPLOT"
		                   : "--version failed");
	return false;
}

static char gp_log[1024];

int rpt_gnuplot_run(const char *script, const char *const *args, char *err, size_t errlen)
{
	char *argv[16];
	int n = 0, rc;

	argv[n++] = (char *)rpt_gnuplot_path();
	argv[n++] = "-c";
	argv[n++] = (char *)script;
	for (int i = 0; args && args[i] && n < 15; i++)
		argv[n++] = (char *)args[i];
	argv[n] = NULL;
	rc = run_logged(argv, gp_log[0] ? gp_log : NULL);
	if (rc != 0) {
		snprintf(err, errlen, "gnuplot -c %s failed (exit %d)%s%s", script, rc,
		         gp_log[0] ? "; messages in " : "", gp_log[0] ? gp_log : "");
		return -EIO;
	}
	return 0;
}

/* ---- data files ------------------------------------------------------------------------- */

static FILE *open_dat(const char *dir, const char *name, char *path, size_t len)
{
	snprintf(path, len, "%s/%s.dat", dir, name);
	return fopen(path, "w");
}

static void dat_label(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++)
		if (*s != '"' && *s != '\n')
			fputc(*s, f);
	fputc('"', f);
}

/* A result's name for plot labels: "claim-7b" for claim-7b/result.json, else the file name. */
static const char *short_label(const char *path)
{
	static char buf[4][128];
	static int k;
	const char *l = rj_label(path);
	size_t n = strlen(l);
	char *b = buf[k++ & 3];

	if (n > 12 && !strcmp(l + n - 12, "/result.json"))
		n -= 12;
	snprintf(b, sizeof buf[0], "%.*s", (int)(n < 127 ? n : 127), l);
	return b;
}

static const char *source_kind(const struct rpt_result *r, const char *id)
{
	const struct rpt_source *s = rpt_find_source(r, id);

	return s ? s->kind : "";
}

static int phase_code(const char *phase)
{
	if (!strcmp(phase, "prefill"))
		return 1;
	if (!strcmp(phase, "decode"))
		return 2;
	if (!strcmp(phase, "warmup"))
		return 3;
	if (!strncmp(phase, "idle", 4))
		return 4;
	if (!strcmp(phase, "cooldown"))
		return 5;
	return 0;
}

/* Adds the digit `code` (0..9) to the set of digits `codes` (at most 7 and a NUL). */
static void add_code(char codes[8], int code)
{
	size_t n = strlen(codes);

	if (code < 0 || code > 9 || strchr(codes, '0' + code) || n >= 7)
		return;
	codes[n] = (char)('0' + code);
	codes[n + 1] = '\0';
}

/* Power timeline: W between successive cumulative-energy samples of one source, and phases. */
static int dat_power(const struct rpt_result *r, const char *dir, const char *name, char *src,
                     size_t src_len, bool *estimated, bool *have_phases, char codes[8])
{
	const cJSON *samples = cJSON_GetObjectItemCaseSensitive(r->json, "samples");
	const cJSON *s = NULL, *t, *e, *ph, *it, *elo, *ehi;
	char path[1200];
	FILE *f;
	double t0;
	int n, rows = 0;

	if (r->primary_source[0])
		s = cJSON_GetObjectItemCaseSensitive(samples, r->primary_source);
	if (!cJSON_IsObject(s))
		s = cJSON_IsObject(samples) ? samples->child : NULL;
	if (!cJSON_IsObject(s))
		return 0;
	t = cJSON_GetObjectItemCaseSensitive(s, "t_ns");
	e = cJSON_GetObjectItemCaseSensitive(s, "energy_j");
	n = cJSON_GetArraySize(t);
	if (n < 2 || cJSON_GetArraySize(e) != n)
		return 0;
	snprintf(src, src_len, "%s", s->string);
	*estimated = !strcmp(source_kind(r, s->string), "estimated");
	f = open_dat(dir, name, path, sizeof path);
	if (!f)
		return -errno;
	{
		/* an estimate with bound sources "<src>-low"/"-high", sampled in the same rounds:
		 * their power goes in columns 3 and 4 (the range band) */
		char lo_id[96], hi_id[96];

		snprintf(lo_id, sizeof lo_id, "%.80s-low", src);
		snprintf(hi_id, sizeof hi_id, "%.80s-high", src);
		elo = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(samples, lo_id), "energy_j");
		ehi = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(samples, hi_id), "energy_j");
		if (!*estimated || cJSON_GetArraySize(elo) != n || cJSON_GetArraySize(ehi) != n)
			elo = ehi = NULL;
	}
	t0 = cJSON_GetArrayItem(t, 0)->valuedouble;
	fprintf(f, "# %s: power from cumulative energy of source %s\n# t_s power_w%s\n", r->path,
	        src, elo ? " low_w high_w (the estimate's low/high coefficients)" : "");
	for (int i = 1; i < n; i++) {
		double ta = cJSON_GetArrayItem(t, i - 1)->valuedouble;
		double tb = cJSON_GetArrayItem(t, i)->valuedouble;
		double ea = cJSON_GetArrayItem(e, i - 1)->valuedouble;
		double eb = cJSON_GetArrayItem(e, i)->valuedouble;

		if (tb <= ta)
			continue;
		fprintf(f, "%.6f %.6g", (ta - t0) / 1e9, (eb - ea) / ((tb - ta) / 1e9));
		if (elo)
			fprintf(f, " %.6g %.6g",
			        (cJSON_GetArrayItem(elo, i)->valuedouble - cJSON_GetArrayItem(elo, i - 1)->valuedouble) /
			            ((tb - ta) / 1e9),
			        (cJSON_GetArrayItem(ehi, i)->valuedouble - cJSON_GetArrayItem(ehi, i - 1)->valuedouble) /
			            ((tb - ta) / 1e9));
		fputc('\n', f);
		rows++;
	}
	fclose(f);
	if (rows == 0)
		return 0;
	ph = cJSON_GetObjectItemCaseSensitive(r->json, "phases");
	*have_phases = false;
	codes[0] = '\0';
	if (cJSON_GetArraySize(ph) > 0) {
		char pname[128];

		snprintf(pname, sizeof pname, "%s-phases", name);
		f = open_dat(dir, pname, path, sizeof path);
		if (!f)
			return -errno;
		fprintf(f, "# t0_s t1_s code name\n");
		cJSON_ArrayForEach(it, ph)
		{
			double a, b;
			char phase[32];

			rj_str(it, "phase", phase, sizeof phase);
			if (!rj_num(it, "t_start_ns", &a) || !rj_num(it, "t_end_ns", &b) ||
			    !phase_code(phase))
				continue;
			fprintf(f, "%.6f %.6f %d \"%s\"\n", (a - t0) / 1e9, (b - t0) / 1e9,
			        phase_code(phase), phase);
			*have_phases = true;
			add_code(codes, phase_code(phase));
		}
		fclose(f);
	}
	return 1;
}

/* One cloud profile's J/token estimate for a result. */
struct cloud_row {
	char label[96];
	struct rpt_range jpt; /* central value and its low/high */
	bool same_model;      /* a same-model estimate (else a published per-prompt figure) */
};

/*
 * The cloud-equivalent J/token of every profile in cloud_dir that gives one for result r (its
 * parameter count, the answer length of its headline configuration): the rows the J/token-vs-
 * cloud plot draws as bars and the concurrency sweep as bands. Returns the count (*out malloc'd,
 * the caller frees it; 0 when none applies), or a negative errno when the profiles cannot be
 * read.
 */
static int cloud_rows(const struct rpt_result *r, const char *cloud_dir, struct cloud_row **out)
{
	struct rpt_cloud_profile *ps = NULL;
	struct rj_local l;
	char err[RPT_ERR_LEN];
	int np = rpt_cloud_profiles_load(cloud_dir, &ps, err, sizeof err), n = 0;

	*out = NULL;
	if (np <= 0) {
		free(ps);
		return np;
	}
	*out = calloc((size_t)np, sizeof **out);
	if (!*out) {
		free(ps);
		return -ENOMEM;
	}
	rj_local(r, &l);
	for (int i = 0; i < np; i++) {
		struct rpt_cloud_estimate e;
		struct rpt_cloud_query q = {.n_params = r->n_params.ok ? r->n_params.v : 0,
		                            .gen_tokens =
		                                l.cfg ? l.cfg->gen_tokens : r->gen_tokens};
		struct cloud_row *c = &(*out)[n];

		if (rpt_cloud_estimate(&ps[i], &q, &e, err, sizeof err))
			continue;
		snprintf(c->label, sizeof c->label, "%s%s", ps[i].name,
		         ps[i].superseded ? " (superseded)" : "");
		c->jpt = e.j_per_token;
		c->same_model = ps[i].same_model;
		n++;
	}
	free(ps);
	return n;
}

/* J/token local vs every cloud profile. */
static int dat_cloud(const struct rpt_result *r, const char *dir, const char *cloud_dir,
                     const char *name, bool *estimated, bool *has_local, char kinds[8])
{
	struct cloud_row *cr = NULL;
	struct rj_local l;
	char path[1200];
	int nc = cloud_rows(r, cloud_dir, &cr), idx = 0;
	FILE *f;

	if (nc < 0)
		return 0; /* no profiles: no plot */
	rj_local(r, &l);
	f = open_dat(dir, name, path, sizeof path);
	if (!f) {
		free(cr);
		return -errno;
	}
	fprintf(f, "# %s: J/token local vs cloud-equivalent\n# idx label j low high kind\n",
	        r->path);
	*estimated = l.ok && l.estimated;
	*has_local = l.ok;
	kinds[0] = '\0';
	if (l.ok) {
		fprintf(f, "%d ", idx++);
		dat_label(f, l.estimated ? "local (ESTIMATED)" : "local (measured)");
		fprintf(f, " %.6g %.6g %.6g %d\n", l.jpt.v, l.jpt.low, l.jpt.high,
		        l.estimated ? 1 : 0);
		add_code(kinds, l.estimated ? 1 : 0);
	}
	for (int i = 0; i < nc; i++) {
		fprintf(f, "%d ", idx++);
		dat_label(f, cr[i].label);
		fprintf(f, " %.6g %.6g %.6g %d\n", cr[i].jpt.v, cr[i].jpt.low, cr[i].jpt.high,
		        cr[i].same_model ? 2 : 3);
		add_code(kinds, cr[i].same_model ? 2 : 3);
	}
	fclose(f);
	free(cr);
	return idx > 0;
}

static void dat_stat(FILE *f, const struct rpt_stat *s)
{
	if (s->ok)
		fprintf(f, " %.6g %.6g %.6g", s->median, s->ci_low, s->ci_high);
	else
		fprintf(f, " ? ? ?");
}

/* The settings a sweep can vary; the other two are held at the headline configuration's. */
enum sweep_axis { SWEEP_THREADS, SWEEP_TYPE, SWEEP_PROMPT, SWEEP_CONCURRENCY };

static bool same_but(const struct rpt_config *a, const struct rpt_config *b, enum sweep_axis ax)
{
	return (ax == SWEEP_THREADS || a->threads == b->threads) &&
	       (ax == SWEEP_TYPE || !strcmp(a->type, b->type)) &&
	       (ax == SWEEP_PROMPT || a->prompt_tokens == b->prompt_tokens);
}

static int sweep_value(const struct rpt_config *c, enum sweep_axis ax)
{
	return ax == SWEEP_THREADS       ? c->threads
	       : ax == SWEEP_PROMPT      ? c->prompt_tokens
	       : ax == SWEEP_CONCURRENCY ? c->concurrency
	                                 : 0;
}

/* Bits per weight of a type name (ggml's block sizes), to order a type sweep widest first;
 * 0 for a name not listed (those sort last, by name). */
static double type_bits(const char *type)
{
	static const struct {
		const char *name;
		double bits;
	} w[] = {{"f32", 32},   {"f16", 16},    {"bf16", 16},  {"q8_0", 8.5}, {"q6_k", 6.5625},
	         {"q5_1", 6},   {"q5_k", 5.5},  {"q5_0", 5.5}, {"q4_1", 5},   {"q4_k", 4.5},
	         {"q4_0", 4.5}, {"q3_k", 3.4375}, {"q2_k", 2.625}};

	for (size_t i = 0; i < sizeof w / sizeof w[0]; i++)
		if (!strncmp(type, w[i].name, strlen(w[i].name)))
			return w[i].bits;
	return 0;
}

static enum sweep_axis sort_axis;

static int cmp_sweep(const void *a, const void *b)
{
	const struct rpt_config *x = *(const struct rpt_config *const *)a;
	const struct rpt_config *y = *(const struct rpt_config *const *)b;

	if (sort_axis == SWEEP_TYPE) {
		double wx = type_bits(x->type), wy = type_bits(y->type);

		return wx != wy ? (wx < wy) - (wx > wy) : strcmp(x->type, y->type);
	}
	return sweep_value(x, sort_axis) - sweep_value(y, sort_axis);
}

/* tokens/s and J/token against one setting, the others held at the headline config's: decode
 * figures for threads and types, prefill figures (J per prompt token) for prompt lengths.
 * Returns 1 when at least two values of the setting were measured, 0 when there is no sweep. */
static int dat_sweep(const struct rpt_result *r, enum sweep_axis ax, const char *dir,
                     const char *name, const char *cloud_dir, bool *estimated, bool *has_energy)
{
	const struct rpt_config *head = rpt_headline_config(r), **cs;
	char path[1200];
	int n = 0;
	FILE *f;

	if (!head)
		return 0;
	cs = calloc((size_t)r->n_configs, sizeof *cs);
	if (!cs)
		return -ENOMEM;
	for (int i = 0; i < r->n_configs; i++)
		if (same_but(&r->configs[i], head, ax) &&
		    (r->configs[i].concurrency > 0) == (ax == SWEEP_CONCURRENCY))
			cs[n++] = &r->configs[i];
	if (n < 2) {
		free(cs);
		return 0;
	}
	sort_axis = ax;
	qsort(cs, (size_t)n, sizeof *cs, cmp_sweep);
	f = open_dat(dir, name, path, sizeof path);
	if (!f) {
		free(cs);
		return -errno;
	}
	*estimated = false;
	*has_energy = false;
	fprintf(f,
	        "# %s: %s sweep at type %s, %d threads, %d prompt tokens\n"
	        "# x label tok_s low high j_per_token low high\n",
	        r->path,
	        ax == SWEEP_THREADS  ? "threads"
	        : ax == SWEEP_TYPE   ? "type"
	        : ax == SWEEP_PROMPT ? "prompt"
	                             : "concurrency",
	        head->type, head->threads, head->prompt_tokens);
	for (int i = 0; i < n; i++) {
		const struct rpt_stat *tok =
		    ax == SWEEP_PROMPT ? &cs[i]->prefill_tok_s : &cs[i]->decode_tok_s;
		struct rpt_stat j = ax == SWEEP_PROMPT ? cs[i]->prefill_jpt_gross
		                                       : cs[i]->decode_jpt_gross;
		const struct rpt_range_pair *est =
		    ax == SWEEP_PROMPT ? &cs[i]->est_prefill_jpt_gross : &cs[i]->est_decode_jpt_gross;
		char label[32];

		/* an estimate: the error bar spans its CI and its low/high coefficients */
		if (est->ok && j.ok) {
			if (est->lo < j.ci_low)
				j.ci_low = est->lo;
			if (est->hi > j.ci_high)
				j.ci_high = est->hi;
		}
		if (ax == SWEEP_TYPE)
			snprintf(label, sizeof label, "%s", cs[i]->type);
		else
			snprintf(label, sizeof label, "%d", sweep_value(cs[i], ax));
		fprintf(f, "%d ", ax == SWEEP_TYPE ? i : sweep_value(cs[i], ax));
		dat_label(f, label);
		dat_stat(f, tok);
		dat_stat(f, &j);
		fputc('\n', f);
		if (!strcmp(cs[i]->energy_kind, "estimated"))
			*estimated = true;
		*has_energy |= j.ok;
	}
	if (ax == SWEEP_CONCURRENCY && cloud_dir) {
		/* a second data block: each cloud profile's J/token as a band (low..high) across the
		 * concurrency range, so each level's J/token reads against the cloud's */
		struct cloud_row *cr = NULL;
		int nc = cloud_rows(r, cloud_dir, &cr), xlo = sweep_value(cs[0], ax),
		    xhi = sweep_value(cs[n - 1], ax), k = 0;

		for (int i = 0; i < nc; i++) {
			if (!(cr[i].jpt.low > 0) || !(cr[i].jpt.high >= cr[i].jpt.low))
				continue;
			if (k++ == 0)
				fprintf(f, "\n\n# cloud-equivalent J/token of the profiles in %s, as bands "
				           "across the levels\n# x_mid j low_x high_x j_low j_high label\n",
				        cloud_dir);
			fprintf(f, "%.6g %.6g %d %d %.6g %.6g ", sqrt((double)xlo * xhi), cr[i].jpt.v,
			        xlo, xhi, cr[i].jpt.low, cr[i].jpt.high);
			dat_label(f, cr[i].label);
			fputc('\n', f);
		}
		free(cr);
	}
	fclose(f);
	free(cs);
	return 1;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Inter-token latency CDF of each result's headline config. */
static int dat_latency(struct rpt_result *const *rs, int n, const char *dir, const char *name)
{
	char path[1200];
	int blocks = 0;
	FILE *f = open_dat(dir, name, path, sizeof path);

	if (!f)
		return -errno;
	for (int i = 0; i < n; i++) {
		const struct rpt_config *c;
		const cJSON *cfgs, *cfg = NULL, *rep, *v;
		double *ms = NULL;
		int m = 0, cap = 0;

		if (strcmp(rs[i]->kind, "run") || !(c = rpt_headline_config(rs[i])))
			continue;
		cfgs = cJSON_GetObjectItemCaseSensitive(rs[i]->json, "configs");
		cfg = cJSON_GetArrayItem(cfgs, (int)(c - rs[i]->configs));
		cJSON_ArrayForEach(rep, cJSON_GetObjectItemCaseSensitive(cfg, "reps"))
		{
			cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(rep, "itl_ns"))
			{
				if (!cJSON_IsNumber(v) || v->valuedouble <= 0)
					continue;
				if (m == cap) {
					double *nm;

					cap = cap ? cap * 2 : 256;
					nm = realloc(ms, (size_t)cap * sizeof *ms);
					if (!nm) {
						free(ms);
						fclose(f);
						return -ENOMEM;
					}
					ms = nm;
				}
				ms[m++] = v->valuedouble / 1e6;
			}
		}
		if (m == 0) {
			free(ms);
			continue;
		}
		qsort(ms, (size_t)m, sizeof *ms, cmp_double);
		if (blocks)
			fprintf(f, "\n\n");
		{
			char label[200];

			snprintf(label, sizeof label, "%.100s %dt %s (p99 %.3g ms)",
			         short_label(rs[i]->path), c->threads, c->type,
			         rpt_percentile(ms, m, 99));
			dat_label(f, label);
			fputc('\n', f);
		}
		for (int k = 0; k < m; k++)
			fprintf(f, "%.6g %.6g\n", ms[k], (double)(k + 1) / m);
		free(ms);
		blocks++;
	}
	fclose(f);
	return blocks > 0;
}

/* One bar pair per result: decode tok/s and tokens/J. */
static int dat_compare(struct rpt_result *const *rs, int n, const char *dir, const char *name,
                       bool *estimated, bool *has_energy, bool *has_measured)
{
	char path[1200];
	int rows = 0;
	FILE *f;

	*estimated = false;
	*has_energy = false;
	*has_measured = false;
	for (int i = 0, runs = 0; i < n; i++)
		if (!strcmp(rs[i]->kind, "run") && ++runs == 2)
			goto ok;
	return 0;
ok:
	f = open_dat(dir, name, path, sizeof path);
	if (!f)
		return -errno;
	fprintf(f, "# idx label tok_s tokens_per_j estimated\n");
	for (int i = 0; i < n; i++) {
		const struct rpt_config *c;
		char label[200];
		bool est;

		if (strcmp(rs[i]->kind, "run") || !(c = rpt_headline_config(rs[i])))
			continue;
		est = !strcmp(c->energy_kind, "estimated");
		*estimated |= est;
		if (est && c->est_tokens_per_j.ok)
			snprintf(label, sizeof label, "%.100s %dt %s (ESTIMATED, %.3g-%.3g tok/J)",
			         short_label(rs[i]->path), c->threads, c->type, c->est_tokens_per_j.lo,
			         c->est_tokens_per_j.hi);
		else
			snprintf(label, sizeof label, "%.100s %dt %s", short_label(rs[i]->path), c->threads,
			         c->type);
		fprintf(f, "%d ", rows++);
		dat_label(f, label);
		if (c->decode_tok_s.ok)
			fprintf(f, " %.6g", c->decode_tok_s.median);
		else
			fprintf(f, " ?");
		*has_energy |= c->tokens_per_j.ok;
		*has_measured |= c->tokens_per_j.ok && !est;
		if (c->tokens_per_j.ok)
			fprintf(f, " %.6g", c->tokens_per_j.median);
		else
			fprintf(f, " ?");
		fprintf(f, " %d\n", est ? 1 : 0);
	}
	fclose(f);
	return rows > 1;
}

/* The memory bandwidth bound for a run config of `r` at `threads`: the membw a kernels result
 * from the same machine (host and CPU) measured at that thread count, else its highest. A
 * bound measured on another machine says nothing about this one: false when there is none. */
static bool run_bound(struct rpt_result *const *rs, int n, const struct rpt_result *r,
                      int threads, double *bw)
{
	for (int i = 0; i < n; i++) {
		char key[16];

		if (strcmp(rs[i]->kind, "kernels") || !rs[i]->membw_gbs.ok ||
		    strcmp(rs[i]->hostname, r->hostname) || strcmp(rs[i]->cpu_model, r->cpu_model))
			continue;
		snprintf(key, sizeof key, "%d", threads);
		if (!rj_num(cJSON_GetObjectItemCaseSensitive(rs[i]->json, "membw"), key, bw))
			*bw = rs[i]->membw_gbs.v;
		return true;
	}
	return false;
}

/* What dat_roofline found: rows written (each with a bound), rows left out for want of one,
 * whether any row has tokens/s, and the figures of the first row in words. */
struct roof_info {
	int rows, unbounded;
	bool has_tok;
	char first[320];
};

static void roof_row(FILE *f, struct roof_info *ri, const char *label, double gbs, double bound,
                     double tok_s, double bound_tok_s)
{
	fprintf(f, "%d ", ri->rows);
	dat_label(f, label);
	fprintf(f, " %.6g %.6g", gbs, bound);
	if (tok_s > 0 && bound_tok_s > 0) {
		fprintf(f, " %.6g %.6g\n", tok_s, bound_tok_s);
		ri->has_tok = true;
	} else {
		fprintf(f, " ? ?\n");
	}
	if (ri->rows++ == 0) {
		int k = snprintf(ri->first, sizeof ri->first,
		                 "%s: %.3g GB/s of a %.3g GB/s bound (%.0f%%)", label, gbs, bound,
		                 100.0 * gbs / bound);

		if (tok_s > 0 && bound_tok_s > 0 && k > 0 && (size_t)k < sizeof ri->first)
			snprintf(ri->first + k, sizeof ri->first - (size_t)k,
			         "; %.3g tokens/s of a bandwidth-bound %.3g", tok_s, bound_tok_s);
	}
}

/* Achieved bandwidth against the bound: decode bytes/token × tok/s per run config, GB/s per
 * kernel; the bound is the membw of a kernels result of the same machine. Rows without a bound
 * are counted in ri->unbounded and not written: a bar without its bound says nothing. */
static int dat_roofline(struct rpt_result *const *rs, int n, const char *dir, const char *name,
                        struct roof_info *ri)
{
	char path[1200];
	FILE *f;

	memset(ri, 0, sizeof *ri);
	f = open_dat(dir, name, path, sizeof path);
	if (!f)
		return -errno;
	fprintf(f, "# idx label achieved_gb_s bound_gb_s tok_s bound_tok_s\n");
	for (int i = 0; i < n; i++) {
		const struct rpt_result *r = rs[i];

		if (!strcmp(r->kind, "run")) {
			for (int k = 0; k < r->n_configs; k++) {
				const struct rpt_config *c = &r->configs[k];
				char label[200];
				double bw, bpt, tok;

				if (!c->decode_bytes_per_token.ok || !c->decode_tok_s.ok)
					continue;
				if (!run_bound(rs, n, r, c->threads, &bw)) {
					ri->unbounded++;
					continue;
				}
				bpt = c->decode_bytes_per_token.v;
				tok = c->decode_tok_s.median;
				snprintf(label, sizeof label, "%.100s %dt %s", short_label(r->path),
				         c->threads, c->type);
				roof_row(f, ri, label, bpt * tok / 1e9, bw, tok,
				         bpt > 0 ? bw * 1e9 / bpt : 0);
			}
		} else {
			const cJSON *it,
			    *membw = cJSON_GetObjectItemCaseSensitive(r->json, "membw");
			bool any_matvec = false;

			/* The bound is a DRAM stream: only the large matvec cases are meaningful
			 * against it (SCHEMA.md), so plot those when there are any. */
			cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(r->json, "kernels"))
			{
				char op[32];

				rj_str(it, "op", op, sizeof op);
				any_matvec |= !strcmp(op, "matvec");
			}
			cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(r->json, "kernels"))
			{
				char kname[64], impl[16], op[32], key[16];
				double gbs, th, bw;

				rj_str(it, "name", kname, sizeof kname);
				rj_str(it, "impl", impl, sizeof impl);
				rj_str(it, "op", op, sizeof op);
				/* the engine's own (simd) kernels; the _ref twins run on one thread
				 */
				if (!rj_num(it, "gbytes_s", &gbs) ||
				    (any_matvec && strcmp(op, "matvec")) || !strcmp(impl, "ref"))
					continue;
				/* the bound for this implementation's thread count when measured */
				snprintf(key, sizeof key, "%d",
				         rj_num(it, "threads", &th) ? (int)th : 1);
				if (!rj_num(membw, key, &bw)) {
					if (!r->membw_gbs.ok) {
						ri->unbounded++;
						continue;
					}
					bw = r->membw_gbs.v;
				}
				roof_row(f, ri, kname, gbs, bw, 0, 0);
			}
		}
	}
	fclose(f);
	return ri->rows + ri->unbounded > 0;
}

/* ---- rendering -------------------------------------------------------------------------- */

/* Runs scripts_dir/script on dir/name.dat → dir/name.png and .svg: arguments DAT OUTBASE TITLE,
 * then est and extra when not NULL (each script's usage line says what they mean). */
static int render(const char *dir, const char *scripts_dir, const char *script, const char *name,
                  const char *title, const char *est, const char *extra, const char *extra2,
                  const char *const *more, struct rpt_plot *p, char *err, size_t errlen)
{
	char sp[1200], dat[1200], out[1200];
	const char *args[12];
	int n = 0;
	struct stat st;

	snprintf(sp, sizeof sp, "%s/%s", scripts_dir, script);
	snprintf(dat, sizeof dat, "%s/%s.dat", dir, name);
	snprintf(out, sizeof out, "%s/%s", dir, name);
	args[n++] = dat;
	args[n++] = out;
	args[n++] = title;
	if (est)
		args[n++] = est;
	if (extra)
		args[n++] = extra;
	if (extra2)
		args[n++] = extra2;
	for (int i = 0; more && more[i] && n < 11; i++)
		args[n++] = more[i];
	args[n] = NULL;
	if (rpt_gnuplot_run(sp, args, err, errlen))
		return -EIO;
	snprintf(out, sizeof out, "%s/%s.png", dir, name);
	if (stat(out, &st) || st.st_size == 0) {
		snprintf(err, errlen, "gnuplot -c %s wrote no image %s", sp, out);
		return -EIO;
	}
	memset(p, 0, sizeof *p);
	snprintf(p->name, sizeof p->name, "%s", name);
	snprintf(p->title, sizeof p->title, "%s", title);
	snprintf(p->png, sizeof p->png, "%s.png", name);
	snprintf(p->svg, sizeof p->svg, "%s.svg", name);
	p->estimated = est && !strcmp(est, "1");
	return 0;
}

static void note_failure(char *skipped, size_t len, const char *err)
{
	size_t used;

	if (!skipped || !len)
		return;
	used = strlen(skipped);
	if (used + 4 < len)
		snprintf(skipped + used, len - used, "%s%s", used ? "; " : "", err);
}

int rpt_plots_write(struct rpt_result *const *rs, int n, const char *dir, const char *scripts_dir,
                    const char *cloud_dir, struct rpt_plot plots[RPT_MAX_PLOTS], char *skipped,
                    size_t skipped_len, char *err, size_t errlen)
{
	bool gp, est = false, phases = false, has_energy = false, has_measured = false;
	int np = 0, rc = 0;
	char title[160], caption[400], src[64];

	scripts_dir = scripts_dir ? scripts_dir : "scripts";
	cloud_dir = cloud_dir ? cloud_dir : "configs/cloud";
	if (mkdir(dir, 0755) && errno != EEXIST) {
		snprintf(err, errlen, "%s: cannot create: %s", dir, strerror(errno));
		return -errno;
	}
	snprintf(gp_log, sizeof gp_log, "%s/gnuplot.log", dir);
	unlink(gp_log); /* messages of this run only */
	gp = rpt_gnuplot_available(skipped, skipped_len);
	if (gp && skipped)
		skipped[0] = '\0';

/* A script that fails is reported in `skipped` and the other plots are still drawn. */
#define RENDER(script, name, ttl, cap, estflag, extra, extra2)                                     \
	do {                                                                                       \
		if (np < RPT_MAX_PLOTS && gp) {                                                    \
			if (render(dir, scripts_dir, script, name, ttl, estflag, extra, extra2,    \
			           NULL, &plots[np], err, errlen) == 0) {                          \
				snprintf(plots[np].caption, sizeof plots[np].caption, "%s", cap);  \
				np++;                                                              \
			} else {                                                                   \
				note_failure(skipped, skipped_len, err);                           \
			}                                                                          \
		}                                                                                  \
	} while (0)

/* A sweep plot: plot-sweep.gp DAT OUT TITLE EST HAS_ENERGY XLABEL PHASE CATEGORICAL LOGX. */
#define RENDER_SWEEP(name, ttl, cap, estb, energyb, xlabel, phase, categorical, logx)              \
	do {                                                                                       \
		const char *more_[] = {xlabel, phase, (categorical) ? "1" : "0", logx ? "1" : "0",  \
		                       NULL};                                                      \
		if (np < RPT_MAX_PLOTS && gp) {                                                    \
			if (render(dir, scripts_dir, "plot-sweep.gp", name, ttl, (estb) ? "1" : "0", \
			           (energyb) ? "1" : "0", NULL, more_, &plots[np], err,             \
			           errlen) == 0) {                                                 \
				snprintf(plots[np].caption, sizeof plots[np].caption, "%s", cap);  \
				np++;                                                              \
			} else {                                                                   \
				note_failure(skipped, skipped_len, err);                           \
			}                                                                          \
		}                                                                                  \
	} while (0)

	for (int i = 0, k = 0; i < n && k < 3; i++) {
		char name[48], pname[1200], codes[8];

		if (strcmp(rs[i]->kind, "run"))
			continue;
		snprintf(name, sizeof name, "power-timeline-%d", k);
		rc = dat_power(rs[i], dir, name, src, sizeof src, &est, &phases, codes);
		if (rc < 0)
			goto fail_dat;
		if (rc == 0)
			continue;
		k++;
		snprintf(title, sizeof title, "Power over time (%s%s)", src,
		         est ? ", ESTIMATED" : ", measured");
		snprintf(caption, sizeof caption,
		         "%.120s: power between successive energy samples of %s, with the "
		         "benchmark phases shaded.",
		         rj_label(rs[i]->path), src);
		snprintf(pname, sizeof pname, "%s/%s-phases.dat", dir, name);
		RENDER("plot-power-timeline.gp", name, title, caption, est ? "1" : "0",
		       phases ? pname : NULL, phases ? codes : NULL);
	}
	{
		/* the first result with local energy; without any, the largest model */
		const struct rpt_result *pick = NULL;

		for (int i = 0; i < n; i++) {
			struct rj_local l;

			if (strcmp(rs[i]->kind, "run"))
				continue;
			rj_local(rs[i], &l);
			if (l.ok) {
				pick = rs[i];
				break;
			}
			if (!pick || (rs[i]->n_params.ok &&
			              (!pick->n_params.ok || rs[i]->n_params.v > pick->n_params.v)))
				pick = rs[i];
		}
		if (pick) {
			bool local = false;
			char kinds[8];

			rc = dat_cloud(pick, dir, cloud_dir, "jpt-cloud", &est, &local, kinds);
			if (rc < 0)
				goto fail_dat;
			if (rc > 0) {
				snprintf(title, sizeof title, "J per token: %s",
				         !local ? "cloud-equivalent estimates (no local figure)"
				         : est  ? "local (ESTIMATED) vs cloud-equivalent"
				                : "local vs cloud-equivalent");
				snprintf(caption, sizeof caption,
				         "%.120s against the cloud profiles in %.80s; error bars are the "
				         "95%% CI (local) and the low-high range (cloud).%s",
				         rj_label(pick->path), cloud_dir,
				         local ? ""
				               : " The result has no local energy figure, so only the cloud "
				                 "bars are drawn.");
				RENDER("plot-jpt-cloud.gp", "jpt-cloud", title, caption,
				       est ? "1" : "0", kinds, NULL);
			}
		}
	}
	{
		static const struct {
			enum sweep_axis ax;
			const char *name, *title, *xlabel, *phase, *what;
		} sw[] = {
		    {SWEEP_THREADS, "threads", "Decode speed and energy vs threads", "threads",
		     "decode", "the thread count"},
		    {SWEEP_TYPE, "types", "Decode speed and energy vs weight type",
		     "weight type (widest first)", "decode", "the weight type"},
		    {SWEEP_PROMPT, "prompt", "Prefill speed and energy vs prompt length",
		     "prompt tokens", "prefill", "the prompt length"},
		    {SWEEP_CONCURRENCY, "sweep", "Aggregate speed and energy vs concurrency",
		     "concurrent streams", "decode",
		     "the number of concurrent streams (aggregate tok/s; J/token over each level's "
		     "window, prefill included; shaded: each cloud profile's J/token, low to high)"},
		};

		for (size_t a = 0; a < sizeof sw / sizeof sw[0]; a++)
			for (int i = 0; i < n; i++) {
				if (strcmp(rs[i]->kind, "run"))
					continue;
				rc = dat_sweep(rs[i], sw[a].ax, dir, sw[a].name, cloud_dir, &est,
				               &has_energy);
				if (rc < 0)
					goto fail_dat;
				if (rc == 0)
					continue;
				snprintf(caption, sizeof caption,
				         "%.120s: %s tokens/s and J per %s token against %s, the "
				         "other settings as in the headline configuration (median, "
				         "95%% CI).",
				         rj_label(rs[i]->path), sw[a].phase, sw[a].phase, sw[a].what);
				RENDER_SWEEP(sw[a].name, sw[a].title, caption, est, has_energy,
				             sw[a].xlabel, sw[a].phase, sw[a].ax == SWEEP_TYPE,
				             sw[a].ax == SWEEP_CONCURRENCY || sw[a].ax == SWEEP_PROMPT);
				break;
			}
	}
	rc = dat_latency(rs, n, dir, "latency-cdf");
	if (rc < 0)
		goto fail_dat;
	if (rc > 0)
		RENDER("plot-latency-cdf.gp", "latency-cdf", "Inter-token latency CDF",
		       "Every inter-token latency of every repetition, per configuration.", NULL,
		       NULL, NULL);
	rc = dat_compare(rs, n, dir, "compare", &est, &has_energy, &has_measured);
	if (rc < 0)
		goto fail_dat;
	if (rc > 0)
		RENDER("plot-compare.gp", "compare", "Decode tokens/s and tokens per joule",
		       "The headline configuration of each result.", est ? "1" : "0",
		       has_energy ? "1" : "0", has_measured ? "1" : "0");
	{
		struct roof_info ri;

		rc = dat_roofline(rs, n, dir, "roofline", &ri);
		if (rc < 0)
			goto fail_dat;
		if (rc > 0 && ri.rows >= 2) {
			snprintf(caption, sizeof caption,
			         "Achieved bandwidth (bytes streamed per token x decode tokens/s, or "
			         "a kernel's GB/s) against the bound `joulebench membw` measured on "
			         "the same machine.%s",
			         ri.unbounded ? " Configurations without a bound from their own "
			                        "machine are left out."
			                      : "");
			RENDER("plot-roofline.gp", "roofline", "Bandwidth vs the measured bound",
			       caption, ri.has_tok ? "1" : "0", NULL, NULL);
		} else if (rc > 0 && np < RPT_MAX_PLOTS) {
			struct rpt_plot *p = &plots[np++];

			memset(p, 0, sizeof *p);
			snprintf(p->name, sizeof p->name, "roofline");
			snprintf(p->title, sizeof p->title, "Bandwidth vs the measured bound");
			if (ri.rows == 1)
				snprintf(p->left_out, sizeof p->left_out, "one data point, so a row "
				         "rather than a plot: %s", ri.first);
			else
				snprintf(p->left_out, sizeof p->left_out,
				         "no memory bandwidth bound was measured on the machine of "
				         "these results: run `joulebench kernels` there and pass its "
				         "result.json to `report` with the run");
		}
	}
#undef RENDER
#undef RENDER_SWEEP
	{
		struct stat st;

		/* keep the log only when gnuplot said something */
		if (gp_log[0] && stat(gp_log, &st) == 0 && st.st_size == 0)
			unlink(gp_log);
	}
	gp_log[0] = '\0';
	return np;
fail_dat:
	snprintf(err, errlen, "%s: cannot write plot data: %s", dir, strerror(-rc));
	gp_log[0] = '\0';
	return rc;
}
