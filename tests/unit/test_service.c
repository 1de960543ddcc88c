/* test_service.c - the service skeleton: a start that reads the shared
 * settings, refusals with the variable named and the right exit code,
 * --help, the stop flag a SIGTERM sets, "ready" said once. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "sp_service.h"

typedef struct own_settings {
    int64_t answer;
    bool check_called_at_warn; /* the log had its level when the check ran */
    bool refuse;
} own_settings;

static int check(void *ctx, sp_service *svc, sp_error *err) {
    own_settings *own = ctx;
    own->check_called_at_warn = svc->log.level_min == SP_LOG_WARN;
    if (!own->refuse) return 0;
    return sp_error_set(err, 500, "invalid_config", "SP_TEST_ANSWER", "not the answer");
}

/* Starts with the shared settings and one of the test's own. */
static int start(sp_service *svc, own_settings *own, int argc, char **argv, int refused_exit_code) {
    const sp_config_item items[] = {
        SP_SERVICE_CONFIG_ITEMS(svc),
        {"SP_TEST_ANSWER", SP_CONFIG_INT, "42", 0, 100, "the answer", &own->answer},
    };
    const sp_service_spec spec = {.name = "test",
                                  .program = "solipass-test",
                                  .summary = "A test service.",
                                  .items = items,
                                  .item_count = sizeof items / sizeof items[0],
                                  .check = check,
                                  .check_ctx = own,
                                  .refused_exit_code = refused_exit_code};
    return sp_service_start(svc, &spec, argc, argv);
}

static int reset_env(void **state) {
    (void)state;
    unsetenv("SP_LOG_LEVEL");
    unsetenv("SP_METRICS_PORT");
    unsetenv("SP_CLOCK_OFFSET_FILE");
    unsetenv("SP_TEST_ANSWER");
    unsetenv("SP_ENVIRONMENT");
    return 0;
}

static void test_start_reads_the_shared_settings(void **state) {
    (void)state;
    setenv("SP_LOG_LEVEL", "warn", 1);
    setenv("SP_TEST_ANSWER", "7", 1);
    sp_service svc;
    own_settings own = {0};
    char *argv[] = {"solipass-test", NULL};
    assert_int_equal(start(&svc, &own, 1, argv, 0), 0);
    assert_int_equal(svc.log.level_min, SP_LOG_WARN);
    assert_true(own.check_called_at_warn);
    assert_int_equal(own.answer, 7);
    assert_null(svc.metrics); /* SP_METRICS_PORT 0: no endpoint */
    assert_false(sp_service_stopping(&svc));
    assert_true(sp_clock_now_ms(&svc.clock) > 0);
    assert_int_equal(sp_service_finish(&svc, 0), 0);
}

static void test_a_failed_run_exits_1(void **state) {
    (void)state;
    sp_service svc;
    own_settings own = {0};
    char *argv[] = {"solipass-test", NULL};
    assert_int_equal(start(&svc, &own, 1, argv, 0), 0);
    sp_error_set(&svc.err, 503, "unavailable", "", "the broker went away");
    assert_int_equal(sp_service_finish(&svc, -1), 1);
}

static void test_refusals_name_the_variable(void **state) {
    (void)state;
    sp_service svc;
    own_settings own = {0};
    char *argv[] = {"solipass-test", NULL};
    setenv("SP_LOG_LEVEL", "loud", 1);
    assert_int_equal(start(&svc, &own, 1, argv, 0), -1);
    assert_int_equal(svc.exit_code, 1);
    assert_string_equal(svc.err.field, "SP_LOG_LEVEL");
    setenv("SP_LOG_LEVEL", "info", 1);
    setenv("SP_TEST_ANSWER", "101", 1); /* out of its bounds */
    assert_int_equal(start(&svc, &own, 1, argv, 2), -1);
    assert_int_equal(svc.exit_code, 2); /* the binary's own exit code */
    assert_string_equal(svc.err.field, "SP_TEST_ANSWER");
    unsetenv("SP_TEST_ANSWER");
    own.refuse = true; /* the binary's own check */
    assert_int_equal(start(&svc, &own, 1, argv, 0), -1);
    assert_int_equal(svc.exit_code, 1);
    assert_string_equal(svc.err.field, "SP_TEST_ANSWER");
    char *unknown[] = {"solipass-test", "--frobnicate", NULL};
    own.refuse = false;
    assert_int_equal(start(&svc, &own, 2, unknown, 0), -1);
    assert_int_equal(svc.exit_code, 1);
}

