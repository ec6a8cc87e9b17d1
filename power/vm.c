/*
 * power/vm.c — the `vm` backend: Cloud Carbon Footprint's per-vCPU model for machines where
 * nothing can be measured (see vm.h). Every domain is kind PWR_ESTIMATED with a `model` text that
 * names the coefficients, the micro-architecture and how it was chosen.
 *
 * Domains, each read as a counter of estimated nanojoules since pwr_open:
 *   vm:process       this process's busy CPU time, default coefficients (the headline)
 *   vm:process-low   the same with every coefficient at its low value   } the range of
 *   vm:process-high  the same with every coefficient at its high value  } vm:process
 *   vm:machine       the whole VM's busy time from /proc/stat, default coefficients
 * On the real root, process CPU time comes from CLOCK_PROCESS_CPUTIME_ID (the same utime + stime
 * as /proc/self/stat, in ns rather than clock ticks); under a fake root from ROOT/proc/self/stat.
 * The three vm:process domains compute each round's figures from one shared (time, CPU time)
 * sample, so that the bounds of the range and the figure between them agree to the nanojoule
 * wherever the coefficient sets do.
 */
#include "power/backend.h"
#include "power/estimate.h"
#include "power/vm.h"

#include <cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define VM_COEF_FILE   "configs/hardware/vm/ccf-vcpu.json"
#define VM_BOA_FILE    "configs/hardware/vm/boavizta-vcpu.json"
#define MAX_COEF_BYTES (1 << 20)

/* ---- /proc ------------------------------------------------------------------------------------
 */

