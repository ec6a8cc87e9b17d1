/*
 * reports/plot.c — gnuplot data files from results, rendered with the versioned scripts in
 * scripts/plot-*.gp (`gnuplot -c SCRIPT DAT OUTBASE TITLE ...`), PNG and SVG each.
 *
 * The .dat files stay next to the images so a plot can be re-rendered or restyled by hand.
 * A missing gnuplot is reported once by the caller; the data files are still written.
 */
#include "bench/bench.h"
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

/* Power timeline: W between successive cumulative-energy samples of one source, and phases. */
static int dat_power(const struct rpt_result *r, const char *dir, const char *name, char *src,
                     size_t src_len, bool *estimated, bool *have_phases)
{
	const cJSON *samples = cJSON_GetObjectItemCaseSensitive(r->json, "samples");
	const cJSON *s = NULL, *t, *e, *ph, *it;
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
	t0 = cJSON_GetArrayItem(t, 0)->valuedouble;
	fprintf(f, "# %s: power from cumulative energy of source %s\n# t_s power_w\n", r->path,
	        src);
	for (int i = 1; i < n; i++) {
		double ta = cJSON_GetArrayItem(t, i - 1)->valuedouble;
		double tb = cJSON_GetArrayItem(t, i)->valuedouble;
		double ea = cJSON_GetArrayItem(e, i - 1)->valuedouble;
		double eb = cJSON_GetArrayItem(e, i)->valuedouble;

		if (tb <= ta)
			continue;
		fprintf(f, "%.6f %.6g\n", (ta - t0) / 1e9, (eb - ea) / ((tb - ta) / 1e9));
		rows++;
	}
	fclose(f);
	if (rows == 0)
		return 0;
	ph = cJSON_GetObjectItemCaseSensitive(r->json, "phases");
	*have_phases = false;
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
		}
		fclose(f);
	}
	return 1;
}

/* J/token local vs every cloud profile. */
static int dat_cloud(const struct rpt_result *r, const char *dir, const char *cloud_dir,
                     const char *name, bool *estimated, bool *has_local)
{
	struct rpt_cloud_profile *ps = NULL;
	struct rj_local l;
	char path[1200], err[RPT_ERR_LEN];
	int np = rpt_cloud_profiles_load(cloud_dir, &ps, err, sizeof err), idx = 0;
	FILE *f;

	if (np < 0)
		return 0;
	rj_local(r, &l);
	f = open_dat(dir, name, path, sizeof path);
	if (!f) {
		free(ps);
		return -errno;
	}
	fprintf(f, "# %s: J/token local vs cloud-equivalent\n# idx label j low high kind\n",
	        r->path);
	*estimated = l.ok && l.estimated;
	*has_local = l.ok;
	if (l.ok) {
		fprintf(f, "%d ", idx++);
		dat_label(f, l.estimated ? "local (ESTIMATED)" : "local (measured)");
		fprintf(f, " %.6g %.6g %.6g %d\n", l.jpt.v, l.jpt.low, l.jpt.high,
		        l.estimated ? 1 : 0);
	}
	for (int i = 0; i < np; i++) {
		struct rpt_cloud_estimate e;
		struct rpt_cloud_query q = {.n_params = r->n_params.ok ? r->n_params.v : 0,
		                            .gen_tokens =
		                                l.cfg ? l.cfg->gen_tokens : r->gen_tokens};
		char label[96];

		if (rpt_cloud_estimate(&ps[i], &q, &e, err, sizeof err))
			continue;
		snprintf(label, sizeof label, "%s%s", ps[i].name,
		         ps[i].superseded ? " (superseded)" : "");
		fprintf(f, "%d ", idx++);
		dat_label(f, label);
		fprintf(f, " %.6g %.6g %.6g %d\n", e.j_per_token.v, e.j_per_token.low,
		        e.j_per_token.high, ps[i].same_model ? 2 : 3);
	}
	fclose(f);
	free(ps);
	return idx > 0;
}

static void dat_stat(FILE *f, const struct rpt_stat *s)
{
	if (s->ok)
		fprintf(f, " %.6g %.6g %.6g", s->median, s->ci_low, s->ci_high);
	else
		fprintf(f, " ? ? ?");
}

static int cmp_threads(const void *a, const void *b)
{
	const struct rpt_config *x = *(const struct rpt_config *const *)a;
	const struct rpt_config *y = *(const struct rpt_config *const *)b;

	return x->threads != y->threads ? x->threads - y->threads : x->concurrency - y->concurrency;
}

/* tokens/s and J/token against threads for the type of the headline config; for an external
 * engine's sweep (*sweep set) against the concurrency of its levels. */
