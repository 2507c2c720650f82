/* cmd_train_kinds.c - `iotad train --group-by COLUMN`: one CSV of a mixed
 * fleet (a kind column, each kind with its own fields, the others' cells
 * empty) trains one model per kind, written as DIR/KIND.json. Each kind's
 * rows go to a temporary CSV with the columns that kind fills, which the
 * ordinary `iotad train` reads; the other options apply to every kind. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "iotad/cmd.h"

#define KINDS_MAX 32
#define COLS_MAX 128
#define LINE_MAX_BYTES 65536

typedef struct kind_out {
	char name[64];
	bool filled[COLS_MAX];  /* a column that has a value in every row of this kind */
	FILE *f;
	char path[512];
	long rows;
} kind_out;

/* Split line (modified) on sep into at most COLS_MAX cells. */
static int split(char *line, char sep, char **cells)
{
	int n = 0;
	line[strcspn(line, "\r\n")] = '\0';
	for (char *s = line; n < COLS_MAX;) {
		cells[n++] = s;
		char *e = strchr(s, sep);
		if (!e)
			break;
		*e = '\0';
		s = e + 1;
	}
	return n;
}

static kind_out *kind_get(kind_out *k, int *nk, const char *name, int ncols)
{
	for (int i = 0; i < *nk; i++)
		if (!strcmp(k[i].name, name))
			return &k[i];
	if (*nk == KINDS_MAX || !*name || strlen(name) >= sizeof k->name ||
	    strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") !=
		    strlen(name))
		return NULL;
	kind_out *o = &k[(*nk)++];
	memset(o, 0, sizeof *o);
	snprintf(o->name, sizeof o->name, "%s", name);
	for (int c = 0; c < ncols; c++)
		o->filled[c] = true;
	return o;
}

/* Two passes over the CSV: which columns each kind fills, then its rows. */
static int split_csv(const char *csv, char sep, const char *col, const char *tmp, kind_out *k,
		     int *nk)
{
	FILE *in = fopen(csv, "r");
	if (!in) {
		fprintf(stderr, "iotad train: %s: %s\n", csv, strerror(errno));
		return 1;
	}
	char *line = malloc(LINE_MAX_BYTES), *head = malloc(LINE_MAX_BYTES);
	char *cells[COLS_MAX], *names[COLS_MAX];
	int rc = 1, ncols = 0, kc = -1;
	long lineno = 1;
	if (!line || !head || !fgets(head, LINE_MAX_BYTES, in)) {
		fprintf(stderr, "iotad train: %s: no header row\n", csv);
		goto out;
	}
	ncols = split(head, sep, names);
	for (int c = 0; c < ncols; c++)
		if (!strcmp(names[c], col))
			kc = c;
	if (kc < 0) {
		fprintf(stderr, "iotad train: %s: no column \"%s\" (--group-by)\n", csv, col);
		goto out;
	}
	for (int pass = 0; pass < 2; pass++) {
		rewind(in);
		if (!fgets(line, LINE_MAX_BYTES, in))
			goto out;
		lineno = 1;
		while (fgets(line, LINE_MAX_BYTES, in)) {
			lineno++;
			int n = split(line, sep, cells);
			if (n != ncols) {
				fprintf(stderr, "iotad train: %s:%ld: %d cells, the header has %d\n",
					csv, lineno, n, ncols);
				goto out;
			}
			kind_out *o = kind_get(k, nk, cells[kc], ncols);
			if (!o) {
				fprintf(stderr, "iotad train: %s:%ld: kind \"%.40s\" is empty, not "
					"letters, digits, '_' or '-', or one too many (%d)\n", csv,
					lineno, cells[kc], KINDS_MAX);
				goto out;
			}
			if (pass == 0) {
				for (int c = 0; c < ncols; c++)
					if (!cells[c][0])
						o->filled[c] = false;
				o->rows++;
				continue;
			}
			bool first = true;
			for (int c = 0; c < ncols; c++)
				if (c != kc && o->filled[c]) {
					fprintf(o->f, "%s%s", first ? "" : (char[]){sep, 0}, cells[c]);
					first = false;
				}
			fputc('\n', o->f);
		}
		if (pass == 1)
			break;
		for (int i = 0; i < *nk; i++) {
			if (snprintf(k[i].path, sizeof k[i].path, "%.64s/%.63s.csv", tmp, k[i].name) >=
				    (int)sizeof k[i].path ||
			    !(k[i].f = fopen(k[i].path, "w"))) {
				fprintf(stderr, "iotad train: %s: %s\n", k[i].path, strerror(errno));
				goto out;
			}
			bool first = true;
			for (int c = 0; c < ncols; c++)
				if (c != kc && k[i].filled[c]) {
					fprintf(k[i].f, "%s%s", first ? "" : (char[]){sep, 0}, names[c]);
					first = false;
				}
			fputc('\n', k[i].f);
		}
	}
	rc = 0;
	for (int i = 0; i < *nk; i++)
		if (k[i].f && (ferror(k[i].f) || fclose(k[i].f))) {
			k[i].f = NULL;
			fprintf(stderr, "iotad train: cannot write %s\n", k[i].path);
			rc = 1;
		} else {
			k[i].f = NULL;
		}
out:
	for (int i = 0; i < *nk; i++)
		if (k[i].f)
			fclose(k[i].f);
	fclose(in);
	free(line);
	free(head);
	return rc;
}

