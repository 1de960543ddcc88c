/* sp_kafka_security.c - Kafka clients' SASL and TLS settings (see sp_kafka_security.h). */
#include "sp_kafka_security.h"
#include "sp_secret.h"

#include <assert.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

static const char *text_of(const char *s) {
    return s != NULL ? s : "";
}

static bool set(const char *s) {
    return s != NULL && s[0] != '\0';
}

/* librdkafka's name of a protocol setting, NULL when unknown. */
static const char *protocol_name(const char *protocol) {
    static const char *const names[] = {"plaintext", "ssl", "sasl_plaintext", "sasl_ssl"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (strcasecmp(text_of(protocol), names[i]) == 0) return names[i];
    }
    return NULL;
}

static bool is_sasl(const char *protocol) {
    return strncmp(protocol, "sasl_", 5) == 0;
}

static bool is_tls(const char *protocol) {
    return strcmp(protocol, "ssl") == 0 || strcmp(protocol, "sasl_ssl") == 0;
}

static int check_lengths(const sp_kafka_security *s, sp_error *err) {
    const struct {
        const char *name;
        const char *value;
    } all[] = {
        {"SP_KAFKA_SECURITY_PROTOCOL", s->protocol},
        {"SP_KAFKA_SASL_MECHANISM", s->sasl_mechanism},
        {"SP_KAFKA_SASL_USERNAME", s->sasl_username},
        {"SP_KAFKA_SASL_PASSWORD", s->sasl_password},
        {"SP_KAFKA_SSL_CA_FILE", s->ssl_ca_file},
        {"SP_KAFKA_SSL_CERT_FILE", s->ssl_cert_file},
        {"SP_KAFKA_SSL_KEY_FILE", s->ssl_key_file},
        {"SP_KAFKA_SSL_KEY_PASSWORD", s->ssl_key_password},
        {"SP_KAFKA_SSL_ENDPOINT_IDENTIFICATION", s->ssl_endpoint_identification},
    };
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        if (strnlen(text_of(all[i].value), SP_KAFKA_SECURITY_TEXT_MAX + 1) >
            SP_KAFKA_SECURITY_TEXT_MAX)
            return sp_error_set(err, 500, "invalid_config", all[i].name,
                                "%s is longer than %d bytes", all[i].name,
                                SP_KAFKA_SECURITY_TEXT_MAX);
    }
    return 0;
}

static int check_sasl(const sp_kafka_security *s, const char *protocol, sp_error *err) {
    if (!is_sasl(protocol)) {
        if (set(s->sasl_mechanism) || set(s->sasl_username) || set(s->sasl_password))
            return sp_error_set(err, 500, "invalid_config", "SP_KAFKA_SASL_USERNAME",
                                "SP_KAFKA_SASL_* are set but SP_KAFKA_SECURITY_PROTOCOL is %s: "
                                "use sasl_ssl, or unset them",
                                protocol);
        return 0;
    }
    const char *mechanism = text_of(s->sasl_mechanism);
    if (strcmp(mechanism, "SCRAM-SHA-512") != 0 && strcmp(mechanism, "SCRAM-SHA-256") != 0 &&
        strcmp(mechanism, "PLAIN") != 0)
        return sp_error_set(err, 500, "invalid_config", "SP_KAFKA_SASL_MECHANISM",
                            "SP_KAFKA_SASL_MECHANISM must be SCRAM-SHA-512, SCRAM-SHA-256 or "
                            "PLAIN with %s, got '%.40s'",
                            protocol, mechanism);
    /* PLAIN sends the password itself: only inside TLS. */
    if (strcmp(mechanism, "PLAIN") == 0 && !is_tls(protocol))
        return sp_error_set(err, 500, "invalid_config", "SP_KAFKA_SASL_MECHANISM",
                            "SP_KAFKA_SASL_MECHANISM PLAIN sends the password in clear over "
                            "sasl_plaintext: use "
                            "SCRAM-SHA-512, or sasl_ssl");
    if (!set(s->sasl_username))
        return sp_error_set(err, 500, "invalid_config", "SP_KAFKA_SASL_USERNAME",
                            "SP_KAFKA_SASL_USERNAME is required with %s", protocol);
    if (!set(s->sasl_password))
        return sp_error_set(err, 500, "invalid_config", "SP_KAFKA_SASL_PASSWORD",
                            "SP_KAFKA_SASL_PASSWORD is required with %s", protocol);
    /* The examples' placeholder must not reach a broker. */
    return sp_secret_check(s->sasl_password, "SP_KAFKA_SASL_PASSWORD",
                           SP_KAFKA_SASL_PASSWORD_LEN_MIN, SP_SECRET_PASSWORD_DISTINCT_MIN, err);
}

