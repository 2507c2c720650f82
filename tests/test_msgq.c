/* test_msgq.c - unit tests of the bounded message queue: first in, first
 * out; a full queue refuses (nothing allocated), a closed one refuses but
 * still hands out what it holds; topics are cut and flagged, oversize
 * payloads flagged and not stored; a taker waits for a producer. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "iotad/mqtt.h"
#include "iotad/msgq.h"
#include "iotad/outbox.h"
#include "iotad/topic.h"
#include "test.h"

static void test_fifo_full_closed(void)
{
	msgq q;
	const msgq_msg *out[8];
	char payload[8];
	CU_ASSERT_EQUAL_FATAL(msgq_init(&q, 3), IOTAD_OK);
	CU_ASSERT_EQUAL(msgq_take(&q, out, 8, 0), 0);
	for (int i = 0; i < 3; i++) {
		payload[0] = (char)('a' + i);
		CU_ASSERT_EQUAL(msgq_offer(&q, "t/x", 3, payload, 1, 16), MSGQ_ACCEPTED);
	}
	CU_ASSERT_EQUAL(msgq_depth(&q), 3);
	CU_ASSERT_EQUAL(msgq_offer(&q, "t/x", 3, "d", 1, 16), MSGQ_FULL);
	CU_ASSERT_EQUAL(msgq_take(&q, out, 2, 0), 2);
	CU_ASSERT_EQUAL(msgq_payload(out[0])[0], 'a');
	CU_ASSERT_EQUAL(msgq_payload(out[1])[0], 'b');
	msgq_release(&q);
	/* the ring wraps */
	CU_ASSERT_EQUAL(msgq_offer(&q, "t/y", 3, "d", 1, 16), MSGQ_ACCEPTED);
	CU_ASSERT_EQUAL(msgq_offer(&q, "t/y", 3, "e", 1, 16), MSGQ_ACCEPTED);
	msgq_close(&q);
	CU_ASSERT_EQUAL(msgq_offer(&q, "t/y", 3, "f", 1, 16), MSGQ_CLOSED);
	CU_ASSERT_EQUAL_FATAL(msgq_take(&q, out, 8, 0), 3);
	CU_ASSERT_EQUAL(msgq_payload(out[0])[0], 'c');
	CU_ASSERT_STRING_EQUAL(msgq_topic(out[1]), "t/y");
	CU_ASSERT_EQUAL(msgq_payload(out[2])[0], 'e');
	msgq_release(&q);
	/* what is left at free is freed with it (checked under the sanitizer) */
	msgq_free(&q);
	CU_ASSERT_EQUAL_FATAL(msgq_init(&q, 2), IOTAD_OK);
	CU_ASSERT_EQUAL(msgq_offer(&q, "t/z", 3, "g", 1, 16), MSGQ_ACCEPTED);
	msgq_free(&q);
}

static void test_copy_flags(void)
{
	char topic[TOPIC_MAX + 10];
	memset(topic, 'a', sizeof topic);
	msgq_msg *m = msgq_msg_new(topic, sizeof topic, "{}", 2, 16);
	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	CU_ASSERT_TRUE(m->bad_topic);
	CU_ASSERT_EQUAL(m->topic_len, TOPIC_MAX - 1);
	CU_ASSERT_EQUAL(strlen(msgq_topic(m)), TOPIC_MAX - 1);
	CU_ASSERT_EQUAL(m->len, 2);
	msgq_msg_free(m);

	m = msgq_msg_new("t/a\0b", 5, "{}", 2, 16);
	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	CU_ASSERT_TRUE(m->bad_topic);
	msgq_msg_free(m);

	m = msgq_msg_new("t/a", 3, "0123456789abcdefg", 17, 16);
	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	CU_ASSERT_TRUE(m->oversize);
	CU_ASSERT_FALSE(m->bad_topic);
	CU_ASSERT_EQUAL(m->len, 0);
	msgq_msg_free(m);

	m = msgq_msg_new("t/a", 3, "0123456789abcdef", 16, 16);
	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	CU_ASSERT_FALSE(m->oversize);
	CU_ASSERT_EQUAL(m->len, 16);
	CU_ASSERT_EQUAL(memcmp(msgq_payload(m), "0123456789abcdef", 16), 0);
	CU_ASSERT_STRING_EQUAL(msgq_topic(m), "t/a");
	msgq_msg_free(m);
}

/* A message larger than a slot's inline room goes through whole, between
 * two small ones, and the ring keeps its order. */
