/* metrics.c - scoring latency histogram and the Prometheus text format. */
#include "iotad/metrics.h"

#include <string.h>

#include "iotad/alert.h"

const uint64_t met_bucket_ns[MET_BUCKETS] = {
	1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000,
	1000000, 2500000, 10000000, 100000000, 1000000000,
};

void met_hist_init(met_hist *h)
{
	for (int i = 0; i <= MET_BUCKETS; i++)
		atomic_init(&h->bucket[i], 0);
	atomic_init(&h->sum_ns, 0);
}

void met_hist_observe(met_hist *h, uint64_t ns)
{
	int i = 0;
	while (i < MET_BUCKETS && ns > met_bucket_ns[i])
		i++;
	atomic_fetch_add_explicit(&h->bucket[i], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&h->sum_ns, ns, memory_order_relaxed);
}

void met_hist_read(met_hist *h, met_hist_snap *out)
{
	out->count = 0;
	for (int i = 0; i <= MET_BUCKETS; i++) {
		out->bucket[i] = atomic_load_explicit(&h->bucket[i], memory_order_relaxed);
		out->count += out->bucket[i];
	}
	out->sum = (double)atomic_load_explicit(&h->sum_ns, memory_order_relaxed) * 1e-9;
}

static void head(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void one(FILE *f, const char *name, const char *type, const char *help, uint64_t v)
{
	head(f, name, type, help);
	fprintf(f, "%s %llu\n", name, (unsigned long long)v);
}

/* A label value with \, " and newline escaped as the format requires. */
static void label_value(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			fputc('\\', f), fputc(*s, f);
		else if (*s == '\n')
			fputs("\\n", f);
		else
			fputc(*s, f);
	}
	fputc('"', f);
}

int met_write_prometheus(FILE *f, const met_snapshot *s)
{
	one(f, "iotad_messages_received_total", "counter",
	    "Telemetry messages taken from the queue.", s->received);
	one(f, "iotad_messages_scored_total", "counter", "Windows scored.", s->scored);
	head(f, "iotad_messages_rejected_total", "counter", "Telemetry messages rejected, by reason.");
	for (int r = 1; r < REJ__COUNT; r++)
		fprintf(f, "iotad_messages_rejected_total{reason=\"%s\"} %llu\n",
			codec_reject_name((reject_reason)r), (unsigned long long)s->rejected[r]);
	one(f, "iotad_messages_refused_total", "counter",
	    "Messages refused because the queue was full (the broker redelivers them).",
	    s->refused_full);
	head(f, "iotad_alerts_total", "counter", "Alert events published, by state.");
	for (int e = ALERT_EV_RAISED; e < ALERT_EV__COUNT; e++)
		fprintf(f, "iotad_alerts_total{state=\"%s\"} %llu\n",
			alert_event_name((alert_event)e), (unsigned long long)s->events[e]);
	head(f, "iotad_commands_total", "counter",
	     "Operator commands applied (control topic and HTTP), by command.");
	for (int k = 0; k < DET_CMD__COUNT; k++)
		fprintf(f, "iotad_commands_total{command=\"%s\"} %llu\n",
			det_command_name((det_command_kind)k), (unsigned long long)s->commands[k]);
	head(f, "iotad_commands_rejected_total", "counter",
	     "Operator commands refused, by reason.");
	for (int r = 1; r < CMD__COUNT; r++)
		fprintf(f, "iotad_commands_rejected_total{reason=\"%s\"} %llu\n",
			codec_cmd_reject_name((cmd_reject)r),
			(unsigned long long)s->commands_rejected[r]);
	one(f, "iotad_devices", "gauge", "Devices tracked by the detector.", s->devices);
	one(f, "iotad_devices_max", "gauge", "Configured maximum number of devices.",
	    s->max_devices);
	head(f, "iotad_devices_evicted_total", "counter",
	     "Devices forgotten: lru (replaced by a new one in a full table) or idle (silent too long).");
	fprintf(f, "iotad_devices_evicted_total{reason=\"lru\"} %llu\n",
		(unsigned long long)s->evictions_lru);
	fprintf(f, "iotad_devices_evicted_total{reason=\"idle\"} %llu\n",
		(unsigned long long)s->evictions_idle);
	one(f, "iotad_broker_connected", "gauge", "1 when connected to the MQTT broker.",
	    s->connected);
	one(f, "iotad_broker_reconnects_total", "counter",
	    "Successful connections to the broker after the first.", s->reconnects);
	one(f, "iotad_publishes_total", "counter", "Publishes acknowledged by the broker.",
	    s->published);
	one(f, "iotad_publish_failed_total", "counter", "Alert or state publishes that failed.",
	    s->publish_failed);
	one(f, "iotad_publish_inflight", "gauge", "QoS 1 publishes awaiting acknowledgement.",
	    s->inflight);
	one(f, "iotad_queue_depth", "gauge", "Messages waiting for the scorer.", s->queue_depth);
	one(f, "iotad_queue_capacity", "gauge", "Capacity of the scorer's queue.",
	    s->queue_capacity);

	head(f, "iotad_score_duration_seconds", "histogram",
	     "Time to push one sample through the detector (window, network, threshold, alert).");
	uint64_t cum = 0;
	for (int i = 0; i < MET_BUCKETS; i++) {
		cum += s->score.bucket[i];
		fprintf(f, "iotad_score_duration_seconds_bucket{le=\"%g\"} %llu\n", (double)met_bucket_ns[i] * 1e-9,
			(unsigned long long)cum);
	}
	cum += s->score.bucket[MET_BUCKETS];
	fprintf(f, "iotad_score_duration_seconds_bucket{le=\"+Inf\"} %llu\n",
		(unsigned long long)cum);
	fprintf(f, "iotad_score_duration_seconds_sum %.9f\n", s->score.sum);
	fprintf(f, "iotad_score_duration_seconds_count %llu\n", (unsigned long long)cum);

	head(f, "iotad_model_info", "gauge", "The model in use.");
	fputs("iotad_model_info{id=", f);
	label_value(f, s->model_id);
	fprintf(f, ",version=\"%d\"} %d\n", s->model_version, s->model_loaded ? 1 : 0);
	one(f, "iotad_model_reloads_total", "counter",
	    "Models swapped in by SIGHUP or the control topic.", s->model_reloads);
	one(f, "iotad_model_reload_failures_total", "counter",
	    "Model reloads refused (the running model stayed).", s->model_reload_failures);
	one(f, "iotad_state_rejected_total", "counter",
	    "State files ignored (another model) or refused (damaged) at start.", s->state_rejected);
	head(f, "iotad_start_time_seconds", "gauge", "Start time of the process (epoch seconds).");
	fprintf(f, "iotad_start_time_seconds %.3f\n", s->start_time);
	return ferror(f) ? -1 : 0;
}
