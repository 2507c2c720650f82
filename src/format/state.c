/* state.c - the detector state file: fixed little-endian layout (see
 * state.h), fixed-size records, CRC-32 at the end, atomic replace. */
#include "iotad/state.h"
#include "iotad/topic.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "iotad/atomicfile.h"
#include "iotad/errmsg.h"
#include "iotad/model.h"

#define STATE_MAGIC "IOTADST1"
#define STATE_HDR_V1 (8 + 4 + MODEL_NAME_MAX + 4 + 5 * 4)
#define STATE_HDR (STATE_HDR_V1 + 4) /* version 2: the profile's floats */
/* versions 1 and 2: id, since_score, ring_count, last_ts, last_seen, seq,
 * alert (8), threshold (46) */
#define STATE_REC_V1 (DET_DEVICE_ID_MAX + 4 + 4 + 8 + 8 + 8 + 8 + 46)
/* version 3 adds the lifecycle: raised_at, normal_since, adapt_from,
 * muted_until (f64), samples (u32), learning (u8) and 3 zero bytes,
 * last_score (f32) */
#define STATE_REC_FIXED (STATE_REC_V1 + 4 * 8 + 4 + 4 + 4)
#define STATE_MAX_FILE ((size_t)1 << 32)

uint32_t state_crc32(uint32_t crc, const void *buf, size_t len)
{
	/* reflected polynomial 0xEDB88320, four bits at a time */
	static const uint32_t tab[16] = {
		0x00000000, 0x1db71064, 0x3b6e20c8, 0x26d930ac, 0x76dc4190, 0x6b6b51f4,
		0x4db26158, 0x5005713c, 0xedb88320, 0xf00f9344, 0xd6d6a3e8, 0xcb61b38c,
		0x9b64c2b0, 0x86d3d2d4, 0xa00ae278, 0xbdbdf21c,
	};
	const unsigned char *p = buf;
	crc = ~crc;
	for (size_t i = 0; i < len; i++) {
		crc ^= p[i];
		crc = (crc >> 4) ^ tab[crc & 15];
		crc = (crc >> 4) ^ tab[crc & 15];
	}
	return ~crc;
}

/* --- little-endian fields ---------------------------------------------- */

static unsigned char *put_u16(unsigned char *p, uint16_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
	return p + 2;
}

static unsigned char *put_u32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
	return p + 4;
}

static unsigned char *put_u64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
	return p + 8;
}

static unsigned char *put_f32(unsigned char *p, float f)
{
	uint32_t v;
	memcpy(&v, &f, 4);
	return put_u32(p, v);
}

static unsigned char *put_f64(unsigned char *p, double f)
{
	uint64_t v;
	memcpy(&v, &f, 8);
	return put_u64(p, v);
}

static uint16_t get_u16(const unsigned char **p)
{
	uint16_t v = (uint16_t)((*p)[0] | (*p)[1] << 8);
	*p += 2;
	return v;
}

static uint32_t get_u32(const unsigned char **p)
{
	uint32_t v = 0;
	for (int i = 0; i < 4; i++)
		v |= (uint32_t)(*p)[i] << (8 * i);
	*p += 4;
	return v;
}

static uint64_t get_u64(const unsigned char **p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v |= (uint64_t)(*p)[i] << (8 * i);
	*p += 8;
	return v;
}

static float get_f32(const unsigned char **p)
{
	uint32_t v = get_u32(p);
	float f;
	memcpy(&f, &v, 4);
	return f;
}

static double get_f64(const unsigned char **p)
{
	uint64_t v = get_u64(p);
	double f;
	memcpy(&f, &v, 8);
	return f;
}

/* --- header -------------------------------------------------------------- */

typedef struct state_hdr {
	uint32_t version;
	char model_id[MODEL_NAME_MAX];
	int32_t model_version;
	uint32_t window, features, thr_kind, thr_floats, count;
	uint32_t prof_floats;   /* version 2 */
} state_hdr;

