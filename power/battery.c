/*
 * power/battery.c — whole-system power of a laptop from its battery, while it discharges.
 *
 * /sys/class/power_supply/NAME with type "Battery" gives power_now (µW), or voltage_now (µV) ×
 * current_now (µA) where the driver has no power_now, and energy_now (µWh, the charge left).
 * These describe the battery's flow, which equals the system's draw only while the battery is
 * the sole source: on AC power the numbers describe charging (or nothing), so a battery is a
 * domain only while its status is "Discharging", and a read after it stops discharging fails
 * (with explain() saying why) instead of returning a wrong figure.
 *
 * energy_now becomes a counter of energy drawn (it falls as the battery discharges); firmware
 * updates it every few seconds in steps of 10 mWh or more, so it only suits runs of minutes.
 */
#include "power/backend.h"
#include "power/hw_util.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BAT_AC_REASON                                                                              \
	"on AC power: battery power is only meaningful while discharging; unplug to measure"
/* energy_now falls while discharging; the counter is this minus energy_now (µWh). */
#define BAT_ENERGY_BASE (1ull << 48)

enum bat_source { BAT_POWER_NOW, BAT_VI, BAT_ENERGY_NOW };

struct bat_priv {
	char dir[512];
	enum bat_source src;
};

static int bat_status(const char *dir, char *status, size_t len)
{
	char path[640];
	int rc = pwr_hw_join(path, sizeof path, dir, "status");

	return rc ? rc : pwr_hw_read_str(path, status, len);
}

static int attr_i64(const char *dir, const char *name, int64_t *v)
{
	char path[640];
	int rc = pwr_hw_join(path, sizeof path, dir, name);

	return rc ? rc : pwr_hw_read_i64(path, v);
}

static int add_dom(struct pwr_discover *d, const char *dir, const char *name, enum bat_source src)
{
	struct pwr_dom dom;
	struct pwr_dom *added;
	struct bat_priv *p;

	memset(&dom, 0, sizeof dom);
	snprintf(dom.desc.backend, sizeof dom.desc.backend, "battery");
	dom.desc.kind = PWR_MEASURED;
	dom.backend = &pwr_backend_battery;
	switch (src) {
	case BAT_POWER_NOW:
	case BAT_VI:
		snprintf(dom.desc.domain, sizeof dom.desc.domain, "%s", name);
		snprintf(dom.desc.covers, sizeof dom.desc.covers,
		         "whole system, drawn from battery %s while discharging (%s)", name,
		         src == BAT_POWER_NOW ? "power_now" : "voltage_now x current_now");
		dom.value_kind = PWR_VALUE_POWER;
		dom.watts_per_unit = src == BAT_POWER_NOW ? 1e-6 : 1e-12; /* µW, or µV·µA = pW */
		break;
	case BAT_ENERGY_NOW:
		snprintf(dom.desc.domain, sizeof dom.desc.domain, "%s-energy", name);
		snprintf(dom.desc.covers, sizeof dom.desc.covers,
		         "whole system, energy drawn from battery %s (energy_now; coarse: firmware "
		         "steps of ~10 mWh every few s, use for runs of minutes)",
		         name);
		dom.value_kind = PWR_VALUE_COUNTER;
		dom.range_raw = 0;
		dom.joules_per_unit = 3600e-6; /* 1 µWh */
		dom.desc.resolution_j = 3600e-6;
		break;
	}
	snprintf(dom.desc.id, sizeof dom.desc.id, "battery:%s", dom.desc.domain);
	p = malloc(sizeof *p);
	if (!p)
		return -ENOMEM;
	snprintf(p->dir, sizeof p->dir, "%s", dir);
	p->src = src;
	added = d->add(d, &dom);
	if (!added) {
		free(p);
		return -ENOMEM;
	}
	added->priv = p;
	return 0;
}

