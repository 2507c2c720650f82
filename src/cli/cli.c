/* cli.c - option parsing shared by the subcommands. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iotad/cli.h"
#include "iotad/log.h"
#include "iotad/numparse.h"

int cli_usage_err(const char *cmd, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "iotad %s: ", cmd);
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n(see iotad %s --help)\n", cmd);
	va_end(ap);
	return 2;
}

int cli_long(const char *s, long lo, long hi, long *out)
{
	return num_parse_long(s, lo, hi, out, NULL, 0);
}

int cli_float(const char *s, double lo, double hi, float *out)
{
	return num_parse_float(s, lo, hi, out, NULL, 0);
}

int cli_sep(const char *s, char *sep)
{
	if (!strcmp(s, "tab") || !strcmp(s, "\\t")) {
		*sep = '\t';
		return 0;
	}
	if (strlen(s) != 1 || strchr("\"\r\n", s[0]))
		return -1;
	*sep = s[0];
	return 0;
}

int cli_sep_opt(const char *cmd, const char *s, char *sep)
{
	if (cli_sep(s, sep) == 0)
		return 0;
	return cli_usage_err(cmd, "--sep: expected one character or 'tab', got \"%s\"", s);
}

void cli_names_free(cli_names *n)
{
	free(n->buf);
	memset(n, 0, sizeof *n);
}

int cli_names_parse(const char *cmd, const char *opt, const char *s, cli_names *out)
{
	cli_names_free(out);
	if (!(out->buf = strdup(s)))
		return cli_usage_err(cmd, "%s: out of memory", opt);
	for (char *tok = out->buf, *next; tok; tok = next) {
		if ((next = strchr(tok, ',')))
			*next++ = '\0';
		if (!*tok)
			return cli_usage_err(cmd, "%s: empty name in \"%s\"", opt, s);
		if (strlen(tok) >= MODEL_NAME_MAX)
			return cli_usage_err(cmd, "%s: name too long (at most %d characters): "
					     "\"%s\"", opt, MODEL_NAME_MAX - 1, tok);
		if (out->n == MODEL_MAX_FEATURES)
			return cli_usage_err(cmd, "%s: too many names (at most %d) in \"%s\"", opt,
					     MODEL_MAX_FEATURES, s);
		for (int i = 0; i < out->n; i++)
			if (!strcmp(out->v[i], tok))
				return cli_usage_err(cmd, "%s: \"%s\" named twice", opt, tok);
		out->v[out->n++] = tok;
	}
	return 0;
}

static int cli_hidden(const char *cmd, const char *s, train_opts *o)
{
	if (!strcmp(s, "auto")) {
		o->hidden_auto = 1;
		return 0;
	}
	int n = 0;
	for (const char *p = s;;) {
		char *end;
		errno = 0;
		long v = strtol(p, &end, 10);
		if (end == p || errno == ERANGE || v < 1 || v > NN_MAX_WIDTH)
			return cli_usage_err(cmd, "--hidden: \"%s\": widths must be integers in "
					     "1..%d, or auto", s, NN_MAX_WIDTH);
		if (n == NN_MAX_LAYERS - 1)
			return cli_usage_err(cmd, "--hidden: \"%s\": at most %d hidden layers", s,
					     NN_MAX_LAYERS - 1);
		o->hidden[n++] = (int)v;
		if (!*end)
			break;
		if (*end != ',')
			return cli_usage_err(cmd, "--hidden: \"%s\": expected comma-separated "
					     "widths", s);
		p = end + 1;
	}
	o->n_hidden = n;
	o->hidden_auto = 0;
	return 0;
}

/* Integer options: option name, range, and where the value goes. */
static int *cli_int_field(int c, train_opts *o, const char **name, long *hi)
{
	switch (c) {
	case CLI_OPT_WINDOW: *name = "window"; *hi = MODEL_MAX_WINDOW; return &o->window;
	case CLI_OPT_STRIDE: *name = "stride"; *hi = MODEL_MAX_WINDOW; return &o->stride;
	case CLI_OPT_EPOCHS: *name = "epochs"; *hi = 1000000; return &o->epochs;
	case CLI_OPT_BATCH: *name = "batch"; *hi = 1000000; return &o->batch;
	case CLI_OPT_ENSEMBLE: *name = "ensemble"; *hi = MODEL_MAX_MEMBERS; return &o->ensemble;
	}
	return NULL;
}

