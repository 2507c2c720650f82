/* params.h - the detector parameters in one table: each one's config key
 * (section detector), type, range, default and help, and whether `iotad
 * eval` takes it as a flag (the key with '-' for '_'). The table feeds the
 * config file parser, eval's flags and their --help, and the detector
 * section of config/iotad.yaml (`iotad config --defaults` writes it). */
#ifndef IOTAD_PARAMS_H
#define IOTAD_PARAMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "iotad/config.h"

#define PARAM_MAX_DETECTOR 32   /* bound of the detector table's length */

typedef enum param_type {
	PARAM_STR,      /* char[max] (max = buffer size) */
	PARAM_INT,      /* int in [min, max] */
	PARAM_U32,      /* uint32_t in [min, max] */
	PARAM_SIZE,     /* size_t in [min, max] */
	PARAM_BOOL,     /* true/false/yes/no */
	PARAM_FLOAT,    /* float in (min, max] */
	PARAM_DOUBLE,   /* double in [min, max] */
	PARAM_DOUBLE_AUTO, /* double in [min, max], or auto (stored as -1: the consumer
			    * chooses; def -1 makes auto the default) */
	PARAM_THR,      /* static | adaptive | ewma | spot | dspot (thr_kind) */
	PARAM_EVICT,    /* lru | reject (bool: lru) */
	PARAM_LOGLEVEL, /* error | warn | info | debug */
	PARAM_CHANNELS, /* all | none | a list of profile channels (uint32_t mask) */
} param_type;

/* One key. The config file's other sections use the first six fields only
 * (their defaults are config_defaults'); detector keys fill them all. */
typedef struct param_def {
	const char *section;
	const char *key;
	param_type type;
	size_t off;          /* the field in iotad_config */
	double min, max;     /* range, see param_type */
	double def;          /* default: the number, the enum value, or 0/1 */
	bool eval;           /* iotad eval takes --KEY-WITH-DASHES (bool: --no-... too) */
	const char *alias;   /* an older eval flag meaning the same, or NULL */
	const char *arg;     /* the value's name in --help (N, X, KIND) */
	const char *help;    /* what it does, one paragraph; range and default are added */
} param_def;

/* The detector table, in the order of config/iotad.yaml; *n its length. */
const param_def *param_detector(size_t *n);
/* The detector parameter of config key name, or NULL. */
const param_def *param_find(const char *key);
/* Set every detector parameter of c to its default (other fields untouched). */
void param_defaults(iotad_config *c);
/* Set p's field of c to p's default (def; a string: empty). */
void param_set_default(const param_def *p, iotad_config *c);
/* Parse s (a whole string) into p's field of c. 0, or -1 with msg set to
 * "expected ..., got 's'" or "V is out of range [a, b]" (c untouched). */
int param_parse(const param_def *p, const char *s, iotad_config *c, char *msg, size_t msglen);
/* The rules across detector parameters (alert_k <= alert_n, threshold_q
 * below 1 - threshold_init_quantile). 0, or -1 with *at the parameter at
 * fault and msg naming them as config keys (flags false: "detector.alert_k")
 * or as eval flags (flags true: "--alert-k"). */
int param_check(const iotad_config *c, bool flags, const param_def **at, char *msg,
		size_t msglen);
/* The eval flag of p into buf ("alert-k"). */
void param_flag(const param_def *p, char *buf, size_t len);
/* p's value in c as the config file writes it ("adaptive", "0.01", "true"). */
void param_value(const param_def *p, const iotad_config *c, char *buf, size_t len);
/* The detector section of the config file with every default and its help
 * as comments: what config/iotad.yaml holds. */
void param_write_yaml(FILE *f);
/* The help lines of eval's detector flags, for its --help. */
void param_write_help(FILE *f);

#endif
