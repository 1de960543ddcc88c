/* test_text.c - the bounded text builder: exact fits, overflow that sticks,
 * formatted appends that do not fit, and the markup escape. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "sp_text.h"

static void test_appends_until_the_buffer_is_exactly_full(void **state) {
    (void)state;
    char buf[8];
    sp_text t;
    sp_text_init(&t, buf, sizeof buf);
    assert_string_equal(buf, "");
    sp_text_put(&t, "abc");
    sp_text_putf(&t, "%d", 1234);
    assert_false(t.overflow);
    assert_string_equal(buf, "abc1234"); /* 7 bytes and the NUL: full */
    assert_int_equal(t.len, 7);
    sp_text_put_n(&t, "x", 1);
    assert_true(t.overflow);
    assert_string_equal(buf, "abc1234");
}

static void test_an_overflow_sticks_even_when_a_later_append_would_fit(void **state) {
    (void)state;
    char buf[6];
    sp_text t;
    sp_text_init(&t, buf, sizeof buf);
    sp_text_put(&t, "ab");
    sp_text_put(&t, "cdefgh");
    assert_true(t.overflow);
    sp_text_put(&t, "c");
    assert_string_equal(buf, "ab"); /* nothing after the first refusal */
    assert_int_equal(t.len, 2);
}

static void test_a_formatted_append_that_does_not_fit_leaves_no_cut_copy(void **state) {
    (void)state;
    char buf[10];
    sp_text t;
    sp_text_init(&t, buf, sizeof buf);
    sp_text_put(&t, "id=");
    sp_text_putf(&t, "%s", "0123456789");
    assert_true(t.overflow);
    assert_string_equal(buf, "id=");
}

static void test_markup_escapes_the_five_characters(void **state) {
    (void)state;
    char buf[128];
    sp_text t;
    sp_text_init(&t, buf, sizeof buf);
    sp_text_put_markup(&t, "L'Atelier <b>&</b> \"Les Amis\" é");
    assert_false(t.overflow);
    assert_string_equal(buf, "L&#39;Atelier &lt;b&gt;&amp;&lt;/b&gt; &quot;Les Amis&quot; é");
}

static void test_markup_that_does_not_fit_stops_at_a_whole_entity(void **state) {
    (void)state;
    char buf[8];
    sp_text t;
    sp_text_init(&t, buf, sizeof buf);
    sp_text_put_markup(&t, "ab&cd");
    assert_true(t.overflow);
    assert_string_equal(buf, "ab&amp;"); /* never half an entity */
}

/* Text from outside: strict UTF-8, characters counted, control characters seen. */
static void test_utf8_checks(void **state) {
    (void)state;
    const char *good = "Caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"; /* é, €, an emoji */
    assert_true(sp_text_utf8_valid(good, strlen(good)));
    assert_int_equal(sp_text_utf8_char_count(good, strlen(good)), 8);
    const char *bad[] = {
        "\xc3",             /* cut short */
        "\xc0\xaf",         /* overlong '/' */
        "\xed\xa0\x80",     /* a surrogate */
        "\xf4\x90\x80\x80", /* past U+10FFFF */
        "\xff",             /* never a lead byte */
        "a\x80",            /* a lone continuation byte */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_false(sp_text_utf8_valid(bad[i], strlen(bad[i])));
    assert_false(sp_text_has_control_char(good, strlen(good)));
    assert_true(sp_text_has_control_char("a\tb", 3));
    assert_true(sp_text_has_control_char("\x7f", 1));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_appends_until_the_buffer_is_exactly_full),
        cmocka_unit_test(test_an_overflow_sticks_even_when_a_later_append_would_fit),
        cmocka_unit_test(test_a_formatted_append_that_does_not_fit_leaves_no_cut_copy),
        cmocka_unit_test(test_markup_escapes_the_five_characters),
        cmocka_unit_test(test_markup_that_does_not_fit_stops_at_a_whole_entity),
        cmocka_unit_test(test_utf8_checks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
