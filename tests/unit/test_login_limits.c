/* test_login_limits.c - the names of the shared login counts' rows
 * (sp_gw_login_key_hash): the same on every gateway for one secret, kind
 * and key, another for any other, and never the key itself. The counting
 * (one upsert in PostgreSQL) is tested over HTTP with two gateways:
 * tests/integration/test_login_limits_gateways.py. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include <sodium.h>

#include "gateway/http/login_limits.h"

static void test_one_name_per_secret_kind_and_key(void **state) {
    (void)state;
    char a[SP_GW_LOGIN_KEY_HASH_HEX_LEN + 1], b[SP_GW_LOGIN_KEY_HASH_HEX_LEN + 1];
    const char *secret = "a-long-enough-secret-for-the-links-0123456789";
    sp_gw_login_key_hash(secret, "account", "ada@example.org", a);
    assert_int_equal(strlen(a), SP_GW_LOGIN_KEY_HASH_HEX_LEN);
    assert_null(strstr(a, "ada"));
    sp_gw_login_key_hash(secret, "account", "ada@example.org", b);
    assert_string_equal(a, b); /* what another gateway computes */
    sp_gw_login_key_hash(secret, "address", "ada@example.org", b);
    assert_string_not_equal(a, b); /* kinds never share a row */
    sp_gw_login_key_hash("another-secret-of-another-city-0123456789", "account", "ada@example.org",
                         b);
    assert_string_not_equal(a, b); /* unguessable without the secret */
    sp_gw_login_key_hash(secret, "account", "ada@example.or", b);
    assert_string_not_equal(a, b);
    /* The kind ends where its NUL is: "account" + "x" is not "accountx" + "". */
    sp_gw_login_key_hash(secret, "account", "x", a);
    sp_gw_login_key_hash(secret, "accountx", "", b);
    assert_string_not_equal(a, b);
}

int main(void) {
    if (sodium_init() < 0) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_name_per_secret_kind_and_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
