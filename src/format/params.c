/* params.c - the detector parameters in one table (name, type, range,
 * default, help), their parsing with the messages both the config file
 * and `iotad eval` print, the rules across them, the detector
 * configuration they make (config_det), and the text they give the config
 * file and eval's --help. */
#include "iotad/params.h"

#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "iotad/alert.h"
#include "iotad/log.h"
#include "iotad/numparse.h"
#include "iotad/profile.h"

#define OFF(f) offsetof(iotad_config, f)
#define YEAR 31536000

/* section, key, type, field, min, max, default, eval flag, alias, arg, help */
static const param_def params[] = {
	{"detector", "max_devices", PARAM_U32, OFF(max_devices), 1, 10000000, 10000, false, NULL, "N",
	 "Most devices tracked at once; memory stays bounded."},
	{"detector", "evict", PARAM_EVICT, OFF(evict_lru), 0, 0, 1, false, NULL, "lru|reject",
	 "A new device when the table is full: lru replaces the least recently seen device "
	 "(counted as an eviction); reject refuses the new one."},
	{"detector", "idle_evict_after", PARAM_DOUBLE, OFF(idle_evict_after), 0, YEAR, 0, false, NULL,
	 "S", "Seconds of silence after which a device is forgotten (its window and alert state "
	 "are freed); 0 keeps devices until the table needs room."},
	{"detector", "threshold", PARAM_THR, OFF(threshold), 0, 0, THR_ADAPTIVE, true, NULL, "KIND",
	 "static: the model's calibrated threshold for every device.\n"
	 "adaptive: each device's threshold follows its own normal score level.\n"
	 "ewma: mean + threshold_k standard deviations of the device's normal scores "
	 "(exponentially weighted by threshold_alpha).\n"
	 "spot: peaks over threshold: a Pareto tail fitted on the model's calibration scores, "
	 "refitted per device, gives the score that normal windows exceed with probability "
	 "threshold_q.\n"
	 "dspot: spot on the score minus the mean of the device's last threshold_depth normal "
	 "scores: follows a slow drift of the level.\n"
	 "Windows judged anomalous never move a threshold."},
	{"detector", "threshold_alpha", PARAM_FLOAT, OFF(threshold_alpha), 0, 1, 0.01, true, NULL, "X",
	 "Weight of a new normal score in the adaptive and ewma levels."},
	{"detector", "threshold_k", PARAM_FLOAT, OFF(threshold_k), 0, 100, 4, true, NULL, "X",
	 "ewma: standard deviations above the mean."},
	{"detector", "threshold_q", PARAM_FLOAT, OFF(threshold_q), 0, 0.1, 1e-3, true, NULL, "X",
	 "spot, dspot: risk, the wanted false-alarm rate per window; below 1 - "
	 "threshold_init_quantile."},
	{"detector", "threshold_init_quantile", PARAM_FLOAT, OFF(threshold_init_quantile), 0.5, 0.9999,
	 0.98, true, NULL, "X", "spot, dspot: quantile of the calibration scores where the tail "
	 "starts."},
	{"detector", "threshold_peaks", PARAM_INT, OFF(threshold_peaks), 0, THR_MAX_PEAKS, 64, true,
	 NULL, "N", "spot, dspot: recent peaks each device keeps for refits, 4 bytes each."},
	{"detector", "threshold_depth", PARAM_INT, OFF(threshold_depth), 1, THR_MAX_DEPTH, 20, true,
	 NULL, "N", "dspot: normal scores in the drift mean, 4 bytes each."},
	{"detector", "score_alpha", PARAM_DOUBLE, OFF(score_alpha), 0, 1, 0, true, NULL, "A",
	 "Smooth each device's window scores with an EWMA of this weight before the threshold "
	 "judges them; 0 judges every window on its own (SKAB's cross-validated choice is 0.1 "
	 "with window 7: see docs/eval.md)."},
	{"detector", "alert_k", PARAM_INT, OFF(alert_k), 1, ALERT_MAX_N, 3, true, "k", "N",
	 "Raise an alert when alert_k of the last alert_n windows are anomalous (alert_k <= "
	 "alert_n)."},
	{"detector", "alert_n", PARAM_INT, OFF(alert_n), 1, ALERT_MAX_N, 3, true, "n", "N",
	 "The last windows alert_k counts in."},
	{"detector", "alert_m", PARAM_INT, OFF(alert_m), 1, 255, 5, true, "m", "N",
	 "Clear a raised alert after alert_m consecutive normal windows."},
	{"detector", "alert_hold", PARAM_DOUBLE, OFF(alert_hold), 0, YEAR, 0, true, NULL, "S",
	 "A raise lasts at least this many seconds of the device's own time, however normal its "
	 "windows look meanwhile (a fault whose middle looks normal stays one event); 0: off."},
	{"detector", "alert_quiet", PARAM_DOUBLE_AUTO, OFF(alert_quiet), 0, YEAR, -1, true, NULL,
	 "S", "A raised device clears only after this many seconds of normal windows in a "
	 "row (and alert_m windows): a fault that comes back within them is the same event, never "
	 "a clear and a new raise; 0: off; auto: 600 without a model (zero-config), 0 with one."},
	{"detector", "adapt_after", PARAM_DOUBLE, OFF(adapt_after), 0, YEAR, 0, true, NULL, "S",
	 "Seconds a raise may last before the change is taken as the device's new normal: the "
	 "event \"adapted\", then the device is re-baselined and learns again. A stuck sensor "
	 "never adapts. 0: never (a fault stays raised as long as it lasts)."},
	{"detector", "learn_samples", PARAM_U32, OFF(learn_samples), 0, 100000000, 0, false, NULL,
	 "N", "A new device is \"learning\" (an event, retained on its state topic) for its "
	 "first learn_samples samples, its threshold learning every window's score, then "
	 "\"learned\" once the device's profile has learned too (profile_learn; set them "
	 "alike); re-baselined and adapted devices learn again. 0: no learning state."},
	{"detector", "learn_alarms", PARAM_BOOL, OFF(learn_alarms), 0, 0, 0, false, NULL, NULL,
	 "May a learning device raise? false: no alarms until it has learned."},
	{"detector", "stale_after", PARAM_DOUBLE, OFF(stale_after), 0, YEAR, 0, true, NULL, "S",
	 "Seconds of silence before a device is reported stale; 0 turns it off. Judged on the "
	 "arrival clock and on the device's own time: a gap longer than this in its timestamps "
	 "(a replay faster than real time) is a stale and a cleared on the sample after it. "
	 "While iotad is cut off from the broker the devices' silence does not count."},
	{"detector", "reorder_window", PARAM_DOUBLE, OFF(reorder_window), 0, 3600, 30, false, NULL,
	 "S", "Seconds a sample may be older than its device's newest and still join the "
	 "device's window in time order (a broker redelivering after a restart interleaves old "
	 "and new messages); older ones are rejected as out_of_order, a repeated ts of the "
	 "window as duplicate. Windows already scored are not scored again. 0 turns it off."},
	{"detector", "max_clock_skew", PARAM_DOUBLE, OFF(max_clock_skew), 0, YEAR, 86400, false,
	 NULL, "S", "Seconds a sample's ts may be ahead of its arrival time; later ones are "
	 "rejected as ts_skew (a clock years ahead must not hold its device back). A day by "
	 "default, so a simulator replaying hours ahead of the clock is still taken. 0 turns "
	 "the check off."},
	{"detector", "stuck_check", PARAM_BOOL, OFF(stuck_check), 0, 0, 1, true, NULL, NULL,
	 "A feature that holds one value for the model's stuck_after samples in a row (set in "
	 "training from how rarely it repeats itself; 0 = never checked) makes the window "
	 "anomalous whatever its score; the event names it in \"stuck\"."},
	{"detector", "profile_channels", PARAM_CHANNELS, OFF(profile_channels), 0, 0, PROF_CH_ALL,
	 true, NULL, "LIST",
	 "The channels judging every sample against the device's own normal (all, none, or "
	 "some of level, jump, noise, drift, relation, stuck; docs/eval.md). A fired channel "
	 "raises at once; the autoencoder's windows still go through alert_k of alert_n. "
	 "Without a model file they are the whole detector (zero-config)."},
	{"detector", "profile_learn", PARAM_U32, OFF(profile_learn), 1, PROF_MAX_LEARN, 8640, true,
	 NULL, "N", "Samples a new device learns its own normal from before its channels "
	 "judge it: a day at one sample every 10 s, so its daily cycle is part of its normal."},
	{"detector", "profile_learn_quiet", PARAM_BOOL, OFF(profile_learn_quiet), 0, 0, 1, true, NULL,
	 NULL, "A device's channels raise no alarm while it learns (the autoencoder "
	 "judges from its first window)."},
	{"detector", "profile_margin", PARAM_DOUBLE, OFF(profile_margin), 1, 100, 1.75, true, NULL,
	 "X", "A channel's threshold is this many times the largest value its statistic took on "
	 "the device's normal data (at least the channel's floor)."},
	{"detector", "season", PARAM_BOOL, OFF(season), 0, 0, 0, true, NULL, NULL,
	 "The seasonal channel: each device's own period (daily, weekly, any) found by "
	 "autocorrelation while it learns (profile_learn), a level per phase of it, and a "
	 "pattern that stops, shifts or changes shape raised (needs the profile channels)."},
	{"detector", "season_margin", PARAM_DOUBLE, OFF(season_margin), 1, 100, 2, true, NULL,
	 "X", "The seasonal channel's threshold is this many times the largest residual off "
	 "the learned pattern seen while learning (at least 4 residual scales)."},
	{"detector", "ae_device_norm", PARAM_BOOL, OFF(ae_device_norm), 0, 0, 0, true, NULL, NULL,
	 "The autoencoder sees each sample shifted by the device's own learned level onto the "
	 "model's centre, so a device whose normal sits apart from the fleet's is not "
	 "anomalous for that alone (needs the profile)."},
};

