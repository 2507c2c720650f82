/* codec.h - wire formats: telemetry JSON in, alert/state JSON out (the
 * topics are topic.h's). Bad input is classified by reason, never trusted. */
#ifndef IOTAD_CODEC_H
#define IOTAD_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "iotad/detector.h"
#include "iotad/error.h"
#include "iotad/model.h"

typedef enum reject_reason {
	REJ_NONE = 0,
	REJ_OVERSIZE,        /* payload larger than the limit */
	REJ_NOT_JSON,        /* not parseable JSON */
	REJ_NOT_OBJECT,      /* JSON but not an object */
	REJ_MISSING_FEATURE, /* a model feature is absent */
	REJ_NOT_NUMBER,      /* a feature is a string, bool, null, ... */
	REJ_NOT_FINITE,      /* NaN or +-Inf (e.g. 1e999) */
	REJ_BAD_TS,          /* ts present but not a number/RFC 3339 string */
	REJ_BAD_TOPIC,       /* topic has no usable device id */
	REJ_DEVICE_CAP,      /* new device beyond the configured maximum */
	REJ_DUPLICATE,       /* same ts as the device's last sample */
	REJ_OUT_OF_ORDER,    /* ts older than the device's last sample, beyond the reorder window */
	REJ_DUPLICATE_KEY,   /* a JSON object names one key twice */
	REJ_TS_SKEW,         /* ts further ahead of the arrival time than detector.max_clock_skew */
	REJ_NO_MODEL,        /* no entry of models: routes it (and no zero-config fallback) */
	REJ__COUNT
} reject_reason;

/* Stable snake_case name of a reason (used in metrics and logs). */
const char *codec_reject_name(reject_reason r);

/* Why an operator's command was refused (control topic or HTTP). */
typedef enum cmd_reject {
	CMD_OK = 0,
	CMD_BAD_JSON,        /* not JSON, not an object, or a field of the wrong type */
	CMD_UNKNOWN_COMMAND, /* "command" missing or not one of det_command_name's */
	CMD_BAD_DEVICE,      /* "device" missing or not a valid device id */
	CMD_BAD_DURATION,    /* mute: "seconds" missing, not a number, or outside [0, DET_MUTE_MAX] */
	CMD_UNKNOWN_DEVICE,  /* the detector has no such device */
	CMD_BAD_STATE,       /* nothing to do (false alarm while not raised, unmute while not muted) */
	CMD_BUSY,            /* the scorer did not take the command in time */
	CMD__COUNT
} cmd_reject;

/* Stable snake_case name of a command rejection (metrics and logs). */
const char *codec_cmd_reject_name(cmd_reject r);
/* Parse an operator's command of len bytes (not NUL-terminated):
 * {"command": "rebaseline" | "mute" | "false_alarm", "device": ID,
 *  "seconds": N (mute only; 0 ends a mute)}. Unknown fields are refused
 * too, so a typo is not silently ignored. Returns CMD_OK, or the reason
 * with detail (if not NULL) saying what is wrong. No side effects. */
cmd_reject codec_parse_command(const char *payload, size_t len, det_command *out, char *detail,
			       size_t detail_len);
/* Parse the body of an HTTP mute, {"seconds": N}, into *seconds.
 * CMD_BAD_JSON or CMD_BAD_DURATION with detail on failure. */
cmd_reject codec_parse_mute_body(const char *body, size_t len, double *seconds, char *detail,
				 size_t detail_len);

/* Parse a telemetry payload of len bytes (not NUL-terminated) into values
 * (m->n_features floats, in the model's feature order) and *ts. Features are
 * looked up at top level or under "values"; unknown fields are ignored. ts
 * is epoch seconds (number) or RFC 3339 text; if absent *ts = now and
 * *has_ts = false. Returns REJ_NONE on success; on failure values is
 * untouched and detail (if not NULL) names the field. */
reject_reason codec_parse_sample(const char *payload, size_t len, size_t max_len, const model *m,
				 double now, double *ts, bool *has_ts, float *values,
				 char *detail, size_t detail_len);

/* The names of the finite numeric fields of a telemetry payload (top level
 * and under "values"; not ts), sorted bytewise, repeats once, the first max
 * of them (at most max names of MODEL_NAME_MAX bytes into names; *n how
 * many). What zero-config learns its features from. REJ_MISSING_FEATURE
 * when there is none. Any thread. */
reject_reason codec_sample_fields(const char *payload, size_t len, size_t max_len,
				  char (*names)[MODEL_NAME_MAX], int max, int *n, char *detail,
				  size_t detail_len);


/* Alert event JSON: {"device","state","ts","time","score","threshold",
 * "contrib":{feature: share},"top":[...],"model":{"id","version"},"seq"}.
 * state is alert_event_name's; a "muted" event adds "until" (epoch seconds
 * of res->muted_until) and "until_time" (RFC 3339).
 * When res is NULL or not scored, score/threshold are null and contrib/top
 * empty; non-finite numbers are written as null. "top" lists at most 3
 * features with a positive share. No allocation. Returns bytes written
 * (excluding NUL) or -1 if buf is too small. */
int codec_format_event(char *buf, size_t len, const char *device, const char *state, double ts,
		       const det_result *res, const model *m);

/* Live score update JSON: {"device","ts","score","threshold","anomalous"}
 * (non-finite numbers as null). No allocation. Returns bytes written or -1. */
int codec_format_score(char *buf, size_t len, const char *device, double ts,
		       const det_result *res);
/* Features with a positive share in res->contrib (nf of them), largest
 * first, ties in feature order: their indices go to order. Returns how many. */
int codec_top_features(const det_result *res, int nf, int *order);
struct cJSON;
/* "a string", "a boolean", "null", ... : what a JSON value is, for messages. */
const char *codec_json_kind(const struct cJSON *it);
/* The first key that some object of the tree under it names twice (cJSON
 * would silently use the first), or NULL. Borrowed from it. No allocation. */
const char *codec_json_dup_key(const struct cJSON *it);
/* s as a quoted, escaped JSON string. Returns bytes written or -1. */
int codec_json_string(char *buf, size_t len, const char *s);

#endif
