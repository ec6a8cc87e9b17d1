/*
 * power/hwmon.c — power and energy sensors exposed through /sys/class/hwmon.
 *
 * Each hwmonN directory names its driver in `name`; power<K>_average or power<K>_input (µW) become
 * power domains (the sampler integrates them) and energy<K>_input (µJ) counters (amd_energy, the
 * accumulated 64-bit RAPL of AMD sockets and cores; some BMC and GPU drivers). A <type><K>_label
 * file, when present, names the sensor ("Esocket0", "PPT"). Older drivers keep the attributes in
 * hwmonN/device/, which is searched too. What a sensor covers is the driver's business; the
 * domain says so rather than guess, except for amd_energy whose labels are documented.
 */
#include "power/backend.h"
#include "power/hw_util.h"

#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HWMON_MAX_DOMS 512

struct hwmon_priv {
	char path[640];
};

/* Replaces characters that do not belong in a domain name. */
static void sanitize(char *s)
{
	for (; *s; s++)
		if (*s == ' ' || *s == ':' || *s == '/' || *s == ',')
			*s = '_';
}

static void describe(char *covers, size_t len, const char *drv, const char *label, bool energy)
{
	if (!strcmp(drv, "amd_energy") && !strncmp(label, "Esocket", 7))
		snprintf(covers, len,
		         "AMD CPU socket %s: cores, caches, SoC (RAPL package via amd_energy)",
		         label + 7);
	else if (!strcmp(drv, "amd_energy") && !strncmp(label, "Ecore", 5))
		snprintf(covers, len, "one AMD CPU core (%s; part of its socket)", label);
	else
		snprintf(covers, len,
		         "%s sensor '%s' of hwmon driver %s (coverage defined by the driver)",
		         energy ? "energy" : "power", label, drv);
}

/* Whether name is <prefix><K><suffix> with K a decimal number (stored in *k). */
static bool match_attr(const char *name, const char *prefix, const char *suffix, int *k)
{
	size_t lp = strlen(prefix);
	char *end;

	if (strncmp(name, prefix, lp) != 0 || name[lp] < '0' || name[lp] > '9')
		return false;
	*k = (int)strtol(name + lp, &end, 10);
	return strcmp(end, suffix) == 0;
}

struct hwmon_scan {
	struct pwr_discover *d;
	char ids[HWMON_MAX_DOMS][64];
	int n_ids;
	int n_sensors;
};

static int add_sensor(struct hwmon_scan *sc, const char *hw, const char *drv, const char *dir,
                      const char *file, const char *label, bool energy)
{
	struct pwr_discover *d = sc->d;
	struct pwr_dom dom;
	struct pwr_dom *added;
	struct hwmon_priv *p;

	memset(&dom, 0, sizeof dom);
	snprintf(dom.desc.backend, sizeof dom.desc.backend, "hwmon");
	snprintf(dom.desc.domain, sizeof dom.desc.domain, "%.30s-%.30s", drv, label);
	sanitize(dom.desc.domain);
	for (int i = 0; i < sc->n_ids; i++)
		if (!strcmp(sc->ids[i], dom.desc.domain)) { /* two devices with one driver */
			snprintf(dom.desc.domain, sizeof dom.desc.domain, "%.24s-%.24s-%.12s", drv,
			         label, hw);
			sanitize(dom.desc.domain);
			break;
		}
	if (sc->n_ids >= HWMON_MAX_DOMS) {
		d->unavailable(d, "hwmon", "more than %d sensors: %s/%s skipped", HWMON_MAX_DOMS,
		               dir, file);
		return 0;
	}
	snprintf(sc->ids[sc->n_ids++], sizeof sc->ids[0], "%s", dom.desc.domain);
	snprintf(dom.desc.id, sizeof dom.desc.id, "hwmon:%s", dom.desc.domain);
	describe(dom.desc.covers, sizeof dom.desc.covers, drv, label, energy);
	dom.desc.kind = PWR_MEASURED;
	dom.backend = &pwr_backend_hwmon;
	if (energy) {
		dom.value_kind = PWR_VALUE_COUNTER;
		dom.range_raw = 0; /* 64-bit µJ: amd_energy accumulates the 32-bit MSR itself */
		dom.joules_per_unit = 1e-6;
		dom.desc.resolution_j = 1e-6;
	} else {
		dom.value_kind = PWR_VALUE_POWER;
		dom.watts_per_unit = 1e-6;
	}
	p = malloc(sizeof *p);
	if (!p)
		return -ENOMEM;
	if (pwr_hw_join(p->path, sizeof p->path, dir, file)) {
		free(p);
		return 0;
	}
	added = d->add(d, &dom);
	if (!added) {
		free(p);
		return -ENOMEM;
	}
	added->priv = p;
	sc->n_sensors++;
	return 0;
}