#define N_PARAMS (sizeof params / sizeof params[0])
_Static_assert(N_PARAMS <= PARAM_MAX_DETECTOR, "raise PARAM_MAX_DETECTOR");

const param_def *param_detector(size_t *n)
{
	*n = N_PARAMS;
	return params;
}

const param_def *param_find(const char *key)
{
	for (size_t i = 0; key && i < N_PARAMS; i++)
		if (!strcmp(params[i].key, key))
			return &params[i];
	return NULL;
}

void param_set_default(const param_def *p, iotad_config *c)
{
	void *field = (char *)c + p->off;
	switch (p->type) {
	case PARAM_INT: case PARAM_LOGLEVEL: *(int *)field = (int)p->def; break;
	case PARAM_U32: *(uint32_t *)field = (uint32_t)p->def; break;
	case PARAM_SIZE: *(size_t *)field = (size_t)p->def; break;
	case PARAM_BOOL: case PARAM_EVICT: *(bool *)field = p->def != 0; break;
	case PARAM_FLOAT: *(float *)field = (float)p->def; break;
	case PARAM_DOUBLE:
	case PARAM_DOUBLE_AUTO: *(double *)field = p->def; break;
	case PARAM_THR: *(thr_kind *)field = (thr_kind)p->def; break;
	case PARAM_CHANNELS: *(uint32_t *)field = (uint32_t)p->def; break;
	case PARAM_STR: *(char *)field = '\0'; break;
	}
}

