/* codec_cmd.c - operator commands in: the control topic's JSON
 * ({"command", "device", "seconds"}) and the body of an HTTP mute, each
 * refusal named for the counters and the reply. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "iotad/codec.h"
#include "iotad/errmsg.h"
#include "iotad/topic.h"

static const char *const cmd_reject_names[CMD__COUNT] = {
	[CMD_OK] = "ok",
	[CMD_BAD_JSON] = "bad_json",
	[CMD_UNKNOWN_COMMAND] = "unknown_command",
	[CMD_BAD_DEVICE] = "bad_device",
	[CMD_BAD_DURATION] = "bad_duration",
	[CMD_UNKNOWN_DEVICE] = "unknown_device",
	[CMD_BAD_STATE] = "bad_state",
	[CMD_BUSY] = "busy",
};

const char *codec_cmd_reject_name(cmd_reject r)
{
	if ((unsigned)r >= CMD__COUNT)
		return "unknown";
	return cmd_reject_names[r];
}

/* A JSON object of len bytes, or NULL with detail set. */
static cJSON *cmd_object(const char *payload, size_t len, char *detail, size_t dlen)
{
	const char *end = NULL;
	cJSON *root;

	if (!payload || len == 0) {
		iotad_errf(detail, dlen, "empty body: expected a JSON object");
		return NULL;
	}
	root = cJSON_ParseWithLengthOpts(payload, len, &end, 0);
	if (!root) {
		iotad_errf(detail, dlen, "not JSON (error near byte %ld)",
			   end ? (long)(end - payload) : 0L);
		return NULL;
	}
	if (!cJSON_IsObject(root)) {
		iotad_errf(detail, dlen, "expected a JSON object, got %s", codec_json_kind(root));
		cJSON_Delete(root);
		return NULL;
	}
	return root;
}

/* "seconds" of a mute: a number in [0, DET_MUTE_MAX]. */
static cmd_reject cmd_seconds(const cJSON *it, double *out, char *detail, size_t dlen)
{
	if (!it) {
		iotad_errf(detail, dlen, "mute needs \"seconds\" (0 ends a mute)");
		return CMD_BAD_DURATION;
	}
	if (!cJSON_IsNumber(it)) {
		iotad_errf(detail, dlen, "\"seconds\" must be a number, got %s", codec_json_kind(it));
		return CMD_BAD_DURATION;
	}
	double v = it->valuedouble;
	if (!isfinite(v) || v < 0.0 || v > DET_MUTE_MAX) {
		iotad_errf(detail, dlen, "\"seconds\" must be in [0, %.0f], got %g", DET_MUTE_MAX, v);
		return CMD_BAD_DURATION;
	}
	*out = v;
	return CMD_OK;
}

cmd_reject codec_parse_command(const char *payload, size_t len, det_command *out, char *detail,
			       size_t detail_len)
{
	det_command c;
	cmd_reject r = CMD_OK;
	cJSON *root, *it;

	if (!out)
		return CMD_BAD_JSON;
	root = cmd_object(payload, len, detail, detail_len);
	if (!root)
		return CMD_BAD_JSON;
	memset(&c, 0, sizeof c);
	cJSON_ArrayForEach(it, root) {
		if (!it->string || (strcmp(it->string, "command") && strcmp(it->string, "device") &&
				    strcmp(it->string, "seconds"))) {
			iotad_errf(detail, detail_len,
				   "unknown field \"%.64s\" (expected command, device, seconds)",
				   it->string ? it->string : "");
			r = CMD_BAD_JSON;
			goto out;
		}
	}
	it = cJSON_GetObjectItemCaseSensitive(root, "command");
	if (!cJSON_IsString(it) || det_command_parse(it->valuestring, &c.kind) != 0) {
		if (cJSON_IsString(it))
			iotad_errf(detail, detail_len,
				   "unknown command \"%.64s\" (expected rebaseline, mute, false_alarm)",
				   it->valuestring);
		else
			iotad_errf(detail, detail_len, "\"command\" must be a string, got %s",
				   it ? codec_json_kind(it) : "nothing");
		r = CMD_UNKNOWN_COMMAND;
		goto out;
	}
	it = cJSON_GetObjectItemCaseSensitive(root, "device");
	if (!cJSON_IsString(it) ||
	    topic_device(it->valuestring, 0, c.device, sizeof c.device) != IOTAD_OK ||
	    strcmp(c.device, it->valuestring)) {
		if (cJSON_IsString(it))
			iotad_errf(detail, detail_len,
				   "\"device\" is not a device id (1..%d printable characters "
				   "without '/', '+', '#' or spaces)",
				   DET_DEVICE_ID_MAX - 1);
		else
			iotad_errf(detail, detail_len, "\"device\" must be a string, got %s",
				   it ? codec_json_kind(it) : "nothing");
		r = CMD_BAD_DEVICE;
		goto out;
	}
	it = cJSON_GetObjectItemCaseSensitive(root, "seconds");
	if (c.kind == DET_CMD_MUTE) {
		r = cmd_seconds(it, &c.seconds, detail, detail_len);
	} else if (it) {
		iotad_errf(detail, detail_len, "\"seconds\" belongs to mute only, not %s",
			   det_command_name(c.kind));
		r = CMD_BAD_JSON;
	}
out:
	cJSON_Delete(root);
	if (r == CMD_OK)
		*out = c;
	return r;
}

cmd_reject codec_parse_mute_body(const char *body, size_t len, double *seconds, char *detail,
				 size_t detail_len)
{
	cJSON *root, *it;
	cmd_reject r;

	if (!seconds)
		return CMD_BAD_JSON;
	root = cmd_object(body, len, detail, detail_len);
	if (!root)
		return CMD_BAD_JSON;
	r = CMD_OK;
	cJSON_ArrayForEach(it, root) {
		if (!it->string || strcmp(it->string, "seconds")) {
			iotad_errf(detail, detail_len, "unknown field \"%.64s\" (expected seconds)",
				   it->string ? it->string : "");
			r = CMD_BAD_JSON;
			break;
		}
	}
	if (r == CMD_OK)
		r = cmd_seconds(cJSON_GetObjectItemCaseSensitive(root, "seconds"), seconds, detail,
				detail_len);
	cJSON_Delete(root);
	return r;
}
