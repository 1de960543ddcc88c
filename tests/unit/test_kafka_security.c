/* test_kafka_security.c - the Kafka clients' security settings: what each
 * combination becomes in librdkafka's properties, and every inconsistent
 * combination refused naming its variable. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "sp_kafka_security.h"

/* The value librdkafka gets for name, NULL when it is not set. */
static const char *property(const sp_kafka_security *s, const char *name) {
    const char *names[SP_KAFKA_SECURITY_PAIRS_MAX], *values[SP_KAFKA_SECURITY_PAIRS_MAX];
    size_t n = sp_kafka_security_properties(s, names, values);
    assert_true(n >= 1 && n <= SP_KAFKA_SECURITY_PAIRS_MAX);
    for (size_t i = 0; i < n; i++) {
        if (strcmp(names[i], name) == 0) return values[i];
    }
    return NULL;
}

static size_t property_count(const sp_kafka_security *s) {
    const char *names[SP_KAFKA_SECURITY_PAIRS_MAX], *values[SP_KAFKA_SECURITY_PAIRS_MAX];
    return sp_kafka_security_properties(s, names, values);
}

static sp_kafka_security production(void) {
    sp_kafka_security s = {.protocol = "SASL_SSL",
                           .sasl_mechanism = "SCRAM-SHA-512",
                           .sasl_username = "solipass-gateway",
                           .sasl_password = "Qm9v3xTz8Lr2Wp6Yk1",
                           .ssl_ca_file = "/etc/solipass/kafka-ca.pem",
                           .ssl_endpoint_identification = "https"};
    return s;
}

static void test_plaintext_sets_only_the_protocol(void **state) {
    (void)state;
    sp_kafka_security s = {.protocol = "plaintext", .ssl_endpoint_identification = "https"};
    sp_error err;
    assert_int_equal(sp_kafka_security_check(&s, &err), 0);
    assert_int_equal(property_count(&s), 1);
    assert_string_equal(property(&s, "security.protocol"), "plaintext");
    /* Nothing installed yet: plaintext. */
    assert_string_equal(property(sp_kafka_security_installed(), "security.protocol"), "plaintext");
}

static void test_sasl_ssl_with_scram_maps_every_setting(void **state) {
    (void)state;
    sp_kafka_security s = production();
    sp_error err;
    assert_int_equal(sp_kafka_security_check(&s, &err), 0);
    assert_string_equal(property(&s, "security.protocol"), "sasl_ssl");
    assert_string_equal(property(&s, "sasl.mechanisms"), "SCRAM-SHA-512");
    assert_string_equal(property(&s, "sasl.username"), "solipass-gateway");
    assert_string_equal(property(&s, "sasl.password"), "Qm9v3xTz8Lr2Wp6Yk1");
    assert_string_equal(property(&s, "ssl.ca.location"), "/etc/solipass/kafka-ca.pem");
    assert_string_equal(property(&s, "ssl.endpoint.identification.algorithm"), "https");
    assert_null(property(&s, "ssl.certificate.location"));
    assert_null(property(&s, "ssl.key.password"));
    s.ssl_cert_file = "/etc/solipass/gw.pem";
    s.ssl_key_file = "/etc/solipass/gw.key";
    s.ssl_key_password = "kp";
    s.ssl_endpoint_identification = "none";
    assert_int_equal(sp_kafka_security_check(&s, &err), 0);
    assert_string_equal(property(&s, "ssl.certificate.location"), "/etc/solipass/gw.pem");
    assert_string_equal(property(&s, "ssl.key.location"), "/etc/solipass/gw.key");
    assert_string_equal(property(&s, "ssl.key.password"), "kp");
    assert_string_equal(property(&s, "ssl.endpoint.identification.algorithm"), "none");
    assert_int_equal(property_count(&s), SP_KAFKA_SECURITY_PAIRS_MAX);
    /* Installed, it is what every client gets. */
    sp_kafka_security_install(&s);
    assert_string_equal(property(sp_kafka_security_installed(), "sasl.username"),
                        "solipass-gateway");
    sp_kafka_security_install(NULL);
    assert_int_equal(property_count(sp_kafka_security_installed()), 1);
}

