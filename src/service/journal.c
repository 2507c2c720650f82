/* journal.c - the telemetry journal (see journal.h): accepted messages on
 * disk until a state save covers them, replayed after a crash. */
#include "iotad/journal.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "iotad/state.h"

#define JOURNAL_HDR 8u   /* magic */
#define JOURNAL_REC 8u   /* length, CRC */
#define JOURNAL_META 12u /* arrival, topic length */
#define JOURNAL_MARK 0xffffffffu /* topic length of a mark: a u64 count follows */

struct journal {
	pthread_mutex_t lock;
	int fd;
	bool fsync_each;
	char path[4096];
	uint64_t size;          /* bytes in the file */
	/* end offsets of the newest records, a ring of cap entries: the
	 * records since the last trim are the last n of them */
	uint64_t *ends, *spare;
	uint32_t cap;
	uint64_t n;             /* records since open or the last trim */
	uint64_t appended, failed;
	bool broken;            /* an append failed since the last trim: no more marks */
	/* read at open, for journal_replay */
	unsigned char *old;
	size_t old_len, old_off;
	size_t pending;
	uint64_t old_scored;    /* the last mark read at open */
	uint64_t replayed;      /* records handed back so far */
};

static void put_le32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get_le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put_f64(unsigned char *p, double d)
{
	uint64_t v;
	memcpy(&v, &d, 8);
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static double get_f64(const unsigned char *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v |= (uint64_t)p[i] << (8 * i);
	double d;
	memcpy(&d, &v, 8);
	return d;
}

static void note_end(journal *j, uint64_t end)
{
	j->ends[j->n % j->cap] = end;
	j->n++;
}

/* Length of the valid record at p (n bytes left), or 0 if it is torn or bad. */
static size_t record_len(const unsigned char *p, size_t n)
{
	if (n < JOURNAL_REC + JOURNAL_META)
		return 0;
	uint32_t len = get_le32(p), crc = get_le32(p + 4);
	if (len < JOURNAL_META || len > JOURNAL_MAX_RECORD || len > n - JOURNAL_REC)
		return 0;
	if (state_crc32(0, p + JOURNAL_REC, len) != crc)
		return 0;
	uint32_t tl = get_le32(p + JOURNAL_REC + 8);
	if (tl == JOURNAL_MARK ? len != JOURNAL_META + 8 : tl > len - JOURNAL_META)
		return 0;
	return JOURNAL_REC + len;
}

static bool is_mark(const unsigned char *p)
{
	return get_le32(p + JOURNAL_REC + 8) == JOURNAL_MARK;
}

static uint64_t mark_count(const unsigned char *p)
{
	const unsigned char *c = p + JOURNAL_REC + JOURNAL_META;
	return (uint64_t)get_le32(c) | (uint64_t)get_le32(c + 4) << 32;
}

static int write_all(int fd, const void *buf, size_t n)
{
	const unsigned char *p = buf;
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Read the whole file at fd (st_size bytes) into j->old. */
static iotad_err read_old(journal *j, size_t size, char *err, size_t errlen)
{
	if (size == 0)
		return IOTAD_OK;
	if (!(j->old = malloc(size)))
		return IOTAD_ERR_NOMEM;
	size_t got = 0;
	while (got < size) {
		ssize_t r = pread(j->fd, j->old + got, size - got, (off_t)got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			snprintf(err, errlen, "journal %s: cannot read: %s", j->path,
				 r < 0 ? strerror(errno) : "short read");
			return IOTAD_ERR_IO;
		}
		got += (size_t)r;
	}
	j->old_len = size;
	return IOTAD_OK;
}

iotad_err journal_open(const char *path, bool fsync_each, uint32_t keep, journal **out,
		       size_t *torn_bytes, char *err, size_t errlen)
{
	*out = NULL;
	*torn_bytes = 0;
	struct stat st;
	if (strlen(path) >= sizeof ((journal *)0)->path) {
		snprintf(err, errlen, "journal %s: path too long", path);
		return IOTAD_ERR_INVAL;
	}
	if (lstat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "journal %s: exists and is not a regular file; refusing to "
			 "replace it", path);
		return IOTAD_ERR_INVAL;
	}
	journal *j = calloc(1, sizeof *j);
	if (!j)
		return IOTAD_ERR_NOMEM;
	snprintf(j->path, sizeof j->path, "%s", path);
	j->fd = -1;
	j->fsync_each = fsync_each;
	j->cap = keep + 2;
	j->ends = calloc(j->cap, sizeof *j->ends);
	j->spare = calloc(j->cap, sizeof *j->spare);
	pthread_mutex_init(&j->lock, NULL);
	iotad_err e = IOTAD_OK;
	if (!j->ends || !j->spare) {
		e = IOTAD_ERR_NOMEM;
		goto fail;
	}
	j->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (j->fd < 0 || fstat(j->fd, &st) != 0) {
		snprintf(err, errlen, "journal %s: cannot open: %s", path, strerror(errno));
		e = IOTAD_ERR_IO;
		goto fail;
	}
	if ((e = read_old(j, (size_t)st.st_size, err, errlen)) != IOTAD_OK)
		goto fail;
	if (j->old_len > 0 && (j->old_len < JOURNAL_HDR || memcmp(j->old, JOURNAL_MAGIC,
								  JOURNAL_HDR))) {
		snprintf(err, errlen, "journal %s: not a journal (bad magic); move it away or "
			 "set service.journal to another path", path);
		e = IOTAD_ERR_INVAL;
		goto fail;
	}
	size_t off = JOURNAL_HDR;
	while (off < j->old_len) {
		size_t r = record_len(j->old + off, j->old_len - off);
		if (r == 0)
			break;
		if (is_mark(j->old + off)) {
			j->old_scored = mark_count(j->old + off);
		} else {
			note_end(j, off + r);
			j->pending++;
		}
		off += r;
	}
	if (j->old_len == 0) {
		if (write_all(j->fd, JOURNAL_MAGIC, JOURNAL_HDR) != 0) {
			snprintf(err, errlen, "journal %s: cannot write: %s", path, strerror(errno));
			e = IOTAD_ERR_IO;
			goto fail;
		}
		off = JOURNAL_HDR;
	} else if (off < j->old_len) {
		*torn_bytes = j->old_len - off;
		if (ftruncate(j->fd, (off_t)off) != 0) {
			snprintf(err, errlen, "journal %s: cannot cut its torn end: %s", path,
				 strerror(errno));
			e = IOTAD_ERR_IO;
			goto fail;
		}
	}
	j->size = off;
	j->old_len = off;
	j->old_off = JOURNAL_HDR;
	if (lseek(j->fd, (off_t)off, SEEK_SET) < 0) {
		e = IOTAD_ERR_IO;
		goto fail;
	}
	*out = j;
	return IOTAD_OK;
fail:
	journal_close(j);
	return e;
}

size_t journal_pending(const journal *j)
{
	return j ? j->pending : 0;
}

/* The next data record of the old bytes, skipping marks; NULL at the end. */
static const unsigned char *next_old(journal *j)
{
	while (j && j->pending > 0 && j->old_off < j->old_len) {
		const unsigned char *p = j->old + j->old_off;
		size_t r = record_len(p, j->old_len - j->old_off);
		if (r == 0)
			return NULL; /* cannot happen: the same bytes passed at open */
		if (!is_mark(p))
			return p;
		j->old_off += r;
	}
	return NULL;
}

static void forget_old(journal *j)
{
	j->pending = 0;
	free(j->old);
	j->old = NULL;
}

bool journal_peek(journal *j, journal_rec *out)
{
	const unsigned char *p = next_old(j);
	if (!p) {
		if (j && j->old)
			forget_old(j);
		return false;
	}
	uint32_t len = get_le32(p);
	const unsigned char *b = p + JOURNAL_REC;
	uint32_t tl = get_le32(b + 8);
	out->topic = (const char *)b + JOURNAL_META;
	out->topic_len = tl;
	out->payload = b + JOURNAL_META + tl;
	out->len = len - JOURNAL_META - tl;
	out->arrival = get_f64(b);
	out->scored = j->replayed < j->old_scored;
	return true;
}

void journal_advance(journal *j)
{
	const unsigned char *p = next_old(j);
	if (!p)
		return;
	j->old_off += record_len(p, j->old_len - j->old_off);
	j->pending--;
	j->replayed++;
	if (j->pending == 0)
		forget_old(j);
}

size_t journal_replay(journal *j, journal_replay_fn fn, void *ud)
{
	size_t done = 0;
	journal_rec r;
	while (journal_peek(j, &r)) {
		fn(ud, r.topic, r.topic_len, r.payload, r.len, r.arrival, r.scored);
		journal_advance(j);
		done++;
	}
	if (j && j->old)
		forget_old(j);
	return done;
}

iotad_err journal_append(journal *j, const char *topic, size_t topic_len, const void *payload,
			 size_t len, double arrival)
{
	if (topic_len > 0xffff || len > JOURNAL_MAX_RECORD - JOURNAL_META - topic_len)
		return IOTAD_ERR_INVAL;
	unsigned char head[JOURNAL_REC + JOURNAL_META];
	uint32_t body = (uint32_t)(JOURNAL_META + topic_len + len);
	put_le32(head, body);
	put_f64(head + JOURNAL_REC, arrival);
	put_le32(head + JOURNAL_REC + 8, (uint32_t)topic_len);
	uint32_t crc = state_crc32(0, head + JOURNAL_REC, JOURNAL_META);
	crc = state_crc32(crc, topic, topic_len);
	crc = state_crc32(crc, payload, len);
	put_le32(head + 4, crc);
	struct iovec iov[3] = {{head, sizeof head}, {(void *)topic, topic_len},
			       {(void *)payload, len}};
	size_t total = sizeof head + topic_len + len;
	pthread_mutex_lock(&j->lock);
	ssize_t w;
	do
		w = writev(j->fd, iov, 3);
	while (w < 0 && errno == EINTR);
	iotad_err e = IOTAD_OK;
	if (w != (ssize_t)total) {
		/* a short write: take it back, so the file holds whole records only */
		if (w > 0 && ftruncate(j->fd, (off_t)j->size) == 0)
			lseek(j->fd, (off_t)j->size, SEEK_SET);
		j->failed++;
		j->broken = true;
		e = IOTAD_ERR_IO;
	} else {
		if (j->fsync_each && fdatasync(j->fd) != 0) {
			j->failed++;
			e = IOTAD_ERR_IO;
		}
		j->size += total;
		j->appended++;
		note_end(j, j->size);
	}
	pthread_mutex_unlock(&j->lock);
	return e;
}

/* Write a new file: a header and the data records of bytes [from, size)
 * (marks left out: their counts belong to the old file), and put it in
 * place of the old one; j->spare gets the new records' end offsets (keep
 * of them). Called with the lock held. */
static iotad_err rewrite_tail(journal *j, uint64_t from, uint64_t keep, uint64_t *size)
{
	char tmp[sizeof j->path + 8];
	size_t n = (size_t)(j->size - from);
	unsigned char *buf = n ? malloc(n) : NULL;
	if (n && !buf)
		return IOTAD_ERR_NOMEM;
	int bad = 0;
	for (size_t got = 0; !bad && got < n;) {
		ssize_t r = pread(j->fd, buf + got, n - got, (off_t)(from + got));
		if (r < 0 && errno == EINTR)
			continue;
		bad = r <= 0;
		got += r > 0 ? (size_t)r : 0;
	}
	snprintf(tmp, sizeof tmp, "%s.tmp", j->path);
	int fd = bad ? -1 : open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	bad = fd < 0 || write_all(fd, JOURNAL_MAGIC, JOURNAL_HDR) != 0;
	uint64_t out = JOURNAL_HDR, k = 0;
	for (size_t off = 0; !bad && off < n;) {
		size_t r = record_len(buf + off, n - off);
		if (r == 0)
			break;
		if (!is_mark(buf + off) && k < keep) {
			bad = write_all(fd, buf + off, r) != 0;
			out += r;
			j->spare[k++] = out;
		}
		off += r;
	}
	free(buf);
	if (!bad && j->fsync_each)
		bad = fdatasync(fd) != 0;
	if (bad || rename(tmp, j->path) != 0) {
		if (fd >= 0)
			close(fd);
		unlink(tmp);
		return IOTAD_ERR_IO;
	}
	close(j->fd);
	j->fd = fd;
	*size = out;
	return IOTAD_OK;
}

iotad_err journal_trim(journal *j, uint32_t waiting)
{
	if (!j || j->pending > 0)
		return IOTAD_OK;
	pthread_mutex_lock(&j->lock);
	uint64_t keep = waiting < j->n ? waiting : j->n;
	if (keep + 1 > j->cap)
		keep = j->cap - 1;
	uint64_t from = keep == j->n ? JOURNAL_HDR : j->ends[(j->n - keep - 1) % j->cap], size;
	iotad_err e = rewrite_tail(j, from, keep, &size);
	if (e == IOTAD_OK) {
		uint64_t *t = j->ends;
		j->ends = j->spare;
		j->spare = t;
		j->n = keep;
		j->size = size;
		j->broken = false;
	}
	pthread_mutex_unlock(&j->lock);
	return e;
}

iotad_err journal_mark(journal *j, uint64_t scored)
{
	if (!j)
		return IOTAD_OK;
	unsigned char rec[JOURNAL_REC + JOURNAL_META + 8];
	put_le32(rec, JOURNAL_META + 8);
	put_f64(rec + JOURNAL_REC, 0.0);
	put_le32(rec + JOURNAL_REC + 8, JOURNAL_MARK);
	put_le32(rec + JOURNAL_REC + JOURNAL_META, (uint32_t)scored);
	put_le32(rec + JOURNAL_REC + JOURNAL_META + 4, (uint32_t)(scored >> 32));
	put_le32(rec + 4, state_crc32(0, rec + JOURNAL_REC, JOURNAL_META + 8));
	iotad_err e = IOTAD_OK;
	pthread_mutex_lock(&j->lock);
	if (!j->broken) {
		if (write_all(j->fd, rec, sizeof rec) != 0) {
			if (ftruncate(j->fd, (off_t)j->size) == 0)
				lseek(j->fd, (off_t)j->size, SEEK_SET);
			j->broken = true;
			e = IOTAD_ERR_IO;
		} else {
			j->size += sizeof rec;
		}
	}
	pthread_mutex_unlock(&j->lock);
	return e;
}

void journal_stats(journal *j, uint64_t *records, uint64_t *bytes, uint64_t *failed)
{
	pthread_mutex_lock(&j->lock);
	*records = j->appended;
	*bytes = j->size;
	*failed = j->failed;
	pthread_mutex_unlock(&j->lock);
}

void journal_close(journal *j)
{
	if (!j)
		return;
	if (j->fd >= 0)
		close(j->fd);
	pthread_mutex_destroy(&j->lock);
	free(j->ends);
	free(j->spare);
	free(j->old);
	free(j);
}
