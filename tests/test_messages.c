/*
 * test_messages.c: every wire error code has its row in the message table, in Chinese and
 * in English, and the table served to the pages holds every row.
 */
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tcmtrace/err.h"
#include "tcmtrace/messages.h"

/* Whether s holds a CJK character (U+4E00..U+9FFF: lead bytes E4..E9). */
static int has_cjk(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p >= 0xE4 && *p <= 0xE9 && (p[1] & 0xC0) == 0x80 && (p[2] & 0xC0) == 0x80)
            return 1;
    return 0;
}

static void test_every_code_has_both_languages(void **state)
{
    (void)state;
    for (int e = 0; e < TT_ERR_COUNT_; e++) {
        const char *code = tt_err_name((tt_err)e);
        const tt_message *m = tt_message_get(code);
        if (m == NULL)
            fail_msg("the error code %s has no row in the message table", code);
        if (!has_cjk(m->zh) || !has_cjk(m->todo))
            fail_msg("%s: its row is not in Chinese", code);
        if (strlen(m->todo_en) < 8 || has_cjk(m->todo_en) || strlen(tt_strerror((tt_err)e)) < 5)
            fail_msg("%s: its English is missing", code);
    }
    for (size_t i = 0; i < tt_message_count(); i++) {
        const tt_message *m = tt_message_at(i);
        assert_non_null(m);
        assert_true(has_cjk(m->zh) && has_cjk(m->todo) && *m->todo_en);
        assert_ptr_equal(tt_message_get(m->code), m); /* each code once */
    }
    assert_null(tt_message_get("no_such_code"));
    assert_null(tt_message_at(tt_message_count()));
}

static void test_served_table(void **state)
{
    (void)state;
    char *s = tt_messages_json();
    assert_non_null(s);
    json_t *o = json_loads(s, 0, NULL);
    free(s);
    assert_non_null(o);
    assert_int_equal(json_object_size(o), tt_message_count());
    json_t *f = json_object_get(o, "frozen");
    assert_string_equal(json_string_value(json_object_get(f, "zh")), tt_message_get("frozen")->zh);
    assert_string_equal(json_string_value(json_object_get(f, "en")), tt_strerror(TT_ERR_FROZEN));
    assert_non_null(json_object_get(json_object_get(o, "unreachable"), "todo_en"));
    json_decref(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_code_has_both_languages),
        cmocka_unit_test(test_served_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
