/* cmd_eval_mixed.c - `iotad eval --models CONFIG`: a labelled CSV of a
 * mixed fleet replayed through the models of a configuration's models:
 * list, each row routed as the service routes a message (route.h: the
 * topic built from the row by --topic, the device from --device-col), and
 * judged by its model's detector at the entry's own settings. Reports the
 * confusion counts per model and in total, and the rows no model took. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iotad/cmd.h"
#include "iotad/config.h"
#include "iotad/eval.h"
#include "iotad/model_io.h"
#include "iotad/models.h"
#include "iotad/route.h"

#define EM_COLS 128
#define EM_LINE 65536

typedef struct em_model {
	iotad_config *cfg;
	model m;
	det *d;
	int col[MODEL_MAX_FEATURES];  /* CSV column of each feature, -1: absent */
	eval_counts c;
	uint64_t rows, missing;
} em_model;

static const char usage[] =
	"usage: iotad eval --models CONFIG --csv FILE [--topic TEMPLATE] [--device-col COL]\n"
	"                  [--time-col COL] [--label-col COL]\n"
	"\n"
	"    Replays a labelled CSV of a mixed fleet through the models of CONFIG's\n"
	"    models: list with the service's routing: each row's topic is TEMPLATE\n"
	"    with {COLUMN} replaced by the row's cell (default telemetry/{kind}/{device})\n"
	"    and its device the --device-col cell (default device); the first entry\n"
	"    that matches judges it with its own detector settings. A row is\n"
	"    predicted anomalous while its device's alert is raised. Prints, per\n"
	"    model and in total, rows, TP FP FN TN, precision, recall, F1 and the\n"
	"    false alarm rate, and the rows no model took (no_model) or whose\n"
	"    model's features were not all in the row (missing_feature).\n";

static int split(char *line, char **cells)
{
	int n = 0;
	line[strcspn(line, "\r\n")] = '\0';
	for (char *s = line; n < EM_COLS;) {
		cells[n++] = s;
		char *e = strchr(s, ',');
		if (!e)
			break;
		*e = '\0';
		s = e + 1;
	}
	return n;
}

static int column(char **names, int n, const char *name)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(names[i], name))
			return i;
	return -1;
}

/* The topic of a row: tpl with {COLUMN} replaced by the row's cells. */
static bool build_topic(const char *tpl, char **names, char **cells, int n, char *out,
			size_t len)
{
	size_t o = 0;
	for (const char *s = tpl; *s;) {
		if (*s == '{') {
			const char *e = strchr(s, '}');
			char name[64];
			if (!e || (size_t)(e - s - 1) >= sizeof name)
				return false;
			memcpy(name, s + 1, (size_t)(e - s - 1));
			name[e - s - 1] = '\0';
			int c = column(names, n, name);
			if (c < 0)
				return false;
			size_t l = strlen(cells[c]);
			if (o + l >= len)
				return false;
			memcpy(out + o, cells[c], l);
			o += l;
			s = e + 1;
		} else {
			if (o + 1 >= len)
				return false;
			out[o++] = *s++;
		}
	}
	out[o] = '\0';
	return true;
}

static void print_row(const char *name, const eval_counts *c, uint64_t rows, uint64_t missing)
{
	eval_rates r;
	eval_rates_from(c, &r);
	printf("%-16s %8llu %7llu %7llu %7llu %8llu %9.4f %7.4f %7.4f %8.5f %8llu\n", name,
	       (unsigned long long)rows, (unsigned long long)c->tp, (unsigned long long)c->fp,
	       (unsigned long long)c->fn, (unsigned long long)c->tn, r.precision, r.recall, r.f1,
	       r.far, (unsigned long long)missing);
}

