/* test_scaleout.c - unit tests of what lets several instances share a
 * fleet: the device shard hash (FNV-1a, as NATS's partition()), the
 * service.shard option and the pipeline's filter on it, and mqtt.uri as a
 * list of a broker cluster's nodes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iotad/config.h"
#include "iotad/msgq.h"
#include "iotad/pipeline.h"
#include "iotad/topic.h"
#include "test.h"

static iotad_err load(const char *yaml, iotad_config *c, char *err, size_t errlen)
{
	return config_load_string("s.yaml", yaml, strlen(yaml), c, err, errlen);
}

/* The hash is FNV-1a 32: the published test vectors of its authors, then
 * the partitions nats-server 2.9 gave devN under partition(4,1). */
static void test_shard_hash(void)
{
	CU_ASSERT_EQUAL(topic_shard("", 0xffffffffu), 0x811c9dc5u);
	CU_ASSERT_EQUAL(topic_shard("a", 0xffffffffu), 0xe40c292cu);
	CU_ASSERT_EQUAL(topic_shard("foobar", 0xffffffffu), 0xbf9cf968u);
	static const char *const part0[] = {"dev4", "dev8", "dev13", "dev22", "dev26", "dev40"};
	for (size_t i = 0; i < sizeof part0 / sizeof part0[0]; i++)
		CU_ASSERT_EQUAL(topic_shard(part0[i], 4), 0);
	CU_ASSERT_EQUAL(topic_shard("dev3", 4), 1);
	CU_ASSERT_EQUAL(topic_shard("dev7", 4), 1);
	CU_ASSERT_EQUAL(topic_shard("dev10", 4), 1);
	CU_ASSERT_EQUAL(topic_shard("anything", 1), 0);
	CU_ASSERT_EQUAL(topic_shard("anything", 0), 0);
	/* 4000 ids spread over 4 shards: none holds under a fifth or over a third */
	unsigned n[4] = {0};
	char id[32];
	for (int i = 0; i < 4000; i++) {
		snprintf(id, sizeof id, "sensor-%03d", i);
		n[topic_shard(id, 4)]++;
	}
	for (int k = 0; k < 4; k++) {
		CU_ASSERT(n[k] > 800);
		CU_ASSERT(n[k] < 1333);
	}
}

/* The scorer threads of an instance that owns shard k of N: its devices
 * spread over all of them, whatever N and the thread count. */
static void test_thread_of_shard(void)
{
	static const uint32_t pairs[][2] = {{2, 2}, {4, 4}, {3, 3}, {2, 4}, {4, 2}};
	char id[32];
	for (size_t p = 0; p < sizeof pairs / sizeof pairs[0]; p++) {
		uint32_t inst = pairs[p][0], threads = pairs[p][1];
		unsigned n[4] = {0}, total = 0;
		for (int i = 0; i < 4000; i++) {
			snprintf(id, sizeof id, "sensor-%03d", i);
			if (topic_shard(id, inst) != 0)
				continue;
			n[topic_device_shard(id, strlen(id), threads)]++;
			total++;
		}
		for (uint32_t k = 0; k < threads; k++) {
			CU_ASSERT(n[k] > total / threads * 2 / 3);
			CU_ASSERT(n[k] < total / threads * 4 / 3);
		}
	}
	CU_ASSERT_EQUAL(topic_device_shard("anything", 8, 1), 0);
	CU_ASSERT_EQUAL(topic_device_shard("anything", 8, 0), 0);
}

static void test_shard_config(void)
{
	iotad_config c;
	char err[512];
	CU_ASSERT_EQUAL(load("service:\n  shard: 2/4\n", &c, err, sizeof err), IOTAD_OK);
	CU_ASSERT_EQUAL(c.shard_index, 2);
	CU_ASSERT_EQUAL(c.shard_count, 4);
	CU_ASSERT_EQUAL(load("service:\n  shard: \"0/1\"\n", &c, err, sizeof err), IOTAD_OK);
	CU_ASSERT_EQUAL(c.shard_count, 1);
	CU_ASSERT_EQUAL(load("mqtt:\n  keepalive: 5\n", &c, err, sizeof err), IOTAD_OK);
	CU_ASSERT_EQUAL(c.shard_count, 0);
	static const char *const bad[] = {"4/4", "-1/4", "1/0", "1", "1/", "/4", "a/4", "1/4x",
					  "1/65537", " 1/4", "1/+4", "99999999999999999999/3"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char yaml[128];
		snprintf(yaml, sizeof yaml, "service:\n  shard: \"%s\"\n", bad[i]);
		CU_ASSERT_EQUAL(load(yaml, &c, err, sizeof err), IOTAD_ERR_CONFIG);
		CU_ASSERT_PTR_NOT_NULL(strstr(err, "s.yaml:2:3: service.shard:"));
	}
}