/* The header this detector writes and accepts (count left 0). */
static void hdr_of(const det *d, state_hdr *h)
{
	const model *m = det_model(d);
	memset(h, 0, sizeof *h);
	h->version = STATE_FORMAT_VERSION;
	/* without a model (zero-config): no id, version 0, window 0 */
	snprintf(h->model_id, sizeof h->model_id, "%s", m ? m->id : "");
	h->model_version = m ? m->version : 0;
	h->window = det_window(d);
	h->features = det_features(d);
	h->thr_kind = (uint32_t)det_thr_kind(d);
	h->thr_floats = (uint32_t)det_thr_floats(d);
	h->prof_floats = (uint32_t)det_prof_floats(d);
}

static void hdr_put(unsigned char *p, const state_hdr *h)
{
	memcpy(p, STATE_MAGIC, 8);
	p = put_u32(p + 8, h->version);
	memcpy(p, h->model_id, MODEL_NAME_MAX);
	p = put_u32(p + MODEL_NAME_MAX, (uint32_t)h->model_version);
	p = put_u32(p, h->window);
	p = put_u32(p, h->features);
	p = put_u32(p, h->thr_kind);
	p = put_u32(p, h->thr_floats);
	p = put_u32(p, h->count);
	put_u32(p, h->prof_floats);
}

static void hdr_get(const unsigned char *p, state_hdr *h)
{
	p += 8;
	h->version = get_u32(&p);
	memcpy(h->model_id, p, MODEL_NAME_MAX);
	h->model_id[MODEL_NAME_MAX - 1] = '\0';
	p += MODEL_NAME_MAX;
	h->model_version = (int32_t)get_u32(&p);
	h->window = get_u32(&p);
	h->features = get_u32(&p);
	h->thr_kind = get_u32(&p);
	h->thr_floats = get_u32(&p);
	h->count = get_u32(&p);
	h->prof_floats = h->version >= 2 ? get_u32(&p) : 0;
}

/* --- records ------------------------------------------------------------- */

static void rec_put(unsigned char *p, const det_device_state *st, const float *fl, size_t nf)
{
	memcpy(p, st->id, DET_DEVICE_ID_MAX);
	p = put_u32(p + DET_DEVICE_ID_MAX, st->since_score);
	p = put_u32(p, st->ring_count);
	p = put_f64(p, st->last_ts);
	p = put_f64(p, st->last_seen);
	p = put_u64(p, st->seq);
	p = put_u32(p, st->alert.history);
	*p++ = st->alert.status;
	*p++ = st->alert.seen;
	p = put_u16(p, st->alert.normal_run);
	const thr_state *t = &st->thr;
	p = put_f32(p, t->value);
	p = put_f32(p, t->level);
	p = put_f32(p, t->var);
	p = put_f32(p, t->gamma);
	p = put_f32(p, t->sigma);
	p = put_f32(p, t->zq);
	p = put_u32(p, t->n_obs);
	p = put_u32(p, t->n_peaks);
	p = put_u16(p, t->n_ring);
	p = put_u16(p, t->ring_next);
	p = put_u16(p, t->drift_next);
	p = put_f64(p, t->drift_sum);
	p = put_f64(p, st->alert.raised_at);
	p = put_f64(p, st->alert.normal_since);
	p = put_f64(p, st->alert.adapt_from);
	p = put_f64(p, st->muted_until);
	p = put_u32(p, st->samples);
	*p++ = st->learning ? 1 : 0;
	*p++ = 0;
	*p++ = 0;
	*p++ = 0;
	p = put_f32(p, st->last_score);
	for (size_t i = 0; i < nf; i++)
		p = put_f32(p, fl[i]);
}

/* A record of format version (1 to 3). Before 3 there was no lifecycle: its
 * devices have learned, are not muted, and a raise counts its hold and
 * adapt time from the last sample. */
