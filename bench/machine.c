/*
 * bench/machine.c — what a result records about the machine (`machine` in reports/SCHEMA.md)
 * (the build's own `joulebench` object comes from bench_build_json() in cmd_run.c).
 *
 * Every file is read under the sysfs root override (ROOT/proc/cpuinfo, ROOT/sys/..., ROOT/etc/
 * os-release), so tests can describe any machine. A value that cannot be read is null with a
 * sibling `<name>_reason`; nothing is guessed.
 */
#include "bench/bench.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

struct mroot {
	char root[1024]; /* "" for the real root */
};

static void mpath(const struct mroot *r, const char *path, char *out, size_t len)
{
	snprintf(out, len, "%s%s", r->root, path);
}

/* Reads ROOT/path into a malloc'd string (NULL + reason on failure). */
static char *slurp(const struct mroot *r, const char *path, char *why, size_t whylen)
{
	char full[1400];
	FILE *f;
	char *buf = NULL;
	size_t len = 0, cap = 0, n;

	mpath(r, path, full, sizeof full);
	f = fopen(full, "r");
	if (!f) {
		snprintf(why, whylen, "%.900s: %s", full, strerror(errno));
		return NULL;
	}
	for (;;) {
		if (cap - len < 4097) {
			char *nb = realloc(buf, cap + 65536);

			if (!nb) {
				free(buf);
				fclose(f);
				snprintf(why, whylen, "%.900s: out of memory", full);
				return NULL;
			}
			buf = nb;
			cap += 65536;
		}
		n = fread(buf + len, 1, 4096, f);
		len += n;
		if (n < 4096)
			break;
	}
	buf[len] = '\0';
	fclose(f);
	return buf;
}

/* First line of ROOT/path, trimmed, into out; 0 or -1 with why. */
static int read_line(const struct mroot *r, const char *path, char *out, size_t len, char *why,
		     size_t whylen)
{
	char *s = slurp(r, path, why, whylen);
	size_t n;

	if (!s)
		return -1;
	n = strcspn(s, "\n");
	s[n] = '\0';
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		s[--n] = '\0';
	if (!n) {
		snprintf(why, whylen, "%s%s is empty", r->root, path);
		free(s);
		return -1;
	}
	snprintf(out, len, "%s", s);
	free(s);
	return 0;
}

static void add_null(cJSON *o, const char *key, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void add_null(cJSON *o, const char *key, const char *fmt, ...)
{
	char k[96], reason[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof reason, fmt, ap);
	va_end(ap);
	cJSON_AddNullToObject(o, key);
	snprintf(k, sizeof k, "%s_reason", key);
	cJSON_AddStringToObject(o, k, reason);
}

/* Value of the first "key<spaces>: value" line in a cpuinfo-style text; NULL if none. */
static const char *field(const char *text, const char *key, char *out, size_t len)
{
	size_t kl = strlen(key);

	for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		const char *c;

		if (strncmp(l, key, kl) || (l[kl] != ' ' && l[kl] != '\t' && l[kl] != ':'))
			continue;
		c = strchr(l, ':');
		if (!c || (strchr(l, '\n') && c > strchr(l, '\n')))
			continue;
		c++;
		while (*c == ' ' || *c == '\t')
			c++;
		snprintf(out, len, "%.*s", (int)strcspn(c, "\n"), c);
		return out;
	}
	return NULL;
}

