/* cmd_run.c - `iotad run`: load config and model, run the service. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "iotad/cli.h"
#include "iotad/cmd.h"
#include "iotad/config.h"
#include "iotad/fedclient.h"
#include "iotad/log.h"
#include "iotad/model_io.h"
#include "iotad/service.h"
#include "iotad/state.h"

static const char usage[] =
	"usage: iotad run -c FILE [--zero-config] [--log-level LEVEL]\n"
	"\n"
	"NAME\n"
	"    iotad run - the streaming anomaly detection service\n"
	"\n"
	"DESCRIPTION\n"
	"    Subscribes to device telemetry on an MQTT broker, scores every window\n"
	"    with the model's autoencoder, and publishes anomaly events (raised,\n"
	"    cleared, stale) to {alerts}/{device} and the current state, retained,\n"
	"    to {state}/{device}. The service status (online/offline) is kept\n"
	"    retained on the status topic (iotad/status/{instance}; the instance\n"
	"    is service.instance, or the client id). At start it reads back the\n"
	"    retained states and clears those raised for devices it does not hold\n"
	"    raised (a restart without the state file). With service.state_file\n"
	"    empty and $STATE_DIRECTORY set (systemd), the state file is\n"
	"    $STATE_DIRECTORY/state.bin.\n"
	"\n"
	"    ZERO-CONFIG: without model.path (or with --zero-config) there is no\n"
	"    model: every device is judged against its own normal, learned from its\n"
	"    first detector.profile_learn samples (no alarm meanwhile), by the\n"
	"    profile channels alone. The features are detector.features, or else\n"
	"    each device's own numeric fields, learned from its first message\n"
	"    (sorted by name, at most 8; one detector per set of fields, at most 8\n"
	"    sets); a device whose fields change gets a fields_changed event on its\n"
	"    alert topic and learns afresh on the new ones.\n"
	"    Events name the model \"zero-config\"; a reload is ignored.\n"
	"\n"
	"    MIXED FLEET: a models: list names several models, each with a topic\n"
	"    filter and/or a device-id glob, its model file and its own detector\n"
	"    keys over the top-level ones. A message goes to the first entry that\n"
	"    matches; no match is counted as no_model, or with model.fallback is\n"
	"    judged zero-config on the device's own numeric fields (one detector per\n"
	"    set of fields; a device whose fields change gets a fields_changed event\n"
	"    on its alert topic and learns afresh). detector.max_devices bounds the\n"
	"    devices of all models together. Events, Home Assistant discovery and\n"
	"    /metrics (iotad_model_*{model=NAME}) name the model; each model keeps\n"
	"    its state in STATE_FILE.NAME and reloads on its own (a file that fails\n"
	"    leaves the others running; 'reload NAME' on topics.control reloads one).\n"
	"\n"
	"OPTIONS\n"
	"    -c, --config FILE      YAML configuration (see config/iotad.yaml)\n"
	"    -z, --zero-config      no model even if model.path is set\n"
	"    -l, --log-level LEVEL  error, warn, info or debug (overrides the config)\n"
	"    -h, --help             show this help\n"
	"    -V, --version          print the version\n"
	"\n"
	"HTTP\n"
	"    With http.listen set (e.g. 127.0.0.1:8080; off by default):\n"
	"    GET /healthz           200 while the process runs\n"
	"    GET /readyz            200 when connected to the broker with a model (or\n"
	"                           zero-config), else 503\n"
	"    GET /metrics           Prometheus text: messages, rejects by reason, alerts,\n"
	"                           devices, evictions, reconnects, scoring latency\n"
	"    POST /v1/score         score {\"window\":[[f1,f2,...],...]} (W samples) or\n"
	"                           {\"samples\":[...]} (every window); returns score,\n"
	"                           threshold, anomalous and per-feature contribution\n"
	"    GET /                  live page of devices and alerts (http.page)\n"
	"    GET /v1/devices        the page's data as JSON\n"
	"    GET /events            the page's live updates (Server-Sent Events)\n"
	"    There is no authentication: keep it on loopback or behind a proxy.\n"
	"\n"
	"HOME ASSISTANT\n"
	"    With homeassistant.enabled, each new device gets a retained MQTT\n"
	"    discovery config: a binary_sensor of class problem, ON while raised,\n"
	"    with score, threshold and top features as attributes, unavailable\n"
	"    while stale or iotad is offline, and a first state 'normal'. A\n"
	"    device forgotten (evicted) has its config removed.\n"
	"\n"
	"FEDERATED LEARNING\n"
	"    With federated.enabled, the gateway keeps its latest normal windows,\n"
	"    trains federated.local_epochs from each global model it receives on\n"
	"    {prefix}/{model}/global, publishes its update on\n"
	"    {prefix}/{model}/update/{gateway} (float32, or int8 with\n"
	"    federated.update_encoding: int8), and writes a global model that\n"
	"    scores those windows no worse than federated.max_score_ratio to\n"
	"    model.path and reloads it (see iotad aggregate).\n"
	"\n"
	"SIGNALS\n"
	"    SIGINT and SIGTERM stop the service in order: input stops, accepted\n"
	"    messages are scored, alerts in flight are delivered, 'offline' is\n"
	"    published.\n"
	"    SIGHUP reloads the model from model.path between two messages (so\n"
	"    does a message 'reload' on topics.control); a file that does not load\n"
	"    or does not fit is refused and the running model stays. In zero-config\n"
	"    a reload is logged and ignored (set model.path and restart).\n"
	"\n"
	"EXIT STATUS\n"
	"    0 after an orderly stop, 1 on a runtime error (e.g. the HTTP address\n"
	"    cannot be bound), 2 on bad usage, configuration or model.\n"
	"\n"
	"EXAMPLE\n"
	"    iotad run -c /etc/iotad/iotad.yaml\n";

static volatile sig_atomic_t stop_flag, reload_flag;

static void on_signal(int sig)
{
	if (sig == SIGHUP)
		reload_flag = 1;
	else
		stop_flag = 1;
}

/* No service.state_file but a state directory from systemd (StateDirectory=,
 * $STATE_DIRECTORY, the first of a colon-separated list): keep the state
 * there, so a restart keeps open alerts and sequence numbers. */