static int battery_discover(struct pwr_discover *d)
{
	char root[512], dir[512], path[640], buf[64];
	struct dirent *de;
	int n_bat = 0, rc = 0;
	DIR *dh;

	pwr_path(root, sizeof root, d->sysfs_root, "sys/class/power_supply");
	dh = opendir(root);
	if (!dh) {
		d->unavailable(d, "battery", "no power supplies: %s missing (%s)", root,
		               pwr_hw_errstr(-errno));
		return 0;
	}
	while (rc == 0 && (de = readdir(dh))) {
		int64_t v, i;

		if (de->d_name[0] == '.')
			continue;
		if (pwr_hw_join(dir, sizeof dir, root, de->d_name) ||
		    pwr_hw_join(path, sizeof path, dir, "type") ||
		    pwr_hw_read_str(path, buf, sizeof buf) || strcmp(buf, "Battery") != 0)
			continue; /* Mains, USB, UPS, a mouse's "Device" battery ... */
		if (pwr_hw_join(path, sizeof path, dir, "scope") == 0 &&
		    pwr_hw_read_str(path, buf, sizeof buf) == 0 && strcmp(buf, "Device") == 0)
			continue; /* a peripheral's battery, not the system's */
		n_bat++;

		char what[96];
		snprintf(what, sizeof what, "battery:%.80s", de->d_name);
		if (bat_status(dir, buf, sizeof buf)) {
			d->unavailable(d, what,
			               "%s/status unreadable: cannot tell whether it discharges",
			               dir);
			continue;
		}
		if (strcmp(buf, "Discharging") != 0) {
			d->unavailable(d, what, BAT_AC_REASON " (status: %s)", buf);
			continue;
		}
		/* A discharging battery drawing 0 W is firmware not reporting, not a measurement.
		 */
		if (attr_i64(dir, "power_now", &v) == 0 && v != 0)
			rc = add_dom(d, dir, de->d_name, BAT_POWER_NOW);
		else if (attr_i64(dir, "voltage_now", &v) == 0 &&
		         attr_i64(dir, "current_now", &i) == 0 && v != 0 && i != 0)
			rc = add_dom(d, dir, de->d_name, BAT_VI);
		else
			d->unavailable(
			    d, what,
			    "%s reports no discharge power: power_now, or voltage_now and "
			    "current_now, missing or 0 (firmware does not report it; try again "
			    "a minute after unplugging)",
			    dir);
		if (rc == 0 && attr_i64(dir, "energy_now", &v) == 0)
			rc = add_dom(d, dir, de->d_name, BAT_ENERGY_NOW);
	}
	closedir(dh);
	if (rc == 0 && n_bat == 0)
		d->unavailable(d, "battery", "no system battery under %s (not a laptop)", root);
	return rc;
}

static int battery_read(struct pwr_dom *dom, uint64_t *raw)
{
	struct bat_priv *p = dom->priv;
	char status[64];
	int64_t v, i;
	int rc;

	if (!p)
		return -EBADF;
	if ((rc = bat_status(p->dir, status, sizeof status)))
		return rc;
	if (strcmp(status, "Discharging") != 0)
		return -ENODATA; /* plugged in mid-run: explain() says so */
	switch (p->src) {
	case BAT_POWER_NOW:
		if ((rc = attr_i64(p->dir, "power_now", &v)))
			return rc;
		*raw = (uint64_t)(v < 0 ? -v : v); /* some drivers sign the flow */
		return 0;
	case BAT_VI:
		if ((rc = attr_i64(p->dir, "voltage_now", &v)) ||
		    (rc = attr_i64(p->dir, "current_now", &i)))
			return rc;
		*raw = (uint64_t)(v < 0 ? -v : v) * (uint64_t)(i < 0 ? -i : i);
		return 0;
	case BAT_ENERGY_NOW:
		if ((rc = attr_i64(p->dir, "energy_now", &v)))
			return rc;
		if (v < 0 || (uint64_t)v >= BAT_ENERGY_BASE)
			return -ERANGE;
		*raw = BAT_ENERGY_BASE - (uint64_t)v;
		return 0;
	}
	return -EINVAL;
}

static void battery_explain(struct pwr_dom *dom, int err, char *buf, size_t len)
{
	struct bat_priv *p = dom->priv;

	if (err == -ENODATA)
		snprintf(buf, len, "%s: stopped discharging; " BAT_AC_REASON, dom->desc.id);
	else
		snprintf(buf, len, "%s: reading %s failed: %s", dom->desc.id, p ? p->dir : "?",
		         pwr_hw_errstr(err));
}

static void battery_close(struct pwr_dom *dom)
{
	free(dom->priv);
	dom->priv = NULL;
}

const struct pwr_backend pwr_backend_battery = {
    .name = "battery",
    .summary = "whole-system power from a laptop battery (power_now / voltage x current, "
               "energy_now), only while discharging",
    .discover = battery_discover,
    .read = battery_read,
    .close = battery_close,
    .explain = battery_explain,
};