static void rstrip(char *s)
{
	size_t n = strlen(s);

	while (n > 0 && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
}

int pwr_cpuid_read(const char *root, struct pwr_cpuid *c)
{
	char path[PATH_MAX], line[8192];
	FILE *f;
	bool seen_processor = false;

	memset(c, 0, sizeof *c);
	c->family = c->model = c->stepping = c->arm_implementer = c->arm_part = -1;
	pwr_path(path, sizeof path, root, "proc/cpuinfo");
	f = fopen(path, "r");
	if (!f)
		return -errno;
	while (fgets(line, sizeof line, f)) {
		char *colon = strchr(line, ':'), *val;

		if (!colon)
			continue;
		val = colon + 1;
		while (*val == ' ' || *val == '\t')
			val++;
		*colon = '\0';
		rstrip(line);
		rstrip(val);
		if (!strcmp(line, "processor")) {
			if (seen_processor && (c->family >= 0 || c->arm_part >= 0))
				break; /* the first CPU is enough */
			seen_processor = true;
		} else if (!strcmp(line, "vendor_id") && !c->vendor[0]) {
			pwr_strf(c->vendor, sizeof c->vendor, "%s", val);
		} else if (!strcmp(line, "model name") && !c->model_name[0]) {
			pwr_strf(c->model_name, sizeof c->model_name, "%s", val);
		} else if (!strcmp(line, "cpu family") && c->family < 0) {
			c->family = (int)strtol(val, NULL, 0);
		} else if (!strcmp(line, "model") && c->model < 0) {
			c->model = (int)strtol(val, NULL, 0);
		} else if (!strcmp(line, "stepping") && c->stepping < 0) {
			c->stepping = (int)strtol(val, NULL, 0);
		} else if ((!strcmp(line, "flags") || !strcmp(line, "Features")) && !c->flags[0]) {
			pwr_strf(c->flags, sizeof c->flags, " %s ", val);
		} else if (!strcmp(line, "CPU implementer") && c->arm_implementer < 0) {
			c->arm_implementer = (int)strtol(val, NULL, 0);
		} else if (!strcmp(line, "CPU part") && c->arm_part < 0) {
			c->arm_part = (int)strtol(val, NULL, 0);
		}
	}
	fclose(f);
	return 0;
}

static bool has_flag(const struct pwr_cpuid *c, const char *flag)
{
	char w[64];

	pwr_strf(w, sizeof w, " %s ", flag);
	return strstr(c->flags, w) != NULL;
}

/* Whether the model name is just the brand ("AMD EPYC", "Intel(R) Xeon(R) Processor"): no digit,
 * so no part number. */
static bool name_masked(const char *name)
{
	for (const char *p = name; *p; p++)
		if (isdigit((unsigned char)*p))
			return false;
	return true;
}

const char *pwr_vm_infer_uarch(const struct pwr_cpuid *c, char *how, size_t how_len)
{
	const char *u = "unknown", *why = "";
	char name_note[200];

	if (!c->model_name[0])
		pwr_strf(name_note, sizeof name_note, "no model name");
	else if (name_masked(c->model_name))
		pwr_strf(name_note, sizeof name_note, "model name '%.60s' names no part",
		         c->model_name);
	else
		pwr_strf(name_note, sizeof name_note, "model name '%.60s'", c->model_name);

	if (!strcmp(c->vendor, "AuthenticAMD") || !strcmp(c->vendor, "HygonGenuine")) {
		switch (c->family) {
		case 0x17:
			if (c->model >= 0x30)
				u = "zen2", why = "family 0x17 model >= 0x30 (Rome and later)";
			else
				u = "zen1", why = "family 0x17 model < 0x30 (Naples)";
			break;
		case 0x19:
			if (has_flag(c, "avx512f"))
				u = "zen4", why = "family 0x19 with AVX-512 (Zen 3 has none)";
			else if ((c->model >= 0x10 && c->model <= 0x1f) ||
			         (c->model >= 0xa0 && c->model <= 0xaf))
				u = "zen4",
				why = "family 0x19 model in 0x10-0x1F/0xA0-0xAF (Genoa, Bergamo)";
			else
				u = "zen3", why = "family 0x19 without AVX-512";
			break;
		case 0x1a:
			u = "zen5", why = "family 0x1A";
			break;
		default:
			why = "an AMD family without a row";
		}
	} else if (!strcmp(c->vendor, "GenuineIntel")) {
		if (c->family == 6) {
			switch (c->model) {
			case 0x2a:
			case 0x2d:
				u = "sandybridge", why = "family 6 model 0x2A/0x2D";
				break;
			case 0x3a:
			case 0x3e:
				u = "ivybridge", why = "family 6 model 0x3A/0x3E";
				break;
			case 0x3c:
			case 0x3f:
			case 0x45:
			case 0x46:
				u = "haswell", why = "family 6 model 0x3C/0x3F/0x45/0x46";
				break;
			case 0x3d:
			case 0x47:
			case 0x4f:
			case 0x56:
				u = "broadwell", why = "family 6 model 0x3D/0x47/0x4F/0x56";
				break;
			case 0x4e:
			case 0x5e:
				u = "skylake", why = "family 6 model 0x4E/0x5E";
				break;
			case 0x55:
				if (c->stepping >= 5 || has_flag(c, "avx512_vnni"))
					u = "cascadelake",
					why = "family 6 model 0x55 stepping >= 5 or AVX512-VNNI";
				else
					u = "skylake",
					why = "family 6 model 0x55 stepping < 5 (Skylake-SP)";
				break;
			case 0x8e:
			case 0x9e:
			case 0xa5:
			case 0xa6:
				u = "coffeelake",
				why = "family 6 model 0x8E/0x9E/0xA5/0xA6 (Kaby/Coffee/Comet Lake)";
				break;
			case 0x6a:
			case 0x6c:
			case 0x7d:
			case 0x7e:
				u = "icelake", why = "family 6 model 0x6A/0x6C/0x7D/0x7E";
				break;
			case 0x8f:
				u = "sapphirerapids", why = "family 6 model 0x8F";
				break;
			case 0xcf:
				u = "emeraldrapids", why = "family 6 model 0xCF";
				break;
			case 0xad:
			case 0xae:
				u = "graniterapids", why = "family 6 model 0xAD/0xAE";
				break;
			default:
				if (has_flag(c, "amx_tile"))
					u = "sapphirerapids",
					why = "AMX (Sapphire Rapids or later; the earliest is "
					      "assumed)";
				else if (has_flag(c, "avx512_vnni"))
					u = "cascadelake",
					why = "AVX512-VNNI without AMX (Cascade Lake or Ice Lake; "
					      "the earlier is assumed)";
				else
					why = "an Intel model without a row";
			}
		} else {
			why = "an Intel family without a row";
		}
	} else if (c->arm_implementer == 0x41 && c->arm_part == 0xd0c) {
		u = "graviton2", why = "Arm Neoverse N1 (CPU part 0xd0c), as in AWS Graviton2";
	} else {
		why = "no CPU vendor this table knows";
	}
	if (c->family >= 0)
		pwr_strf(how, how_len, "CPUID %s family 0x%X model 0x%X stepping %d: %s; %s",
		         c->vendor[0] ? c->vendor : "?", (unsigned)c->family,
		         (unsigned)(c->model < 0 ? 0 : c->model), c->stepping, why, name_note);
	else
		pwr_strf(how, how_len, "%s; %s", why, name_note);
	return u;
}

/* ---- coefficients -----------------------------------------------------------------------------
 */

static char *slurp(const char *path, size_t max, int *err)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t n;

	*err = 0;
	if (!f) {
		*err = -errno;
		return NULL;
	}
	buf = malloc(max + 1);
	if (!buf) {
		*err = -ENOMEM;
		fclose(f);
		return NULL;
	}
	n = fread(buf, 1, max + 1, f);
	fclose(f);
	if (n > max) {
		*err = -EFBIG;
		free(buf);
		return NULL;
	}
	buf[n] = '\0';
	return buf;
}