void param_defaults(iotad_config *c)
{
	for (size_t i = 0; i < N_PARAMS; i++)
		param_set_default(&params[i], c);
}

static int parse_bool(const char *s, bool *out)
{
	if (strcasecmp(s, "true") == 0 || strcasecmp(s, "yes") == 0)
		*out = true;
	else if (strcasecmp(s, "false") == 0 || strcasecmp(s, "no") == 0)
		*out = false;
	else
		return -1;
	return 0;
}

int param_parse(const param_def *p, const char *s, iotad_config *c, char *msg, size_t msglen)
{
	char *field = (char *)c + p->off;

	switch (p->type) {
	case PARAM_STR:
		if (strlen(s) >= (size_t)p->max) {
			snprintf(msg, msglen, "longer than %d bytes", (int)p->max - 1);
			return -1;
		}
		memcpy(field, s, strlen(s) + 1);
		return 0;
	case PARAM_BOOL:
		if (parse_bool(s, (bool *)field) == 0)
			return 0;
		snprintf(msg, msglen, "expected true or false, got '%s'", s);
		return -1;
	case PARAM_THR:
		if (thr_kind_parse(s, (thr_kind *)field) == 0)
			return 0;
		snprintf(msg, msglen, "expected static, adaptive, ewma, spot or dspot, got '%s'", s);
		return -1;
	case PARAM_EVICT:
		if (strcmp(s, "lru") == 0 || strcmp(s, "reject") == 0) {
			*(bool *)field = strcmp(s, "lru") == 0;
			return 0;
		}
		snprintf(msg, msglen, "expected lru or reject, got '%s'", s);
		return -1;
	case PARAM_CHANNELS: {
		char buf[128];
		uint32_t mask = 0;
		if (!strcmp(s, "all") || !strcmp(s, "none")) {
			*(uint32_t *)field = !strcmp(s, "all") ? PROF_CH_ALL : 0;
			return 0;
		}
		snprintf(buf, sizeof buf, "%s", s);
		for (char *save = NULL, *t = strtok_r(buf, ",", &save); t;
		     t = strtok_r(NULL, ",", &save)) {
			int ch = prof_channel_parse(t);
			if (ch < 0) {
				mask = 0;
				break;
			}
			mask |= 1u << ch;
		}
		if (mask && strlen(s) < sizeof buf) {
			*(uint32_t *)field = mask;
			return 0;
		}
		snprintf(msg, msglen, "expected all, none or a comma-separated list of level, jump, "
			 "noise, drift, relation, stuck, got '%s'", s);
		return -1;
	}
	case PARAM_LOGLEVEL:
		if (log_level_parse(s, (int *)field) == 0)
			return 0;
		snprintf(msg, msglen, "expected error, warn, info or debug, got '%s'", s);
		return -1;
	case PARAM_FLOAT:
	case PARAM_DOUBLE:
	case PARAM_DOUBLE_AUTO: {
		double v;
		if (p->type == PARAM_DOUBLE_AUTO && !strcmp(s, "auto")) {
			*(double *)field = -1.0;
			return 0;
		}
		if (num_parse_double(s, -HUGE_VAL, HUGE_VAL, &v, NULL, 0) != 0) {
			snprintf(msg, msglen, "expected a finite number%s, got '%s'",
				 p->type == PARAM_DOUBLE_AUTO ? " or auto" : "", s);
			return -1;
		}
		bool low = p->type == PARAM_FLOAT ? v <= p->min : v < p->min;
		if (low || v > p->max) {
			snprintf(msg, msglen, "%g is out of range %s%g, %g]", v,
				 p->type == PARAM_FLOAT ? "(" : "[", p->min, p->max);
			return -1;
		}
		if (p->type == PARAM_FLOAT)
			*(float *)field = (float)v;
		else
			*(double *)field = v;
		return 0;
	}
	case PARAM_INT:
	case PARAM_U32:
	case PARAM_SIZE: {
		long v;
		if (num_parse_long(s, LONG_MIN, LONG_MAX, &v, NULL, 0) != 0) {
			snprintf(msg, msglen, "expected an integer, got '%s'", s);
			return -1;
		}
		if (v < (long long)p->min || v > (long long)p->max) {
			snprintf(msg, msglen, "%lld is out of range [%lld, %lld]", (long long)v,
				 (long long)p->min, (long long)p->max);
			return -1;
		}
		if (p->type == PARAM_INT)
			*(int *)field = (int)v;
		else if (p->type == PARAM_U32)
			*(uint32_t *)field = (uint32_t)v;
		else
			*(size_t *)field = (size_t)v;
		return 0;
	}
	}
	snprintf(msg, msglen, "internal: unknown type");
	return -1;
}

