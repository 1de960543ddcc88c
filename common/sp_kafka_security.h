/* sp_kafka_security.h - how every Kafka client authenticates and encrypts.
 *
 * The ledger trusts what is on its command topics, so who may write there
 * is decided by the brokers: SASL (SCRAM) names each service, ACLs let only
 * the gateway and the services write their topics, TLS keeps passwords and
 * payments off the wire. These settings reach every librdkafka client the
 * process makes (producer, consumers, metadata and replay clients): the
 * service skeleton (sp_service.h) reads them with its shared settings,
 * checks them, and installs them once before any client exists.
 *
 *   SP_KAFKA_SECURITY_PROTOCOL    plaintext | ssl | sasl_plaintext | sasl_ssl
 *   SP_KAFKA_SASL_MECHANISM       SCRAM-SHA-512 | SCRAM-SHA-256 | PLAIN (sasl_ssl only)
 *   SP_KAFKA_SASL_USERNAME, SP_KAFKA_SASL_PASSWORD
 *   SP_KAFKA_SSL_CA_FILE          PEM of the CA that signed the brokers' certificates
 *   SP_KAFKA_SSL_CERT_FILE, SP_KAFKA_SSL_KEY_FILE, SP_KAFKA_SSL_KEY_PASSWORD
 *                                 a client certificate (mutual TLS), optional
 *   SP_KAFKA_SSL_ENDPOINT_IDENTIFICATION  https (the broker's name is checked) | none
 *
 * The check is pure; sp_kafka_security_files_check() only tests that the
 * named files can be read. The installed copy is the process's one
 * configuration written once by main (through sp_service) before any
 * thread or client, read-only afterwards: threading it through every
 * client constructor of every service would say the same thing with more
 * room for a client that forgets it.
 *
 * Memory: the struct's strings are borrowed (the environment or the table's
 * literals, which live as long as the process); install copies the struct. */
#ifndef SP_KAFKA_SECURITY_H
#define SP_KAFKA_SECURITY_H

#include <stddef.h>
#include "sp_error.h"

#define SP_KAFKA_SECURITY_PAIRS_MAX 9     /* librdkafka properties it may set */
#define SP_KAFKA_SECURITY_TEXT_MAX 4096   /* bytes of any one setting */
#define SP_KAFKA_SASL_PASSWORD_LEN_MIN 16 /* bytes; no placeholder (sp_secret.h) */

typedef struct sp_kafka_security {
    const char *protocol; /* SP_KAFKA_SECURITY_PROTOCOL */
    const char *sasl_mechanism;
    const char *sasl_username;
    const char *sasl_password;
    const char *ssl_ca_file;
    const char *ssl_cert_file;
    const char *ssl_key_file;
    const char *ssl_key_password;
    const char *ssl_endpoint_identification;
} sp_kafka_security;

/* The entries of a binary's sp_config_item table (needs sp_config.h). */
/* clang-format off */
#define SP_KAFKA_SECURITY_CONFIG_ITEMS(s)                                                      \
    {"SP_KAFKA_SECURITY_PROTOCOL", SP_CONFIG_STRING, "plaintext", 0, 0,                        \
     "how Kafka clients connect: plaintext (a development broker on this host only), ssl, "    \
     "sasl_plaintext or sasl_ssl (production: SCRAM over TLS)", &(s)->protocol},               \
    {"SP_KAFKA_SASL_MECHANISM", SP_CONFIG_STRING, "", 0, 0,                                    \
     "with sasl_*: SCRAM-SHA-512, SCRAM-SHA-256, or PLAIN (sasl_ssl only)",                   \
     &(s)->sasl_mechanism},                                                                    \
    {"SP_KAFKA_SASL_USERNAME", SP_CONFIG_STRING, "", 0, 0,                                     \
     "with sasl_*: this service's Kafka user (the ACLs name it)", &(s)->sasl_username},         \
    {"SP_KAFKA_SASL_PASSWORD", SP_CONFIG_STRING, "", 0, 0,                                     \
     "with sasl_*: that user's password", &(s)->sasl_password},                                \
    {"SP_KAFKA_SSL_CA_FILE", SP_CONFIG_STRING, "", 0, 0,                                       \
     "with ssl or sasl_ssl: PEM file of the CA of the brokers' certificates; empty: the "      \
     "system's CAs", &(s)->ssl_ca_file},                                                       \
    {"SP_KAFKA_SSL_CERT_FILE", SP_CONFIG_STRING, "", 0, 0,                                     \
     "with ssl or sasl_ssl: PEM client certificate (mutual TLS), with SP_KAFKA_SSL_KEY_FILE",  \
     &(s)->ssl_cert_file},                                                                     \
    {"SP_KAFKA_SSL_KEY_FILE", SP_CONFIG_STRING, "", 0, 0,                                      \
     "PEM private key of that certificate", &(s)->ssl_key_file},                               \
    {"SP_KAFKA_SSL_KEY_PASSWORD", SP_CONFIG_STRING, "", 0, 0,                                  \
     "password of that key, when it is encrypted", &(s)->ssl_key_password},                    \
    {"SP_KAFKA_SSL_ENDPOINT_IDENTIFICATION", SP_CONFIG_STRING, "https", 0, 0,                  \
     "with ssl or sasl_ssl: https (the broker's certificate must name the host dialled) or "   \
     "none (never in production)", &(s)->ssl_endpoint_identification}
/* clang-format on */

/* Whether the settings make sense together: a known protocol; the three
 * SASL settings all set with sasl_* and none without, the password of 16
 * bytes or more and no placeholder (sp_secret.h); PLAIN only over TLS;
 * TLS settings only with ssl or sasl_ssl; certificate and key together, a
 * key password only with a key; https or none. 500 "invalid_config" naming
 * the variable otherwise. NULL strings count as "". */
int sp_kafka_security_check(const sp_kafka_security *s, sp_error *err);

/* Whether the files named can be read (500 "invalid_config" naming the
 * variable otherwise). Reads nothing but their permissions. */
int sp_kafka_security_files_check(const sp_kafka_security *s, sp_error *err);

/* The librdkafka properties of checked settings: name and value pairs in
 * names[i], values[i], at most SP_KAFKA_SECURITY_PAIRS_MAX; returns their
 * count. security.protocol always; the rest only when set. */
size_t sp_kafka_security_properties(const sp_kafka_security *s,
                                    const char *names[SP_KAFKA_SECURITY_PAIRS_MAX],
                                    const char *values[SP_KAFKA_SECURITY_PAIRS_MAX]);

/* Makes checked settings those of every client made from now on (a copy;
 * NULL: plaintext). Called once by main before any client or thread. */
void sp_kafka_security_install(const sp_kafka_security *s);
/* The installed settings (plaintext when none were). */
const sp_kafka_security *sp_kafka_security_installed(void);

#endif
