/* test_config.c - settings from the environment: defaults, required
 * variables, strict integers and booleans, flags and --help. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "sp_config.h"

typedef struct settings {
    const char *brokers;
    const char *offset_file;
    int64_t port;
    bool verbose;
} settings;

#define ITEM_COUNT 4

static void make_items(sp_config_item items[ITEM_COUNT], settings *s) {
    sp_config_item table[ITEM_COUNT] = {
        {"SP_TEST_BROKERS", SP_CONFIG_STRING, NULL, 0, 0, "Kafka bootstrap servers", &s->brokers},
        {"SP_TEST_OFFSET_FILE", SP_CONFIG_STRING, "", 0, 0, "clock offset file", &s->offset_file},
        {"SP_TEST_PORT", SP_CONFIG_INT, "8080", 1, 65535, "HTTP port", &s->port},
        {"SP_TEST_VERBOSE", SP_CONFIG_BOOL, "false", 0, 0, "more logs", &s->verbose},
    };
    memcpy(items, table, sizeof table);
}

static int reset_env(void **state) {
    (void)state;
    unsetenv("SP_TEST_BROKERS");
    unsetenv("SP_TEST_OFFSET_FILE");
    unsetenv("SP_TEST_PORT");
    unsetenv("SP_TEST_VERBOSE");
    return 0;
}

static sp_config_result load(settings *s, int argc, char **argv, sp_error *err) {
    sp_config_item items[ITEM_COUNT];
    make_items(items, s);
    sp_error_clear(err);
    return sp_config_load(items, ITEM_COUNT, argc, argv, "solipass-test", "A test binary.", err);
}

static char *no_args[] = {"solipass-test", NULL};

static void test_defaults_and_values(void **state) {
    (void)state;
    settings s = {0};
    sp_error err;
    setenv("SP_TEST_BROKERS", "127.0.0.1:9092", 1);
    assert_int_equal(load(&s, 1, no_args, &err), SP_CONFIG_OK);
    assert_string_equal(s.brokers, "127.0.0.1:9092");
    assert_string_equal(s.offset_file, "");
    assert_int_equal(s.port, 8080);
    assert_false(s.verbose);

    setenv("SP_TEST_PORT", "65535", 1);
    setenv("SP_TEST_VERBOSE", "yes", 1);
    setenv("SP_TEST_OFFSET_FILE", "/tmp/offset", 1);
    assert_int_equal(load(&s, 1, no_args, &err), SP_CONFIG_OK);
    assert_int_equal(s.port, 65535);
    assert_true(s.verbose);
    assert_string_equal(s.offset_file, "/tmp/offset");

    /* Empty means unset: the default applies. */
    setenv("SP_TEST_PORT", "", 1);
    assert_int_equal(load(&s, 1, no_args, &err), SP_CONFIG_OK);
    assert_int_equal(s.port, 8080);
}

static void test_required_variable(void **state) {
    (void)state;
    settings s = {0};
    sp_error err;
    assert_int_equal(load(&s, 1, no_args, &err), SP_CONFIG_FAILED);
    assert_string_equal(err.field, "SP_TEST_BROKERS");
    assert_non_null(strstr(err.message, "SP_TEST_BROKERS is required"));
    setenv("SP_TEST_BROKERS", "", 1);
    assert_int_equal(load(&s, 1, no_args, &err), SP_CONFIG_FAILED);
    assert_non_null(strstr(err.message, "SP_TEST_BROKERS"));
}

