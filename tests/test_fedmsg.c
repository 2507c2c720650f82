/* test_fedmsg.c - the federated messages: round trip, size of the reference
 * network's update, every corruption refused; topics; the round's verdicts
 * (stale, duplicate, replay, wrong base, spoofed sender...) and their counts. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/CUnit.h>

#include "iotad/fedmsg.h"
#include "iotad/fedround.h"
#include "iotad/nn.h"
#include "iotad/state.h"
#include "test.h"

#define NP 674 /* the seeds' network 20-12-6-12-20 */

static float params[NP];

static fedmsg update_msg(const char *sender, uint32_t round, uint32_t base)
{
	fedmsg m = {.kind = FEDMSG_UPDATE, .round = round, .base_hash = base, .samples = 500,
		    .n_params = NP};
	strcpy(m.model, "temp-ae");
	strcpy(m.sender, sender);
	return m;
}

static size_t encode(const fedmsg *m, unsigned char *buf, size_t cap)
{
	size_t len = 0;
	CU_ASSERT_EQUAL_FATAL(fedmsg_encode(m, params, buf, cap, &len), IOTAD_OK);
	return len;
}

static void fill_params(void)
{
	for (int i = 0; i < NP; i++)
		params[i] = (float)sin(i * 0.37) * 0.5f;
}

static void test_round_trip(void)
{
	unsigned char buf[4096];
	float back[NP];
	fedmsg m = update_msg("gw-1", 3, 0xdeadbeef), d;
	fill_params();
	size_t len = encode(&m, buf, sizeof buf);
	CU_ASSERT_EQUAL(len, fedmsg_size(&m));
	CU_ASSERT(len < 2800); /* fits message_size_limit 4096 with room for the topic */
	CU_ASSERT_EQUAL(fedmsg_decode(buf, len, &d, back, NP, NULL, 0), IOTAD_OK);
	CU_ASSERT_EQUAL(d.kind, FEDMSG_UPDATE);
	CU_ASSERT_STRING_EQUAL(d.model, "temp-ae");
	CU_ASSERT_STRING_EQUAL(d.sender, "gw-1");
	CU_ASSERT_EQUAL(d.round, 3);
	CU_ASSERT_EQUAL(d.base_hash, 0xdeadbeef);
	CU_ASSERT_EQUAL(d.samples, 500);
	CU_ASSERT_EQUAL(d.n_params, NP);
	CU_ASSERT_EQUAL(memcmp(back, params, sizeof back), 0);
	/* too small a buffer */
	size_t n;
	CU_ASSERT_EQUAL(fedmsg_encode(&m, params, buf, len - 1, &n), IOTAD_ERR_FULL);
	/* the hash depends on round and every parameter */
	uint32_t h = fedmsg_hash(1, params, NP);
	CU_ASSERT_NOT_EQUAL(h, fedmsg_hash(2, params, NP));
	params[NP - 1] += 1e-6f;
	CU_ASSERT_NOT_EQUAL(h, fedmsg_hash(1, params, NP));
}