void param_flag(const param_def *p, char *buf, size_t len)
{
	snprintf(buf, len, "%s", p->key);
	for (char *s = buf; *s; s++)
		if (*s == '_')
			*s = '-';
}

/* A parameter's name in a message: "detector.key", "key" or "--flag". */
static const char *name_of(const param_def *p, bool flags, bool section, char *buf, size_t len)
{
	if (flags) {
		buf[0] = buf[1] = '-';
		param_flag(p, buf + 2, len - 2);
	} else {
		snprintf(buf, len, "%s%s%s", section ? p->section : "", section ? "." : "", p->key);
	}
	return buf;
}

int param_check(const iotad_config *c, bool flags, const param_def **at, char *msg,
		size_t msglen)
{
	char a[64], b[64];

	if (c->alert_k > c->alert_n) {
		*at = param_find("alert_k");
		snprintf(msg, msglen, "%s (%d) must not exceed %s (%d)",
			 name_of(*at, flags, true, a, sizeof a), c->alert_k,
			 name_of(param_find("alert_n"), flags, true, b, sizeof b), c->alert_n);
		return -1;
	}
	if (c->threshold_q >= 1.0f - c->threshold_init_quantile) {
		*at = param_find("threshold_q");
		snprintf(msg, msglen, "%s (%g) must be below 1 - %s (%g)",
			 name_of(*at, flags, true, a, sizeof a), (double)c->threshold_q,
			 name_of(param_find("threshold_init_quantile"), flags, false, b, sizeof b),
			 1.0 - (double)c->threshold_init_quantile);
		return -1;
	}
	return 0;
}

