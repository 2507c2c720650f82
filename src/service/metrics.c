/* metrics.c - scoring latency histogram and the Prometheus text format. */
#include "iotad/metrics.h"

#include <dirent.h>
#include <stddef.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

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

/* One sample of counter name with label="value" (value plain text). */
static void labelled(FILE *f, const char *name, const char *label, const char *value, uint64_t v)
{
	fprintf(f, "%s{%s=\"%s\"} %llu\n", name, label, value, (unsigned long long)v);
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

/* The federated gateway's counters and gauges (docs/federated.md). */
static void write_fed(FILE *f, const met_fed *d)
{
	one(f, "iotad_fl_rounds_joined_total", "counter",
	    "Global models of the aggregator accepted and trained from.", d->rounds_joined);
	head(f, "iotad_fl_updates_total", "counter",
	     "Updates of this gateway: sent, or failed (not encoded or not published).");
	labelled(f, "iotad_fl_updates_total", "result", "sent", d->updates_sent);
	labelled(f, "iotad_fl_updates_total", "result", "failed", d->updates_failed);
	head(f, "iotad_fl_globals_total", "counter",
	     "Global models: accepted (swapped in), refused (scored the recent normal windows too "
	     "badly), invalid (damaged, another model, stale or replayed round).");
	labelled(f, "iotad_fl_globals_total", "result", "accepted", d->globals_accepted);
	labelled(f, "iotad_fl_globals_total", "result", "refused", d->globals_refused);
	labelled(f, "iotad_fl_globals_total", "result", "invalid", d->globals_invalid);
	one(f, "iotad_fl_local_retrains_total", "counter",
	    "Local retrainings without an aggregator, swapped in.", d->local_retrains);
	one(f, "iotad_fl_unsampled_total", "counter",
	    "Samples of devices beyond federated.max_devices (not sampled).", d->devices_unsampled);
	one(f, "iotad_fl_round", "gauge", "Round of the global model accepted last.", d->round);
	head(f, "iotad_fl_epsilon", "gauge",
	     "Differential privacy of the global model accepted last: epsilon at iotad_fl_delta, "
	     "per gateway (DP-FedAvg); 0 with delta 0: no privacy claimed.");
	fprintf(f, "iotad_fl_epsilon %.6g\n", d->epsilon);
	head(f, "iotad_fl_delta", "gauge", "The delta of iotad_fl_epsilon; 0: no privacy claimed.");
	fprintf(f, "iotad_fl_delta %.6g\n", d->delta);
	if (d->dp_sgd) {
		head(f, "iotad_fl_window_epsilon", "gauge",
		     "DP-SGD: epsilon per window of every local training since start, at "
		     "federated.dp_delta.");
		fprintf(f, "iotad_fl_window_epsilon %.6g\n", d->window_epsilon);
	}
	head(f, "iotad_fl_threshold", "gauge",
	     "Thresholds after the last round: in use (mode federated.threshold), this gateway's "
	     "own (held-out windows), the aggregator's for every gateway; 0: none yet.");
	fprintf(f, "iotad_fl_threshold{calibration=\"in_use\",mode=\"%s\"} %.6g\n",
		d->threshold_mode ? d->threshold_mode : "", d->threshold);
	fprintf(f, "iotad_fl_threshold{calibration=\"gateway\"} %.6g\n", d->threshold_gateway);
	fprintf(f, "iotad_fl_threshold{calibration=\"global\"} %.6g\n", d->threshold_global);
	head(f, "iotad_fl_served_total", "counter",
	     "Rounds after which the gateway served the global model, the global model fine-tuned "
	     "on its windows, or its own model (federated.personalize).");
	static const char *const names[3] = {"global", "tuned", "own"};
	for (int i = 0; i < 3; i++)
		fprintf(f, "iotad_fl_served_total{model=\"%s\"} %llu\n", names[i],
			(unsigned long long)d->serving[i]);
}

/* One family of a mixed fleet's per-model figures, labelled model="NAME". */
static void model_family(FILE *f, const met_snapshot *s, const char *name, const char *type,
			 const char *help, size_t off)
{
	head(f, name, type, help);
	for (uint32_t i = 0; i < s->n_models; i++) {
		fprintf(f, "%s{model=", name);
		label_value(f, s->models[i].name);
		fprintf(f, "} %llu\n",
			(unsigned long long)*(const uint64_t *)((const char *)&s->models[i] + off));
	}
}

static void write_models(FILE *f, const met_snapshot *s)
{
	model_family(f, s, "iotad_model_messages_total", "counter",
		     "Telemetry messages routed to each model of a mixed fleet.",
		     offsetof(met_model, received));
	model_family(f, s, "iotad_model_scored_total", "counter", "Windows scored, by model.",
		     offsetof(met_model, scored));
	model_family(f, s, "iotad_model_rejected_total", "counter",
		     "Messages routed to a model and rejected by it, by model.",
		     offsetof(met_model, rejected));
	model_family(f, s, "iotad_model_raises_total", "counter", "Alerts raised, by model.",
		     offsetof(met_model, raises));
	model_family(f, s, "iotad_model_devices", "gauge", "Devices held, by model.",
		     offsetof(met_model, devices));
	model_family(f, s, "iotad_model_raised", "gauge", "Devices raised now, by model.",
		     offsetof(met_model, raised));
	model_family(f, s, "iotad_model_reloads_by_model_total", "counter",
		     "Reloads swapped in, by model.", offsetof(met_model, reloads));
	model_family(f, s, "iotad_model_reload_failures_by_model_total", "counter",
		     "Reloads refused (the model stayed), by model.",
		     offsetof(met_model, reload_failures));
	head(f, "iotad_model_version", "gauge", "The model id and version each entry runs.");
	for (uint32_t i = 0; i < s->n_models; i++) {
		fputs("iotad_model_version{model=", f);
		label_value(f, s->models[i].name);
		fputs(",id=", f);
		label_value(f, s->models[i].id);
		fprintf(f, "} %d\n", s->models[i].version);
	}
	one(f, "iotad_fields_changed_total", "counter",
	    "Zero-config devices that sent other numeric fields than they were learned on.",
	    s->fields_changed);
}

int met_write_prometheus(FILE *f, const met_snapshot *s)
{
	one(f, "iotad_messages_received_total", "counter",
	    "Telemetry messages taken from the queue.", s->received);
	one(f, "iotad_messages_scored_total", "counter",
	    "Telemetry messages that completed a window and were scored (one score per stride "
	    "samples of a device).", s->scored);
	head(f, "iotad_messages_rejected_total", "counter", "Telemetry messages rejected, by reason.");
	for (int r = 1; r < REJ__COUNT; r++)
		labelled(f, "iotad_messages_rejected_total", "reason", codec_reject_name((reject_reason)r),
			 s->rejected[r]);
	one(f, "iotad_messages_late_total", "counter",
	    "Samples older than their device's newest that joined its window in time order "
	    "(detector.reorder_window).", s->late);
	one(f, "iotad_device_clock_rewinds_total", "counter",
	    "Devices whose newest time was ahead of the host clock, moved back so that later "
	    "samples are not refused.", s->rewound);
	one(f, "iotad_messages_not_my_shard_total", "counter",
	    "Telemetry messages of devices in another instance's shard (service.shard), "
	    "ignored.", s->not_my_shard);
	one(f, "iotad_messages_refused_total", "counter",
	    "Messages refused because the queue was full (the broker redelivers them).",
	    s->refused_full);
	head(f, "iotad_alerts_total", "counter", "Alert events published, by state.");
	for (int e = ALERT_EV_RAISED; e < ALERT_EV__COUNT; e++)
		labelled(f, "iotad_alerts_total", "state", alert_event_name((alert_event)e),
			 s->events[e]);
	head(f, "iotad_commands_total", "counter",
	     "Operator commands applied (control topic and HTTP), by command.");
	for (int k = 0; k < DET_CMD__COUNT; k++)
		labelled(f, "iotad_commands_total", "command", det_command_name((det_command_kind)k),
			 s->commands[k]);
	head(f, "iotad_commands_rejected_total", "counter",
	     "Operator commands refused, by reason.");
	for (int r = 1; r < CMD__COUNT; r++)
		labelled(f, "iotad_commands_rejected_total", "reason",
			 codec_cmd_reject_name((cmd_reject)r), s->commands_rejected[r]);
	one(f, "iotad_devices", "gauge", "Devices tracked by the detector.", s->devices);
	one(f, "iotad_devices_raised", "gauge",
	    "Devices whose alert is raised now (the detector's table; survives restarts with the "
	    "state file).", s->raised);
	one(f, "iotad_states_reconciled_total", "counter",
	    "Retained raised states of devices not raised here, cleared at start.", s->reconciled);
	one(f, "iotad_devices_max", "gauge", "Configured maximum number of devices.",
	    s->max_devices);
	head(f, "iotad_devices_evicted_total", "counter",
	     "Devices forgotten: lru (replaced by a new one in a full table) or idle (silent too long).");
	labelled(f, "iotad_devices_evicted_total", "reason", "lru", s->evictions_lru);
	labelled(f, "iotad_devices_evicted_total", "reason", "idle", s->evictions_idle);
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
	if (s->fed.enabled)
		write_fed(f, &s->fed);
	if (s->n_models)
		write_models(f, s);
	head(f, "iotad_start_time_seconds", "gauge", "Start time of the process (epoch seconds).");
	fprintf(f, "iotad_start_time_seconds %.3f\n", s->start_time);
	head(f, "iotad_build_info", "gauge", "The iotad build: version, always 1.");
	fputs("iotad_build_info{version=", f);
	label_value(f, IOTAD_VERSION);
	fputs("} 1\n", f);
	met_write_process(f);
	return ferror(f) ? -1 : 0;
}

/* --- process_* from /proc/self ---------------------------------------------- */

/* Fields 14 (utime), 15 (stime), 22 (starttime), 23 (vsize), 24 (rss) of
 * /proc/self/stat. 0 on success. */
static int proc_stat(unsigned long long *utime, unsigned long long *stime,
		     unsigned long long *start, unsigned long long *vsize, long long *rss)
{
	char buf[1024];
	FILE *f = fopen("/proc/self/stat", "r");
	if (!f)
		return -1;
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	char *p = strrchr(buf, ')'); /* the command name may hold spaces */
	if (!p)
		return -1;
	/* after ")": state(3) ... utime is the 12th field from here */
	return sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d %*d "
			     "%*d %*d %*d %llu %llu %lld",
		      utime, stime, start, vsize, rss) == 5 ? 0 : -1;
}

