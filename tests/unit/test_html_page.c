/* test_html_page.c - the bounded HTML page builder: escaping and overflow. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "gateway/web/html_page.h"

static void test_text_from_outside_is_escaped(void **state) {
    (void)state;
    char buf[128];
    sp_gw_html page = {.data = buf, .size = sizeof buf};
    sp_gw_html_add(&page, "<p>%s</p>", "Nom :");
    sp_gw_html_add_escaped(&page, "Club \"A&B\" <script>'x'");
    assert_false(page.overflow);
    assert_string_equal(buf, "<p>Nom :</p>Club &quot;A&amp;B&quot; &lt;script&gt;&#39;x&#39;");
    assert_int_equal(page.len, strlen(buf));
}

static void test_a_page_too_long_is_flagged_not_overrun(void **state) {
    (void)state;
    char buf[16 + 8];
    memset(buf, 'Z', sizeof buf);
    sp_gw_html page = {.data = buf, .size = 16};
    sp_gw_html_add(&page, "%s", "0123456789");
    sp_gw_html_add(&page, "%s", "0123456789"); /* does not fit */
    assert_true(page.overflow);
    assert_int_equal(page.len, 10);
    sp_gw_html_add_escaped(&page, "&"); /* ignored once overflowed */
    assert_int_equal(page.len, 10);
    for (size_t i = 16; i < sizeof buf; i++) assert_int_equal(buf[i], 'Z');
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text_from_outside_is_escaped),
        cmocka_unit_test(test_a_page_too_long_is_flagged_not_overrun),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
