/* cmd_config.c - `iotad config`: the detector section of the config file
 * with every default (what config/iotad.yaml holds), and a check of a
 * config file without starting the service. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "iotad/cli.h"
#include "iotad/cmd.h"
#include "iotad/config.h"
#include "iotad/params.h"

#define CONFIG_CMD "config"

static const char config_usage[] =
	"usage: iotad config --defaults | --check FILE\n"
	"\n"
	"NAME\n"
	"    iotad config - the configuration file's defaults and checks\n"
	"\n"
	"DESCRIPTION\n"
	"    The detector parameters are one table in the program: their keys,\n"
	"    ranges, defaults and help. It checks the detector section of the\n"
	"    file `iotad run -c` reads, gives `iotad eval` its flags of the\n"
	"    same names (--alert-k for detector.alert_k) and writes the\n"
	"    section of config/iotad.yaml that --defaults prints.\n"
	"\n"
	"OPTIONS\n"
	"    --defaults          print the detector section with every default and\n"
	"                        its help as comments\n"
	"    --check FILE        load FILE as `iotad run -c FILE` would (every key,\n"
	"                        range and rule; the password variable or file too)\n"
	"                        and say what is wrong, as file:line:col: message\n"
	"    -h, --help, -V, --version\n"
	"\n"
	"EXIT STATUS\n"
	"    0 on success, 1 if the file is not a valid configuration, 2 on a\n"
	"    usage error.\n"
	"\n"
	"EXAMPLE\n"
	"    iotad config --check /etc/iotad/iotad.yaml\n";

enum { O_DEFAULTS = 256, O_CHECK };

static const struct option config_longopts[] = {
	{"defaults", no_argument, NULL, O_DEFAULTS},
	{"check", required_argument, NULL, O_CHECK},
	{"help", no_argument, NULL, 'h'},
	{"version", no_argument, NULL, 'V'},
	{NULL, 0, NULL, 0},
};

/* Load path as the service would; 0 if valid, else 1 with the reason. */
static int config_check_file(const char *path)
{
	iotad_config c;
	char err[1024];
	if (config_load(path, &c, err, sizeof err) != IOTAD_OK) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	explicit_bzero(c.password, sizeof c.password);
	printf("%s: valid\n", path);
	return 0;
}

int cmd_config(int argc, char **argv)
{
	int c, defaults = 0;
	const char *check = NULL;
	opterr = 0;
	optind = 0;
	while ((c = getopt_long(argc, argv, ":hV", config_longopts, NULL)) != -1) {
		switch (c) {
		case O_DEFAULTS: defaults = 1; break;
		case O_CHECK: check = optarg; break;
		case 'h': fputs(config_usage, stdout); return 0;
		case 'V': printf("iotad %s\n", IOTAD_VERSION); return 0;
		case ':': return cli_usage_err(CONFIG_CMD, "--check: missing file");
		default: return cli_usage_err(CONFIG_CMD, "unknown option \"%s\"", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return cli_usage_err(CONFIG_CMD, "unexpected argument \"%s\"", argv[optind]);
	if (defaults == !!check)
		return cli_usage_err(CONFIG_CMD, "say --defaults or --check FILE");
	if (check)
		return config_check_file(check);
	param_write_yaml(stdout);
	return fflush(stdout) ? 1 : 0;
}
