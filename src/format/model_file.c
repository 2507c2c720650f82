/* model_file.c - the model file on disk: read whole (JSON or the int8
 * binary, told apart by model_load_buffer) and saved atomically (JSON for
 * a float model, the binary for an int8 one). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iotad/atomicfile.h"
#include "iotad/errmsg.h"
#include "iotad/model_io.h"
#include "iotad/qmodel_io.h"
#include "model_file.h"

iotad_err model_load(const char *path, model *m, char *err, size_t errlen)
{
	memset(m, 0, sizeof *m);
	FILE *f = fopen(path, "rb");
	if (!f) {
		iotad_errf(err, errlen, "%s: %s", path, strerror(errno));
		return errno == ENOENT ? IOTAD_ERR_NOTFOUND : IOTAD_ERR_IO;
	}
	size_t cap = 1 << 16, len = 0;
	char *buf = malloc(cap);
	iotad_err rc = buf ? IOTAD_OK : IOTAD_ERR_NOMEM;
	while (!rc) {
		if (len == cap) {
			if (cap > MODEL_FILE_MAX) {
				iotad_errf(err, errlen, "%s: larger than the %u byte limit", path,
				       MODEL_FILE_MAX);
				rc = IOTAD_ERR_RANGE;
				break;
			}
			char *nb = realloc(buf, cap * 2);
			if (!nb) {
				rc = IOTAD_ERR_NOMEM;
				break;
			}
			buf = nb;
			cap *= 2;
		}
		size_t got = fread(buf + len, 1, cap - len, f);
		len += got;
		if (got == 0) {
			if (ferror(f)) {
				iotad_errf(err, errlen, "%s: read error: %s", path, strerror(errno));
				rc = IOTAD_ERR_IO;
			}
			break;
		}
	}
	fclose(f);
	if (rc == IOTAD_ERR_NOMEM)
		iotad_errf(err, errlen, "%s: out of memory", path);
	if (!rc) {
		char sub[512];
		rc = model_load_buffer(buf, len, m, sub, sizeof sub);
		if (rc)
			iotad_errf(err, errlen, "%s: %s", path, sub);
	}
	free(buf);
	return rc;
}

static void put_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p < 0x20)
			fprintf(f, "\\u%04x", *p);
		else
			fputc(*p, f);
	}
	fputc('"', f);
}

static void put_floats(FILE *f, const float *v, size_t n)
{
	fputc('[', f);
	for (size_t i = 0; i < n; i++)
		fprintf(f, i ? ",%.9g" : "%.9g", (double)v[i]);
	fputc(']', f);
}

static void write_layers(FILE *f, const nn *net)
{
	fputc('[', f);
	for (int l = 0; l < net->n_layers; l++) {
		int in = net->sizes[l], out = net->sizes[l + 1];
		const float *w = net->params + nn_layer_offset(net, l);
		fprintf(f, "%s\n {\"in\":%d,\"out\":%d,\"activation\":\"%s\",\n  \"weights\":",
			l ? "," : "", in, out, nn_act_name(net->act[l]));
		put_floats(f, w, (size_t)out * in);
		fputs(",\n  \"bias\":", f);
		put_floats(f, w + (size_t)out * in, (size_t)out);
		fputc('}', f);
	}
	fputc(']', f);
}

static void write_model(FILE *f, const model *m)
{
	fputs("{\"format\":\"" MODEL_FORMAT_NAME "\",\"format_version\":", f);
	fprintf(f, "%d,\n\"id\":", MODEL_FORMAT_VERSION);
	put_string(f, m->id);
	fprintf(f, ",\"version\":%d,\n\"features\":[", m->version);
	for (int i = 0; i < m->n_features; i++) {
		if (i)
			fputc(',', f);
		put_string(f, m->features[i]);
	}
	fprintf(f, "],\n\"window\":%d,\"stride\":%d,\n", m->window, m->stride);
	fprintf(f, "\"normalization\":{\"kind\":\"%s\",\n \"a\":", model_norm_name(m->norm));
	put_floats(f, m->norm_a, (size_t)m->n_features);
	fputs(",\n \"b\":", f);
	put_floats(f, m->norm_b, (size_t)m->n_features);
	fputs("},\n\"layers\":", f);
	write_layers(f, &m->net);
	for (int k = 0; k < m->n_more; k++) {
		fputs(k ? ",\n {\"layers\":" : ",\n\"ensemble\":[\n {\"layers\":", f);
		write_layers(f, &m->more[k]);
		fputc('}', f);
	}
	fprintf(f, "%s,\n\"threshold\":{\"value\":%.9g,\"percentile\":%.9g},\n",
		m->n_more > 0 ? "]" : "", (double)m->threshold, (double)m->percentile);
	fputs("\"calibration\":{\"scores\":", f);
	put_floats(f, m->calib, m->calib ? (size_t)m->n_calib : 0);
	fputs("},\n\"stuck_after\":[", f);
	for (int i = 0; i < m->n_features; i++)
		fprintf(f, "%s%d", i ? "," : "", m->stuck_after[i]);
	fputs("]}\n", f);
}

iotad_err model_save(const model *m, const char *path)
{
	if (!m || !path || !m->net.params)
		return IOTAD_ERR_INVAL;
	unsigned char *bin = NULL;
	size_t bin_len = 0;
	if (m->type == MODEL_INT8) {
		iotad_err qrc = qmodel_encode(m, &bin, &bin_len);
		if (qrc)
			return qrc;
	}
	atomicfile a;
	iotad_err rc = atomicfile_open(&a, path, 0644, NULL, 0);
	if (rc != IOTAD_OK) {
		free(bin);
		return rc;
	}
	if (bin)
		fwrite(bin, 1, bin_len, a.f);
	else
		write_model(a.f, m);
	free(bin);
	return atomicfile_commit(&a, NULL, 0); /* errno: the cause, for the caller's message */
}