static void test_production_refuses_the_clock_offset_file(void **state) {
    (void)state;
    sp_error err;
    sp_error_clear(&err);
    assert_int_equal(sp_service_check_environment("production", "", &err), 0);
    assert_int_equal(sp_service_check_environment("production", NULL, &err), 0);
    assert_int_equal(sp_service_check_environment("staging", "/tmp/offset", &err), 0);
    assert_int_equal(sp_service_check_environment("development", "/tmp/offset", &err), 0);
    assert_int_equal(sp_service_check_environment("production", "/tmp/offset", &err), -1);
    assert_string_equal(err.field, "SP_CLOCK_OFFSET_FILE");
    assert_int_equal(sp_service_check_environment("Production", "", &err), -1);
    assert_string_equal(err.field, "SP_ENVIRONMENT");
    assert_int_equal(sp_service_check_environment("", "", &err), -1);
    assert_string_equal(err.field, "SP_ENVIRONMENT");

    /* Through the start, for a table that does not name SP_ENVIRONMENT. */
    sp_service svc;
    own_settings own = {0};
    char *argv[] = {"solipass-test", NULL};
    setenv("SP_ENVIRONMENT", "production", 1);
    setenv("SP_CLOCK_OFFSET_FILE", "/tmp/solipass-test-offset", 1);
    assert_int_equal(start(&svc, &own, 1, argv, 2), -1);
    assert_int_equal(svc.exit_code, 2);
    assert_string_equal(svc.err.field, "SP_CLOCK_OFFSET_FILE");
    unsetenv("SP_CLOCK_OFFSET_FILE");
    assert_int_equal(start(&svc, &own, 1, argv, 0), 0);
    assert_string_equal(svc.environment, "production");
    assert_int_equal(sp_service_finish(&svc, 0), 0);
    unsetenv("SP_ENVIRONMENT");
    assert_int_equal(start(&svc, &own, 1, argv, 0), 0);
    assert_string_equal(svc.environment, "development");
    assert_int_equal(sp_service_finish(&svc, 0), 0);
}

static void test_help_exits_0(void **state) {
    (void)state;
    sp_service svc;
    own_settings own = {0};
    char *argv[] = {"solipass-test", "--help", NULL};
    assert_int_equal(start(&svc, &own, 2, argv, 2), -1);
    assert_int_equal(svc.exit_code, 0);
}

static void test_ready_is_said_once(void **state) {
    (void)state;
    FILE *out = tmpfile();
    assert_non_null(out);
    sp_log log;
    sp_log_init(&log, "test", SP_LOG_INFO, out);
    sp_service_readiness readiness = {.log = &log, .ready = false};
    sp_error err;
    assert_int_equal(sp_service_on_assigned(&readiness, NULL, 0, &err), 0);
    sp_service_ready(&readiness);
    assert_true(readiness.ready);
    sp_log_destroy(&log);
    rewind(out);
    char line[512];
    int ready_lines = 0;
    while (fgets(line, sizeof line, out) != NULL) {
        if (strstr(line, "\"msg\":\"ready\"") != NULL) ready_lines++;
    }
    fclose(out);
    assert_int_equal(ready_lines, 1);
}

/* Last: the flag is the process's and stays set. */
static void test_sigterm_sets_the_stop_flag(void **state) {
    (void)state;
    sp_service svc;
    own_settings own = {0};
    char *argv[] = {"solipass-test", NULL};
    assert_int_equal(start(&svc, &own, 1, argv, 0), 0);
    assert_false(sp_service_stopping(&svc));
    assert_int_equal(raise(SIGTERM), 0);
    assert_true(sp_service_stopping(&svc));
    assert_int_equal(sp_service_finish(&svc, 0), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_start_reads_the_shared_settings, reset_env),
        cmocka_unit_test_setup(test_a_failed_run_exits_1, reset_env),
        cmocka_unit_test_setup(test_refusals_name_the_variable, reset_env),
        cmocka_unit_test_setup(test_production_refuses_the_clock_offset_file, reset_env),
        cmocka_unit_test_setup(test_help_exits_0, reset_env),
        cmocka_unit_test_setup(test_ready_is_said_once, reset_env),
        cmocka_unit_test_setup(test_sigterm_sets_the_stop_flag, reset_env),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
