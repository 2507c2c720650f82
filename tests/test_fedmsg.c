/* test_fedmsg.c - the federated messages: round trip, size of the reference
 * network's update, every corruption refused; topics; the round's verdicts
 * (stale, duplicate, replay, wrong base, spoofed sender...) and their counts. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/CUnit.h>

#include "iotad/fedmsg.h"
#include "iotad/fedround.h"
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

void init_fedmsg_tests(void)
{
	CU_pSuite s = CU_add_suite("fedmsg", NULL, NULL);
	TEST_ADD(s, test_round_trip);
	TEST_ADD(s, test_corruption);
	TEST_ADD(s, test_topics);
	TEST_ADD(s, test_round_verdicts);
}