void config_det(const iotad_config *c, det_config *out)
{
	det_config_default(out);
	out->max_devices = c->max_devices;
	out->evict = c->evict_lru ? DET_EVICT_LRU : DET_EVICT_REJECT;
	out->stride = c->stride;
	out->alert.k = (uint8_t)c->alert_k;
	out->alert.n = (uint8_t)c->alert_n;
	out->alert.m = (uint8_t)c->alert_m;
	thr_params_default(&out->thr, c->threshold, 0.0f, 0.0f);
	out->thr.alpha = c->threshold_alpha;
	out->thr.ewma_k = c->threshold_k;
	out->thr.q = c->threshold_q;
	out->thr.init_quantile = c->threshold_init_quantile;
	out->thr.peaks = c->threshold_peaks;
	out->thr.depth = c->threshold_depth;
	out->score_alpha = (float)c->score_alpha;
	out->stale_after = c->stale_after;
	out->stuck_check = c->stuck_check;
	out->prof.channels = c->profile_channels;
	out->prof.learn = c->profile_learn;
	out->prof.learn_quiet = c->profile_learn_quiet;
	out->prof.margin = (float)c->profile_margin;
	out->ae_device_norm = c->ae_device_norm;
	out->season.on = c->season;
	out->season.margin = (float)c->season_margin;
	out->alert.hold = c->alert_hold;
	out->alert.quiet = c->alert_quiet;
	out->alert.adapt_after = c->adapt_after;
	out->learn_samples = c->learn_samples;
	out->learn_alarms = c->learn_alarms;
	out->n_features = c->n_features; /* zero-config: detector.features (0: learned) */
	for (uint32_t i = 0; i < c->n_features && i < MODEL_MAX_FEATURES; i++)
		out->features[i] = c->features[i];
	out->reorder_window = c->reorder_window;
}

/* A range bound: integers in full, the rest as %g. */
static void fmt_num(double v, char *buf, size_t len)
{
	if (v == floor(v) && fabs(v) < 1e15)
		snprintf(buf, len, "%.0f", v);
	else
		snprintf(buf, len, "%g", v);
}

void param_value(const param_def *p, const iotad_config *c, char *buf, size_t len)
{
	const char *field = (const char *)c + p->off;
	static const char *const levels[] = {"error", "warn", "info", "debug"};
	int lv;

	switch (p->type) {
	case PARAM_STR: snprintf(buf, len, "%s", *field ? field : "\"\""); return;
	case PARAM_INT: snprintf(buf, len, "%d", *(const int *)field); return;
	case PARAM_U32: snprintf(buf, len, "%u", (unsigned)*(const uint32_t *)field); return;
	case PARAM_SIZE: snprintf(buf, len, "%zu", *(const size_t *)field); return;
	case PARAM_BOOL: snprintf(buf, len, "%s", *(const bool *)field ? "true" : "false"); return;
	case PARAM_FLOAT: fmt_num((double)*(const float *)field, buf, len); return;
	case PARAM_DOUBLE: fmt_num(*(const double *)field, buf, len); return;
	case PARAM_DOUBLE_AUTO:
		if (*(const double *)field < 0.0)
			snprintf(buf, len, "auto");
		else
			fmt_num(*(const double *)field, buf, len);
		return;
	case PARAM_THR: snprintf(buf, len, "%s", thr_kind_name(*(const thr_kind *)field)); return;
	case PARAM_EVICT: snprintf(buf, len, "%s", *(const bool *)field ? "lru" : "reject"); return;
	case PARAM_CHANNELS: {
		uint32_t m = *(const uint32_t *)field;
		size_t o = 0;
		buf[0] = '\0';
		if (m == PROF_CH_ALL || m == 0) {
			snprintf(buf, len, "%s", m ? "all" : "none");
			return;
		}
		for (int ch = 0; ch < PROF_CH_COUNT && o < len; ch++)
			if (m >> ch & 1u)
				o += (size_t)snprintf(buf + o, len - o, "%s%s", o ? "," : "",
						      prof_channel_name(ch));
		return;
	}
	case PARAM_LOGLEVEL:
		lv = *(const int *)field;
		snprintf(buf, len, "%s", lv >= 0 && lv < 4 ? levels[lv] : "info");
		return;
	}
	buf[0] = '\0';
}