static double boot_time(void)
{
	char line[256];
	double bt = 0;
	FILE *f = fopen("/proc/stat", "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof line, f))
		if (sscanf(line, "btime %lf", &bt) == 1)
			break;
	fclose(f);
	return bt;
}

static long open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		return -1;
	long n = 0;
	const struct dirent *e;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n - 1; /* the directory's own fd */
}

int met_write_process(FILE *f)
{
	unsigned long long ut, st, start, vsize;
	long long rss;
	long tck = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
	if (tck > 0 && page > 0 && proc_stat(&ut, &st, &start, &vsize, &rss) == 0) {
		head(f, "process_cpu_seconds_total", "counter",
		     "Total user and system CPU time spent in seconds.");
		fprintf(f, "process_cpu_seconds_total %.2f\n", (double)(ut + st) / (double)tck);
		head(f, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
		fprintf(f, "process_resident_memory_bytes %lld\n", rss * page);
		head(f, "process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.");
		fprintf(f, "process_virtual_memory_bytes %llu\n", vsize);
		double bt = boot_time();
		if (bt > 0) {
			head(f, "process_start_time_seconds", "gauge",
			     "Start time of the process since unix epoch in seconds.");
			fprintf(f, "process_start_time_seconds %.2f\n", bt + (double)start / (double)tck);
		}
	}
	long fds = open_fds();
	if (fds >= 0) {
		head(f, "process_open_fds", "gauge", "Number of open file descriptors.");
		fprintf(f, "process_open_fds %ld\n", fds);
	}
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		head(f, "process_max_fds", "gauge", "Maximum number of open file descriptors.");
		if (rl.rlim_cur == RLIM_INFINITY)
			fputs("process_max_fds +Inf\n", f);
		else
			fprintf(f, "process_max_fds %llu\n", (unsigned long long)rl.rlim_cur);
	}
	return ferror(f) ? -1 : 0;
}