static void rec_get(const unsigned char *p, uint32_t version, det_device_state *st, float *fl,
		    size_t nf)
{
	memset(st, 0, sizeof *st);
	memcpy(st->id, p, DET_DEVICE_ID_MAX);
	st->id[DET_DEVICE_ID_MAX - 1] = '\0';
	p += DET_DEVICE_ID_MAX;
	st->since_score = get_u32(&p);
	st->ring_count = get_u32(&p);
	st->last_ts = get_f64(&p);
	st->last_seen = get_f64(&p);
	st->seq = get_u64(&p);
	st->alert.history = get_u32(&p);
	st->alert.status = *p++;
	st->alert.seen = *p++;
	st->alert.normal_run = get_u16(&p);
	thr_state *t = &st->thr;
	t->value = get_f32(&p);
	t->level = get_f32(&p);
	t->var = get_f32(&p);
	t->gamma = get_f32(&p);
	t->sigma = get_f32(&p);
	t->zq = get_f32(&p);
	t->n_obs = get_u32(&p);
	t->n_peaks = get_u32(&p);
	t->n_ring = get_u16(&p);
	t->ring_next = get_u16(&p);
	t->drift_next = get_u16(&p);
	t->drift_sum = get_f64(&p);
	if (version >= 3) {
		st->alert.raised_at = get_f64(&p);
		st->alert.normal_since = get_f64(&p);
		st->alert.adapt_from = get_f64(&p);
		st->muted_until = get_f64(&p);
		st->samples = get_u32(&p);
		st->learning = *p != 0;
		p += 4;
		st->last_score = get_f32(&p);
	} else {
		st->alert.raised_at = st->alert.normal_since = st->alert.adapt_from = st->last_ts;
		st->samples = UINT32_MAX;
		st->last_score = NAN;
	}
	for (size_t i = 0; i < nf; i++)
		fl[i] = get_f32(&p);
}

/* --- save ---------------------------------------------------------------- */

typedef struct state_writer {
	FILE *f;
	uint32_t crc;
	unsigned char *rec;
	size_t rec_len, nf;
	size_t n;
} state_writer;

static iotad_err write_crc(state_writer *w, const void *buf, size_t len)
{
	w->crc = state_crc32(w->crc, buf, len);
	return fwrite(buf, 1, len, w->f) == len ? IOTAD_OK : IOTAD_ERR_IO;
}

static iotad_err write_device(void *ud, const det_device_state *st, const float *floats)
{
	state_writer *w = ud;
	rec_put(w->rec, st, floats, w->nf);
	w->n++;
	return write_crc(w, w->rec, w->rec_len);
}

iotad_err state_save(const det *d, const char *path, size_t *saved, char *err, size_t errlen)
{
	return state_save_shards(&d, 1, path, saved, err, errlen);
}

iotad_err state_save_shards(const det *const *ds, uint32_t n_shards, const char *path,
			    size_t *saved, char *err, size_t errlen)
{
	const det *d = n_shards ? ds[0] : NULL;
	state_hdr h;
	unsigned char hb[STATE_HDR];
	state_writer w = {0};
	atomicfile a;
	iotad_err rc = IOTAD_ERR_NOMEM;

	if (saved)
		*saved = 0;
	if (!d || !path || !*path)
		return IOTAD_ERR_INVAL;
	hdr_of(d, &h);
	h.count = 0;
	for (uint32_t k = 0; k < n_shards; k++)
		h.count += (uint32_t)det_device_count(ds[k]);
	hdr_put(hb, &h);
	w.nf = det_state_floats(d);
	w.rec_len = STATE_REC_FIXED + 4 * w.nf;
	w.rec = malloc(w.rec_len);
	float *buf = malloc((w.nf ? w.nf : 1) * sizeof *buf);
	if (!w.rec || !buf) {
		iotad_errf(err, errlen, "%s: %s", path, iotad_strerror(rc));
		goto out;
	}
	if ((rc = atomicfile_open(&a, path, 0600, err, errlen)) != IOTAD_OK)
		goto out;
	w.f = a.f;
	rc = write_crc(&w, hb, sizeof hb);
	for (uint32_t k = 0; k < n_shards && rc == IOTAD_OK; k++)
		rc = det_foreach(ds[k], buf, write_device, &w);
	unsigned char cb[4];
	put_u32(cb, w.crc);
	if (rc == IOTAD_OK && fwrite(cb, 1, 4, w.f) != 4)
		rc = IOTAD_ERR_IO;
	if (rc == IOTAD_OK) {
		rc = atomicfile_commit(&a, err, errlen);
	} else {
		int e = errno;
		atomicfile_abort(&a);
		iotad_errf(err, errlen, "%s: write failed: %s", path,
			   rc == IOTAD_ERR_IO ? strerror(e) : iotad_strerror(rc));
	}
out:
	if (rc == IOTAD_OK && saved)
		*saved = w.n;
	free(w.rec);
	free(buf);
	return rc;
}

