/* fuzz_codec.c - libFuzzer target: telemetry payloads and topics. */
#include <stdint.h>
#include <string.h>

#include "iotad/codec.h"
#include "iotad/timefmt.h"
#include "iotad/topic.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static model m;
	if (!m.n_features) {
		m.n_features = 3;
		strcpy(m.features[0], "temperature");
		strcpy(m.features[1], "humidity");
		strcpy(m.features[2], "battery");
	}
	float values[3] = {0};
	double ts;
	bool has_ts;
	char detail[128], topic[256], dev[DET_DEVICE_ID_MAX];
	codec_parse_sample((const char *)data, size, 4096, &m, 1.7e9, &ts, &has_ts, values, detail,
			   sizeof detail);
	size_t n = size < sizeof topic - 1 ? size : sizeof topic - 1;
	memcpy(topic, data, n);
	topic[n] = '\0';
	topic_device(topic, 1, dev, sizeof dev);
	double t;
	timefmt_parse_rfc3339(topic, &t);
	return 0;
}