/* {"default": d, "low": l, "high": h} with 0 <= l <= d <= h. */
static int triple(const cJSON *o, const char *key, double v[3], const char *path, const char *row,
                  char *err, size_t errlen)
{
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(o, key);
	static const char *names[3] = {"default", "low", "high"};

	for (int i = 0; i < 3; i++) {
		const cJSON *x = cJSON_GetObjectItemCaseSensitive(t, names[i]);

		if (!cJSON_IsNumber(x) || !(x->valuedouble >= 0 && x->valuedouble < 1000)) {
			pwr_strf(err, errlen, "%s: %s.%s.%s must be a number in [0, 1000)", path,
			         row, key, names[i]);
			return -EINVAL;
		}
		v[i] = x->valuedouble;
	}
	if (!(v[1] <= v[0] && v[0] <= v[2])) {
		pwr_strf(err, errlen, "%s: %s.%s needs low <= default <= high", path, row, key);
		return -EINVAL;
	}
	return 0;
}

int pwr_vm_coef_load(const char *path, const char *uarch, struct pwr_vm_coef *k, char *err,
                     size_t errlen)
{
	cJSON *root = NULL;
	const cJSON *rows, *row, *found = NULL, *unknown = NULL, *src;
	const char *end = NULL;
	char *text;
	int rc = 0, ferr;

	memset(k, 0, sizeof *k);
	text = slurp(path, MAX_COEF_BYTES, &ferr);
	if (!text) {
		pwr_strf(err, errlen, "%s: %s", path,
		         ferr == -EFBIG ? "larger than 1 MiB" : strerror(-ferr));
		return ferr;
	}
	root = cJSON_ParseWithOpts(text, &end, 1);
	if (!root) {
		pwr_strf(err, errlen, "%s: invalid JSON at byte %td", path,
		         end ? end - text : (ptrdiff_t)0);
		rc = -EINVAL;
		goto out;
	}
	if ((rc = triple(root, "memory_w_per_gb", k->mem_w_per_gb, path, "", err, errlen)))
		goto out;
	rows = cJSON_GetObjectItemCaseSensitive(root, "uarchs");
	if (!cJSON_IsArray(rows)) {
		pwr_strf(err, errlen, "%s: expected a \"uarchs\" array", path);
		rc = -EINVAL;
		goto out;
	}
	cJSON_ArrayForEach(row, rows)
	{
		const cJSON *id = cJSON_GetObjectItemCaseSensitive(row, "id");

		if (!cJSON_IsString(id)) {
			pwr_strf(err, errlen, "%s: every uarchs[] row needs an \"id\" string",
			         path);
			rc = -EINVAL;
			goto out;
		}
		if (!strcmp(id->valuestring, uarch))
			found = row;
		if (!strcmp(id->valuestring, "unknown"))
			unknown = row;
	}
	if (!found && !unknown) {
		pwr_strf(err, errlen, "%s: no row for '%s' and no \"unknown\" row", path, uarch);
		rc = -EINVAL;
		goto out;
	}
	if (!found)
		found = unknown;
	pwr_strf(k->uarch, sizeof k->uarch, "%s",
	         cJSON_GetObjectItemCaseSensitive(found, "id")->valuestring);
	if ((rc = triple(found, "min_w", k->min_w, path, k->uarch, err, errlen)) ||
	    (rc = triple(found, "max_w", k->max_w, path, k->uarch, err, errlen)))
		goto out;
	for (int i = 0; i < 3; i++)
		if (k->max_w[i] < k->min_w[i]) {
			pwr_strf(err, errlen, "%s: %s: max_w below min_w", path, k->uarch);
			rc = -EINVAL;
			goto out;
		}
	src = cJSON_GetObjectItemCaseSensitive(found, "name");
	pwr_strf(k->uarch_name, sizeof k->uarch_name, "%s",
	         cJSON_IsString(src) ? src->valuestring : k->uarch);
	src = cJSON_GetObjectItemCaseSensitive(found, "source");
	if (!cJSON_IsString(src) || !src->valuestring[0]) {
		pwr_strf(err, errlen, "%s: %s has no \"source\"", path, k->uarch);
		rc = -EINVAL;
		goto out;
	}
	pwr_strf(k->source, sizeof k->source, "%s", src->valuestring);
out:
	cJSON_Delete(root);
	free(text);
	return rc;
}

