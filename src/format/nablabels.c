/* nablabels.c - the labels file of a Numenta Anomaly Benchmark style
 * corpus (combined_windows.json): file -> list of [start, end] windows. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "iotad/afile.h"
#include "iotad/nablabels.h"
#include "iotad/timefmt.h"

static iotad_err nab_time(const cJSON *c, double *out)
{
	if (cJSON_IsString(c) && c->valuestring && !timefmt_parse(c->valuestring, out))
		return IOTAD_OK;
	return IOTAD_ERR_PARSE;
}

/* Sort s's windows by start (insertion: lists are short) and check them. */
static iotad_err nab_sort_check(nab_series_labels *s, const char *path, char *err,
				size_t errlen)
{
	for (size_t i = 1; i < s->n; i++) {
		double a = s->start[i], b = s->end[i];
		size_t j = i;
		while (j > 0 && s->start[j - 1] > a) {
			s->start[j] = s->start[j - 1];
			s->end[j] = s->end[j - 1];
			j--;
		}
		s->start[j] = a;
		s->end[j] = b;
	}
	for (size_t i = 1; i < s->n; i++) {
		if (s->start[i] <= s->end[i - 1]) {
			snprintf(err, errlen, "%s: \"%s\": windows %zu and %zu overlap", path,
				 s->file, i, i + 1);
			return IOTAD_ERR_PARSE;
		}
	}
	return IOTAD_OK;
}

static iotad_err nab_series(const cJSON *item, nab_series_labels *s, const char *path,
			    char *err, size_t errlen)
{
	if (!(s->file = strdup(item->string)))
		return IOTAD_ERR_NOMEM;
	if (!cJSON_IsArray(item)) {
		snprintf(err, errlen, "%s: \"%s\": expected a list of [start, end] windows",
			 path, s->file);
		return IOTAD_ERR_PARSE;
	}
	size_t n = (size_t)cJSON_GetArraySize(item);
	if (!(s->start = malloc((n ? n : 1) * sizeof *s->start)) ||
	    !(s->end = malloc((n ? n : 1) * sizeof *s->end)))
		return IOTAD_ERR_NOMEM;
	const cJSON *w;
	cJSON_ArrayForEach(w, item) {
		size_t k = s->n;
		if (!cJSON_IsArray(w) || cJSON_GetArraySize(w) != 2 ||
		    nab_time(cJSON_GetArrayItem(w, 0), &s->start[k]) ||
		    nab_time(cJSON_GetArrayItem(w, 1), &s->end[k])) {
			snprintf(err, errlen, "%s: \"%s\": window %zu is not [\"start\", \"end\"] "
				 "with times like \"2014-04-10 07:15:00\"", path, s->file, k + 1);
			return IOTAD_ERR_PARSE;
		}
		if (s->end[k] < s->start[k]) {
			snprintf(err, errlen, "%s: \"%s\": window %zu ends before it starts", path,
				 s->file, k + 1);
			return IOTAD_ERR_PARSE;
		}
		s->n++;
	}
	return nab_sort_check(s, path, err, errlen);
}

iotad_err nab_labels_read(const char *path, nab_labels *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof *out);
	void *buf = NULL;
	size_t len = 0;
	iotad_err rc = afile_read(path, NAB_LABELS_MAX_BYTES, &buf, &len);
	if (rc) {
		snprintf(err, errlen, "%s: %s", path,
			 rc == IOTAD_ERR_NOTFOUND ? "no such file" :
			 rc == IOTAD_ERR_RANGE ? "too large for a labels file" : "cannot read");
		return rc;
	}
	cJSON *root = cJSON_ParseWithLength(buf, len);
	free(buf);
	if (!cJSON_IsObject(root)) {
		snprintf(err, errlen, "%s: not a JSON object of file -> [[start, end], ...]", path);
		cJSON_Delete(root);
		return IOTAD_ERR_PARSE;
	}
	size_t n = (size_t)cJSON_GetArraySize(root);
	if (!(out->s = calloc(n ? n : 1, sizeof *out->s))) {
		cJSON_Delete(root);
		return IOTAD_ERR_NOMEM;
	}
	const cJSON *item;
	cJSON_ArrayForEach(item, root) {
		if (nab_labels_find(out, item->string)) {
			snprintf(err, errlen, "%s: \"%s\" is listed twice", path, item->string);
			rc = IOTAD_ERR_PARSE;
			break;
		}
		rc = nab_series(item, &out->s[out->n], path, err, errlen);
		out->n++;
		if (rc)
			break;
	}
	cJSON_Delete(root);
	return rc;
}

const nab_series_labels *nab_labels_find(const nab_labels *l, const char *file)
{
	for (size_t i = 0; l && file && i < l->n; i++)
		if (l->s[i].file && !strcmp(l->s[i].file, file))
			return &l->s[i];
	return NULL;
}

void nab_labels_free(nab_labels *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->n; i++) {
		free(l->s[i].file);
		free(l->s[i].start);
		free(l->s[i].end);
	}
	free(l->s);
	memset(l, 0, sizeof *l);
}