static void test_corruption(void)
{
	unsigned char buf[4096], copy[4096];
	float back[NP];
	char err[200];
	fedmsg m = update_msg("gw-1", 3, 1), d;
	fill_params();
	size_t len = encode(&m, buf, sizeof buf);
	/* every single flipped byte is refused (CRC, or the fields before it) */
	int refused = 0;
	for (size_t i = 0; i < len; i++) {
		memcpy(copy, buf, len);
		copy[i] ^= 0x5a;
		refused += fedmsg_decode(copy, len, &d, back, NP, NULL, 0) == IOTAD_ERR_PARSE;
	}
	CU_ASSERT_EQUAL(refused, (int)len);
	/* every truncation is refused */
	refused = 0;
	for (size_t i = 0; i < len; i++)
		refused += fedmsg_decode(buf, i, &d, back, NP, NULL, 0) == IOTAD_ERR_PARSE;
	CU_ASSERT_EQUAL(refused, (int)len);
	CU_ASSERT_EQUAL(fedmsg_decode(buf, len, &d, back, NP - 1, err, sizeof err), IOTAD_ERR_MODEL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "674 parameters, the model has 673"));
	/* a NaN with a valid CRC: refused as not finite */
	uint32_t nan_bits = 0x7fc00000u;
	memcpy(copy, buf, len);
	size_t at = len - 4 - 4 * NP + 4 * 10;
	memcpy(copy + at, &nan_bits, 4); /* little-endian host assumed by this test */
	uint32_t crc = state_crc32(0, copy, len - 4);
	for (int i = 0; i < 4; i++)
		copy[len - 4 + i] = (unsigned char)(crc >> (8 * i));
	CU_ASSERT_EQUAL(fedmsg_decode(copy, len, &d, back, NP, err, sizeof err), IOTAD_ERR_RANGE);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "parameter 10 is not finite"));
	/* encode refuses what decode would */
	params[5] = INFINITY;
	size_t n;
	CU_ASSERT_EQUAL(fedmsg_encode(&m, params, buf, sizeof buf, &n), IOTAD_ERR_INVAL);
	params[5] = 0;
	strcpy(m.sender, "bad/sender");
	CU_ASSERT_EQUAL(fedmsg_encode(&m, params, buf, sizeof buf, &n), IOTAD_ERR_INVAL);
}

static void test_topics(void)
{
	char t[256], gw[FEDMSG_ID_MAX];
	CU_ASSERT_EQUAL(fedmsg_topic_global("iotad/fl", "temp-ae", t, sizeof t), IOTAD_OK);
	CU_ASSERT_STRING_EQUAL(t, "iotad/fl/temp-ae/global");
	CU_ASSERT_EQUAL(fedmsg_topic_update("iotad/fl", "temp-ae", "+", t, sizeof t), IOTAD_OK);
	CU_ASSERT_STRING_EQUAL(t, "iotad/fl/temp-ae/update/+");
	const char *u = "iotad/fl/temp-ae/update/gw-7";
	CU_ASSERT_TRUE(fedmsg_topic_gateway("iotad/fl", "temp-ae", u, strlen(u), gw));
	CU_ASSERT_STRING_EQUAL(gw, "gw-7");
	const char *bad[] = {"iotad/fl/temp-ae/update/", "iotad/fl/other/update/gw",
			     "iotad/fl/temp-ae/update/a/b", "iotad/fl/temp-ae/global"};
	for (size_t i = 0; i < 4; i++)
		CU_ASSERT_FALSE(fedmsg_topic_gateway("iotad/fl", "temp-ae", bad[i], strlen(bad[i]), gw));
	CU_ASSERT_EQUAL(fedmsg_topic_global("p", "m", t, 5), IOTAD_ERR_FULL);
	CU_ASSERT_FALSE(fedmsg_valid_id(""));
	CU_ASSERT_FALSE(fedmsg_valid_id("a+b"));
	CU_ASSERT_TRUE(fedmsg_valid_id("gw_1.north-2"));
}

static fed_verdict offer(fed_round *r, const char *gw, const fedmsg *m)
{
	unsigned char buf[4096];
	size_t len = encode(m, buf, sizeof buf);
	return fed_round_offer(r, gw, buf, len, NULL, 0);
}