static int replay(FILE *in, const iotad_config *cfg, em_model *mm, const char *tpl,
		  const char *dev_col, const char *time_col, const char *label_col)
{
	char *line = malloc(EM_LINE), *head = malloc(EM_LINE);
	char *names[EM_COLS], *cells[EM_COLS];
	int rc = 1;
	if (!line || !head || !fgets(head, EM_LINE, in)) {
		fprintf(stderr, "iotad eval: no header row\n");
		goto out;
	}
	int nc = split(head, names);
	int dc = column(names, nc, dev_col), tc = column(names, nc, time_col),
	    lc = column(names, nc, label_col);
	if (dc < 0 || tc < 0 || lc < 0) {
		fprintf(stderr, "iotad eval: the CSV needs columns %s, %s and %s\n", dev_col,
			time_col, label_col);
		goto out;
	}
	for (uint32_t i = 0; i < cfg->n_models; i++)
		for (int f = 0; f < mm[i].m.n_features; f++)
			mm[i].col[f] = column(names, nc, mm[i].m.features[f]);
	route_table rt;
	route_init(&rt, cfg);
	uint64_t no_model = 0, bad = 0;
	long lineno = 1;
	while (fgets(line, EM_LINE, in)) {
		lineno++;
		char topic[512];
		if (split(line, cells) != nc || !build_topic(tpl, names, cells, nc, topic, sizeof topic)) {
			bad++;
			continue;
		}
		int r = route_match(&rt, topic, strlen(topic), cells[dc]);
		if (r < 0) {
			no_model++;
			continue;
		}
		em_model *e = &mm[r];
		float v[MODEL_MAX_FEATURES];
		bool ok = true;
		for (int f = 0; f < e->m.n_features && ok; f++) {
			char *end;
			ok = e->col[f] >= 0 && cells[e->col[f]][0];
			v[f] = ok ? strtof(cells[e->col[f]], &end) : 0;
			ok = ok && !*end && isfinite(v[f]);
		}
		e->rows++;
		char *end;
		double ts = strtod(cells[tc], &end);
		if (!ok || *end) {
			e->missing++;
			continue;
		}
		det_result res;
		if (det_push(e->d, cells[dc], ts, v, &res) != IOTAD_OK) {
			e->missing++;
			continue;
		}
		bool raised, known;
		uint64_t seq;
		known = det_device_known(e->d, cells[dc], &raised, &seq);
		eval_count(&e->c, atof(cells[lc]) != 0, known && raised);
	}
	printf("%-16s %8s %7s %7s %7s %8s %9s %7s %7s %8s %8s\n", "model", "rows", "TP", "FP",
	       "FN", "TN", "precision", "recall", "F1", "FAR", "missing");
	eval_counts all = {0};
	uint64_t rows = 0, missing = 0;
	for (uint32_t i = 0; i < cfg->n_models; i++) {
		print_row(cfg->models[i].name, &mm[i].c, mm[i].rows, mm[i].missing);
		eval_counts_merge(&all, &mm[i].c);
		rows += mm[i].rows;
		missing += mm[i].missing;
	}
	print_row("total", &all, rows, missing);
	printf("no_model %llu, bad rows %llu\n", (unsigned long long)no_model,
	       (unsigned long long)bad);
	rc = 0;
out:
	free(line);
	free(head);
	return rc;
}

int cmd_eval_mixed(int argc, char **argv)
{
	const char *config = NULL, *csv = NULL, *tpl = "telemetry/{kind}/{device}";
	const char *dev_col = "device", *time_col = "ts", *label_col = "label";
	for (int i = 1; i < argc; i += 2) {
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			fputs(usage, stdout);
			return 0;
		}
		if (!v) {
			fprintf(stderr, "iotad eval: %s needs a value\n%s", argv[i], usage);
			return 2;
		}
		if (!strcmp(argv[i], "--models"))
			config = v;
		else if (!strcmp(argv[i], "--csv"))
			csv = v;
		else if (!strcmp(argv[i], "--topic"))
			tpl = v;
		else if (!strcmp(argv[i], "--device-col"))
			dev_col = v;
		else if (!strcmp(argv[i], "--time-col"))
			time_col = v;
		else if (!strcmp(argv[i], "--label-col"))
			label_col = v;
		else {
			fprintf(stderr, "iotad eval: unknown option %s with --models\n%s", argv[i],
				usage);
			return 2;
		}
	}
	static iotad_config cfg;
	char err[600];
	if (!config || !csv) {
		fprintf(stderr, "iotad eval: --models CONFIG and --csv FILE are required\n");
		return 2;
	}
	if (config_load(config, &cfg, err, sizeof err) != IOTAD_OK) {
		fprintf(stderr, "iotad eval: %s\n", err);
		return 2;
	}
	if (!cfg.n_models) {
		fprintf(stderr, "iotad eval: %s has no models: list\n", config);
		return 2;
	}
	em_model *mm = calloc(cfg.n_models, sizeof *mm);
	int rc = mm ? 0 : 1;
	for (uint32_t i = 0; i < cfg.n_models && !rc; i++) {
		det_config dc;
		mm[i].cfg = malloc(sizeof *mm[i].cfg);
		if (!mm[i].cfg || models_config(&cfg, i, mm[i].cfg, err, sizeof err, NULL) ||
		    model_load(cfg.models[i].path, &mm[i].m, err, sizeof err)) {
			fprintf(stderr, "iotad eval: models[%u]: %s\n", i, err);
			rc = 2;
			break;
		}
		config_det(mm[i].cfg, &dc);
		if (det_create(&mm[i].m, &dc, &mm[i].d) != IOTAD_OK) {
			fprintf(stderr, "iotad eval: models[%u]: no detector\n", i);
			rc = 2;
		}
	}
	FILE *in = rc ? NULL : fopen(csv, "r");
	if (!rc && !in) {
		fprintf(stderr, "iotad eval: %s: %s\n", csv, strerror(errno));
		rc = 1;
	}
	if (!rc)
		rc = replay(in, &cfg, mm, tpl, dev_col, time_col, label_col);
	if (in)
		fclose(in);
	for (uint32_t i = 0; mm && i < cfg.n_models; i++) {
		det_destroy(mm[i].d);
		if (mm[i].m.n_features)
			model_free(&mm[i].m);
		free(mm[i].cfg);
	}
	free(mm);
	return rc;
}
