/* plot.c - SVG pictures of an evaluation, written with fprintf.
 *
 * Scores span orders of magnitude (a fault's reconstruction error is often
 * 100x the normal one), so score axes are log10. A long series is reduced
 * to at most PLOT_MAX_PTS points, each the maximum of its bucket, so a
 * short spike stays visible. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "iotad/plot.h"

#define PLOT_MAX_PTS 2000
#define PLOT_W 1000.0
#define PLOT_H 320.0
#define PLOT_L 70.0
#define PLOT_R 20.0
#define PLOT_T 30.0
#define PLOT_B 40.0
#define PLOT_FLOOR 1e-12
#define PLOT_BINS 60

static FILE *plot_open(const char *dir, const char *name, const char *suffix, char *path,
		       size_t plen, char *err, size_t errlen)
{
	if (mkdir(dir, 0777) && errno != EEXIST) {
		snprintf(err, errlen, "plot: %s: %s", dir, strerror(errno));
		return NULL;
	}
	snprintf(path, plen, "%s/%s%s", dir, name, suffix);
	FILE *f = fopen(path, "w");
	if (!f)
		snprintf(err, errlen, "plot: %s: %s", path, strerror(errno));
	return f;
}

static iotad_err plot_close(FILE *f, const char *path, char *err, size_t errlen)
{
	fputs("</svg>\n", f);
	if (ferror(f) | fclose(f)) {
		snprintf(err, errlen, "plot: %s: write error", path);
		return IOTAD_ERR_IO;
	}
	return IOTAD_OK;
}

static void plot_header(FILE *f, double w, double h, const char *title)
{
	fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
		"viewBox=\"0 0 %.0f %.0f\" font-family=\"sans-serif\" font-size=\"12\">\n"
		"<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n", w, h, w, h);
	fputs("<text x=\"10\" y=\"18\" font-size=\"14\">", f);
	for (const char *p = title; *p; p++) {
		if (*p == '<')
			fputs("&lt;", f);
		else if (*p == '&')
			fputs("&amp;", f);
		else
			fputc(*p, f);
	}
	fputs("</text>\n", f);
}

static double plot_log(float v)
{
	return log10(v > PLOT_FLOOR ? (double)v : PLOT_FLOOR);
}

/* Decade range [lo, hi] covering the finite values of a and b. */
static void plot_range(const float *a, const float *b, size_t n, double *lo, double *hi)
{
	*lo = INFINITY;
	*hi = -INFINITY;
	for (size_t i = 0; i < n; i++) {
		for (int k = 0; k < 2; k++) {
			float v = k ? (b ? b[i] : NAN) : a[i];
			if (!isfinite(v))
				continue;
			double l = plot_log(v);
			*lo = l < *lo ? l : *lo;
			*hi = l > *hi ? l : *hi;
		}
	}
	if (!isfinite(*lo)) {
		*lo = -1.0;
		*hi = 1.0;
	}
	*lo = floor(*lo);
	*hi = ceil(*hi);
	if (*hi <= *lo)
		*hi = *lo + 1.0;
}

/* Log y axis with a tick per decade (at most 12 labels). */
static void plot_yaxis(FILE *f, double x0, double y0, double y1, double lo, double hi,
		       const char *label)
{
	int step = (int)ceil((hi - lo) / 12.0);
	for (int d = (int)lo; d <= (int)hi; d += step > 0 ? step : 1) {
		double y = y1 - (d - lo) / (hi - lo) * (y1 - y0);
		fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>"
			"<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">1e%d</text>\n", x0, y,
			PLOT_W - PLOT_R, y, x0 - 4, y + 4, d);
	}
	fprintf(f, "<text transform=\"translate(14 %.1f) rotate(-90)\" text-anchor=\"middle\">%s"
		"</text>\n", (y0 + y1) / 2, label);
}

static const char *plot_base(const char *path, char *buf, size_t len)
{
	const char *p = path + strlen(path), *cut = path;
	int slashes = 0;
	while (p > path) {
		if (*--p == '/' && ++slashes == 2) {
			cut = p + 1;
			break;
		}
	}
	size_t k = 0;
	for (; *cut && k + 1 < len; cut++)
		buf[k++] = (*cut >= 'a' && *cut <= 'z') || (*cut >= 'A' && *cut <= 'Z') ||
			   (*cut >= '0' && *cut <= '9') || *cut == '.' || *cut == '-' ? *cut : '_';
	buf[k] = '\0';
	return buf;
}