static int check_tls(const sp_kafka_security *s, const char *protocol, sp_error *err) {
    const char *identification = text_of(s->ssl_endpoint_identification);
    if (identification[0] != '\0' && strcmp(identification, "https") != 0 &&
        strcmp(identification, "none") != 0)
        return sp_error_set(err, 500, "invalid_config", "SP_KAFKA_SSL_ENDPOINT_IDENTIFICATION",
                            "SP_KAFKA_SSL_ENDPOINT_IDENTIFICATION must be https or none, got "
                            "'%.40s'",
                            identification);
    if (!is_tls(protocol)) {
        if (set(s->ssl_ca_file) || set(s->ssl_cert_file) || set(s->ssl_key_file) ||
            set(s->ssl_key_password))
            return sp_error_set(err, 500, "invalid_config", "SP_KAFKA_SSL_CA_FILE",
                                "SP_KAFKA_SSL_* files are set but SP_KAFKA_SECURITY_PROTOCOL is "
                                "%s: use ssl or sasl_ssl, or unset them",
                                protocol);
        return 0;
    }
    if (set(s->ssl_cert_file) != set(s->ssl_key_file))
        return sp_error_set(err, 500, "invalid_config",
                            set(s->ssl_cert_file) ? "SP_KAFKA_SSL_KEY_FILE"
                                                  : "SP_KAFKA_SSL_CERT_FILE",
                            "SP_KAFKA_SSL_CERT_FILE and SP_KAFKA_SSL_KEY_FILE go together");
    if (set(s->ssl_key_password) && !set(s->ssl_key_file))
        return sp_error_set(err, 500, "invalid_config", "SP_KAFKA_SSL_KEY_PASSWORD",
                            "SP_KAFKA_SSL_KEY_PASSWORD is set without SP_KAFKA_SSL_KEY_FILE");
    return 0;
}

int sp_kafka_security_check(const sp_kafka_security *s, sp_error *err) {
    assert(s != NULL);
    if (check_lengths(s, err) != 0) return -1;
    const char *protocol = protocol_name(s->protocol);
    if (protocol == NULL)
        return sp_error_set(err, 500, "invalid_config", "SP_KAFKA_SECURITY_PROTOCOL",
                            "SP_KAFKA_SECURITY_PROTOCOL must be plaintext, ssl, sasl_plaintext "
                            "or sasl_ssl, got '%.40s'",
                            text_of(s->protocol));
    if (check_sasl(s, protocol, err) != 0) return -1;
    return check_tls(s, protocol, err);
}

int sp_kafka_security_files_check(const sp_kafka_security *s, sp_error *err) {
    assert(s != NULL);
    const struct {
        const char *name;
        const char *path;
    } files[] = {
        {"SP_KAFKA_SSL_CA_FILE", s->ssl_ca_file},
        {"SP_KAFKA_SSL_CERT_FILE", s->ssl_cert_file},
        {"SP_KAFKA_SSL_KEY_FILE", s->ssl_key_file},
    };
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        if (set(files[i].path) && access(files[i].path, R_OK) != 0)
            return sp_error_set(err, 500, "invalid_config", files[i].name,
                                "%s names '%.200s', which this process cannot read", files[i].name,
                                files[i].path);
    }
    return 0;
}

static size_t add(const char *names[], const char *values[], size_t n, const char *name,
                  const char *value) {
    assert(n < SP_KAFKA_SECURITY_PAIRS_MAX);
    names[n] = name;
    values[n] = value;
    return n + 1;
}

size_t sp_kafka_security_properties(const sp_kafka_security *s,
                                    const char *names[SP_KAFKA_SECURITY_PAIRS_MAX],
                                    const char *values[SP_KAFKA_SECURITY_PAIRS_MAX]) {
    assert(s != NULL);
    const char *protocol = protocol_name(s->protocol);
    assert(protocol != NULL); /* checked before */
    size_t n = add(names, values, 0, "security.protocol", protocol);
    if (is_sasl(protocol)) {
        n = add(names, values, n, "sasl.mechanisms", s->sasl_mechanism);
        n = add(names, values, n, "sasl.username", s->sasl_username);
        n = add(names, values, n, "sasl.password", s->sasl_password);
    }
    if (is_tls(protocol)) {
        if (set(s->ssl_ca_file)) n = add(names, values, n, "ssl.ca.location", s->ssl_ca_file);
        if (set(s->ssl_cert_file))
            n = add(names, values, n, "ssl.certificate.location", s->ssl_cert_file);
        if (set(s->ssl_key_file)) n = add(names, values, n, "ssl.key.location", s->ssl_key_file);
        if (set(s->ssl_key_password))
            n = add(names, values, n, "ssl.key.password", s->ssl_key_password);
        n = add(names, values, n, "ssl.endpoint.identification.algorithm",
                strcmp(text_of(s->ssl_endpoint_identification), "none") == 0 ? "none" : "https");
    }
    return n;
}

/* Written once by main before any client or thread (see the header). */
static sp_kafka_security installed = {.protocol = "plaintext"};

void sp_kafka_security_install(const sp_kafka_security *s) {
    static const sp_kafka_security plaintext = {.protocol = "plaintext"};
    installed = s != NULL ? *s : plaintext;
}

const sp_kafka_security *sp_kafka_security_installed(void) {
    return &installed;
}