static void test_uri_list(void)
{
	iotad_config c;
	char err[512];
	const char *yaml = "mqtt:\n  uri: [tcp://n1:1883, tcp://n2:1883, mqtt://n3:1883]\n";
	CU_ASSERT_EQUAL_FATAL(load(yaml, &c, err, sizeof err), IOTAD_OK);
	CU_ASSERT_EQUAL(c.n_broker_uris, 3);
	CU_ASSERT_STRING_EQUAL(c.broker_uri, "tcp://n1:1883");
	CU_ASSERT_STRING_EQUAL(c.broker_uris[2], "mqtt://n3:1883");
	yaml = "mqtt:\n  uri:\n    - ssl://n1:8883\n";
	CU_ASSERT_EQUAL_FATAL(load(yaml, &c, err, sizeof err), IOTAD_OK);
	CU_ASSERT_EQUAL(c.n_broker_uris, 1);
	CU_ASSERT_STRING_EQUAL(c.broker_uri, "ssl://n1:8883");
	CU_ASSERT_EQUAL(load("mqtt:\n  uri: tcp://one:1\n", &c, err, sizeof err), IOTAD_OK);
	CU_ASSERT_EQUAL(c.n_broker_uris, 0);

	static const struct {
		const char *yaml, *where, *what;
	} bad[] = {
		{"mqtt:\n  uri: []\n", "s.yaml:2:8:", "the list is empty"},
		{"mqtt:\n  uri: [tcp://a:1, http://b]\n", "s.yaml:2:20:", "must be tcp://"},
		{"mqtt:\n  uri: [tcp://a:1, ssl://b:2]\n", "s.yaml:2:20:", "mix TLS and plain"},
		{"mqtt:\n  uri: [tcp://a:1, tcp://a:1]\n", "s.yaml:2:20:", "listed twice"},
		{"mqtt:\n  uri: [tcp://a:1, [tcp://b:1]]\n", "s.yaml:2:20:", "a sequence"},
		{"mqtt:\n  uri: [a, b, c, d, e, f, g, h, i]\n", "s.yaml:2:9:", "must be tcp://"},
		{"mqtt:\n  uri: [tcp://1, tcp://2, tcp://3, tcp://4, tcp://5, tcp://6, tcp://7, "
		 "tcp://8, tcp://9]\n", "s.yaml:2:", "more than 8 uris"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		CU_ASSERT_EQUAL(load(bad[i].yaml, &c, err, sizeof err), IOTAD_ERR_CONFIG);
		CU_ASSERT_PTR_NOT_NULL(strstr(err, bad[i].where));
		CU_ASSERT_PTR_NOT_NULL(strstr(err, bad[i].what));
		if (!strstr(err, bad[i].what) || !strstr(err, bad[i].where))
			fprintf(stderr, "\ncase %zu: %s\n", i, err);
	}
	/* TLS files follow the list's kind */
	CU_ASSERT_EQUAL(load("mqtt:\n  uri: [tcp://a:1]\n  tls_ca_file: /etc/hostname\n", &c, err,
			     sizeof err), IOTAD_ERR_CONFIG);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "TLS files need"));
}

static iotad_err null_publish(void *ud, const char *topic, const void *payload, size_t len,
			      int qos, bool retained)
{
	(void)topic, (void)payload, (void)len, (void)qos, (void)retained;
	(*(int *)ud)++;
	return IOTAD_OK;
}

/* Instance k of 3 takes exactly the devices whose id hashes to k and
 * counts every other message as not_my_shard; the three together take
 * every device once. */
static void test_pipeline_shard(void)
{
	unsigned taken[3] = {0};
	uint64_t skipped = 0, devices = 0;
	for (int k = 0; k < 3; k++) {
		char yaml[160], err[512];
		snprintf(yaml, sizeof yaml,
			 "service:\n  shard: %d/3\ndetector:\n  features: [t]\n  profile_learn: 5\n",
			 k);
		iotad_config c;
		CU_ASSERT_EQUAL_FATAL(load(yaml, &c, err, sizeof err), IOTAD_OK);
		det_config dc;
		config_det(&c, &dc);
		int published = 0;
		pipeline_pub pub = {.publish = null_publish, .ud = &published};
		pipeline *p;
		CU_ASSERT_EQUAL_FATAL(pipeline_create(&c, NULL, &dc, &pub, &p), IOTAD_OK);
		unsigned want = 0;
		for (int d = 0; d < 60; d++) {
			char topic[32], payload[64];
			snprintf(topic, sizeof topic, "telemetry/dev%d", d);
			want += topic_shard(topic + 10, 3) == (uint32_t)k;
			for (int t = 0; t < 3; t++) {
				snprintf(payload, sizeof payload, "{\"ts\":%d,\"t\":%d}", 1000 + t, t);
				msgq_msg *m = msgq_msg_new(topic, strlen(topic), payload,
							   strlen(payload), c.max_payload);
				CU_ASSERT_PTR_NOT_NULL_FATAL(m);
				pipeline_handle(p, m, 2000.0 + t);
				free(m);
			}
		}
		pipeline_counters pc;
		pipeline_get_counters(p, &pc);
		CU_ASSERT_EQUAL(pc.received, 180);
		CU_ASSERT_EQUAL(pc.devices, want);
		CU_ASSERT_EQUAL(pc.not_my_shard, 3 * (60 - want));
		for (int r = 0; r < REJ__COUNT; r++)
			CU_ASSERT_EQUAL(pc.rejected[r], 0);
		taken[k] = want;
		skipped += pc.not_my_shard;
		devices += pc.devices;
		pipeline_destroy(p);
	}
	CU_ASSERT_EQUAL(devices, 60);
	CU_ASSERT_EQUAL(skipped, 2 * 180);
	for (int k = 0; k < 3; k++)
		CU_ASSERT(taken[k] > 0);
}

void init_scaleout_tests(void)
{
	CU_pSuite s = CU_add_suite("scaleout", NULL, NULL);
	TEST_ADD(s, test_shard_hash);
	TEST_ADD(s, test_thread_of_shard);
	TEST_ADD(s, test_shard_config);
	TEST_ADD(s, test_uri_list);
	TEST_ADD(s, test_pipeline_shard);
}