static void test_ssl_without_sasl_sets_no_sasl(void **state) {
    (void)state;
    sp_kafka_security s = {.protocol = "ssl", .ssl_endpoint_identification = "https"};
    sp_error err;
    assert_int_equal(sp_kafka_security_check(&s, &err), 0);
    assert_null(property(&s, "sasl.username"));
    assert_string_equal(property(&s, "ssl.endpoint.identification.algorithm"), "https");
    s.protocol = "sasl_plaintext";
    s.sasl_mechanism = "SCRAM-SHA-256";
    s.sasl_username = "u";
    s.sasl_password = "Qm9v3xTz8Lr2Wp6Yk1";
    assert_int_equal(sp_kafka_security_check(&s, &err), 0);
    assert_null(property(&s, "ssl.endpoint.identification.algorithm"));
}

static void expect_refused(const sp_kafka_security *s, const char *field) {
    sp_error err;
    assert_int_equal(sp_kafka_security_check(s, &err), -1);
    assert_string_equal(err.code, "invalid_config");
    assert_string_equal(err.field, field);
    assert_non_null(strstr(err.message, "SP_KAFKA_"));
}

static void test_inconsistent_settings_are_refused_by_name(void **state) {
    (void)state;
    sp_kafka_security s = production();
    s.protocol = "tls";
    expect_refused(&s, "SP_KAFKA_SECURITY_PROTOCOL");
    s = production();
    s.sasl_mechanism = "GSSAPI";
    expect_refused(&s, "SP_KAFKA_SASL_MECHANISM");
    s = production();
    s.protocol = "sasl_plaintext";
    s.ssl_ca_file = "";
    s.sasl_mechanism = "PLAIN"; /* a password in clear */
    expect_refused(&s, "SP_KAFKA_SASL_MECHANISM");
    s = production();
    s.sasl_username = "";
    expect_refused(&s, "SP_KAFKA_SASL_USERNAME");
    s = production();
    s.sasl_password = NULL;
    expect_refused(&s, "SP_KAFKA_SASL_PASSWORD");
    s = production();
    s.sasl_password = "change-me-to-this-service-s-kafka-password"; /* the example's */
    sp_error err;
    assert_int_equal(sp_kafka_security_check(&s, &err), -1);
    assert_string_equal(err.field, "SP_KAFKA_SASL_PASSWORD");
    assert_string_equal(err.code, "weak_secret");
    s.sasl_password = "short";
    assert_int_equal(sp_kafka_security_check(&s, &err), -1);
    s = production();
    s.protocol = "plaintext"; /* SASL settings that would be ignored */
    s.ssl_ca_file = "";
    expect_refused(&s, "SP_KAFKA_SASL_USERNAME");
    sp_kafka_security t = {.protocol = "plaintext", .ssl_ca_file = "/ca.pem"};
    expect_refused(&t, "SP_KAFKA_SSL_CA_FILE");
    s = production();
    s.ssl_cert_file = "/gw.pem";
    expect_refused(&s, "SP_KAFKA_SSL_KEY_FILE");
    s = production();
    s.ssl_key_password = "kp";
    expect_refused(&s, "SP_KAFKA_SSL_KEY_PASSWORD");
    s = production();
    s.ssl_endpoint_identification = "off";
    expect_refused(&s, "SP_KAFKA_SSL_ENDPOINT_IDENTIFICATION");
}

static void test_unreadable_files_are_named(void **state) {
    (void)state;
    sp_kafka_security s = production();
    sp_error err;
    assert_int_equal(sp_kafka_security_files_check(&s, &err), -1);
    assert_string_equal(err.field, "SP_KAFKA_SSL_CA_FILE");
    s.ssl_ca_file = "/etc/passwd"; /* readable by everyone */
    assert_int_equal(sp_kafka_security_files_check(&s, &err), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plaintext_sets_only_the_protocol),
        cmocka_unit_test(test_sasl_ssl_with_scram_maps_every_setting),
        cmocka_unit_test(test_ssl_without_sasl_sets_no_sasl),
        cmocka_unit_test(test_inconsistent_settings_are_refused_by_name),
        cmocka_unit_test(test_unreadable_files_are_named),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