/* A JSON number array of 2..PWR_VM_CURVE_MAX entries into v. */
static int num_array(const cJSON *a, double *v, int *n, const char *path, const char *field,
                     char *err, size_t errlen)
{
	const cJSON *x;
	int k = 0;

	if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) < 2 ||
	    cJSON_GetArraySize(a) > PWR_VM_CURVE_MAX) {
		pwr_strf(err, errlen, "%s: %s must be an array of 2 to %d numbers", path, field,
		         PWR_VM_CURVE_MAX);
		return -EINVAL;
	}
	cJSON_ArrayForEach(x, a)
	{
		if (!cJSON_IsNumber(x) || !isfinite(x->valuedouble)) {
			pwr_strf(err, errlen, "%s: %s[%d] must be a number", path, field, k);
			return -EINVAL;
		}
		v[k++] = x->valuedouble;
	}
	*n = k;
	return 0;
}

int pwr_vm_boavizta_load(const char *path, const char *hw_dir, const char *uarch,
                         struct pwr_vm_boavizta *b, char *err, size_t errlen)
{
	cJSON *root = NULL;
	const cJSON *curve, *mem, *rows, *row, *found = NULL, *refs, *ref;
	struct pwr_cpu_entry *hw = NULL;
	const char *end = NULL;
	char *text;
	double pct[PWR_VM_CURVE_MAX];
	int rc = 0, ferr, n_pct = 0, n_hw = 0, k = 0;
	size_t used = 0;

	memset(b, 0, sizeof *b);
	text = slurp(path, MAX_COEF_BYTES, &ferr);
	if (!text) {
		pwr_strf(err, errlen, "%s: %s", path,
		         ferr == -EFBIG ? "larger than 1 MiB" : strerror(-ferr));
		return ferr;
	}
	root = cJSON_ParseWithOpts(text, &end, 1);
	if (!root) {
		pwr_strf(err, errlen, "%s: invalid JSON at byte %td", path,
		         end ? end - text : (ptrdiff_t)0);
		rc = -EINVAL;
		goto out;
	}
	curve = cJSON_GetObjectItemCaseSensitive(root, "tdp_ratio");
	if ((rc = num_array(cJSON_GetObjectItemCaseSensitive(curve, "load_pct"), pct, &n_pct, path,
	                    "tdp_ratio.load_pct", err, errlen)) ||
	    (rc = num_array(cJSON_GetObjectItemCaseSensitive(curve, "ratio"), b->ratio, &b->n_curve,
	                    path, "tdp_ratio.ratio", err, errlen)))
		goto out;
	if (n_pct != b->n_curve) {
		pwr_strf(err, errlen, "%s: tdp_ratio.load_pct has %d points but tdp_ratio.ratio %d",
		         path, n_pct, b->n_curve);
		rc = -EINVAL;
		goto out;
	}
	for (int i = 0; i < n_pct; i++) {
		if ((i == 0 && pct[i] != 0) || (i == n_pct - 1 && pct[i] != 100) ||
		    (i > 0 && !(pct[i] > pct[i - 1]))) {
			pwr_strf(
			    err, errlen,
			    "%s: tdp_ratio.load_pct[%d] = %g: the loads must rise from 0 to 100",
			    path, i, pct[i]);
			rc = -EINVAL;
			goto out;
		}
		if (!(b->ratio[i] > 0 && b->ratio[i] < 5) ||
		    (i > 0 && b->ratio[i] < b->ratio[i - 1])) {
			pwr_strf(
			    err, errlen,
			    "%s: tdp_ratio.ratio[%d] = %g: ratios must be in (0, 5) and not fall",
			    path, i, b->ratio[i]);
			rc = -EINVAL;
			goto out;
		}
		b->load[i] = pct[i] / 100.0;
	}
	mem = cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(root, "memory_w_per_gb"), "value");
	if (!cJSON_IsNumber(mem) || !(mem->valuedouble >= 0 && mem->valuedouble < 1000)) {
		pwr_strf(err, errlen, "%s: memory_w_per_gb.value must be a number in [0, 1000)",
		         path);
		rc = -EINVAL;
		goto out;
	}
	b->mem_w_per_gb = mem->valuedouble;
	rows = cJSON_GetObjectItemCaseSensitive(root, "uarchs");
	if (!cJSON_IsArray(rows)) {
		pwr_strf(err, errlen, "%s: expected a \"uarchs\" array", path);
		rc = -EINVAL;
		goto out;
	}
	cJSON_ArrayForEach(row, rows)
	{
		const cJSON *id = cJSON_GetObjectItemCaseSensitive(row, "id");

		if (!cJSON_IsString(id)) {
			pwr_strf(err, errlen, "%s: every uarchs[] row needs an \"id\" string",
			         path);
			rc = -EINVAL;
			goto out;
		}
		if (!strcmp(id->valuestring, uarch))
			found = row;
	}
	if (!found) {
		pwr_strf(b->why, sizeof b->why,
		         "no reference CPU for '%s' in %s, so the range is CCF's alone", uarch,
		         path);
		goto out;
	}
	refs = cJSON_GetObjectItemCaseSensitive(found, "reference_cpus");
	if (!cJSON_IsArray(refs) || cJSON_GetArraySize(refs) < 1) {
		pwr_strf(err, errlen, "%s: uarchs[%s].reference_cpus must be a non-empty array",
		         path, uarch);
		rc = -EINVAL;
		goto out;
	}
	rc = pwr_hwdb_load_dir(hw_dir, &hw, &n_hw, err, errlen);
	if (rc < 0)
		goto out;
	cJSON_ArrayForEach(ref, refs)
	{
		const struct pwr_cpu_entry *e = NULL;
		double w;

		for (int i = 0; cJSON_IsString(ref) && i < n_hw && !e; i++)
			if (!strcasecmp(hw[i].match, ref->valuestring))
				e = &hw[i];
		if (!e) {
			pwr_strf(
			    err, errlen,
			    "%s: uarchs[%s].reference_cpus[%d] = '%.60s' is no row of the tables "
			    "in %s",
			    path, uarch, k, cJSON_IsString(ref) ? ref->valuestring : "?", hw_dir);
			rc = -EINVAL;
			goto out;
		}
		w = e->tdp_w / e->threads;
		if (k == 0 || w < b->tdp_per_thread_w[0])
			b->tdp_per_thread_w[0] = w;
		if (k == 0 || w > b->tdp_per_thread_w[1])
			b->tdp_per_thread_w[1] = w;
		if (used + 1 < sizeof b->refs) {
			pwr_strf(b->refs + used, sizeof b->refs - used, "%s%s %.4g W/%d thr",
			         k ? ", " : "", e->match, e->tdp_w, e->threads);
			used = strlen(b->refs);
		}
		k++;
	}
	b->have = true;
