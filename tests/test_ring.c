/* test_ring.c - unit tests of ring. */
#include <string.h>

#include "iotad/ring.h"
#include "test.h"

/* Sample i of a 2-feature stream: {i, 100 + i}. */
static void push_n(ring *r, int from, int to)
{
	for (int i = from; i < to; i++) {
		float s[2] = {(float)i, 100.0f + (float)i};
		ring_push(r, s);
	}
}

static void test_storage_bytes(void)
{
	CU_ASSERT_EQUAL(ring_storage_bytes(10, 3), 10 * 3 * sizeof(float));
	CU_ASSERT_EQUAL(ring_storage_bytes(0, 3), 0);
}

static void test_partial_fill(void)
{
	float buf[4 * 2], out[4 * 2];
	ring r;

	ring_init(&r, buf, 4, 2);
	CU_ASSERT_FALSE(ring_full(&r));
	CU_ASSERT_EQUAL(r.count, 0);
	push_n(&r, 0, 3);
	CU_ASSERT_FALSE(ring_full(&r));
	CU_ASSERT_EQUAL(r.count, 3);
	memset(out, 0, sizeof out);
	ring_copy(&r, out);
	for (int i = 0; i < 3; i++) {
		CU_ASSERT_EQUAL(out[2 * i], (float)i);
		CU_ASSERT_EQUAL(out[2 * i + 1], 100.0f + (float)i);
	}
	/* nothing written past count rows */
	CU_ASSERT_EQUAL(out[6], 0.0f);
	CU_ASSERT_EQUAL(out[7], 0.0f);
	push_n(&r, 3, 4);
	CU_ASSERT_TRUE(ring_full(&r));
}

static void test_wraparound(void)
{
	float buf[4 * 2], out[4 * 2];
	ring r;

	ring_init(&r, buf, 4, 2);
	/* every wrap offset: after n pushes the window is n-4 .. n-1 */
	for (int n = 4; n <= 13; n++) {
		ring_clear(&r);
		push_n(&r, 0, n);
		CU_ASSERT_TRUE(ring_full(&r));
		CU_ASSERT_EQUAL(r.count, 4);
		ring_copy(&r, out);
		for (int i = 0; i < 4; i++) {
			CU_ASSERT_EQUAL(out[2 * i], (float)(n - 4 + i));
			CU_ASSERT_EQUAL(out[2 * i + 1], 100.0f + (float)(n - 4 + i));
		}
	}
}

static void test_clear(void)
{
	float buf[3 * 2], out[3 * 2];
	ring r;

	ring_init(&r, buf, 3, 2);
	push_n(&r, 0, 5);
	CU_ASSERT_TRUE(ring_full(&r));
	ring_clear(&r);
	CU_ASSERT_FALSE(ring_full(&r));
	CU_ASSERT_EQUAL(r.count, 0);
	CU_ASSERT_PTR_EQUAL(r.buf, buf);
	push_n(&r, 50, 52);
	ring_copy(&r, out);
	CU_ASSERT_EQUAL(out[0], 50.0f);
	CU_ASSERT_EQUAL(out[2], 51.0f);
	CU_ASSERT_FALSE(ring_full(&r));
}

static void test_window_one(void)
{
	float buf[2], out[2];
	ring r;

	ring_init(&r, buf, 1, 2);
	push_n(&r, 0, 7);
	CU_ASSERT_TRUE(ring_full(&r));
	ring_copy(&r, out);
	CU_ASSERT_EQUAL(out[0], 6.0f);
	CU_ASSERT_EQUAL(out[1], 106.0f);
}

void init_ring_tests(void)
{
	CU_pSuite s = CU_add_suite("ring", NULL, NULL);
	TEST_ADD(s, test_storage_bytes);
	TEST_ADD(s, test_partial_fill);
	TEST_ADD(s, test_wraparound);
	TEST_ADD(s, test_clear);
	TEST_ADD(s, test_window_one);
}