/* --- load ---------------------------------------------------------------- */

static iotad_err load_buffer(det *const *ds, uint32_t n_shards, const void *data, size_t len,
			     size_t *loaded, char *err, size_t errlen)
{
	det *d = n_shards ? ds[0] : NULL;
	const unsigned char *p = data;
	state_hdr want, got;

	if (loaded)
		*loaded = 0;
	if (!d || (!data && len))
		return IOTAD_ERR_INVAL;
	if (len < STATE_HDR_V1 + 4 || memcmp(p, STATE_MAGIC, 8) != 0) {
		iotad_errf(err, errlen, "%s", len < 8 || memcmp(p, STATE_MAGIC, 8) != 0 ?
				     "not an iotad state file (bad magic)" : "truncated header");
		return IOTAD_ERR_PARSE;
	}
	const unsigned char *end = p + len - 4;
	uint32_t crc = get_u32(&end);
	if (state_crc32(0, p, len - 4) != crc) {
		iotad_errf(err, errlen, "CRC mismatch: the file is truncated or corrupted");
		return IOTAD_ERR_PARSE;
	}
	hdr_get(p, &got);
	hdr_of(d, &want);
	/* version 1 had no profiles: its devices start learning afresh */
	size_t hdr_len = got.version == 1 ? STATE_HDR_V1 : STATE_HDR;
	if (got.version == 1)
		got.prof_floats = want.prof_floats = 0;
	if (got.version < 1 || got.version > want.version) {
		iotad_errf(err, errlen, "format version %u, this iotad reads 1 to %u", got.version,
			   want.version);
		return IOTAD_ERR_MODEL;
	}
	if (strcmp(got.model_id, want.model_id) || got.model_version != want.model_version ||
	    got.window != want.window || got.features != want.features) {
		iotad_errf(err, errlen,
			   "written for model %s v%d (window %u x %u), running %s v%d (window %u x %u)",
			   got.model_id, got.model_version, got.window, got.features, want.model_id,
			   want.model_version, want.window, want.features);
		return IOTAD_ERR_MODEL;
	}
	if (got.thr_kind != want.thr_kind || got.thr_floats != want.thr_floats) {
		iotad_errf(err, errlen,
			   "written for threshold %s with %u history floats, running %s with %u",
			   got.thr_kind <= THR_DSPOT ? thr_kind_name((thr_kind)got.thr_kind) : "?",
			   got.thr_floats, thr_kind_name((thr_kind)want.thr_kind), want.thr_floats);
		return IOTAD_ERR_MODEL;
	}
	/* before version 4 the profile kept another layout (a file of the same
	 * size would be misread): its devices keep all but the profile, which
	 * they learn afresh */
	bool old_prof = got.version < 4;
	if (!old_prof && got.prof_floats != want.prof_floats) {
		iotad_errf(err, errlen, "written with device profiles of %u floats, running %u",
			   got.prof_floats, want.prof_floats);
		return IOTAD_ERR_MODEL;
	}
	if (len < hdr_len + 4) {
		iotad_errf(err, errlen, "truncated header");
		return IOTAD_ERR_PARSE;
	}
	size_t nf = det_state_floats(d);
	size_t nf_file = nf - det_prof_floats(d) + got.prof_floats;
	size_t rec_len = (got.version >= 3 ? STATE_REC_FIXED : STATE_REC_V1) + 4 * nf_file;
	if ((len - hdr_len - 4) / rec_len != got.count || (len - hdr_len - 4) % rec_len) {
		iotad_errf(err, errlen, "%zu bytes of records do not hold %u devices of %zu bytes",
			   len - hdr_len - 4, got.count, rec_len);
		return IOTAD_ERR_PARSE;
	}
	size_t nprof = det_prof_floats(d), nbuf = nf_file > nf ? nf_file : nf;
	float *fl = malloc((nbuf ? nbuf : 1) * sizeof *fl);
	if (!fl)
		return IOTAD_ERR_NOMEM;
	iotad_err rc = IOTAD_OK;
	size_t n = 0;
	det_device_state st;
	for (uint32_t i = 0; i < got.count && rc == IOTAD_OK; i++) {
		rec_get(p + hdr_len + (size_t)i * rec_len, got.version, &st, fl, nf_file);
		if (old_prof) /* a fresh profile */
			memset(fl + nf - nprof, 0, nprof * sizeof *fl);
		det *to = ds[topic_device_shard(st.id, strnlen(st.id, sizeof st.id), n_shards)];
		iotad_err e = det_import(to, &st, fl, true);
		if (e == IOTAD_OK) {
			n++;
		} else if (e == IOTAD_ERR_FULL) {
			if (n_shards == 1)
				break; /* a smaller table that refuses new devices keeps the oldest */
		} else {
			iotad_errf(err, errlen, "device record %u is inconsistent (%s)", i,
				   iotad_strerror(e));
			rc = e == IOTAD_ERR_NOMEM ? e : IOTAD_ERR_PARSE;
		}
	}
	free(fl);
	if (loaded)
		*loaded = n;
	return rc;
}