out:
	free(hw);
	cJSON_Delete(root);
	free(text);
	return rc;
}

double pwr_vm_boavizta_ratio(const struct pwr_vm_boavizta *b, double util)
{
	if (b->n_curve < 2)
		return 0;
	if (!(util > 0))
		return b->ratio[0];
	if (util >= 1)
		return b->ratio[b->n_curve - 1];
	for (int i = 1; i < b->n_curve; i++)
		if (util <= b->load[i])
			return b->ratio[i - 1] + (b->ratio[i] - b->ratio[i - 1]) *
			                             (util - b->load[i - 1]) /
			                             (b->load[i] - b->load[i - 1]);
	return b->ratio[b->n_curve - 1];
}

double pwr_vm_boavizta_energy_j(const struct pwr_vm_boavizta *b, int which, int n_vcpu,
                                double mem_gb, double dt_s, double busy_cpu_s)
{
	double w = b->tdp_per_thread_w[which ? 1 : 0], cap, e;

	if (!b->have || n_vcpu <= 0 || dt_s < 0)
		return 0;
	cap = n_vcpu * dt_s; /* CPU-seconds at 100% */
	if (busy_cpu_s <= cap) {
		e = n_vcpu * w * pwr_vm_boavizta_ratio(b, cap > 0 ? busy_cpu_s / cap : 0) * dt_s;
	} else {
		/* more CPU time than the interval holds (a clock step): the rest at the curve's
		 * average slope, so no CPU-second goes uncounted */
		e = n_vcpu * w * b->ratio[b->n_curve - 1] * dt_s +
		    w * (b->ratio[b->n_curve - 1] - b->ratio[0]) * (busy_cpu_s - cap);
	}
	return e + b->mem_w_per_gb * mem_gb * dt_s;
}

double pwr_vm_energy_j(const struct pwr_vm_coef *k, int which, int n_vcpu, double mem_gb,
                       double elapsed_s, double busy_cpu_s)
{
	return n_vcpu * k->min_w[which] * elapsed_s +
	       (k->max_w[which] - k->min_w[which]) * busy_cpu_s +
	       k->mem_w_per_gb[which] * mem_gb * elapsed_s;
}

int pwr_procstat_read(const char *root, int *n_cpu, unsigned long long *busy,
                      unsigned long long *total)
{
	char path[PATH_MAX], line[1024];
	FILE *f;
	bool agg = false;

	*n_cpu = 0;
	*busy = *total = 0;
	pwr_path(path, sizeof path, root, "proc/stat");
	f = fopen(path, "r");
	if (!f)
		return -errno;
	while (fgets(line, sizeof line, f)) {
		unsigned long long v[8] = {0};

		if (strncmp(line, "cpu", 3))
			continue;
		if (line[3] == ' ') {
			if (sscanf(line + 3, "%llu %llu %llu %llu %llu %llu %llu %llu", &v[0],
			           &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]) < 4)
				break;
			/* user nice system idle iowait irq softirq steal */
			*busy = v[0] + v[1] + v[2] + v[5] + v[6];
			*total = *busy + v[3] + v[4] + v[7];
			agg = true;
		} else if (isdigit((unsigned char)line[3])) {
			(*n_cpu)++;
		}
	}
	fclose(f);
	return agg && *n_cpu > 0 ? 0 : -EINVAL;
}

