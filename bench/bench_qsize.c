/* bench_qsize.c - sizes of the int8 encoding against float32, in one run.
 *
 * Trains the seeds' reference network (window 10 x 2 features, 20-12-6-12-20,
 * 674 parameters) on simulated telemetry, quantizes it, and prints: the
 * model file (int8 binary against the float model file, JSON), and a
 * federated update (int8 against the same update with float32 weights)
 * with the MQTT PUBLISH packet that carries it (QoS 1).
 *
 * usage: bench_qsize [--topic TOPIC] [--dir DIR] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bench.h"
#include "iotad/model_io.h"
#include "iotad/qmodel_io.h"
#include "iotad/quantize.h"
#include "iotad/train.h"

static long file_size(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

/* Bytes of an MQTT 3.1.1 PUBLISH at QoS 1: fixed header, remaining length,
 * topic, packet id, payload. */
static size_t mqtt_publish_bytes(const char *topic, size_t payload)
{
	size_t rest = 2 + strlen(topic) + 2 + payload, len = 1;
	for (size_t r = rest; r >= 128; r /= 128)
		len++;
	return 1 + len + rest;
}

/* Biases of a network: one per output of each layer. */
static size_t n_bias(const nn *net)
{
	size_t n = 0;
	for (int l = 0; l < net->n_layers; l++)
		n += (size_t)net->sizes[l + 1];
	return n;
}