int cmd_train_group_by(int argc, char **argv)
{
	const char *csv = NULL, *col = NULL, *dir = NULL;
	char sep = ',';
	bool has_id = false;
	for (int i = 1; i + 1 < argc; i++) {
		if (!strcmp(argv[i], "--csv"))
			csv = argv[i + 1];
		else if (!strcmp(argv[i], "--group-by"))
			col = argv[i + 1];
		else if (!strcmp(argv[i], "-o") || !strcmp(argv[i], "--output"))
			dir = argv[i + 1];
		else if (!strcmp(argv[i], "--sep"))
			sep = !strcmp(argv[i + 1], "tab") ? '\t' : argv[i + 1][0];
		else if (!strcmp(argv[i], "--id") || !strcmp(argv[i], "--int8"))
			has_id = true;
	}
	if (!csv || !col || !dir || has_id) {
		fprintf(stderr, "iotad train: --group-by COLUMN needs --csv FILE and -o DIR (a "
				"folder: DIR/KIND.json each), and takes no --id or --int8\n");
		return 2;
	}
	if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
		fprintf(stderr, "iotad train: %s: %s\n", dir, strerror(errno));
		return 1;
	}
	char tmp[] = "/tmp/iotad-train-kinds-XXXXXX";
	if (!mkdtemp(tmp)) {
		fprintf(stderr, "iotad train: no temporary folder: %s\n", strerror(errno));
		return 1;
	}
	static kind_out k[KINDS_MAX];
	int nk = 0, rc = split_csv(csv, sep, col, tmp, k, &nk);
	for (int i = 0; i < nk && rc == 0; i++) {
		char out[1024];
		if (snprintf(out, sizeof out, "%.900s/%.63s.json", dir, k[i].name) >= (int)sizeof out) {
			rc = 2;
			break;
		}
		char **av = calloc((size_t)argc + 3, sizeof *av);
		if (!av) {
			rc = 1;
			break;
		}
		int n = 0;
		for (int j = 0; j < argc; j++) {
			if (j + 1 < argc && !strcmp(argv[j], "--group-by")) {
				j++;
				continue;
			}
			av[n++] = argv[j];
			if (j + 1 < argc && !strcmp(argv[j], "--csv"))
				av[n++] = k[i].path, j++;
			else if (j + 1 < argc && (!strcmp(argv[j], "-o") || !strcmp(argv[j], "--output")))
				av[n++] = out, j++;
		}
		av[n++] = "--id";
		av[n++] = k[i].name;
		fprintf(stderr, "iotad train: kind %s: %ld rows -> %s\n", k[i].name, k[i].rows, out);
		rc = cmd_train(n, av);
		free(av);
	}
	for (int i = 0; i < nk; i++)
		if (k[i].path[0])
			unlink(k[i].path);
	rmdir(tmp);
	return rc;
}
