/* state.h - the detector's per-device state in a file, so a restart
 * neither forgets nor re-raises open alerts.
 *
 * Format (little endian): a header (magic "IOTADST1", format version,
 * model id and version, window, features, threshold kind and history
 * floats, device count, profile floats), one fixed-size record per device
 * (id, counters, alert and threshold state, lifecycle (version 3: raise,
 * normal and adapt times, mute end, samples, learning, last score), window,
 * threshold history and profile as floats),
 * then the CRC-32 of everything before it. Written atomically: temporary
 * file, fsync, rename, fsync of the directory. */
#ifndef IOTAD_STATE_H
#define IOTAD_STATE_H

#include <stddef.h>
#include <stdint.h>

#include "iotad/detector.h"
#include "iotad/error.h"

/* 2: the header adds the profile's floats, each record the profile after
 * the threshold history. 3: each record adds the lifecycle (raise times,
 * learning, mute, last score). Versions 1 to 3 still load (versions 1 and 2:
 * devices that have learned and are not muted). 4: the same records with
 * the profile's present layout; the profiles of versions 2 and 3 are not
 * read (their devices learn them afresh). */
#define STATE_FORMAT_VERSION 4

/* Write every device of d to path atomically. On IOTAD_ERR_IO err says
 * which step failed and why. Owner thread of d. */
iotad_err state_save(const det *d, const char *path, size_t *saved, char *err, size_t errlen);
/* Load a state file into d (which should be empty). IOTAD_ERR_NOTFOUND:
 * no file (a first start). IOTAD_ERR_MODEL: written for another model,
 * shape or threshold configuration, or a format version other than 1..
 * STATE_FORMAT_VERSION (ignore it).
 * IOTAD_ERR_PARSE: truncated or corrupted (bad magic, size or CRC, or an
 * inconsistent record); d may then hold part of the devices, so the caller
 * starts again from an empty detector. loaded receives the device count. */
iotad_err state_load(det *d, const char *path, size_t *loaded, char *err, size_t errlen);
/* Same from a buffer of len bytes. */
iotad_err state_load_buffer(det *d, const void *buf, size_t len, size_t *loaded, char *err,
			    size_t errlen);
/* The same for a detector split in n shards (the service's scorer
 * threads): one file of every shard's devices, and at load each device
 * goes to the shard topic_device_shard names for its id, so a file saved
 * with any number of shards loads into any other. Every shard's thread
 * must be paused while it runs; the header is checked against d[0]. */
iotad_err state_save_shards(const det *const *d, uint32_t n, const char *path, size_t *saved,
			    char *err, size_t errlen);
iotad_err state_load_shards(det *const *d, uint32_t n, const char *path, size_t *loaded,
			    char *err, size_t errlen);
/* Whether path may be used as the state file: IOTAD_OK if it does not
 * exist or is a regular file; IOTAD_ERR_INVAL (err says what it is) for
 * anything else (device, directory, symlink, FIFO), which a save would
 * replace. Checked at start and before every save. Any thread. */
iotad_err state_check_path(const char *path, char *err, size_t errlen);
/* CRC-32 (IEEE 802.3, as zlib's crc32) of len bytes, continuing from crc (0 to start). */
uint32_t state_crc32(uint32_t crc, const void *buf, size_t len);

#endif