static void test_large(void)
{
	msgq q;
	const msgq_msg *out[4];
	char big[3 * MSGQ_INLINE];
	for (size_t i = 0; i < sizeof big; i++)
		big[i] = (char)('a' + i % 26);
	CU_ASSERT_EQUAL_FATAL(msgq_init(&q, 2), IOTAD_OK);
	for (int round = 0; round < 3; round++) {
		CU_ASSERT_EQUAL(msgq_offer(&q, "t/big", 5, big, sizeof big, 4096), MSGQ_ACCEPTED);
		CU_ASSERT_EQUAL(msgq_offer(&q, "t/s", 3, "x", 1, 4096), MSGQ_ACCEPTED);
		CU_ASSERT_EQUAL(msgq_offer(&q, "t/s", 3, "y", 1, 4096), MSGQ_FULL);
		CU_ASSERT_EQUAL_FATAL(msgq_take(&q, out, 4, 0), 2);
		CU_ASSERT_EQUAL(out[0]->len, sizeof big);
		CU_ASSERT_EQUAL(memcmp(msgq_payload(out[0]), big, sizeof big), 0);
		CU_ASSERT_STRING_EQUAL(msgq_topic(out[0]), "t/big");
		CU_ASSERT_EQUAL(msgq_payload(out[1])[0], 'x');
		msgq_release(&q);
	}
	/* left in the queue: freed by msgq_free (checked under the sanitizer) */
	CU_ASSERT_EQUAL(msgq_offer(&q, "t/big", 5, big, sizeof big, 4096), MSGQ_ACCEPTED);
	msgq_free(&q);
}

static void *producer(void *arg)
{
	for (int i = 0; i < 1000; i++) {
		char c = (char)i;
		while (msgq_offer(arg, "t/p", 3, &c, 1, 16) == MSGQ_FULL)
			;
	}
	return NULL;
}

/* One producer thread, one taker waiting: all 1000 arrive, in order. */
static void test_threads(void)
{
	msgq q;
	const msgq_msg *out[16];
	CU_ASSERT_EQUAL_FATAL(msgq_init(&q, 8), IOTAD_OK);
	pthread_t t;
	CU_ASSERT_EQUAL_FATAL(pthread_create(&t, NULL, producer, &q), 0);
	int got = 0, out_of_order = 0, rounds = 0;
	while (got < 1000 && rounds++ < 100000) {
		uint32_t n = msgq_take(&q, out, 16, 100);
		for (uint32_t i = 0; i < n; i++, got++) {
			out_of_order += msgq_payload(out[i])[0] != (char)got;
		}
		msgq_release(&q);
	}
	pthread_join(t, NULL);
	CU_ASSERT_EQUAL(got, 1000);
	CU_ASSERT_EQUAL(out_of_order, 0);
	msgq_free(&q);
}

/* The outbox: with the client's window full (a client never connected,
 * window 2), publishes are kept in order instead of waiting, and stay
 * kept while the window stays full. */
static void test_outbox(void)
{
	mq_opts mo = {.uri = "tcp://127.0.0.1:1", .client_id = "outbox-test", .keepalive = 30,
		      .clean_session = true, .max_inflight = 2};
	mq *c = NULL;
	CU_ASSERT_EQUAL_FATAL(mq_create(&mo, &c), IOTAD_OK);
	outbox o;
	CU_ASSERT_EQUAL_FATAL(outbox_init(&o, 4), IOTAD_OK);
	for (int i = 0; i < 5; i++) {
		char payload[8];
		int n = snprintf(payload, sizeof payload, "e%d", i);
		CU_ASSERT_EQUAL(outbox_publish(&o, c, "alerts/d1", payload, (size_t)n, 1, false),
				IOTAD_OK);
	}
	CU_ASSERT_EQUAL(o.count, 3);
	CU_ASSERT_EQUAL(atomic_load(&o.deferred), 3);
	CU_ASSERT_EQUAL(atomic_load(&o.waited), 0);
	CU_ASSERT_EQUAL(outbox_flush(&o, c, 0), 3);
	mq_stats st;
	mq_get_stats(c, &st);
	CU_ASSERT_EQUAL(st.inflight, 2);
	outbox_free(&o);
	mq_destroy(c, 0);
}

void init_msgq_tests(void)
{
	CU_pSuite s = CU_add_suite("msgq", NULL, NULL);
	TEST_ADD(s, test_fifo_full_closed);
	TEST_ADD(s, test_copy_flags);
	TEST_ADD(s, test_large);
	TEST_ADD(s, test_threads);
	TEST_ADD(s, test_outbox);
}