int pwr_procself_ticks(const char *root, unsigned long long *ticks)
{
	char path[PATH_MAX], buf[2048], *p;
	unsigned long long ut = 0, st = 0;
	FILE *f;
	size_t n;

	pwr_path(path, sizeof path, root, "proc/self/stat");
	f = fopen(path, "r");
	if (!f)
		return -errno;
	n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')'); /* comm may contain spaces and parentheses */
	if (!p)
		return -EINVAL;
	/* after ")": state(3) ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt
	 * utime(14) stime(15) */
	if (sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
		return -EINVAL;
	*ticks = ut + st;
	return 0;
}

static double mem_gb_read(const char *root)
{
	char path[PATH_MAX], line[256];
	unsigned long long kb = 0;
	FILE *f;

	pwr_path(path, sizeof path, root, "proc/meminfo");
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof line, f))
		if (sscanf(line, "MemTotal: %llu kB", &kb) == 1)
			break;
	fclose(f);
	return kb ? (double)kb * 1024.0 / 1e9 : -1;
}

/* ---- the backend ------------------------------------------------------------------------------
 */

enum vm_what { VM_PROCESS, VM_MACHINE };

struct vm_priv {
	struct pwr_vm_coef k;
	struct pwr_vm_boavizta boa; /* the second set of the range (boa.have false: none) */
	enum vm_what what;
	int which; /* coefficient set: 0 default, 1 low, 2 high */
	int n_vcpu;
	double mem_gb;
	char root[PATH_MAX];
	bool real_root;
	double tick_s;
	int64_t t0_ns, t_last_ns;
	double cpu0_s;                /* VM_PROCESS: process CPU seconds at open */
	double cpu_last_s;            /* VM_PROCESS bounds: at the previous read */
	unsigned long long busy_last; /* VM_MACHINE */
	double e_j;                   /* VM_MACHINE and the VM_PROCESS bounds: accumulated */
	uint64_t last;
	struct pwr_shared_sample *sh; /* VM_PROCESS: the sample the three domains share */
	uint64_t seen;                /* the last shared sample this domain used */
};

static int process_cpu_s(const void *ctx, double *s)
{
	const struct vm_priv *p = ctx;

	if (p->real_root) {
		struct timespec ts;

		if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) != 0)
			return -errno;
		*s = (double)ts.tv_sec + ts.tv_nsec / 1e9;
	} else {
		unsigned long long t;
		int rc = pwr_procself_ticks(p->root, &t);

		if (rc < 0)
			return rc;
		*s = (double)t * p->tick_s;
	}
	return 0;
}

static bool is_real_root(const char *root)
{
	return !root || !*root || !strcmp(root, "/");
}