/* Shade the runs of rows where flag[i] is set, in band [y, y + h]. */
static void plot_runs(FILE *f, const uint8_t *flag, size_t n, double y, double h,
		      const char *fill)
{
	double xs = (PLOT_W - PLOT_L - PLOT_R) / (double)(n ? n : 1);
	for (size_t i = 0; i < n;) {
		if (!flag[i]) {
			i++;
			continue;
		}
		size_t j = i;
		while (j < n && flag[j])
			j++;
		fprintf(f, "<rect x=\"%.2f\" y=\"%.1f\" width=\"%.2f\" height=\"%.1f\" fill=\"%s\"/>\n",
			PLOT_L + (double)i * xs, y, (double)(j - i) * xs, h, fill);
		i = j;
	}
}

/* Polyline of v (log) over rows, bucket maxima when long; skips -inf. */
static void plot_line(FILE *f, const float *v, size_t n, double lo, double hi, const char *style)
{
	size_t bucket = (n + PLOT_MAX_PTS - 1) / PLOT_MAX_PTS;
	double xs = (PLOT_W - PLOT_L - PLOT_R) / (double)(n ? n : 1);
	bool open = false;
	for (size_t i = 0; i < n; i += bucket) {
		float m = -INFINITY;
		for (size_t j = i; j < i + bucket && j < n; j++)
			m = v[j] > m || isnan(v[j]) ? v[j] : m;
		if (!(m > -INFINITY)) {
			if (open)
				fputs("\"/>\n", f);
			open = false;
			continue;
		}
		double l = isnan(m) ? hi : plot_log(m);
		double y = PLOT_H - PLOT_B - (l - lo) / (hi - lo) * (PLOT_H - PLOT_B - PLOT_T);
		if (!open)
			fprintf(f, "<polyline fill=\"none\" %s points=\"", style);
		fprintf(f, "%.1f,%.1f ", PLOT_L + ((double)i + 0.5 * (double)bucket) * xs, y);
		open = true;
	}
	if (open)
		fputs("\"/>\n", f);
}

iotad_err plot_series(const char *dir, const char *path, const eval_result *r, char *err,
		      size_t errlen)
{
	char base[256], out[4096], title[512];
	FILE *f = plot_open(dir, plot_base(path, base, sizeof base), "-score.svg", out,
			    sizeof out, err, errlen);
	if (!f)
		return IOTAD_ERR_IO;
	double lo, hi;
	plot_range(r->score, r->thr, r->n, &lo, &hi);
	snprintf(title, sizeof title, "%s: score (blue) and threshold (orange); labelled anomalies "
		 "shaded, raised alerts in red below", path);
	plot_header(f, PLOT_W, PLOT_H, title);
	plot_runs(f, r->label, r->n, PLOT_T, PLOT_H - PLOT_B - PLOT_T, "#f6d5d5");
	plot_runs(f, r->alert, r->n, PLOT_H - PLOT_B + 4, 6, "#cc0000");
	plot_yaxis(f, PLOT_L, PLOT_T, PLOT_H - PLOT_B, lo, hi, "score (log)");
	plot_line(f, r->score, r->n, lo, hi, "stroke=\"#1f77b4\" stroke-width=\"1\"");
	plot_line(f, r->thr, r->n, lo, hi,
		  "stroke=\"#ff7f0e\" stroke-width=\"1.5\" stroke-dasharray=\"5,3\"");
	fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">row (0 .. %zu)</text>\n",
		(PLOT_L + PLOT_W - PLOT_R) / 2, PLOT_H - 8, r->n);
	return plot_close(f, out, err, errlen);
}

/* Share of the scored rows of class cls in each log10 bin of [lo, hi]. */
static double plot_bins(const eval_result *r, uint8_t cls, double lo, double hi,
			double bins[PLOT_BINS])
{
	double total = 0;
	memset(bins, 0, PLOT_BINS * sizeof *bins);
	for (size_t i = 0; i < r->n; i++) {
		if (r->label[i] != cls || !(r->score[i] > -INFINITY))
			continue;
		double l = isnan(r->score[i]) ? hi : plot_log(r->score[i]);
		int b = (int)((l - lo) / (hi - lo) * PLOT_BINS);
		bins[b < 0 ? 0 : b >= PLOT_BINS ? PLOT_BINS - 1 : b] += 1;
		total += 1;
	}
	for (int b = 0; total > 0 && b < PLOT_BINS; b++)
		bins[b] /= total;
	return total;
}