/* Finds power/energy sensors in one attribute directory. */
static int scan_dir(struct hwmon_scan *sc, const char *hw, const char *drv, const char *dir)
{
	struct dirent *de;
	DIR *dh = opendir(dir);
	int rc = 0;

	if (!dh)
		return 0;
	while (rc == 0 && (de = readdir(dh))) {
		char file[64], path[800], label[64], probe[64];
		const char *n = de->d_name;
		bool energy;
		int k;
		uint64_t v;

		if (match_attr(n, "energy", "_input", &k))
			energy = true;
		else if (match_attr(n, "power", "_average", &k))
			energy = false;
		else if (match_attr(n, "power", "_input", &k)) {
			energy = false;
			snprintf(probe, sizeof probe, "power%d_average", k);
			if (pwr_hw_join(path, sizeof path, dir, probe) == 0 &&
			    pwr_hw_read_u64(path, &v) == 0)
				continue; /* power<K>_average is preferred and already taken */
		} else
			continue;
		if (strlen(n) >= sizeof file || pwr_hw_join(path, sizeof path, dir, n))
			continue;
		memcpy(file, n, strlen(n) + 1);
		int err = pwr_hw_read_u64(path, &v);
		if (err) {
			char what[96];

			snprintf(what, sizeof what, "hwmon:%.30s-%.30s", drv, file);
			sc->d->unavailable(
			    sc->d, what, "%s: %s%s", path, pwr_hw_errstr(err),
			    err == -EACCES ? " (readable by root only; run with sudo)" : "");
			continue;
		}
		snprintf(probe, sizeof probe, "%s%d_label", energy ? "energy" : "power", k);
		if (pwr_hw_join(path, sizeof path, dir, probe) ||
		    pwr_hw_read_str(path, label, sizeof label) || !label[0])
			snprintf(label, sizeof label, "%s%d", energy ? "energy" : "power", k);
		rc = add_sensor(sc, hw, drv, dir, file, label, energy);
	}
	closedir(dh);
	return rc;
}

static int hwmon_discover(struct pwr_discover *d)
{
	struct hwmon_scan *sc;
	char root[512], hwdir[640], dev[700], path[700], drv[64];
	struct dirent *de;
	int rc = 0, n_dev = 0;
	DIR *dh;

	pwr_path(root, sizeof root, d->sysfs_root, "sys/class/hwmon");
	dh = opendir(root);
	if (!dh) {
		d->unavailable(d, "hwmon",
		               "no hwmon sensors: %s missing (%s); on bare metal load the "
		               "sensor drivers (`sudo sensors-detect` lists them)",
		               root, pwr_hw_errstr(-errno));
		return 0;
	}
	sc = calloc(1, sizeof *sc);
	if (!sc) {
		closedir(dh);
		return -ENOMEM;
	}
	sc->d = d;
	while (rc == 0 && (de = readdir(dh))) {
		if (strncmp(de->d_name, "hwmon", 5) != 0)
			continue;
		n_dev++;
		if (pwr_hw_join(hwdir, sizeof hwdir, root, de->d_name) ||
		    pwr_hw_join(path, sizeof path, hwdir, "name") ||
		    pwr_hw_read_str(path, drv, sizeof drv) || !drv[0])
			snprintf(drv, sizeof drv, "%.60s", de->d_name);
		sanitize(drv);
		rc = scan_dir(sc, de->d_name, drv, hwdir);
		if (rc == 0 && pwr_hw_join(dev, sizeof dev, hwdir, "device") == 0)
			rc = scan_dir(sc, de->d_name, drv, dev);
	}
	closedir(dh);
	if (rc == 0 && sc->n_sensors == 0)
		d->unavailable(
		    d, "hwmon",
		    "%d hwmon device(s) under %s, none with power*_average, power*_input "
		    "or energy*_input sensors",
		    n_dev, root);
	free(sc);
	return rc;
}

static int hwmon_read(struct pwr_dom *dom, uint64_t *raw)
{
	struct hwmon_priv *p = dom->priv;

	return p ? pwr_hw_read_u64(p->path, raw) : -EBADF;
}

static void hwmon_close(struct pwr_dom *dom)
{
	free(dom->priv);
	dom->priv = NULL;
}

const struct pwr_backend pwr_backend_hwmon = {
    .name = "hwmon",
    .summary = "hwmon power*_average/power*_input (µW) and energy*_input (µJ, e.g. amd_energy) "
               "sensors",
    .discover = hwmon_discover,
    .read = hwmon_read,
    .close = hwmon_close,
};
