/* main.c - iotad: subcommand dispatch. */
#include <stdio.h>
#include <string.h>

#include "iotad/cmd.h"

static const char usage[] =
	"usage: iotad COMMAND [OPTIONS]\n"
	"\n"
	"Streaming anomaly detection for IoT telemetry over MQTT.\n"
	"\n"
	"commands:\n"
	"  run        subscribe to telemetry, score it, publish alerts\n"
	"  train      train an autoencoder model on normal data (CSV)\n"
	"  sim        publish or write simulated telemetry with labelled anomalies\n"
	"  eval       replay labelled CSV through the detector, report its quality\n"
	"  config     the configuration file's defaults, and a check of one\n"
	"  aggregate  the federated learning aggregator of gateways' model updates\n"
	"  quantize   turn a float model into an int8 model\n"
	"\n"
	"  iotad COMMAND --help    options of one command\n"
	"  iotad --version         print the version\n";

int main(int argc, char **argv)
{
	if (argc < 2) {
		fputs(usage, stderr);
		return 2;
	}
	const char *cmd = argv[1];
	if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
		fputs(usage, stdout);
		return 0;
	}
	if (!strcmp(cmd, "--version") || !strcmp(cmd, "-V")) {
		printf("iotad %s\n", IOTAD_VERSION);
		return 0;
	}
	if (!strcmp(cmd, "run"))
		return cmd_run(argc - 1, argv + 1);
	if (!strcmp(cmd, "aggregate"))
		return cmd_aggregate(argc - 1, argv + 1);
	if (!strcmp(cmd, "train"))
		return cmd_train(argc - 1, argv + 1);
	if (!strcmp(cmd, "sim"))
		return cmd_sim(argc - 1, argv + 1);
	if (!strcmp(cmd, "eval"))
		return cmd_eval(argc - 1, argv + 1);
	if (!strcmp(cmd, "config"))
		return cmd_config(argc - 1, argv + 1);
	if (!strcmp(cmd, "quantize"))
		return cmd_quantize(argc - 1, argv + 1);
	fprintf(stderr, "iotad: unknown command '%s'\n\n%s", cmd, usage);
	return 2;
}
