/* fedcalmsg.h - the threshold messages of federated learning (JSON).
 *
 * {prefix}/{model}/calib/{gateway}: after a gateway accepts a global model,
 * a summary of its held-out scores under it:
 *   {"model":"m","gateway":"g","round":r,"hash":"%08x","windows":n,
 *    "threshold":t,"q":[FEDCALMSG_NQ quantiles at fedcal_levels]}
 * (t: the gateway's own threshold for that model).
 * {prefix}/{model}/threshold (retained, from the aggregator): one threshold
 * for every gateway, of the global model of round r and hash h:
 *   {"model":"m","round":r,"hash":"%08x","threshold":t,"percentile":p,
 *    "gateways":k,"windows":n} */
#ifndef IOTAD_FEDCALMSG_H
#define IOTAD_FEDCALMSG_H

#include <stddef.h>
#include <stdint.h>

#include "iotad/error.h"
#include "iotad/fedmsg.h"

#define FEDCALMSG_NQ 11
#define FEDCALMSG_MAX 2048   /* bytes of either message, at most */

/* A gateway's summary (calib topic). */
typedef struct fedcal_summary {
	char model[FEDMSG_ID_MAX], gateway[FEDMSG_ID_MAX];
	uint32_t round, hash, windows;
	float threshold;
	float q[FEDCALMSG_NQ];
} fedcal_summary;

/* The aggregator's threshold (threshold topic). */
typedef struct fedcal_global {
	char model[FEDMSG_ID_MAX];
	uint32_t round, hash, gateways, windows;
	float threshold, percentile;
} fedcal_global;

/* Encode into buf (len bytes, NUL-terminated); *out_len without the NUL.
 * IOTAD_ERR_INVAL for an invalid id or a value that is not finite. */
iotad_err fedcal_summary_encode(const fedcal_summary *s, char *buf, size_t len, size_t *out_len);
iotad_err fedcal_global_encode(const fedcal_global *g, char *buf, size_t len, size_t *out_len);

/* Decode len bytes; IOTAD_ERR_PARSE with a message for anything but a
 * complete message (ids valid, numbers finite and >= 0, quantiles
 * non-decreasing, windows > 0, at most FEDCALMSG_MAX bytes). */
iotad_err fedcal_summary_decode(const void *buf, size_t len, fedcal_summary *s, char *err,
				size_t errlen);
iotad_err fedcal_global_decode(const void *buf, size_t len, fedcal_global *g, char *err,
			       size_t errlen);

/* Topics: {prefix}/{model}/calib/{gateway} ("+" for all) and
 * {prefix}/{model}/threshold. IOTAD_ERR_INVAL if too long. */
iotad_err fedcal_topic_calib(const char *prefix, const char *mid, const char *gateway, char *buf,
			     size_t len);
iotad_err fedcal_topic_threshold(const char *prefix, const char *mid, char *buf, size_t len);
/* The gateway of a calib topic into gw (FEDMSG_ID_MAX); false if t is not one. */
bool fedcal_topic_gateway(const char *prefix, const char *mid, const char *t, size_t tlen,
			  char *gw);

#endif