int cli_train_opt(const char *cmd, int c, const char *v, train_opts *o)
{
	const char *name;
	long l, hi;
	int *field = cli_int_field(c, o, &name, &hi);
	if (field) {
		if (cli_long(v, 1, hi, &l))
			return cli_usage_err(cmd, "--%s: expected an integer in 1..%ld, got \"%s\"",
					     name, hi, v);
		*field = (int)l;
		return 0;
	}
	switch (c) {
	case CLI_OPT_HIDDEN:
		return cli_hidden(cmd, v, o);
	case CLI_OPT_NORM:
		if (model_norm_parse(v, &o->norm) < 0)
			return cli_usage_err(cmd, "--norm: expected minmax or zscore, got \"%s\"", v);
		return 0;
	case CLI_OPT_LR:
		if (cli_float(v, 1e-12, 10.0, &o->lr))
			return cli_usage_err(cmd, "--lr: expected a number in (0, 10], got \"%s\"", v);
		return 0;
	case CLI_OPT_SEED:
		if (num_parse_u64(v, &o->seed, NULL, 0) != 0)
			return cli_usage_err(cmd, "--seed: expected an integer >= 0, got \"%s\"", v);
		return 0;
	case CLI_OPT_PERCENTILE:
		if (cli_float(v, 1e-9, 100.0, &o->percentile))
			return cli_usage_err(cmd, "--percentile: expected a number in (0, 100], got "
					     "\"%s\"", v);
		return 0;
	case CLI_OPT_HOLDOUT:
		if (cli_float(v, 0.0, 0.999, &o->holdout))
			return cli_usage_err(cmd, "--holdout: expected a number in [0, 1), got "
					     "\"%s\"", v);
		return 0;
	case CLI_OPT_DRIFT_MAX:
		if (cli_float(v, 0.0, 1e6, &o->drift_max))
			return cli_usage_err(cmd, "--drift-max: expected a number in [0, 1e6], got "
					     "\"%s\"", v);
		return 0;
	}
	return -1;
}

int cli_series_rows(const csv_table *t, size_t n, float **rows, size_t **seg, size_t *n_seg)
{
	size_t f = (size_t)t->n_cols, ng = t->group && t->n_groups ? t->n_groups : 1;
	size_t *len = calloc(ng, sizeof *len), *at = calloc(ng, sizeof *at);
	float *d = malloc((n ? n : 1) * f * sizeof *d);
	if (!len || !at || !d) {
		free(len);
		free(at);
		free(d);
		return -1;
	}
	for (size_t r = 0; r < n; r++)
		len[t->group ? t->group[r] : 0]++;
	for (size_t g = 1; g < ng; g++)
		at[g] = at[g - 1] + len[g - 1];
	for (size_t r = 0; r < n; r++)
		memcpy(d + at[t->group ? t->group[r] : 0]++ * f, t->data + r * f, f * sizeof *d);
	size_t k = 0;
	for (size_t g = 0; g < ng; g++)
		if (len[g])
			len[k++] = len[g];
	free(at);
	*rows = d;
	*seg = len;
	*n_seg = k;
	return 0;
}

int cli_service_config(const char *cmd, int argc, char **argv, int first,
		       const char *config_path, const char *level_name, iotad_config *cfg)
{
	char err[512];
	int level;
	if (first < argc) {
		fprintf(stderr, "iotad %s: unexpected argument '%s'\n", cmd, argv[first]);
		return 2;
	}
	if (!config_path) {
		fprintf(stderr, "iotad %s: a configuration file is required (-c FILE)\n", cmd);
		return 2;
	}
	if (config_load(config_path, cfg, err, sizeof err) != IOTAD_OK) {
		fprintf(stderr, "iotad %s: %s\n", cmd, err);
		return 2;
	}
	log_set_level(cfg->log_level);
	if (level_name && log_level_parse(level_name, &level) != 0) {
		fprintf(stderr, "iotad %s: unknown log level '%s'\n", cmd, level_name);
		return 2;
	}
	if (level_name)
		log_set_level(level);
	return 0;
}

int cli_service_opts(const char *usage, int argc, char **argv, const char **config_path,
		     const char **level_name, bool *zero)
{
	static const struct option longopts[] = {
		{"config", required_argument, NULL, 'c'},
		{"log-level", required_argument, NULL, 'l'},
		{"zero-config", no_argument, NULL, 'z'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	int opt;
	optind = 1;
	while ((opt = getopt_long(argc, argv, zero ? "c:l:zhV" : "c:l:hV", longopts, NULL)) != -1) {
		if (opt == 'c') {
			*config_path = optarg;
		} else if (opt == 'l') {
			*level_name = optarg;
		} else if (opt == 'z' && zero) {
			*zero = true;
		} else if (opt == 'h') {
			fputs(usage, stdout);
			return 0;
		} else if (opt == 'V') {
			printf("iotad %s\n", IOTAD_VERSION);
			return 0;
		} else {
			fputs(usage, stderr);
			return 2;
		}
	}
	return -1;
}

void cli_stop_signals(void (*on_stop)(int), bool hup)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_stop;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if (hup)
		sigaction(SIGHUP, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
}