int main(int argc, char **argv)
{
	const char *topic = "iotad/fed/update/gw-0001", *dir = "/tmp";
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--topic") && i + 1 < argc)
			topic = argv[++i];
		else if (!strcmp(argv[i], "--dir") && i + 1 < argc)
			dir = argv[++i];
		else {
			fprintf(stderr, "usage: bench_qsize [--topic TOPIC] [--dir DIR]\n");
			return 2;
		}
	}
	enum { DEVICES = 8, STEPS = 3600 };
	bench_data d;
	if (bench_data_init(&d, DEVICES * STEPS, DEVICES, 7) != 0)
		return 1;
	/* temperature and humidity, each device's rows together */
	float *rows = malloc((size_t)DEVICES * STEPS * 2 * sizeof *rows);
	size_t seg[DEVICES];
	if (!rows)
		return 1;
	for (size_t i = 0; i < d.n; i++) {
		size_t row = (size_t)d.device[i] * STEPS + i / DEVICES;
		memcpy(rows + row * 2, d.values + i * SIM_FEATURES, 2 * sizeof *rows);
	}
	for (int k = 0; k < DEVICES; k++)
		seg[k] = STEPS;
	train_opts o;
	model m, q;
	char err[256];
	memset(&m, 0, sizeof m);
	train_opts_default(&o);
	o.epochs = 5;
	o.segments = seg;
	o.n_segments = DEVICES;
	snprintf(m.id, sizeof m.id, "ref-ae");
	m.version = 1;
	snprintf(m.features[0], sizeof m.features[0], "%s", sim_feature_names[0]);
	snprintf(m.features[1], sizeof m.features[1], "%s", sim_feature_names[1]);
	if (train_model(rows, d.n, 2, &o, &m, err, sizeof err)) {
		fprintf(stderr, "bench_qsize: %s\n", err);
		return 1;
	}
	quant_opts qo;
	quant_opts_default(&qo);
	qo.segments = seg;
	qo.n_segments = DEVICES;
	if (quant_model(&m, rows, d.n, &qo, &q, err, sizeof err)) {
		fprintf(stderr, "bench_qsize: %s\n", err);
		return 1;
	}
	char fpath[512], qpath[512];
	snprintf(fpath, sizeof fpath, "%s/bench-ref.json", dir);
	snprintf(qpath, sizeof qpath, "%s/bench-ref.iq8", dir);
	if (model_save(&m, fpath) || model_save(&q, qpath)) {
		fprintf(stderr, "bench_qsize: cannot write to %s\n", dir);
		return 1;
	}
	long fs = file_size(fpath), qs = file_size(qpath);
	/* the same files without their calibration scores: the network's share */
	float *fc = m.calib, *qc = q.calib;
	int fn = m.n_calib, qn = q.n_calib;
	m.calib = q.calib = NULL;
	m.n_calib = q.n_calib = 0;
	char fpath0[520], qpath0[520];
	snprintf(fpath0, sizeof fpath0, "%s/bench-ref-nocalib.json", dir);
	snprintf(qpath0, sizeof qpath0, "%s/bench-ref-nocalib.iq8", dir);
	if (model_save(&m, fpath0) || model_save(&q, qpath0))
		return 1;
	m.calib = fc;
	q.calib = qc;
	m.n_calib = fn;
	q.n_calib = qn;
	long fs0 = file_size(fpath0), qs0 = file_size(qpath0);
	printf("qsize: network");
	for (int l = 0; l <= m.net.n_layers; l++)
		printf("%s%d", l ? "-" : " ", m.net.sizes[l]);
	printf(", %zu parameters, %d calibration scores\n", m.net.n_params, m.n_calib);
	printf("qsize: model file: float (JSON) %ld B, int8 %ld B, %.2fx smaller\n", fs, qs,
	       (double)fs / (double)qs);
	printf("qsize: model file without calibration scores: float (JSON) %ld B, int8 %ld B, "
	       "%.2fx smaller (float32 parameters alone: %zu B, %.2fx the int8 file; its int8 "
	       "weights alone: %zu B)\n", fs0, qs0, (double)fs0 / (double)qs0, 4 * m.net.n_params,
	       (double)(4 * m.net.n_params) / (double)qs0, m.net.n_params - n_bias(&m.net));

	/* (a) against the float32 parameters alone; (b) against a file of the
	 * same container holding float32 values (qmodel_float32_bytes) */
	size_t c0 = qmodel_float32_bytes(&q, 0), c1 = qmodel_float32_bytes(&q, 1);
	printf("qsize: model file against float32: (a) parameters alone %zu B / int8 file "
	       "without calibration %ld B = %.2fx; (b) same container with float32 values "
	       "%zu B / %ld B = %.2fx; with calibration scores %zu B / %ld B = %.2fx\n",
	       4 * m.net.n_params, qs0, (double)(4 * m.net.n_params) / (double)qs0, c0, qs0,
	       (double)c0 / (double)qs0, c1, qs, (double)c1 / (double)qs);
	qmodel_update u = {.round = 12, .base_hash = 0x1234abcd, .samples = 2000};
	unsigned char *buf;
	size_t len;
	if (qmodel_update_encode(&q.net, &u, &buf, &len))
		return 1;
	size_t f32 = qmodel_update_float32_bytes(&q.net, len);
	size_t p8 = mqtt_publish_bytes(topic, len), p32 = mqtt_publish_bytes(topic, f32);
	printf("qsize: update: float32 %zu B, int8 %zu B, %.2fx smaller\n", f32, len,
	       (double)f32 / (double)len);
	printf("qsize: MQTT PUBLISH (QoS 1, topic %s): float32 %zu B, int8 %zu B (%s 1024)\n",
	       topic, p32, p8, p8 <= 1024 ? "<=" : ">");
	printf("RESULT qsize params=%zu model_json=%ld model_int8=%ld model_ratio=%.3f "
	       "nocalib_json=%ld nocalib_int8=%ld params_f32_ratio=%.3f update_f32=%zu "
	       "update_int8=%zu update_ratio=%.3f publish_int8=%zu container_f32=%zu "
	       "container_ratio=%.3f container_calib_f32=%zu container_calib_ratio=%.3f\n",
	       m.net.n_params, fs, qs, (double)fs / (double)qs, fs0, qs0,
	       (double)(4 * m.net.n_params) / (double)qs0, f32, len, (double)f32 / (double)len, p8, c0,
	       (double)c0 / (double)qs0, c1, (double)c1 / (double)qs);
	free(buf);
	free(rows);
	bench_data_free(&d);
	model_free(&m);
	model_free(&q);
	return 0;
}