static void test_round_verdicts(void)
{
	fed_round r;
	unsigned char buf[4096];
	char why[200];
	fill_params();
	CU_ASSERT_EQUAL_FATAL(fed_round_init(&r, "temp-ae", NP, 3, 4096), IOTAD_OK);
	fed_round_open(&r, 5, 0xabc);
	fedmsg m = update_msg("gw-1", 5, 0xabc);
	CU_ASSERT_EQUAL(offer(&r, "gw-1", &m), FED_ACCEPTED);
	CU_ASSERT_EQUAL(offer(&r, "gw-1", &m), FED_DUPLICATE); /* a replay within the round */
	CU_ASSERT_EQUAL(offer(&r, "gw-2", &m), FED_SPOOFED);   /* gw-1's update on gw-2's topic */
	CU_ASSERT_EQUAL(offer(&r, NULL, &m), FED_MALFORMED);
	fedmsg s = update_msg("gw-2", 4, 0xabc);
	CU_ASSERT_EQUAL(offer(&r, "gw-2", &s), FED_STALE);
	s.round = 6;
	CU_ASSERT_EQUAL(offer(&r, "gw-2", &s), FED_FUTURE);
	s.round = 5;
	s.base_hash = 0xabd;
	CU_ASSERT_EQUAL(offer(&r, "gw-2", &s), FED_WRONG_BASE);
	s.base_hash = 0xabc;
	s.samples = 0;
	CU_ASSERT_EQUAL(offer(&r, "gw-2", &s), FED_NO_SAMPLES);
	s.samples = 10;
	strcpy(s.model, "other");
	CU_ASSERT_EQUAL(offer(&r, "gw-2", &s), FED_WRONG_MODEL);
	strcpy(s.model, "temp-ae");
	s.kind = FEDMSG_GLOBAL;
	CU_ASSERT_EQUAL(offer(&r, "gw-2", &s), FED_WRONG_MODEL);
	s.kind = FEDMSG_UPDATE;
	s.n_params = NP - 1;
	CU_ASSERT_EQUAL(offer(&r, "gw-2", &s), FED_WRONG_SHAPE);
	s.n_params = NP;
	CU_ASSERT_EQUAL(fed_round_offer(&r, "gw-2", "IFL\x01garbage", 11, why, sizeof why),
			FED_MALFORMED);
	static unsigned char big[5000];
	CU_ASSERT_EQUAL(fed_round_offer(&r, "gw-2", big, sizeof big, why, sizeof why), FED_OVERSIZE);
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "5000 bytes"));
	CU_ASSERT_EQUAL(offer(&r, "gw-2", &s), FED_ACCEPTED);
	CU_ASSERT_EQUAL(r.n_slots, 2);
	CU_ASSERT_EQUAL(r.slots[1].samples, 10);
	CU_ASSERT_EQUAL(memcmp(r.slots[1].params, params, sizeof params), 0);
	fedmsg m3 = update_msg("gw-3", 5, 0xabc), m4 = update_msg("gw-4", 5, 0xabc);
	CU_ASSERT_EQUAL(offer(&r, "gw-3", &m3), FED_ACCEPTED);
	CU_ASSERT_EQUAL(offer(&r, "gw-4", &m4), FED_FULL);
	/* counted: 3 accepted, 12 refused, one of each reason but wrong_model (2) */
	CU_ASSERT_EQUAL(r.counts[FED_ACCEPTED], 3);
	CU_ASSERT_EQUAL(r.counts[FED_DUPLICATE], 1);
	CU_ASSERT_EQUAL(r.counts[FED_STALE], 1);
	CU_ASSERT_EQUAL(r.counts[FED_WRONG_MODEL], 2);
	CU_ASSERT_EQUAL(r.counts[FED_MALFORMED], 2);
	CU_ASSERT_EQUAL(fed_round_refused(&r), 13);
	/* the next round: gw-1's round-5 update replayed is stale, the slots are free */
	fed_round_open(&r, 6, 0xdef);
	CU_ASSERT_EQUAL(r.n_slots, 0);
	CU_ASSERT_EQUAL(offer(&r, "gw-1", &m), FED_STALE);
	CU_ASSERT_EQUAL(r.counts[FED_STALE], 2);
	CU_ASSERT_STRING_EQUAL(fed_verdict_name(FED_WRONG_BASE), "wrong_base");
	(void)buf;
	fed_round_free(&r);
	fed_round_free(&r); /* a freed round is zeroed */
}

/* The reference network with fill_params' values in it. */
static void ref_net(nn *net)
{
	static const int sizes[5] = {20, 12, 6, 12, 20};
	static const nn_act act[4] = {NN_RELU, NN_RELU, NN_RELU, NN_SIGMOID};
	CU_ASSERT_EQUAL_FATAL(nn_init(net, 4, sizes, act), IOTAD_OK);
	CU_ASSERT_EQUAL_FATAL(net->n_params, (size_t)NP);
	fill_params();
	memcpy(net->params, params, sizeof params);
}