#define NBSP '\x1f'

/* " Range [a, b]." for a number (kept on one line), "" otherwise. */
static void range_of(const param_def *p, char *buf, size_t len)
{
	char lo[32], hi[32];
	bool num = p->type == PARAM_INT || p->type == PARAM_U32 || p->type == PARAM_SIZE ||
		   p->type == PARAM_FLOAT || p->type == PARAM_DOUBLE ||
		   p->type == PARAM_DOUBLE_AUTO;

	buf[0] = '\0';
	if (!num)
		return;
	fmt_num(p->min, lo, sizeof lo);
	fmt_num(p->max, hi, sizeof hi);
	snprintf(buf, len, " Range\x1f%s%s,\x1f%s].", p->type == PARAM_FLOAT ? "(" : "[", lo, hi);
}

/* Write text word-wrapped to width columns, each line after prefix (the
 * first line after what is already written, col wide). A '\n' in text
 * starts a new line; NBSP ('\x1f') joins two words as a space does. */
static void wrap(FILE *f, const char *text, size_t col, const char *prefix, size_t width)
{
	const char *s = text;
	bool line_empty = true;

	while (*s) {
		if (*s == '\n') {
			fprintf(f, "\n%s", prefix);
			col = strlen(prefix);
			line_empty = true;
			s++;
			continue;
		}
		if (*s == ' ') {
			s++;
			continue;
		}
		size_t w = strcspn(s, " \n");
		if (!line_empty && col + 1 + w > width) {
			fprintf(f, "\n%s", prefix);
			col = strlen(prefix);
			line_empty = true;
		}
		if (!line_empty) {
			fputc(' ', f);
			col++;
		}
		for (size_t i = 0; i < w; i++)
			fputc(s[i] == NBSP ? ' ' : s[i], f);
		col += w;
		s += w;
		line_empty = false;
	}
	fputc('\n', f);
}

void param_write_yaml(FILE *f)
{
	iotad_config c;
	char text[1024], range[96], value[64];

	memset(&c, 0, sizeof c);
	param_defaults(&c);
	fprintf(f, "detector:\n");
	for (size_t i = 0; i < N_PARAMS; i++) {
		const param_def *p = &params[i];
		range_of(p, range, sizeof range);
		snprintf(text, sizeof text, "%s%s", p->help, range);
		fputs("  # ", f);
		wrap(f, text, 4, "  # ", 76);
		param_value(p, &c, value, sizeof value);
		fprintf(f, "  %s: %s\n", p->key, value);
	}
}

void param_write_help(FILE *f)
{
	iotad_config c;
	char text[1024], range[96], value[64], flag[64], head[200];

	memset(&c, 0, sizeof c);
	param_defaults(&c);
	for (size_t i = 0; i < N_PARAMS; i++) {
		const param_def *p = &params[i];
		if (!p->eval)
			continue;
		param_flag(p, flag, sizeof flag);
		if (p->type == PARAM_BOOL)
			snprintf(head, sizeof head, "    --%s, --no-%s", flag, flag);
		else if (p->alias)
			snprintf(head, sizeof head, "    --%s %s, --%s %s", flag, p->arg, p->alias,
				 p->arg);
		else
			snprintf(head, sizeof head, "    --%s %s", flag, p->arg);
		range_of(p, range, sizeof range);
		param_value(p, &c, value, sizeof value);
		if (p->type == PARAM_BOOL)
			snprintf(value, sizeof value, "%s", p->def ? "on" : "off");
		snprintf(text, sizeof text, "%s%s Default\x1f%s.", p->help, range, value);
		size_t col = strlen(head);
		fputs(head, f);
		if (col >= 24) {
			fprintf(f, "\n%24s", "");
			col = 24;
		} else {
			fprintf(f, "%*s", (int)(24 - col), "");
			col = 24;
		}
		wrap(f, text, col, "                        ", 80);
	}
}