/* Both classes' histograms as step lines on one scale. */
static void plot_hists(FILE *f, const eval_result *r, double lo, double hi)
{
	static const char *const color[2] = {"#1f77b4", "#d62728"};
	double bins[2][PLOT_BINS], total[2], ymax = 0;
	for (uint8_t c = 0; c < 2; c++) {
		total[c] = plot_bins(r, c, lo, hi, bins[c]);
		for (int b = 0; b < PLOT_BINS; b++)
			ymax = bins[c][b] > ymax ? bins[c][b] : ymax;
	}
	double bw = (PLOT_W - PLOT_L - PLOT_R) / PLOT_BINS, y0 = PLOT_H - PLOT_B;
	for (int c = 0; c < 2 && ymax > 0; c++) {
		if (total[c] == 0)
			continue;
		fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\" "
			"points=\"%.1f,%.1f ", color[c], PLOT_L, y0);
		for (int b = 0; b < PLOT_BINS; b++) {
			double y = y0 - bins[c][b] / ymax * (PLOT_H - PLOT_B - PLOT_T);
			fprintf(f, "%.1f,%.1f %.1f,%.1f ", PLOT_L + b * bw, y, PLOT_L + (b + 1) * bw, y);
		}
		fprintf(f, "%.1f,%.1f\"/>\n", PLOT_W - PLOT_R, y0);
	}
}

static iotad_err plot_roc(const char *dir, const eval_result *r, char *err, size_t errlen)
{
	double *x, *y, auc = NAN;
	size_t n;
	char out[4096], title[128];
	iotad_err rc = eval_roc_curve(r->score, r->label, r->n, &x, &y, &n);
	if (rc == IOTAD_ERR_INVAL)
		return IOTAD_OK; /* one class only: no curve */
	if (rc)
		return rc;
	eval_roc_auc(r->score, r->label, r->n, &auc);
	FILE *f = plot_open(dir, "total", "-roc.svg", out, sizeof out, err, errlen);
	if (!f) {
		free(x);
		free(y);
		return IOTAD_ERR_IO;
	}
	const double s = 400, o = 50;
	snprintf(title, sizeof title, "ROC of the raw score, all rows: AUC %.4f", auc);
	plot_header(f, s + 2 * o, s + 2 * o, title);
	fprintf(f, "<rect x=\"%g\" y=\"%g\" width=\"%g\" height=\"%g\" fill=\"none\" "
		"stroke=\"#888\"/>\n<line x1=\"%g\" y1=\"%g\" x2=\"%g\" y2=\"%g\" stroke=\"#bbb\" "
		"stroke-dasharray=\"4,3\"/>\n", o, o, s, s, o, o + s, o + s, o);
	fprintf(f, "<text x=\"%g\" y=\"%g\" text-anchor=\"middle\">false alarm rate</text>\n"
		"<text transform=\"translate(%g %g) rotate(-90)\" text-anchor=\"middle\">"
		"detection rate</text>\n", o + s / 2, o + s + 30, o - 20, o + s / 2);
	fputs("<polyline fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"1.5\" points=\"", f);
	double step = n > PLOT_MAX_PTS ? (double)n / PLOT_MAX_PTS : 1.0;
	for (double k = 0; k < (double)n; k += step)
		fprintf(f, "%.1f,%.1f ", o + x[(size_t)k] * s, o + s - y[(size_t)k] * s);
	fprintf(f, "%.1f,%.1f\"/>\n", o + x[n - 1] * s, o + s - y[n - 1] * s);
	free(x);
	free(y);
	return plot_close(f, out, err, errlen);
}

iotad_err plot_summary(const char *dir, const eval_result *r, char *err, size_t errlen)
{
	char out[4096];
	FILE *f = plot_open(dir, "total", "-hist.svg", out, sizeof out, err, errlen);
	if (!f)
		return IOTAD_ERR_IO;
	double lo, hi;
	plot_range(r->score, NULL, r->n, &lo, &hi);
	plot_header(f, PLOT_W, PLOT_H, "score distribution: normal rows (blue), labelled "
		    "anomalous rows (red); share of each class per bin");
	int step = (int)ceil((hi - lo) / 12.0);
	for (int d = (int)lo; d <= (int)hi; d += step > 0 ? step : 1) {
		double x = PLOT_L + (d - lo) / (hi - lo) * (PLOT_W - PLOT_L - PLOT_R);
		fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>"
			"<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">1e%d</text>\n", x, PLOT_T,
			x, PLOT_H - PLOT_B, x, PLOT_H - PLOT_B + 16, d);
	}
	plot_hists(f, r, lo, hi);
	iotad_err rc = plot_close(f, out, err, errlen);
	return rc ? rc : plot_roc(dir, r, err, errlen);
}