static void test_integer_is_strict(void **state) {
    (void)state;
    settings s = {0};
    sp_error err;
    setenv("SP_TEST_BROKERS", "b:1", 1);
    const char *bad[] = {"0",
                         "65536",
                         "-1",
                         "12abc",
                         "abc",
                         " 80",
                         "80 ",
                         "8.0",
                         "0x50",
                         "99999999999999999999",
                         "-99999999999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        setenv("SP_TEST_PORT", bad[i], 1);
        assert_int_equal(load(&s, 1, no_args, &err), SP_CONFIG_FAILED);
        assert_string_equal(err.field, "SP_TEST_PORT");
        char expected[SP_ERROR_MESSAGE_MAX];
        snprintf(expected, sizeof expected,
                 "SP_TEST_PORT must be an integer between 1 and 65535, got '%s'", bad[i]);
        assert_string_equal(err.message, expected);
    }
    /* Out of int64_t range is refused even when the bounds are int64_t's own. */
    int64_t wide = 0;
    sp_config_item wide_item = {"SP_TEST_WIDE", SP_CONFIG_INT, "0", INT64_MIN, INT64_MAX, "",
                                &wide};
    setenv("SP_TEST_WIDE", "9223372036854775807", 1);
    assert_int_equal(sp_config_load(&wide_item, 1, 1, no_args, "t", "", &err), SP_CONFIG_OK);
    assert_true(wide == INT64_MAX);
    setenv("SP_TEST_WIDE", "9223372036854775808", 1);
    assert_int_equal(sp_config_load(&wide_item, 1, 1, no_args, "t", "", &err), SP_CONFIG_FAILED);
    setenv("SP_TEST_WIDE", "-9223372036854775809", 1);
    assert_int_equal(sp_config_load(&wide_item, 1, 1, no_args, "t", "", &err), SP_CONFIG_FAILED);
    unsetenv("SP_TEST_WIDE");

    setenv("SP_TEST_PORT", "1", 1);
    assert_int_equal(load(&s, 1, no_args, &err), SP_CONFIG_OK);
    assert_int_equal(s.port, 1);
    setenv("SP_TEST_PORT", "+443", 1);
    assert_int_equal(load(&s, 1, no_args, &err), SP_CONFIG_OK);
    assert_int_equal(s.port, 443);
}

static void test_boolean_values(void **state) {
    (void)state;
    settings s = {0};
    sp_error err;
    setenv("SP_TEST_BROKERS", "b:1", 1);
    const char *truths[] = {"true", "1", "yes", "TRUE", "Yes"};
    for (size_t i = 0; i < sizeof truths / sizeof truths[0]; i++) {
        s.verbose = false;
        setenv("SP_TEST_VERBOSE", truths[i], 1);
        assert_int_equal(load(&s, 1, no_args, &err), SP_CONFIG_OK);
        assert_true(s.verbose);
    }
    const char *falsehoods[] = {"false", "0", "no", "NO"};
    for (size_t i = 0; i < sizeof falsehoods / sizeof falsehoods[0]; i++) {
        s.verbose = true;
        setenv("SP_TEST_VERBOSE", falsehoods[i], 1);
        assert_int_equal(load(&s, 1, no_args, &err), SP_CONFIG_OK);
        assert_false(s.verbose);
    }
    const char *bad[] = {"on", "2", "y", "truth", " true"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        setenv("SP_TEST_VERBOSE", bad[i], 1);
        assert_int_equal(load(&s, 1, no_args, &err), SP_CONFIG_FAILED);
        assert_string_equal(err.field, "SP_TEST_VERBOSE");
        assert_non_null(strstr(err.message, bad[i]));
    }
}

static void test_unknown_argument_fails(void **state) {
    (void)state;
    settings s = {0};
    sp_error err;
    setenv("SP_TEST_BROKERS", "b:1", 1);
    char *argv[] = {"solipass-test", "--verbose", NULL};
    assert_int_equal(load(&s, 2, argv, &err), SP_CONFIG_FAILED);
    assert_non_null(strstr(err.message, "--verbose"));
    char *argv2[] = {"solipass-test", "extra", NULL};
    assert_int_equal(load(&s, 2, argv2, &err), SP_CONFIG_FAILED);
    assert_non_null(strstr(err.message, "extra"));
}