/* Put a right outer CRC on a message after changing its bytes. */
static void fix_crc(unsigned char *buf, size_t len)
{
	uint32_t crc = state_crc32(0, buf, len - 4);
	for (int i = 0; i < 4; i++)
		buf[len - 4 + i] = (unsigned char)(crc >> (8 * i));
}

static void test_int8_update(void)
{
	unsigned char buf[4096];
	float back[NP];
	char err[200];
	nn net;
	ref_net(&net);
	fedmsg m = update_msg("gw-1", 9, 0xfeedf00d), d;
	m.encoding = FEDMSG_ENC_INT8;
	m.n_params = 0; /* taken from the network */
	size_t len = 0;
	CU_ASSERT_EQUAL_FATAL(fedmsg_encode_net(&m, &net, buf, sizeof buf, &len), IOTAD_OK);
	printf("\n    int8 update of the 20-12-6-12-20 network: %zu bytes (float32: %zu) ", len,
	       fedmsg_size(&(fedmsg){.n_params = NP, .model = "temp-ae", .sender = "gw-1"}));
	CU_ASSERT(len <= 1024);
	CU_ASSERT(len <= fedmsg_size(&(fedmsg){.n_params = NP, .model = "temp-ae", .sender = "gw-1"}) / 3);
	CU_ASSERT_EQUAL_FATAL(fedmsg_decode(buf, len, &d, back, NP, err, sizeof err), IOTAD_OK);
	CU_ASSERT_EQUAL(d.encoding, FEDMSG_ENC_INT8);
	CU_ASSERT_EQUAL(d.kind, FEDMSG_UPDATE);
	CU_ASSERT_STRING_EQUAL(d.model, "temp-ae");
	CU_ASSERT_STRING_EQUAL(d.sender, "gw-1");
	CU_ASSERT_EQUAL(d.round, 9u);
	CU_ASSERT_EQUAL(d.base_hash, 0xfeedf00du);
	CU_ASSERT_EQUAL(d.samples, 500u);
	CU_ASSERT_EQUAL(d.n_params, (uint32_t)NP);
	/* each weight within its channel's step (the row's largest over 127, up
	 * a 1/16 octave), each bias within its layer's (up a quarter octave);
	 * and not bit-equal: the values did go through int8 */
	int differ = 0;
	for (int l = 0; l < net.n_layers; l++) {
		size_t off = nn_layer_offset(&net, l), in = (size_t)net.sizes[l];
		size_t out = (size_t)net.sizes[l + 1];
		double bmax = 0.0;
		for (size_t o = 0; o < out; o++) {
			double mx = 0.0;
			for (size_t i = 0; i < in; i++)
				mx = fmax(mx, fabs(params[off + o * in + i]));
			for (size_t i = 0; i < in; i++) {
				double e = fabs(back[off + o * in + i] - params[off + o * in + i]);
				CU_ASSERT(e <= mx / 127 * 1.045 + 1e-7);
				differ += e > 0;
			}
			bmax = fmax(bmax, fabs(params[off + out * in + o]));
		}
		for (size_t o = 0; o < out; o++)
			CU_ASSERT(fabs(back[off + out * in + o] - params[off + out * in + o]) <=
				  bmax / 127 * 1.2 + 1e-6);
	}
	CU_ASSERT(differ > NP / 2);
	/* the aggregator takes it as any update: averaged as floats */
	fed_round r;
	CU_ASSERT_EQUAL_FATAL(fed_round_init(&r, "temp-ae", NP, 3, 4096), IOTAD_OK);
	fed_round_open(&r, 9, 0xfeedf00d);
	CU_ASSERT_EQUAL(fed_round_offer(&r, "gw-1", buf, len, NULL, 0), FED_ACCEPTED);
	/* a global model is always float32 */
	fedmsg g = m;
	g.kind = FEDMSG_GLOBAL;
	size_t n;
	CU_ASSERT_EQUAL(fedmsg_encode_net(&g, &net, buf + 2048, 2048, &n), IOTAD_ERR_INVAL);
	/* too small a buffer */
	CU_ASSERT_EQUAL(fedmsg_encode_net(&m, &net, buf + 2048, len - 1, &n), IOTAD_ERR_FULL);

	/* a corrupted int8 update: the outer CRC refuses it; with the outer
	 * CRC made right, the int8 update's own CRC does */
	unsigned char copy[4096];
	memcpy(copy, buf, len);
	copy[len / 2] ^= 0x10;
	CU_ASSERT_EQUAL(fedmsg_decode(copy, len, &d, back, NP, err, sizeof err), IOTAD_ERR_PARSE);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "CRC"));
	fix_crc(copy, len);
	CU_ASSERT_EQUAL(fedmsg_decode(copy, len, &d, back, NP, err, sizeof err), IOTAD_ERR_PARSE);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "int8 update"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "CRC"));
	CU_ASSERT_EQUAL(fed_round_offer(&r, "gw-1", copy, len, NULL, 0), FED_MALFORMED);
	/* a header that disagrees with the int8 update inside it */
	memcpy(copy, buf, len);
	size_t round_at = 6 + 1 + strlen("temp-ae") + 1 + strlen("gw-1");
	copy[round_at] ^= 1;
	fix_crc(copy, len);
	CU_ASSERT_EQUAL(fedmsg_decode(copy, len, &d, back, NP, err, sizeof err), IOTAD_ERR_PARSE);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "differ"));
	/* an unknown encoding tag, and int8 on a global model: refused, malformed */
	for (unsigned tag = 2; tag < 256; tag++) {
		memcpy(copy, buf, len);
		copy[5] = (unsigned char)tag;
		fix_crc(copy, len);
		if (fedmsg_decode(copy, len, &d, back, NP, NULL, 0) != IOTAD_ERR_PARSE)
			CU_FAIL("an unknown encoding was accepted");
	}
	copy[5] = 7;
	fix_crc(copy, len);
	CU_ASSERT_EQUAL(fedmsg_decode(copy, len, &d, back, NP, err, sizeof err), IOTAD_ERR_PARSE);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "unknown encoding 7"));
	CU_ASSERT_EQUAL(fed_round_offer(&r, "gw-2", copy, len, NULL, 0), FED_MALFORMED);
	memcpy(copy, buf, len);
	copy[3] = FEDMSG_GLOBAL;
	fix_crc(copy, len);
	CU_ASSERT_EQUAL(fedmsg_decode(copy, len, &d, back, NP, err, sizeof err), IOTAD_ERR_PARSE);
	CU_ASSERT_EQUAL(r.counts[FED_MALFORMED], 2);
	CU_ASSERT_EQUAL(r.counts[FED_ACCEPTED], 1);
	/* the names of the encodings, as federated.update_encoding spells them */
	fedmsg_enc e;
	CU_ASSERT_EQUAL(fedmsg_enc_parse("int8", &e), 0);
	CU_ASSERT_EQUAL(e, FEDMSG_ENC_INT8);
	CU_ASSERT_EQUAL(fedmsg_enc_parse("float16", &e), -1);
	CU_ASSERT_STRING_EQUAL(fedmsg_enc_name(FEDMSG_ENC_FLOAT32), "float32");
	fed_round_free(&r);
	nn_free(&net);
}