static int add_domain(struct pwr_discover *d, const struct vm_priv *tmpl, enum vm_what what,
                      int which, const char *domain, const char *how)
{
	static const char *set_name[3] = {"default", "low", "high"};
	struct vm_priv *p = malloc(sizeof *p);
	struct pwr_dom dom, *stored;
	const struct pwr_vm_coef *k = &tmpl->k;

	if (!p)
		return -ENOMEM;
	*p = *tmpl;
	p->what = what;
	p->which = which;
	if (what != VM_PROCESS)
		p->sh = NULL;
	memset(&dom, 0, sizeof dom);
	pwr_strf(dom.desc.backend, sizeof dom.desc.backend, "vm");
	pwr_strf(dom.desc.domain, sizeof dom.desc.domain, "%s", domain);
	if (what == VM_MACHINE)
		pwr_strf(dom.desc.covers, sizeof dom.desc.covers,
		         "model of the whole VM (%d vCPUs, %.3g GB): busy time of every process "
		         "from /proc/stat",
		         p->n_vcpu, p->mem_gb);
	else if (which == 0)
		pwr_strf(dom.desc.covers, sizeof dom.desc.covers,
		         "model of this VM (%d vCPUs idle, %.3g GB) plus this process's busy CPU "
		         "time; not a "
		         "measurement",
		         p->n_vcpu, p->mem_gb);
	else
		pwr_strf(dom.desc.covers, sizeof dom.desc.covers,
		         "%s bound of vm:process (every coefficient at its %s value)",
		         which == 1 ? "low" : "high", set_name[which]);
	pwr_strf(dom.desc.model, sizeof dom.desc.model,
	         "CCF per-vCPU model (%s): P = %d vCPU x %.3g W + (%.3g - %.3g) W x busy vCPUs + "
	         "%.4g W/GB x "
	         "%.3g GB; %s; %s",
	         set_name[which], p->n_vcpu, k->min_w[which], k->max_w[which], k->min_w[which],
	         k->mem_w_per_gb[which], p->mem_gb, k->uarch_name, how);
	if (what == VM_PROCESS && which != 0 && p->boa.have) {
		size_t used = strlen(dom.desc.model);

		pwr_strf(
		    dom.desc.model + used, sizeof dom.desc.model - used,
		    "; in each interval the %s of this and Boavizta/Teads: %d vCPU x %.3g W per "
		    "thread x TDP ratio(utilisation) + %.4g W/GB (%s)",
		    which == 1 ? "lower" : "higher", p->n_vcpu, p->boa.tdp_per_thread_w[which - 1],
		    p->boa.mem_w_per_gb, p->boa.refs);
	} else if (what == VM_PROCESS && which != 0) {
		size_t used = strlen(dom.desc.model);

		pwr_strf(dom.desc.model + used, sizeof dom.desc.model - used,
		         "; CCF's range only: the Boavizta/Teads set does not apply (%s)",
		         p->boa.why);
	}
	if (what == VM_PROCESS)
		pwr_strf(dom.desc.range_sets, sizeof dom.desc.range_sets, "%s",
		         p->boa.have ? "ccf-vcpu,boavizta-vcpu" : "ccf-vcpu");
	pwr_strf(dom.desc.unit, sizeof dom.desc.unit, "nJ (estimated)");
	dom.desc.kind = PWR_ESTIMATED;
	dom.desc.resolution_j = 1e-9;
	dom.value_kind = PWR_VALUE_COUNTER;
	dom.joules_per_unit = 1e-9;
	dom.backend = &pwr_backend_vm;
	dom.not_primary = what == VM_MACHINE || which != 0;
	dom.priv = p;
	stored = d->add(d, &dom);
	if (!stored) {
		free(p);
		return -ENOMEM;
	}
	if (p->sh)
		p->sh->refs++;
	return 0;
}

static int vm_discover(struct pwr_discover *d)
{
	struct vm_priv t;
	struct pwr_cpuid c;
	char path[PATH_MAX], err[320], how[320];
	const char *uarch;
	unsigned long long busy, total;
	int rc;
	long tck = sysconf(_SC_CLK_TCK);

	memset(&t, 0, sizeof t);
	if (pwr_cpuid_read(d->sysfs_root, &c) < 0)
		memset(&c, 0, sizeof c),
		    c.family = c.model = c.stepping = c.arm_implementer = c.arm_part = -1;
	uarch = pwr_vm_infer_uarch(&c, how, sizeof how);
	if (pwr_data_path(VM_COEF_FILE, path, sizeof path) < 0) {
		d->unavailable(
		    d, "vm",
		    "%s not found (looked in $JOULEBENCH_DATA, the working directory, next to "
		    "the executable and the installed data directory)",
		    VM_COEF_FILE);
		return 0;
	}
	rc = pwr_vm_coef_load(path, uarch, &t.k, err, sizeof err);
	if (rc < 0) {
		d->unavailable(d, "vm", "cannot use the coefficient table %s", err);
		return rc == -ENOMEM ? rc : 0;
	}
	/* the second set of the range: without it the range is CCF's alone, and says so */
	{
		char hw[PATH_MAX];

		if (pwr_data_path(VM_BOA_FILE, path, sizeof path) < 0)
			pwr_strf(t.boa.why, sizeof t.boa.why, "%s not found", VM_BOA_FILE);
		else if (pwr_data_path("configs/hardware", hw, sizeof hw) < 0)
			pwr_strf(t.boa.why, sizeof t.boa.why, "configs/hardware not found");
		else if ((rc = pwr_vm_boavizta_load(path, hw, uarch, &t.boa, err, sizeof err)) < 0)
			pwr_strf(t.boa.why, sizeof t.boa.why, "%s", err);
		/* a missing or broken file (not a micro-architecture without a row) is a fault
		 * to report, not only a note in the model text */
		if (!t.boa.have && (rc < 0 || strstr(t.boa.why, "not found")))
			d->unavailable(d, "vm:boavizta",
			               "cannot use the Boavizta/Teads set (%s): the range of "
			               "vm:process spans CCF's coefficients only",
			               t.boa.why);
	}
	pwr_strf(t.root, sizeof t.root, "%s", d->sysfs_root ? d->sysfs_root : "/");
	t.real_root = is_real_root(d->sysfs_root);
	t.tick_s = tck > 0 ? 1.0 / (double)tck : 0.01;
	rc = pwr_procstat_read(t.root, &t.n_vcpu, &busy, &total);
	if (rc < 0) {
		d->unavailable(
		    d, "vm",
		    "cannot read %s/proc/stat (%s): the model needs the vCPU count and the "
		    "machine's busy time",
		    t.real_root ? "" : t.root, strerror(-rc));
		return 0;
	}
	t.mem_gb = mem_gb_read(t.root);
	if (t.mem_gb < 0) {
		d->unavailable(d, "vm", "cannot read MemTotal from %s/proc/meminfo",
		               t.real_root ? "" : t.root);
		return 0;
	}
	t.busy_last = busy;
	t.t0_ns = t.t_last_ns = pwr_now_ns();
	rc = process_cpu_s(&t, &t.cpu0_s);
	t.cpu_last_s = t.cpu0_s;
	if (rc < 0) {
		d->unavailable(d, "vm", "cannot read this process's CPU time (%s)", strerror(-rc));
		return 0;
	}
	t.sh = calloc(1, sizeof *t.sh);
	if (!t.sh)
		return -ENOMEM;
	rc = add_domain(d, &t, VM_PROCESS, 0, "process", how);
	if (!rc)
		rc = add_domain(d, &t, VM_PROCESS, 1, "process-low", how);
	if (!rc)
		rc = add_domain(d, &t, VM_PROCESS, 2, "process-high", how);
	if (!rc)
		rc = add_domain(d, &t, VM_MACHINE, 0, "machine", how);
	if (t.sh->refs == 0)
		free(t.sh); /* no domain holds it */
	return rc;
}

