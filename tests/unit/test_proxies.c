/* test_proxies.c - SP_TRUSTED_PROXIES: its parsing, and the client address
 * read from X-Forwarded-For only when the peer is a trusted proxy, from the
 * right, so that a client cannot choose the address it is counted under. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "gateway/http/proxies.h"

static const char *client(const sp_gw_proxies *p, const char *peer, const char *xff) {
    static char out[SP_GW_CLIENT_ADDRESS_MAX];
    sp_gw_client_address(p, peer, xff, out);
    return out;
}

static void test_parse_addresses_and_networks(void **state) {
    (void)state;
    sp_gw_proxies p;
    sp_error err;
    assert_int_equal(sp_gw_proxies_parse("", &p, &err), 0);
    assert_int_equal(p.count, 0);
    assert_int_equal(sp_gw_proxies_parse(" 10.0.0.5, 192.168.0.0/16 ::1\tfd00::/8,", &p, &err), 0);
    assert_int_equal(p.count, 4);
    assert_true(sp_gw_proxies_trusts(&p, "10.0.0.5"));
    assert_false(sp_gw_proxies_trusts(&p, "10.0.0.6"));
    assert_true(sp_gw_proxies_trusts(&p, "192.168.200.1"));
    assert_false(sp_gw_proxies_trusts(&p, "192.169.0.1"));
    assert_true(sp_gw_proxies_trusts(&p, "::1"));
    assert_true(sp_gw_proxies_trusts(&p, "fd12:3456::1"));
    assert_false(sp_gw_proxies_trusts(&p, "fe80::1"));
    assert_true(sp_gw_proxies_trusts(&p, "::ffff:10.0.0.5")); /* IPv4 on an IPv6 socket */
    assert_false(sp_gw_proxies_trusts(&p, "not-an-address"));
    /* host bits of a network are ignored; /0 trusts everyone of its family */
    assert_int_equal(sp_gw_proxies_parse("172.16.9.9/12 0.0.0.0/0", &p, &err), 0);
    assert_true(sp_gw_proxies_trusts(&p, "203.0.113.7"));
    assert_false(sp_gw_proxies_trusts(&p, "2001:db8::1"));
    const char *bad[] = {"10.0.0",      "10.0.0.1/33",   "::1/129",    "10.0.0.1/",
                         "10.0.0.1/-1", "proxy.example", "10.0.0.1/8x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(sp_gw_proxies_parse(bad[i], &p, &err), -1);
        assert_string_equal(err.field, "SP_TRUSTED_PROXIES");
        assert_non_null(strstr(err.message, bad[i]));
    }
    char many[40 * 12] = "";
    for (int i = 0; i < SP_GW_PROXIES_MAX + 1; i++) {
        char one[16];
        snprintf(one, sizeof one, "10.0.0.%d,", i);
        strcat(many, one);
    }
    assert_int_equal(sp_gw_proxies_parse(many, &p, &err), -1);
}

static void test_the_header_is_ignored_from_anyone_else(void **state) {
    (void)state;
    sp_gw_proxies none, p;
    sp_error err;
    assert_int_equal(sp_gw_proxies_parse("", &none, &err), 0);
    assert_int_equal(sp_gw_proxies_parse("10.0.0.5", &p, &err), 0);
    assert_string_equal(client(&none, "10.0.0.5", "198.51.100.7"), "10.0.0.5");
    assert_string_equal(client(&p, "203.0.113.9", "198.51.100.7"), "203.0.113.9");
    assert_string_equal(client(&p, "::ffff:203.0.113.9", NULL), "203.0.113.9");
}

static void test_the_right_most_untrusted_address_is_the_client(void **state) {
    (void)state;
    sp_gw_proxies p;
    sp_error err;
    assert_int_equal(sp_gw_proxies_parse("10.0.0.0/8", &p, &err), 0);
    assert_string_equal(client(&p, "10.0.0.5", "198.51.100.7"), "198.51.100.7");
    /* What a client wrote itself is to the left of what the proxy saw. */
    assert_string_equal(client(&p, "10.0.0.5", "1.2.3.4, 198.51.100.7"), "198.51.100.7");
    /* A chain of trusted proxies is walked through. */
    assert_string_equal(client(&p, "10.0.0.5", "1.2.3.4,198.51.100.7, 10.1.1.1 ,10.2.2.2"),
                        "198.51.100.7");
    assert_string_equal(client(&p, "10.0.0.5", "2001:DB8::0:1"), "2001:db8::1");
    /* No header, an empty one, garbage: the nearest trustworthy address. */
    assert_string_equal(client(&p, "10.0.0.5", NULL), "10.0.0.5");
    assert_string_equal(client(&p, "10.0.0.5", " , "), "10.0.0.5");
    assert_string_equal(client(&p, "10.0.0.5", "198.51.100.7, unknown"), "10.0.0.5");
    assert_string_equal(client(&p, "10.0.0.5", "garbage, 10.3.3.3"), "10.3.3.3");
    char long_entry[300];
    memset(long_entry, '1', sizeof long_entry - 1);
    long_entry[sizeof long_entry - 1] = '\0';
    assert_string_equal(client(&p, "10.0.0.5", long_entry), "10.0.0.5");
    /* Only trusted hops: the left-most one read. */
    assert_string_equal(client(&p, "10.0.0.5", "10.9.9.9, 10.8.8.8"), "10.9.9.9");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_addresses_and_networks),
        cmocka_unit_test(test_the_header_is_ignored_from_anyone_else),
        cmocka_unit_test(test_the_right_most_untrusted_address_is_the_client),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