static void default_state_file(iotad_config *cfg)
{
	const char *dir = getenv("STATE_DIRECTORY");
	if (cfg->state_file[0] || !dir || !*dir)
		return;
	int n = (int)strcspn(dir, ":");
	if (snprintf(cfg->state_file, sizeof cfg->state_file, "%.*s/state.bin", n, dir) >=
	    (int)sizeof cfg->state_file) {
		cfg->state_file[0] = '\0';
		return;
	}
	LOG_INFO("state: service.state_file is empty; keeping state in %s ($STATE_DIRECTORY)",
		 cfg->state_file);
}

/* detector.features set and not the model's features in its order. */
static bool features_differ(const iotad_config *cfg, const model *m)
{
	if (!cfg->n_features)
		return false;
	if (cfg->n_features != (uint32_t)m->n_features)
		return true;
	for (uint32_t i = 0; i < cfg->n_features; i++)
		if (strcmp(cfg->features[i], m->features[i]))
			return true;
	return false;
}

/* Run the service over m (NULL: zero-config), with the federated gateway
 * when configured, until a signal stops it. */
static int run_service(const iotad_config *cfg, const model *m)
{
	if (!m && cfg->fed_enabled) {
		fprintf(stderr, "iotad run: federated.enabled needs a model; zero-config has none\n");
		return 2;
	}
	svc *s;
	iotad_err e = svc_create(cfg, m, &s);
	if (e != IOTAD_OK) {
		fprintf(stderr, "iotad run: cannot start: %s\n", iotad_strerror(e));
		return e == IOTAD_ERR_INVAL ? 2 : 1;
	}
	svc_reload_on(s, &reload_flag);
	fedgw *fg = NULL;
	if (cfg->fed_enabled) {
		e = fedgw_create(cfg, m, &reload_flag, &fg);
		if (e != IOTAD_OK) {
			fprintf(stderr, "iotad run: federated: cannot start: %s\n", iotad_strerror(e));
			svc_destroy(s);
			return e == IOTAD_ERR_INVAL ? 2 : 1;
		}
		svc_on_sample(s, fedgw_observe, fg);
		svc_on_federated(s, fedgw_fill_metrics, fg);
	}
	cli_stop_signals(on_signal, true);
	if (fg && (e = fedgw_start(fg)) != IOTAD_OK)
		LOG_ERR("federated: not started: %s", iotad_strerror(e));
	e = svc_run(s, &stop_flag);
	svc_destroy(s);
	fedgw_destroy(fg);
	if (e != IOTAD_OK) {
		LOG_ERR("run: %s", iotad_strerror(e));
		return 1;
	}
	LOG_INFO("stopped");
	return 0;
}

