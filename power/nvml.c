/*
 * power/nvml.c — NVIDIA GPU energy and power through NVML, loaded with dlopen.
 *
 * The build never needs CUDA or the NVML headers: the few types and entry points used are
 * declared here, and libnvidia-ml.so.1 (installed by the NVIDIA driver; $JOULEBENCH_NVML_LIB
 * overrides the path, which the tests use to load a fake) is opened at discovery. Each GPU is a
 * counter domain from nvmlDeviceGetTotalEnergyConsumption (mJ since the driver loaded; Volta and
 * newer), or, on older GPUs, a power domain from nvmlDeviceGetPowerUsage (mW) that the sampler
 * integrates. NVML updates these every 20-100 ms, and on many boards the power reading is itself
 * an average over up to a second, so short windows are approximate.
 *
 * The library stays loaded while any GPU domain is open (reference counted) and is shut down
 * and closed with the last one.
 */
#include "power/backend.h"
#include "power/hw_util.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the slice of nvml.h we use (ABI-stable since NVML 5.319) ---- */
typedef int nvmlReturn_t;
typedef struct nvmlDevice_st *nvmlDevice_t;
enum { NVML_SUCCESS = 0, NVML_ERROR_NOT_SUPPORTED = 3, NVML_ERROR_NO_PERMISSION = 4 };
#define NVML_DEVICE_NAME_BUFFER_SIZE 96

#define NVML_DEFAULT_LIB "libnvidia-ml.so.1"

struct nvml_lib {
	void *dl;
	int refs;
	nvmlReturn_t (*init)(void);
	nvmlReturn_t (*shutdown)(void);
	nvmlReturn_t (*count)(unsigned int *);
	nvmlReturn_t (*handle)(unsigned int, nvmlDevice_t *);
	nvmlReturn_t (*name)(nvmlDevice_t, char *, unsigned int);
	nvmlReturn_t (*energy)(nvmlDevice_t, unsigned long long *);
	nvmlReturn_t (*power)(nvmlDevice_t, unsigned int *);
	const char *(*errstr)(nvmlReturn_t);
};

static struct nvml_lib lib;
static pthread_mutex_t lib_lock = PTHREAD_MUTEX_INITIALIZER;

struct nvml_priv {
	nvmlDevice_t dev;
	int energy; /* 1: counter via total energy, 0: power */
};

static const char *nv_err(nvmlReturn_t r)
{
	static _Thread_local char buf[32];
	const char *s = lib.errstr ? lib.errstr(r) : NULL;

	if (s)
		return s;
	snprintf(buf, sizeof buf, "NVML error %d", r);
	return buf;
}

/* Drops one reference; the last shuts NVML down and unloads it. Call with lib_lock held. */
static void lib_unref(void)
{
	if (--lib.refs > 0)
		return;
	if (lib.shutdown)
		lib.shutdown();
	dlclose(lib.dl);
	memset(&lib, 0, sizeof lib);
}

/* Loads and initialises NVML (or takes another reference). 0, or -1 with the reason recorded. */
static int lib_ref(struct pwr_discover *d)
{
	const char *path = getenv("JOULEBENCH_NVML_LIB");
	const char *from = path && *path ? " ($JOULEBENCH_NVML_LIB)" : "";
	nvmlReturn_t r;

	if (lib.refs > 0) {
		lib.refs++;
		return 0;
	}
	if (!path || !*path)
		path = NVML_DEFAULT_LIB;
	lib.dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!lib.dl) {
		const char *e = dlerror();

		if (*from)
			d->unavailable(d, "nvml", "NVML not found: %s%s: %s", path, from,
			               e ? e : "");
		else
			d->unavailable(d, "nvml", "NVML not found: %s (install the NVIDIA driver)",
			               path);
		return -1;
	}
	*(void **)&lib.init = dlsym(lib.dl, "nvmlInit_v2");
	*(void **)&lib.shutdown = dlsym(lib.dl, "nvmlShutdown");
	*(void **)&lib.count = dlsym(lib.dl, "nvmlDeviceGetCount_v2");
	*(void **)&lib.handle = dlsym(lib.dl, "nvmlDeviceGetHandleByIndex_v2");
	*(void **)&lib.name = dlsym(lib.dl, "nvmlDeviceGetName");
	*(void **)&lib.energy = dlsym(lib.dl, "nvmlDeviceGetTotalEnergyConsumption");
	*(void **)&lib.power = dlsym(lib.dl, "nvmlDeviceGetPowerUsage");
	*(void **)&lib.errstr = dlsym(lib.dl, "nvmlErrorString");
	if (!lib.init || !lib.shutdown || !lib.count || !lib.handle || !lib.power) {
		d->unavailable(
		    d, "nvml",
		    "%s%s lacks nvmlInit_v2/nvmlDeviceGetCount_v2/nvmlDeviceGetPowerUsage: "
		    "driver too old (R319+ needed)",
		    path, from);
		dlclose(lib.dl);
		memset(&lib, 0, sizeof lib);
		return -1;
	}
	r = lib.init();
	if (r != NVML_SUCCESS) {
		d->unavailable(
		    d, "nvml",
		    "nvmlInit_v2 failed: %s (is the NVIDIA kernel driver loaded? `nvidia-smi` "
		    "should work)",
		    nv_err(r));
		dlclose(lib.dl);
		memset(&lib, 0, sizeof lib);
		return -1;
	}
	lib.refs = 1;
	return 0;
}