static int dat_threads(const struct rpt_result *r, const char *dir, const char *name,
                       bool *estimated, bool *has_energy, bool *sweep)
{
	const struct rpt_config *head = rpt_headline_config(r), **cs;
	char path[1200];
	int n = 0;
	FILE *f;

	if (!head)
		return 0;
	*sweep = head->concurrency > 0;
	cs = calloc((size_t)r->n_configs, sizeof *cs);
	if (!cs)
		return -ENOMEM;
	for (int i = 0; i < r->n_configs; i++)
		if (!strcmp(r->configs[i].type, head->type) &&
		    (r->configs[i].concurrency > 0) == *sweep)
			cs[n++] = &r->configs[i];
	if (n < 2) {
		free(cs);
		return 0;
	}
	qsort(cs, (size_t)n, sizeof *cs, cmp_threads);
	f = open_dat(dir, name, path, sizeof path);
	if (!f) {
		free(cs);
		return -errno;
	}
	*estimated = false;
	*has_energy = false;
	fprintf(f, "# %s: type %s\n# %s tok_s low high j_per_token low high\n", r->path, head->type,
	        *sweep ? "concurrency" : "threads");
	for (int i = 0; i < n; i++) {
		fprintf(f, "%d", *sweep ? cs[i]->concurrency : cs[i]->threads);
		dat_stat(f, &cs[i]->decode_tok_s);
		dat_stat(f, &cs[i]->decode_jpt_gross);
		fputc('\n', f);
		if (!strcmp(cs[i]->energy_kind, "estimated"))
			*estimated = true;
		*has_energy |= cs[i]->decode_jpt_gross.ok;
	}
	fclose(f);
	free(cs);
	return 1;
}

