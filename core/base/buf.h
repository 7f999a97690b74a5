/*
 * buf.h: a growing byte buffer, for the encoders of the library (the
 * binary records of rec.c, the compact JSON of jsonout.c). Once an
 * allocation fails the buffer stays failed and takes nothing more, so an
 * encoder checks once, at the end.
 */
#ifndef TCMTRACE_BUF_H
#define TCMTRACE_BUF_H

#include <stdlib.h>
#include <string.h>

typedef struct tt_buf {
    char *p;
    size_t n, cap;
    int failed;
} tt_buf;

/* Room for `more` bytes after the n held; 0, or -1 once failed. */
static inline int tt_buf_need(tt_buf *b, size_t more)
{
    if (b->failed)
        return -1;
    if (b->n + more <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->n + more)
        cap *= 2;
    char *np = realloc(b->p, cap);
    if (np == NULL) {
        b->failed = 1;
        return -1;
    }
    b->p = np;
    b->cap = cap;
    return 0;
}

static inline void tt_buf_put(tt_buf *b, const void *s, size_t len)
{
    if (len && tt_buf_need(b, len) == 0) {
        memcpy(b->p + b->n, s, len);
        b->n += len;
    }
}

static inline void tt_buf_putc(tt_buf *b, char c)
{
    if (tt_buf_need(b, 1) == 0)
        b->p[b->n++] = c;
}

#endif