int cmd_run(int argc, char **argv)
{
	const char *config_path = NULL, *level_name = NULL;
	bool zero = false;
	int rc = cli_service_opts(usage, argc, argv, &config_path, &level_name, &zero);
	if (rc >= 0)
		return rc;
	static iotad_config cfg;
	char err[512];
	rc = cli_service_config("run", argc, argv, optind, config_path, level_name, &cfg);
	if (rc)
		return rc;

	default_state_file(&cfg);
	/* a save would replace whatever the path names (a device node as root) */
	if (state_check_path(cfg.state_file, err, sizeof err) != IOTAD_OK) {
		fprintf(stderr, "iotad run: %s: service.state_file: %s\n", config_path, err);
		return 2;
	}
	if (cfg.journal_file[0] && !cfg.state_file[0]) {
		fprintf(stderr, "iotad run: %s: service.journal needs service.state_file (the journal "
			"is cut after each state save)\n", config_path);
		return 2;
	}
	if (cfg.journal_file[0] && state_check_path(cfg.journal_file, err, sizeof err) != IOTAD_OK) {
		fprintf(stderr, "iotad run: %s: service.journal: %s\n", config_path, err);
		return 2;
	}

	if (zero)
		cfg.model_path[0] = '\0';
	if (!cfg.model_path[0] && (!cfg.n_models || zero) && !cfg.profile_channels) {
		fprintf(stderr, "iotad run: %s: zero-config (no model.path) judges with the profile "
			"channels, and detector.profile_channels is none\n", config_path);
		return 2;
	}
	if (cfg.n_models && !zero)
		return run_service(&cfg, NULL); /* the router loads each entry's model */
	if (zero)
		cfg.n_models = 0;
	if (!cfg.model_path[0])
		return run_service(&cfg, NULL);
	static model m;
	iotad_err me = model_load(cfg.model_path, &m, err, sizeof err);
	if (me != IOTAD_OK) {
		fprintf(stderr, "iotad run: model %s: %s\n", cfg.model_path, err);
		if (me == IOTAD_ERR_NOTFOUND || access(cfg.model_path, F_OK) != 0)
			fprintf(stderr, "iotad run: no model at model.path; train one on normal "
					"telemetry: iotad train --csv NORMAL.csv --features a,b,c "
					"--group device -o %s (iotad train --help)\n",
				cfg.model_path[0] ? cfg.model_path : "model.json");
		return 2;
	}
	if (cfg.window && cfg.window != m.window) {
		fprintf(stderr, "iotad run: %s: model.window %d does not match the model's window %d\n",
			config_path, cfg.window, m.window);
		model_free(&m);
		return 2;
	}
	if (features_differ(&cfg, &m)) {
		fprintf(stderr, "iotad run: %s: detector.features (%s) is for zero-config; the model "
			"reads its own features, in its order\n", config_path, cfg.features_list);
		model_free(&m);
		return 2;
	}
	rc = run_service(&cfg, &m);
	model_free(&m);
	return rc;
}
