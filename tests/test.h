/* test.h - registration of the CUnit suites (one file per module). */
#ifndef IOTAD_TEST_H
#define IOTAD_TEST_H

#include <CUnit/CUnit.h>

/* Each adds its suite(s) to the registry. */
void init_ring_tests(void);
void init_nn_tests(void);
void init_model_tests(void);
void init_threshold_tests(void);
void init_alert_tests(void);
void init_detector_tests(void);
void init_codec_tests(void);
void init_config_tests(void);
void init_csv_tests(void);
void init_train_tests(void);
void init_sim_tests(void);
void init_fleet_tests(void);
void init_evmetrics_tests(void);
void init_eval_tests(void);
void init_baseline_tests(void);
void init_spot_tests(void);
void init_service_tests(void);
void init_http_tests(void);
void init_replay_tests(void);
void init_progress_tests(void);
void init_torchrt_tests(void);
void init_state_tests(void);

/* Directory holding test fixtures (set by the runner from argv or env). */
extern const char *test_fixture_dir;

#define TEST_ADD(suite, fn) CU_add_test((suite), #fn, (fn))

#endif
