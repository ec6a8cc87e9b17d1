/*
 * power/vm.h — private to power/: the `vm` backend's model, split out so tests can check it
 * against hand-computed values.
 *
 * For VMs, containers and CI runners where nothing can be measured: Cloud Carbon Footprint's
 * compute model per vCPU, with coefficients per CPU micro-architecture from
 * configs/hardware/vm/ccf-vcpu.json (each with default, low and high and its citation):
 *
 *   P = n_vcpu x min_w + (max_w - min_w) x busy + mem_w_per_gb x mem_gb
 *
 * which is CCF's "min + utilisation x (max - min)" per vCPU summed over the VM's vCPUs, with
 * utilisation x n_vcpu = busy, the number of busy vCPUs. `busy` is this process's CPU time per
 * second (domain vm:process, the headline) or the whole VM's non-idle time from /proc/stat
 * (vm:machine). vm:process-low and vm:process-high are the same model with every coefficient at
 * its low or high value: the range that goes with every figure of vm:process.
 *
 * When the CPU's model name is masked ("AMD EPYC", "Intel(R) Xeon(R) Processor"), the
 * micro-architecture is inferred from CPUID family/model/stepping and flags in /proc/cpuinfo, and
 * the estimate says how.
 */
#ifndef JB_POWER_VM_H
#define JB_POWER_VM_H

#include "power/power.h"

#include <stdbool.h>

/* What /proc/cpuinfo says about the first CPU. */
struct pwr_cpuid {
	char vendor[32];               /* vendor_id: "GenuineIntel", "AuthenticAMD"; "" on ARM */
	char model_name[128];          /* "" if absent */
	int family, model, stepping;   /* -1 if absent */
	int arm_implementer, arm_part; /* ARM "CPU implementer" / "CPU part", -1 if absent */
	char flags[4096];              /* space-separated, with a space at each end */
};

/* Reads ROOT/proc/cpuinfo. 0, or -errno. */
int pwr_cpuid_read(const char *root, struct pwr_cpuid *c);

/* The micro-architecture id (a row of ccf-vcpu.json: "zen5", "sapphirerapids", "unknown", ...)
 * for this CPU, and in `how` how it was chosen ("CPUID family 0x1A -> Zen 5; model name 'AMD
 * EPYC' names no part"). Returns a static string, never NULL. */
const char *pwr_vm_infer_uarch(const struct pwr_cpuid *c, char *how, size_t how_len);

struct pwr_vm_coef {
	double min_w[3], max_w[3], mem_w_per_gb[3]; /* [0] default, [1] low, [2] high */
	char uarch[32];
	char uarch_name[96];
	char source[320];
};

/* Loads the coefficients of micro-architecture `uarch` from the JSON file at path (falls back to
 * the file's "unknown" row when uarch has none, saying so in source). 0, or -errno/-EINVAL with
 * "FILE: what is wrong" in err. */
int pwr_vm_coef_load(const char *path, const char *uarch, struct pwr_vm_coef *k, char *err,
                     size_t errlen);

/* Energy in joules of the model with coefficient set `which` (0 default, 1 low, 2 high) over
 * elapsed_s seconds with busy_cpu_s CPU-seconds of work, n_vcpu vCPUs and mem_gb of memory. */
double pwr_vm_energy_j(const struct pwr_vm_coef *k, int which, int n_vcpu, double mem_gb,
                       double elapsed_s, double busy_cpu_s);

/*
 * The second coefficient set, configs/hardware/vm/boavizta-vcpu.json: BoaviztAPI's TDP-based CPU
 * profile (the Teads curve). Per vCPU, P = TDP per host thread x ratio(utilisation), the ratio
 * interpolated linearly between the file's points; TDP per thread from the micro-architecture's
 * reference CPUs, rows of configs/hardware (low/high: the lowest/highest among them); memory one
 * W/GB figure. vm:process-low/-high take, in every sampling interval, the lower/higher of this
 * set and CCF's low/high coefficients, so the range covers both.
 */
#define PWR_VM_CURVE_MAX 8
struct pwr_vm_boavizta {
	bool have; /* false: no reference CPU for this micro-architecture (why) */
	int n_curve;
	double load[PWR_VM_CURVE_MAX];  /* utilisation 0..1, increasing, from 0 to 1 */
	double ratio[PWR_VM_CURVE_MAX]; /* power / TDP at that utilisation */
	double tdp_per_thread_w[2];     /* [0] low, [1] high */
	double mem_w_per_gb;
	char refs[200]; /* "Gold 6338 205 W/64 thr, Platinum 8380 270 W/80 thr" */
	char why[200];  /* when !have: why the set does not apply */
};

/* Loads the set for `uarch` from the JSON file at path, resolving reference CPUs in the
 * configs/hardware tables under hw_dir. A micro-architecture without a row gives have = false
 * with why (not an error). 0, or -errno/-EINVAL with "FILE: field: what is wrong" in err. */
int pwr_vm_boavizta_load(const char *path, const char *hw_dir, const char *uarch,
                         struct pwr_vm_boavizta *b, char *err, size_t errlen);

/* The curve's ratio at utilisation util (clamped to [0, 1]). */
double pwr_vm_boavizta_ratio(const struct pwr_vm_boavizta *b, double util);

/* Energy in joules of the set at TDP per thread `which` (0 low, 1 high) over one interval of
 * dt_s seconds in which busy_cpu_s CPU-seconds were used on n_vcpu vCPUs (utilisation
 * busy / (n_vcpu x dt), beyond 1 continuing at the curve's average slope). */
double pwr_vm_boavizta_energy_j(const struct pwr_vm_boavizta *b, int which, int n_vcpu,
                                double mem_gb, double dt_s, double busy_cpu_s);

/* ROOT/proc/stat: number of cpuN lines (vCPUs) and the aggregate busy and total jiffies.
 * busy = user + nice + system + irq + softirq (guest time is inside user); total adds idle,
 * iowait and steal. 0 or -errno. */
int pwr_procstat_read(const char *root, int *n_cpu, unsigned long long *busy,
                      unsigned long long *total);

/* ROOT/proc/self/stat: utime + stime of the process, in clock ticks. 0 or -errno. */
int pwr_procself_ticks(const char *root, unsigned long long *ticks);

#endif
