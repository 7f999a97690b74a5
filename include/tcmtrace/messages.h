/*
 * tcmtrace/messages.h: what each error code means to a person.
 *
 * One row a wire code (every tt_err, and the few codes only clients say: unreachable,
 * unavailable, usage, key_check, not_saleable): what happened and what to do next, in
 * Chinese, and what to do in English (the English of what happened is tt_strerror's, or
 * the answer's own message). The CLI, the stall page and the phone page all read it.
 */
#ifndef TCMTRACE_MESSAGES_H
#define TCMTRACE_MESSAGES_H

#include <stddef.h>

typedef struct tt_message {
    const char *code;    /* the wire code */
    const char *zh;      /* what happened, a Chinese sentence */
    const char *todo;    /* what to do next, in Chinese */
    const char *todo_en; /* what to do next, in English */
} tt_message;

/* The row of `code`, or NULL when the table has none. */
const tt_message *tt_message_get(const char *code);

/* The rows, for tools and tests: tt_message_at(0 .. tt_message_count() - 1). */
size_t tt_message_count(void);
const tt_message *tt_message_at(size_t i);

/* The table as a JSON object {code: {zh, todo, en, todo_en}}, malloc'd (free it); NULL when
 * out of memory. */
char *tt_messages_json(void);

#endif
