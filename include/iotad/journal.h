/* journal.h - the telemetry journal: every message iotad accepted, kept on
 * disk until a state save covers it, so a crash of iotad (kill -9) loses
 * none of the messages the broker already handed over (docs/reliability.md,
 * "The crash window").
 *
 * An append-only file: magic "IOTADJ1\n", then records
 *   u32 body length, u32 CRC-32 of the body,
 *   body: f64 arrival time (epoch seconds), u32 topic length, topic, payload
 * (little endian); a mark (topic length 0xffffffff) holds a u64 instead:
 * how many records of the file the scorer has taken. A torn last record (a crash in the middle of a write) is
 * cut off at start. After each state save the file is rewritten with the
 * records the scorer has not taken yet (at most the queue's depth).
 *
 * Threads: journal_append from the MQTT client's thread; the others from
 * the scorer's thread. One mutex guards the file. */
#ifndef IOTAD_JOURNAL_H
#define IOTAD_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "iotad/error.h"

#define JOURNAL_MAGIC "IOTADJ1\n"
#define JOURNAL_MAX_RECORD ((16u << 20) + 1024u)

typedef struct journal journal;

/* One record handed back by journal_replay; scored: the scorer had taken
 * it before the stop (a mark says so), so its events were already sent. */
typedef void (*journal_replay_fn)(void *ud, const char *topic, size_t topic_len,
				  const void *payload, size_t len, double arrival, bool scored);

/* Open (or create) the journal at path and read the records it holds for
 * journal_replay; a torn last record is cut off (*torn_bytes says how many
 * bytes). fsync_each: fdatasync after every record (survives a power cut,
 * not only a crash of the process). keep: the most records that can be
 * waiting for the scorer (the queue's capacity). A file that is not a
 * regular file, or not a journal (bad magic), is refused with a message in
 * err. The caller frees *out with journal_close. */
iotad_err journal_open(const char *path, bool fsync_each, uint32_t keep, journal **out,
		       size_t *torn_bytes, char *err, size_t errlen);
/* Records read at open and not replayed yet. */
size_t journal_pending(const journal *j);
/* Hand every record read at open to fn, oldest first, then forget them.
 * Returns how many. Scorer thread. */
size_t journal_replay(journal *j, journal_replay_fn fn, void *ud);

/* One record read at open (valid until the next journal_advance). */
typedef struct journal_rec {
	const char *topic;
	size_t topic_len;
	const void *payload;
	size_t len;
	double arrival;
	bool scored;
} journal_rec;
/* The oldest record read at open and not replayed yet, without taking it:
 * false when none is left. With journal_advance, the replay of several
 * journals merged by arrival time. Scorer thread. */
bool journal_peek(journal *j, journal_rec *out);
/* Take the record journal_peek gave (it counts as replayed); after the
 * last one the records read at open are forgotten. Scorer thread. */
void journal_advance(journal *j);
/* Append one message; written (and synced, if asked) before it returns.
 * No allocation. MQTT client's thread. */
iotad_err journal_append(journal *j, const char *topic, size_t topic_len, const void *payload,
			 size_t len, double arrival);
/* After a state save: keep only the newest `waiting` records (those the
 * scorer has not taken yet), drop the rest. Nothing happens while records
 * read at open wait for replay. Scorer thread. */
iotad_err journal_trim(journal *j, uint32_t waiting);
/* The scorer has taken the first `scored` records of the file (counted
 * from the last trim, or from open after journal_replay: the replayed ones
 * count). Written unless an append failed since the last trim. Scorer thread. */
iotad_err journal_mark(journal *j, uint64_t scored);
/* Records appended since open (or since the last trim, counting those kept),
 * bytes in the file, appends that failed. Any thread. */
void journal_stats(journal *j, uint64_t *records, uint64_t *bytes, uint64_t *failed);
/* Close and free; accepts NULL. The file stays. */
void journal_close(journal *j);

#endif