static void test_float32_by_net(void)
{
	unsigned char a[4096], b[4096];
	nn net;
	ref_net(&net);
	fedmsg m = update_msg("gw-1", 3, 7);
	size_t la, lb;
	CU_ASSERT_EQUAL_FATAL(fedmsg_encode_net(&m, &net, a, sizeof a, &la), IOTAD_OK);
	CU_ASSERT_EQUAL_FATAL(fedmsg_encode(&m, params, b, sizeof b, &lb), IOTAD_OK);
	CU_ASSERT_EQUAL(la, lb);
	CU_ASSERT_EQUAL(memcmp(a, b, la), 0);
	CU_ASSERT_EQUAL(a[5], 0); /* float32's tag: what version 1 messages always had */
	nn_free(&net);
}

/* A private global model (version 2): epsilon, delta and noise travel;
 * without them the same global is version 1, 12 bytes shorter; DP fields on
 * an update, or out of range, are refused both ways. */
static void test_dp_global(void)
{
	unsigned char buf[4096], copy[4096];
	float back[NP];
	char err[200];
	fill_params();
	fedmsg g = update_msg("aggregator", 7, 0x1234), d;
	g.kind = FEDMSG_GLOBAL;
	g.hash = fedmsg_hash(7, params, NP);
	size_t plain = encode(&g, buf, sizeof buf);
	CU_ASSERT_EQUAL(buf[4], FEDMSG_VERSION);
	g.dp_epsilon = 3.25f;
	g.dp_delta = 1e-5f;
	g.dp_noise = 1.5f;
	size_t len = encode(&g, buf, sizeof buf);
	CU_ASSERT_EQUAL(len, plain + FEDMSG_DP_BYTES);
	CU_ASSERT_EQUAL(len, fedmsg_size(&g));
	CU_ASSERT_EQUAL(buf[4], FEDMSG_VERSION_DP);
	CU_ASSERT_EQUAL_FATAL(fedmsg_decode(buf, len, &d, back, NP, err, sizeof err), IOTAD_OK);
	CU_ASSERT_EQUAL(d.dp_epsilon, 3.25f);
	CU_ASSERT_EQUAL(d.dp_delta, 1e-5f);
	CU_ASSERT_EQUAL(d.dp_noise, 1.5f);
	CU_ASSERT_EQUAL(d.round, 7);
	CU_ASSERT_EQUAL(memcmp(back, params, sizeof back), 0);
	/* every flipped byte and every truncation is refused */
	int refused = 0;
	for (size_t i = 0; i < len; i++) {
		memcpy(copy, buf, len);
		copy[i] ^= 0x5a;
		refused += fedmsg_decode(copy, len, &d, back, NP, NULL, 0) == IOTAD_ERR_PARSE;
		refused += fedmsg_decode(buf, i, &d, back, NP, NULL, 0) == IOTAD_ERR_PARSE;
	}
	CU_ASSERT_EQUAL(refused, 2 * (int)len);
	/* a version 2 update, with a valid CRC, is refused */
	memcpy(copy, buf, len);
	copy[3] = FEDMSG_UPDATE;
	uint32_t crc = state_crc32(0, copy, len - 4);
	for (int i = 0; i < 4; i++)
		copy[len - 4 + i] = (unsigned char)(crc >> (8 * i));
	CU_ASSERT_EQUAL(fedmsg_decode(copy, len, &d, back, NP, err, sizeof err), IOTAD_ERR_PARSE);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "version 2"));
	/* a delta of 0 in a version 2 message, with a valid CRC: out of range */
	memcpy(copy, buf, len);
	size_t at = len - 4 - 4 * NP - FEDMSG_DP_BYTES + 4;
	memset(copy + at, 0, 4);
	crc = state_crc32(0, copy, len - 4);
	for (int i = 0; i < 4; i++)
		copy[len - 4 + i] = (unsigned char)(crc >> (8 * i));
	CU_ASSERT_EQUAL(fedmsg_decode(copy, len, &d, back, NP, err, sizeof err), IOTAD_ERR_PARSE);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "privacy fields"));
	/* the encoder refuses what the decoder would */
	size_t n;
	g.dp_delta = 1.5f;
	CU_ASSERT_EQUAL(fedmsg_encode(&g, params, buf, sizeof buf, &n), IOTAD_ERR_INVAL);
	g.dp_delta = 1e-5f;
	g.dp_epsilon = NAN;
	CU_ASSERT_EQUAL(fedmsg_encode(&g, params, buf, sizeof buf, &n), IOTAD_ERR_INVAL);
	fedmsg u = update_msg("gw-1", 3, 1);
	u.dp_delta = 1e-5f;
	CU_ASSERT_EQUAL(fedmsg_encode(&u, params, buf, sizeof buf, &n), IOTAD_ERR_INVAL);
}

void init_fedmsg_tests(void)
{
	CU_pSuite s = CU_add_suite("fedmsg", NULL, NULL);
	TEST_ADD(s, test_round_trip);
	TEST_ADD(s, test_corruption);
	TEST_ADD(s, test_topics);
	TEST_ADD(s, test_round_verdicts);
	TEST_ADD(s, test_int8_update);
	TEST_ADD(s, test_float32_by_net);
	TEST_ADD(s, test_dp_global);
}