static int vm_read(struct pwr_dom *dom, uint64_t *raw)
{
	struct vm_priv *p = dom->priv;
	int64_t now;
	double e, el;
	uint64_t v;
	int rc;

	if (p->what == VM_PROCESS) {
		double cpu;

		rc = pwr_shared_sample(p->sh, &p->seen, process_cpu_s, p, &now, &cpu);
		if (rc < 0)
			return rc;
		dom->sample_t_ns = now;
		el = (double)(now - p->t0_ns) / 1e9;
		if (p->which == 0 || !p->boa.have) {
			e = pwr_vm_energy_j(&p->k, p->which, p->n_vcpu, p->mem_gb, el,
			                    cpu - p->cpu0_s);
		} else {
			/* the bound, in this interval (the Teads curve is not linear in
			 * utilisation): the lower/higher idle floor of CCF's low/high and
			 * Boavizta's, plus the lower/higher part above the floor, so that both
			 * gross and net (idle-subtracted) figures are covered */
			double dt = (double)(now - p->t_last_ns) / 1e9,
			       busy = cpu > p->cpu_last_s ? cpu - p->cpu_last_s : 0,
			       ci = pwr_vm_energy_j(&p->k, p->which, p->n_vcpu, p->mem_gb, dt, 0),
			       cb =
			           pwr_vm_energy_j(&p->k, p->which, p->n_vcpu, p->mem_gb, dt, busy),
			       bi = pwr_vm_boavizta_energy_j(&p->boa, p->which - 1, p->n_vcpu,
			                                     p->mem_gb, dt, 0),
			       bb = pwr_vm_boavizta_energy_j(&p->boa, p->which - 1, p->n_vcpu,
			                                     p->mem_gb, dt, busy);

			p->e_j += p->which == 1 ? fmin(ci, bi) + fmin(cb - ci, bb - bi)
			                        : fmax(ci, bi) + fmax(cb - ci, bb - bi);
			p->t_last_ns = now;
			p->cpu_last_s = cpu;
			e = p->e_j;
		}
	} else {
		unsigned long long busy, total;
		int n;

		now = pwr_now_ns();
		rc = pwr_procstat_read(p->root, &n, &busy, &total);
		if (rc < 0)
			return rc;
		p->e_j += pwr_vm_energy_j(
		    &p->k, p->which, p->n_vcpu, p->mem_gb, (double)(now - p->t_last_ns) / 1e9,
		    busy >= p->busy_last ? (double)(busy - p->busy_last) * p->tick_s : 0);
		p->busy_last = busy;
		p->t_last_ns = now;
		e = p->e_j;
	}
	v = e > 0 ? (uint64_t)llround(e * 1e9) : 0;
	if (v < p->last)
		v = p->last; /* never run backwards on rounding */
	p->last = v;
	*raw = v;
	return 0;
}

static void vm_close(struct pwr_dom *dom)
{
	struct vm_priv *p = dom->priv;

	if (p && p->sh && --p->sh->refs == 0)
		free(p->sh);
	free(dom->priv);
	dom->priv = NULL;
}

const struct pwr_backend pwr_backend_vm = {
    .name = "vm",
    .summary = "labelled VM/CI model: CCF watts per vCPU by micro-architecture x CPU use, + memory "
               "(configs/hardware/vm)",
    .discover = vm_discover,
    .read = vm_read,
    .close = vm_close,
};