static bool has_word(const char *list, const char *w)
{
	size_t n = strlen(w);

	for (const char *p = list; (p = strstr(p, w)); p += n)
		if ((p == list || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0' || p[n] == '\n'))
			return true;
	return false;
}

/* Sockets and cores from /sys/devices/system/cpu/cpuN/topology (ARM's cpuinfo has neither);
 * leaves a count at 0 when it cannot be read. */
static void topology_from_sysfs(const struct mroot *r, int threads, int *sockets, int *cores)
{
	int pkgs[256], n_pkgs = 0, pk[4096], co[4096], n = 0;
	char why[1200], v[64], path[128];

	for (int cpu = 0; cpu < threads && cpu < 4096; cpu++) {
		int p, c;
		bool known = false;

		snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu%d/topology/physical_package_id", cpu);
		if (read_line(r, path, v, sizeof v, why, sizeof why) < 0)
			return;
		p = atoi(v);
		snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu%d/topology/core_id", cpu);
		if (read_line(r, path, v, sizeof v, why, sizeof why) < 0)
			return;
		c = atoi(v);
		for (int i = 0; i < n_pkgs; i++)
			known |= pkgs[i] == p;
		if (!known && n_pkgs < 256)
			pkgs[n_pkgs++] = p;
		known = false;
		for (int i = 0; i < n; i++)
			known |= pk[i] == p && co[i] == c;
		if (!known) {
			pk[n] = p;
			co[n++] = c;
		}
	}
	if (!*sockets)
		*sockets = n_pkgs;
	if (!*cores)
		*cores = n;
}

static void add_cpu(cJSON *m, const struct mroot *r)
{
	char why[1200], v[512], flags[8192] = "";
	char *ci = slurp(r, "/proc/cpuinfo", why, sizeof why);
	int threads = 0, sockets = 0, cores = 0;
	/* (physical id, core id) pairs seen, for counting cores */
	int seen_pkg[4096], seen_core[4096], n_seen = 0, pkgs[256], n_pkgs = 0;
	cJSON *simd;
	static const char *const simd_x86[] = { "sse4_2", "avx", "avx2", "fma", "f16c", "avx512f",
						"avx512bw", "avx512_vnni", "avx_vnni", "amx_tile" };
	static const char *const simd_arm[] = { "asimd", "asimddp", "i8mm", "sve", "sve2", "fphp",
						"asimdhp" };

	if (!ci) {
		add_null(m, "cpu_model", "%s", why);
		add_null(m, "cpu_vendor", "%s", why);
		add_null(m, "sockets", "%s", why);
		add_null(m, "cores", "%s", why);
		add_null(m, "threads", "%s", why);
		add_null(m, "simd_flags", "%s", why);
		cJSON_AddNullToObject(m, "hypervisor_flag");
		return;
	}
	if (field(ci, "model name", v, sizeof v) || field(ci, "Model", v, sizeof v) ||
	    field(ci, "cpu model", v, sizeof v))
		cJSON_AddStringToObject(m, "cpu_model", v);
	else
		add_null(m, "cpu_model", "%s/proc/cpuinfo has no 'model name' line", r->root);
	if (field(ci, "vendor_id", v, sizeof v) || field(ci, "CPU implementer", v, sizeof v))
		cJSON_AddStringToObject(m, "cpu_vendor", v);
	else
		add_null(m, "cpu_vendor", "%s/proc/cpuinfo has no 'vendor_id' line", r->root);

	/* walk processor blocks */
	for (const char *blk = ci; blk && *blk;) {
		const char *next = strstr(blk, "\n\n");
		char b[16384];
		size_t bl = next ? (size_t)(next - blk) : strlen(blk);
		int pkg = 0, core = -1;

		snprintf(b, sizeof b, "%.*s", (int)(bl < sizeof b ? bl : sizeof b - 1), blk);
		if (field(b, "processor", v, sizeof v)) {
			threads++;
			if (field(b, "physical id", v, sizeof v))
				pkg = atoi(v);
			if (field(b, "core id", v, sizeof v))
				core = atoi(v);
			if (!flags[0] && !field(b, "flags", flags, sizeof flags))
				field(b, "Features", flags, sizeof flags);
			bool known = false;
			for (int i = 0; i < n_pkgs; i++)
				known |= pkgs[i] == pkg;
			if (!known && n_pkgs < 256)
				pkgs[n_pkgs++] = pkg;
			if (core >= 0) {
				known = false;
				for (int i = 0; i < n_seen; i++)
					known |= seen_pkg[i] == pkg && seen_core[i] == core;
				if (!known && n_seen < 4096) {
					seen_pkg[n_seen] = pkg;
					seen_core[n_seen++] = core;
				}
			}
		}
		blk = next ? next + 2 : NULL;
	}
	sockets = strstr(ci, "physical id") ? n_pkgs : 0;
	cores = n_seen;
	if (!sockets || !cores)
		topology_from_sysfs(r, threads, &sockets, &cores);
	if (threads > 0)
		cJSON_AddNumberToObject(m, "threads", threads);
	else
		add_null(m, "threads", "%s/proc/cpuinfo lists no processors", r->root);
	if (sockets > 0)
		cJSON_AddNumberToObject(m, "sockets", sockets);
	else
		add_null(m, "sockets", "%s/proc/cpuinfo has no 'physical id' lines and no "
				       "cpu*/topology/physical_package_id is readable", r->root);
	if (cores > 0)
		cJSON_AddNumberToObject(m, "cores", cores);
	else
		add_null(m, "cores", "%s/proc/cpuinfo has no 'core id' lines and no "
				     "cpu*/topology/core_id is readable", r->root);

	if (flags[0]) {
		simd = cJSON_CreateArray();
		cJSON_AddItemToObject(m, "simd_flags", simd);
		for (size_t i = 0; i < sizeof simd_x86 / sizeof *simd_x86; i++)
			if (has_word(flags, simd_x86[i]))
				cJSON_AddItemToArray(simd, cJSON_CreateString(simd_x86[i]));
		for (size_t i = 0; i < sizeof simd_arm / sizeof *simd_arm; i++)
			if (has_word(flags, simd_arm[i]))
				cJSON_AddItemToArray(simd, cJSON_CreateString(simd_arm[i]));
		cJSON_AddBoolToObject(m, "hypervisor_flag", has_word(flags, "hypervisor"));
	} else {
		add_null(m, "simd_flags", "%s/proc/cpuinfo has no 'flags' or 'Features' line", r->root);
		cJSON_AddNullToObject(m, "hypervisor_flag");
	}
	free(ci);
}

static void add_khz_as_mhz(cJSON *m, const struct mroot *r, const char *key, const char *file)
{
	char why[1200], v[64];

	if (read_line(r, file, v, sizeof v, why, sizeof why) == 0)
		cJSON_AddNumberToObject(m, key, atof(v) / 1000.0);
	else
		add_null(m, key, "no cpufreq driver: %s", why);
}

static void add_freq(cJSON *m, const struct mroot *r)
{
	char why[1200], v[64], why2[1200];

	add_khz_as_mhz(m, r, "freq_min_mhz", "/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_min_freq");
	add_khz_as_mhz(m, r, "freq_max_mhz", "/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq");
	if (read_line(r, "/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor", v, sizeof v, why,
		      sizeof why) == 0)
		cJSON_AddStringToObject(m, "governor", v);
	else
		add_null(m, "governor", "no cpufreq driver: %s", why);
	/* intel_pstate says no_turbo (1 = boost off); acpi-cpufreq and amd-pstate say boost. */
	if (read_line(r, "/sys/devices/system/cpu/intel_pstate/no_turbo", v, sizeof v, why,
		      sizeof why) == 0) {
		cJSON_AddBoolToObject(m, "boost", atoi(v) == 0);
		cJSON_AddStringToObject(m, "boost_source", "intel_pstate/no_turbo");
	} else if (read_line(r, "/sys/devices/system/cpu/cpufreq/boost", v, sizeof v, why2,
			     sizeof why2) == 0) {
		cJSON_AddBoolToObject(m, "boost", atoi(v) != 0);
		cJSON_AddStringToObject(m, "boost_source", "cpufreq/boost");
	} else {
		add_null(m, "boost", "neither intel_pstate/no_turbo nor cpufreq/boost is readable (%s)",
			 why2);
		add_null(m, "boost_source", "boost state unknown (see boost_reason)");
	}
}

static void add_mem(cJSON *m, const struct mroot *r)
{
	char why[1200], v[128];
	char *mi = slurp(r, "/proc/meminfo", why, sizeof why);

	if (mi && field(mi, "MemTotal", v, sizeof v))
		cJSON_AddNumberToObject(m, "mem_bytes", atof(v) * 1024.0);
	else if (mi)
		add_null(m, "mem_bytes", "%s/proc/meminfo has no MemTotal line", r->root);
	else
		add_null(m, "mem_bytes", "%s", why);
	free(mi);
}

static void add_os(cJSON *m, const struct mroot *r)
{
	char why[1200], v[512];
	struct utsname u;
	char *os;

	if (!r->root[0] && uname(&u) == 0) {
		snprintf(v, sizeof v, "%s %s %s", u.sysname, u.release, u.machine);
		cJSON_AddStringToObject(m, "kernel", v);
	} else if (read_line(r, "/proc/sys/kernel/osrelease", v, sizeof v, why, sizeof why) == 0) {
		char full[600];

		snprintf(full, sizeof full, "Linux %s", v);
		cJSON_AddStringToObject(m, "kernel", full);
	} else {
		add_null(m, "kernel", "%s", why);
	}
	os = slurp(r, "/etc/os-release", why, sizeof why);
	if (os) {
		const char *p = strstr(os, "PRETTY_NAME=");

		if (p && (p == os || p[-1] == '\n')) {
			p += strlen("PRETTY_NAME=");
			if (*p == '"')
				p++;
			snprintf(v, sizeof v, "%.*s", (int)strcspn(p, "\"\n"), p);
			cJSON_AddStringToObject(m, "os", v);
		} else {
			add_null(m, "os", "%s/etc/os-release has no PRETTY_NAME", r->root);
		}
	} else {
		add_null(m, "os", "%s", why);
	}
	free(os);
}

/* Hypervisor vendor from CPUID leaf 0x40000000 (only meaningful on the real machine). */
static bool cpuid_hypervisor(char *out, size_t len)
{
#if defined(__x86_64__) || defined(__i386__)
	unsigned a, b, c, d;
	char sig[13];
	static const struct {
		const char *sig, *name;
	} known[] = {
		{ "KVMKVMKVM", "KVM" },	     { "Microsoft Hv", "Hyper-V" }, { "VMwareVMware", "VMware" },
		{ "XenVMMXenVMM", "Xen" },   { "TCGTCGTCGTCG", "QEMU (TCG)" }, { "ACRNACRNACRN", "ACRN" },
		{ " lrpepyh  vr", "Parallels" }, { "bhyve bhyve ", "bhyve" }, { "QNXQVMBSQG", "QNX" },
	};

	__cpuid(0x40000000, a, b, c, d);
	memcpy(sig, &b, 4);
	memcpy(sig + 4, &c, 4);
	memcpy(sig + 8, &d, 4);
	sig[12] = '\0';
	if (!sig[0])
		return false;
	for (size_t i = 0; i < sizeof known / sizeof *known; i++)
		if (!strncmp(sig, known[i].sig, strlen(known[i].sig))) {
			snprintf(out, len, "%s", known[i].name);
			return true;
		}
	snprintf(out, len, "unknown hypervisor (CPUID signature '%s')", sig);
	return true;
#else
	(void)out;
	(void)len;
	return false;
#endif
}

static void add_virt(cJSON *m, const struct mroot *r)
{
	char why[1200], v[256], vendor[256] = "", product[256] = "";
	const cJSON *hf = cJSON_GetObjectItemCaseSensitive(m, "hypervisor_flag");
	bool flag = cJSON_IsTrue(hf);

	if (read_line(r, "/sys/hypervisor/type", v, sizeof v, why, sizeof why) == 0) {
		cJSON_AddStringToObject(m, "virtualized", v);
		goto out;
	}
	read_line(r, "/sys/class/dmi/id/sys_vendor", vendor, sizeof vendor, why, sizeof why);
	read_line(r, "/sys/class/dmi/id/product_name", product, sizeof product, why, sizeof why);
	if (flag && !r->root[0] && cpuid_hypervisor(v, sizeof v)) {
		cJSON_AddStringToObject(m, "virtualized", v);
	} else if (flag && (vendor[0] || product[0])) {
		snprintf(v, sizeof v, "%.120s %.120s", vendor, product);
		cJSON_AddStringToObject(m, "virtualized", v);
	} else if (flag) {
		cJSON_AddStringToObject(m, "virtualized", "unknown hypervisor (cpuinfo flag 'hypervisor')");
	} else if (cJSON_IsFalse(hf)) {
		cJSON_AddFalseToObject(m, "virtualized");
	} else {
		add_null(m, "virtualized", "cpuinfo flags unreadable and no %s/sys/hypervisor/type",
			 r->root);
	}
out:
	cJSON_DeleteItemFromObjectCaseSensitive(m, "hypervisor_flag");
}

cJSON *bench_machine_json(const char *sysfs_root)
{
	struct mroot r;
	char host[256];
	cJSON *m = cJSON_CreateObject();

	if (!m)
		return NULL;
	if (!sysfs_root)
		sysfs_root = getenv("JOULEBENCH_SYSFS_ROOT");
	snprintf(r.root, sizeof r.root, "%s", sysfs_root && strcmp(sysfs_root, "/") ? sysfs_root : "");
	if (gethostname(host, sizeof host) == 0) {
		host[sizeof host - 1] = '\0';
		cJSON_AddStringToObject(m, "hostname", host);
	} else {
		add_null(m, "hostname", "gethostname: %s", strerror(errno));
	}
	add_cpu(m, &r);
	add_freq(m, &r);
	add_mem(m, &r);
	add_os(m, &r);
	add_virt(m, &r);
	if (r.root[0])
		cJSON_AddStringToObject(m, "sysfs_root", r.root);
	else
		cJSON_AddNullToObject(m, "sysfs_root");
	return m;
}