/* dir/from.dat → dir/to.dat */
static void rename_dat(const char *dir, const char *from, const char *to)
{
	char a[1200], b[1200];

	snprintf(a, sizeof a, "%s/%s.dat", dir, from);
	snprintf(b, sizeof b, "%s/%s.dat", dir, to);
	rename(a, b);
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
			         bench_percentile(ms, m, 99));
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
                       bool *estimated, bool *has_energy)
{
	char path[1200];
	int rows = 0;
	FILE *f;

	*estimated = false;
	*has_energy = false;
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
		snprintf(label, sizeof label, "%.100s %dt %s", short_label(rs[i]->path), c->threads,
		         c->type);
		fprintf(f, "%d ", rows++);
		dat_label(f, label);
		if (c->decode_tok_s.ok)
			fprintf(f, " %.6g", c->decode_tok_s.median);
		else
			fprintf(f, " ?");
		*has_energy |= c->tokens_per_j.ok;
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

/* Achieved bandwidth: decode bytes/token × tok/s per run config; GB/s per kernel; the bound
 * is the membw of a kernels result of the same machine ("?" when none was measured there). */
static int dat_roofline(struct rpt_result *const *rs, int n, const char *dir, const char *name)
{
	char path[1200];
	int rows = 0;
	FILE *f;

	f = open_dat(dir, name, path, sizeof path);
	if (!f)
		return -errno;
	fprintf(f, "# idx label achieved_gb_s bound_gb_s\n");
	for (int i = 0; i < n; i++) {
		const struct rpt_result *r = rs[i];

		if (!strcmp(r->kind, "run")) {
			for (int k = 0; k < r->n_configs; k++) {
				const struct rpt_config *c = &r->configs[k];
				char label[200];
				double bw;

				if (!c->decode_bytes_per_token.ok || !c->decode_tok_s.ok)
					continue;
				snprintf(label, sizeof label, "%.100s %dt", short_label(r->path),
				         c->threads);
				fprintf(f, "%d ", rows++);
				dat_label(f, label);
				fprintf(f, " %.6g",
				        c->decode_bytes_per_token.v * c->decode_tok_s.median / 1e9);
				if (run_bound(rs, n, r, c->threads, &bw))
					fprintf(f, " %.6g\n", bw);
				else
					fprintf(f, " ?\n");
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
				char kname[64], impl[16], op[32], label[100], key[16];
				double gbs, th, bw;

				rj_str(it, "name", kname, sizeof kname);
				rj_str(it, "impl", impl, sizeof impl);
				rj_str(it, "op", op, sizeof op);
				/* the engine's own (simd) kernels; the _ref twins run on one thread
				 */
				if (!rj_num(it, "gbytes_s", &gbs) ||
				    (any_matvec && strcmp(op, "matvec")) || !strcmp(impl, "ref"))
					continue;
				snprintf(label, sizeof label, "%s", kname);
				fprintf(f, "%d ", rows++);
				dat_label(f, label);
				fprintf(f, " %.6g", gbs);
				/* the bound for this implementation's thread count when measured */
				snprintf(key, sizeof key, "%d",
				         rj_num(it, "threads", &th) ? (int)th : 1);
				if (rj_num(membw, key, &bw))
					fprintf(f, " %.6g\n", bw);
				else if (r->membw_gbs.ok)
					fprintf(f, " %.6g\n", r->membw_gbs.v);
				else
					fprintf(f, " ?\n");
			}
		}
	}
	fclose(f);
	return rows > 0;
}

/* ---- rendering -------------------------------------------------------------------------- */

/* Runs scripts_dir/script on dir/name.dat → dir/name.png and .svg: arguments DAT OUTBASE TITLE,
 * then est and extra when not NULL (each script's usage line says what they mean). */
static int render(const char *dir, const char *scripts_dir, const char *script, const char *name,
                  const char *title, const char *est, const char *extra, struct rpt_plot *p,
                  char *err, size_t errlen)
{
	char sp[1200], dat[1200], out[1200];
	const char *args[6];
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
	bool gp, est = false, phases = false, has_energy = false;
	int np = 0, rc = 0;
	char title[300], src[64];

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
#define RENDER(script, name, ttl, estflag, extra)                                                  \
	do {                                                                                       \
		if (np < RPT_MAX_PLOTS && gp) {                                                    \
			if (render(dir, scripts_dir, script, name, ttl, estflag, extra,            \
			           &plots[np], err, errlen) == 0)                                  \
				np++;                                                              \
			else                                                                       \
				note_failure(skipped, skipped_len, err);                           \
		}                                                                                  \
	} while (0)

	for (int i = 0, k = 0; i < n && k < 3; i++) {
		char name[48], pname[1200];

		if (strcmp(rs[i]->kind, "run"))
			continue;
		snprintf(name, sizeof name, "power-timeline-%d", k);
		rc = dat_power(rs[i], dir, name, src, sizeof src, &est, &phases);
		if (rc < 0)
			goto fail_dat;
		if (rc == 0)
			continue;
		k++;
		snprintf(title, sizeof title, "Power over time: %.100s (source %s%s)",
		         rj_label(rs[i]->path), src, est ? ", ESTIMATED" : ", measured");
		snprintf(pname, sizeof pname, "%s/%s-phases.dat", dir, name);
		RENDER("plot-power-timeline.gp", name, title, est ? "1" : "0",
		       phases ? pname : NULL);
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

			rc = dat_cloud(pick, dir, cloud_dir, "jpt-cloud", &est, &local);
			if (rc < 0)
				goto fail_dat;
			if (rc > 0) {
				snprintf(
				    title, sizeof title,
				    "J/token: %.100s vs cloud-equivalent estimates (ranges: CI / "
				    "low-high)%s",
				    rj_label(pick->path),
				    local ? "" : " - no local energy figure in the result");
				RENDER("plot-jpt-cloud.gp", "jpt-cloud", title, est ? "1" : "0",
				       NULL);
			}
		}
	}
	for (int i = 0; i < n; i++) {
		if (strcmp(rs[i]->kind, "run"))
			continue;
		bool sweep = false;

		rc = dat_threads(rs[i], dir, "threads", &est, &has_energy, &sweep);
		if (rc < 0)
			goto fail_dat;
		if (rc > 0 && sweep) {
			rename_dat(dir, "threads", "sweep");
			snprintf(title, sizeof title,
			         "Aggregate speed and energy vs concurrent streams: %.100s",
			         rj_label(rs[i]->path));
			RENDER("plot-sweep.gp", "sweep", title, est ? "1" : "0",
			       has_energy ? "1" : "0");
			break;
		}
		if (rc > 0) {
			snprintf(title, sizeof title, "Decode speed and energy vs threads: %.100s",
			         rj_label(rs[i]->path));
			RENDER("plot-threads.gp", "threads", title, est ? "1" : "0",
			       has_energy ? "1" : "0");
			break;
		}
	}
	rc = dat_latency(rs, n, dir, "latency-cdf");
	if (rc < 0)
		goto fail_dat;
	if (rc > 0)
		RENDER("plot-latency-cdf.gp", "latency-cdf", "Inter-token latency CDF", NULL, NULL);
	rc = dat_compare(rs, n, dir, "compare", &est, &has_energy);
	if (rc < 0)
		goto fail_dat;
	if (rc > 0)
		RENDER("plot-compare.gp", "compare",
		       "Decode tokens/s and tokens per joule by result", est ? "1" : "0",
		       has_energy ? "1" : "0");
	rc = dat_roofline(rs, n, dir, "roofline");
	if (rc < 0)
		goto fail_dat;
	if (rc > 0)
		RENDER("plot-roofline.gp", "roofline",
		       "Achieved memory bandwidth vs the measured bound", NULL, NULL);
#undef RENDER
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