static void test_flags(void **state) {
    (void)state;
    settings s = {0};
    sp_error err;
    setenv("SP_TEST_BROKERS", "b:1", 1);
    sp_config_item items[ITEM_COUNT];
    make_items(items, &s);
    bool rebuild = true, checksum = true;
    const sp_config_flag flags[] = {
        {"--rebuild", "replay from offset zero", &rebuild},
        {"--checksum", "print checksums", &checksum},
    };
    char *argv[] = {"solipass-test", "--checksum", NULL};
    assert_int_equal(sp_config_load_with_flags(items, ITEM_COUNT, flags, 2, 2, argv,
                                               "solipass-test", "A test binary.", &err),
                     SP_CONFIG_OK);
    assert_false(rebuild);
    assert_true(checksum);
    char *argv2[] = {"solipass-test", "--rebuild", "--exit-when-caught-up", NULL};
    assert_int_equal(sp_config_load_with_flags(items, ITEM_COUNT, flags, 2, 3, argv2,
                                               "solipass-test", "A test binary.", &err),
                     SP_CONFIG_FAILED);
    assert_non_null(strstr(err.message, "--exit-when-caught-up"));
}

/* Runs the load with stdout redirected to a file, returns what it printed. */
static sp_config_result load_capturing(const sp_config_flag *flags, size_t flag_count, char **argv,
                                       int argc, char *out, size_t out_size) {
    settings s = {0};
    sp_config_item items[ITEM_COUNT];
    make_items(items, &s);
    sp_error err;
    FILE *capture = tmpfile();
    assert_non_null(capture);
    fflush(stdout);
    int saved = dup(STDOUT_FILENO);
    assert_true(saved >= 0);
    assert_true(dup2(fileno(capture), STDOUT_FILENO) >= 0);
    sp_config_result result = sp_config_load_with_flags(items, ITEM_COUNT, flags, flag_count, argc,
                                                        argv, "solipass-test", "A test binary.",
                                                        &err);
    fflush(stdout);
    assert_true(dup2(saved, STDOUT_FILENO) >= 0);
    close(saved);
    rewind(capture);
    size_t len = fread(out, 1, out_size - 1, capture);
    out[len] = '\0';
    fclose(capture);
    return result;
}

static void test_help_lists_everything(void **state) {
    (void)state;
    bool rebuild = false;
    const sp_config_flag flags[] = {{"--rebuild", "replay from offset zero", &rebuild}};
    /* Help is shown even though the required variable is missing. */
    char *argv[] = {"solipass-test", "--help", NULL};
    char out[4096];
    assert_int_equal(load_capturing(flags, 1, argv, 2, out, sizeof out), SP_CONFIG_HELP_SHOWN);
    assert_non_null(strstr(out, "solipass-test"));
    assert_non_null(strstr(out, "A test binary."));
    assert_non_null(strstr(out, "--rebuild"));
    assert_non_null(strstr(out, "replay from offset zero"));
    assert_non_null(strstr(out, "SP_TEST_BROKERS (required)"));
    assert_non_null(strstr(out, "Kafka bootstrap servers"));
    assert_non_null(strstr(out, "SP_TEST_PORT (default 8080, integer 1..65535)"));
    assert_non_null(strstr(out, "HTTP port"));
    assert_non_null(strstr(out, "SP_TEST_OFFSET_FILE (default \"\")"));
    assert_non_null(strstr(out, "SP_TEST_VERBOSE (default false"));

    char *argv2[] = {"solipass-test", "--bogus", "-h", NULL};
    assert_int_equal(load_capturing(NULL, 0, argv2, 3, out, sizeof out), SP_CONFIG_HELP_SHOWN);
    assert_non_null(strstr(out, "SP_TEST_PORT"));
    assert_null(strstr(out, "--rebuild"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_defaults_and_values, reset_env),
        cmocka_unit_test_setup(test_required_variable, reset_env),
        cmocka_unit_test_setup(test_integer_is_strict, reset_env),
        cmocka_unit_test_setup(test_boolean_values, reset_env),
        cmocka_unit_test_setup(test_unknown_argument_fails, reset_env),
        cmocka_unit_test_setup(test_flags, reset_env),
        cmocka_unit_test_setup(test_help_lists_everything, reset_env),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