static int add_gpu(struct pwr_discover *d, unsigned i, nvmlDevice_t dev)
{
	char name[NVML_DEVICE_NAME_BUFFER_SIZE] = "NVIDIA GPU", what[32];
	unsigned long long mj;
	unsigned int mw;
	struct pwr_dom dom;
	struct pwr_dom *added;
	struct nvml_priv *p;
	nvmlReturn_t re = NVML_ERROR_NOT_SUPPORTED, rp;

	snprintf(what, sizeof what, "nvml:gpu%u", i);
	if (lib.name && lib.name(dev, name, sizeof name) != NVML_SUCCESS)
		snprintf(name, sizeof name, "NVIDIA GPU");
	if (lib.energy)
		re = lib.energy(dev, &mj);
	memset(&dom, 0, sizeof dom);
	snprintf(dom.desc.backend, sizeof dom.desc.backend, "nvml");
	snprintf(dom.desc.domain, sizeof dom.desc.domain, "gpu%u", i);
	snprintf(dom.desc.id, sizeof dom.desc.id, "nvml:gpu%u", i);
	dom.desc.kind = PWR_MEASURED;
	dom.backend = &pwr_backend_nvml;
	if (re == NVML_SUCCESS) {
		snprintf(dom.desc.covers, sizeof dom.desc.covers,
		         "GPU %u (%.60s): whole board (nvmlDeviceGetTotalEnergyConsumption)", i,
		         name);
		dom.value_kind = PWR_VALUE_COUNTER;
		dom.range_raw = 0;
		dom.joules_per_unit = 1e-3;
		dom.desc.resolution_j = 1e-3;
	} else {
		rp = lib.power(dev, &mw);
		if (rp != NVML_SUCCESS) {
			d->unavailable(
			    d, what,
			    "GPU %u (%.60s): neither total energy (%s) nor power usage (%s) is "
			    "readable%s",
			    i, name, nv_err(re), nv_err(rp),
			    rp == NVML_ERROR_NO_PERMISSION ? "; run as root" : "");
			return 0;
		}
		snprintf(dom.desc.covers, sizeof dom.desc.covers,
		         "GPU %u (%.40s): board power, integrated (no energy counter before Volta; "
		         "may be a 1 s average)",
		         i, name);
		dom.value_kind = PWR_VALUE_POWER;
		dom.watts_per_unit = 1e-3;
	}
	p = malloc(sizeof *p);
	if (!p)
		return -ENOMEM;
	p->dev = dev;
	p->energy = re == NVML_SUCCESS;
	added = d->add(d, &dom);
	if (!added) {
		free(p);
		return -ENOMEM;
	}
	added->priv = p;
	lib.refs++;
	return 0;
}

static int nvml_discover(struct pwr_discover *d)
{
	unsigned int n = 0;
	nvmlReturn_t r;
	int rc = 0;

	pthread_mutex_lock(&lib_lock);
	if (lib_ref(d)) {
		pthread_mutex_unlock(&lib_lock);
		return 0;
	}
	r = lib.count(&n);
	if (r != NVML_SUCCESS)
		d->unavailable(d, "nvml", "nvmlDeviceGetCount_v2 failed: %s", nv_err(r));
	else if (n == 0)
		d->unavailable(d, "nvml", "NVML is installed but reports no GPUs");
	for (unsigned i = 0; r == NVML_SUCCESS && i < n && rc == 0; i++) {
		nvmlDevice_t dev;
		nvmlReturn_t rh = lib.handle(i, &dev);

		if (rh != NVML_SUCCESS) {
			char what[32];

			snprintf(what, sizeof what, "nvml:gpu%u", i);
			d->unavailable(
			    d, what, "nvmlDeviceGetHandleByIndex_v2(%u) failed: %s%s", i,
			    nv_err(rh),
			    rh == NVML_ERROR_NO_PERMISSION ? " (no permission for this GPU)" : "");
			continue;
		}
		rc = add_gpu(d, i, dev);
	}
	lib_unref(); /* discovery's own reference; each domain holds one */
	pthread_mutex_unlock(&lib_lock);
	return rc;
}

static int nvml_read(struct pwr_dom *dom, uint64_t *raw)
{
	struct nvml_priv *p = dom->priv;
	nvmlReturn_t r;

	if (!p)
		return -EBADF;
	if (p->energy) {
		unsigned long long mj;

		r = lib.energy(p->dev, &mj);
		if (r == NVML_SUCCESS)
			*raw = mj;
	} else {
		unsigned int mw;

		r = lib.power(p->dev, &mw);
		if (r == NVML_SUCCESS)
			*raw = mw;
	}
	if (r == NVML_SUCCESS)
		return 0;
	return r == NVML_ERROR_NO_PERMISSION ? -EACCES : -EIO;
}

static void nvml_explain(struct pwr_dom *dom, int err, char *buf, size_t len)
{
	snprintf(buf, len,
	         "%s: NVML read failed (%s): the GPU may have fallen off the bus or the "
	         "driver was reloaded; see `nvidia-smi`",
	         dom->desc.id, pwr_hw_errstr(err));
}

static void nvml_close(struct pwr_dom *dom)
{
	if (!dom->priv)
		return;
	free(dom->priv);
	dom->priv = NULL;
	pthread_mutex_lock(&lib_lock);
	lib_unref();
	pthread_mutex_unlock(&lib_lock);
}

const struct pwr_backend pwr_backend_nvml = {
    .name = "nvml",
    .summary = "NVIDIA GPU energy (nvmlDeviceGetTotalEnergyConsumption, mJ) or power via "
               "libnvidia-ml.so.1, loaded at run time",
    .discover = nvml_discover,
    .read = nvml_read,
    .close = nvml_close,
    .explain = nvml_explain,
};