iotad_err state_load_buffer(det *d, const void *data, size_t len, size_t *loaded, char *err,
			    size_t errlen)
{
	return load_buffer(&d, 1, data, len, loaded, err, errlen);
}

iotad_err state_load(det *d, const char *path, size_t *loaded, char *err, size_t errlen)
{
	return state_load_shards(&d, 1, path, loaded, err, errlen);
}

iotad_err state_load_shards(det *const *ds, uint32_t n_shards, const char *path, size_t *loaded,
			    char *err, size_t errlen)
{
	if (loaded)
		*loaded = 0;
	if (!n_shards || !ds[0] || !path)
		return IOTAD_ERR_INVAL;
	FILE *f = fopen(path, "rb");
	if (!f) {
		int e = errno;
		iotad_errf(err, errlen, "%s: %s", path, strerror(e));
		return e == ENOENT ? IOTAD_ERR_NOTFOUND : IOTAD_ERR_IO;
	}
	struct stat sb;
	if (fstat(fileno(f), &sb) != 0 || sb.st_size < 0 || (uint64_t)sb.st_size > STATE_MAX_FILE) {
		fclose(f);
		iotad_errf(err, errlen, "%s: cannot size the file or larger than 4 GiB", path);
		return IOTAD_ERR_PARSE;
	}
	size_t len = (size_t)sb.st_size;
	unsigned char *buf = malloc(len ? len : 1);
	if (!buf) {
		fclose(f);
		return IOTAD_ERR_NOMEM;
	}
	bool bad = fread(buf, 1, len, f) != len;
	fclose(f);
	iotad_err rc = IOTAD_ERR_IO;
	char why[400] = "";
	if (bad)
		iotad_errf(err, errlen, "%s: read error", path);
	else if ((rc = load_buffer(ds, n_shards, buf, len, loaded, why, sizeof why)) != IOTAD_OK)
		iotad_errf(err, errlen, "%s: %s", path, why);
	free(buf);
	return rc;
}

static const char *file_kind(mode_t m)
{
	return S_ISCHR(m) ? "a character device" : S_ISBLK(m) ? "a block device" :
	       S_ISDIR(m) ? "a directory" : S_ISLNK(m) ? "a symbolic link" :
	       S_ISFIFO(m) ? "a FIFO" : S_ISSOCK(m) ? "a socket" : "not a regular file";
}

iotad_err state_check_path(const char *path, char *err, size_t errlen)
{
	struct stat st;
	if (!path || !*path || lstat(path, &st) != 0 || S_ISREG(st.st_mode))
		return IOTAD_OK; /* absent (or unreadable: the load says why) */
	if (err && errlen)
		snprintf(err, errlen, "%s is %s, not a regular file: refusing to replace it", path,
			 file_kind(st.st_mode));
	return IOTAD_ERR_INVAL;
}
