/*
 * err.c: the error table. The enum, its sentences and its wire names all come
 * from the one TT_ERRORS list in err.h, so they cannot drift apart.
 */
#include "tcmtrace/err.h"

#include <stdio.h>
#include <string.h>

static const char *const sentences[] = {
#define TT_ERR_TEXT_(name, wire, text) text,
    TT_ERRORS(TT_ERR_TEXT_)
#undef TT_ERR_TEXT_
};

static const char *const wire_names[] = {
#define TT_ERR_WIRE_(name, wire, text) wire,
    TT_ERRORS(TT_ERR_WIRE_)
#undef TT_ERR_WIRE_
};

const char *tt_strerror(tt_err code)
{
    if ((unsigned)code >= (unsigned)TT_ERR_COUNT_)
        return "unknown error";
    return sentences[code];
}

const char *tt_err_name(tt_err code)
{
    if ((unsigned)code >= (unsigned)TT_ERR_COUNT_)
        return "unknown";
    return wire_names[code];
}

tt_err tt_err_from_name(const char *name)
{
    for (int i = 0; i < TT_ERR_COUNT_; i++)
        if (strcmp(wire_names[i], name) == 0)
            return (tt_err)i;
    return TT_ERR_COUNT_;
}

tt_err tt_fail(tt_error *err, tt_err code, const char *fmt, ...)
{
    if (err == NULL)
        return code;
    err->code = code;
    if (fmt == NULL) {
        snprintf(err->message, sizeof err->message, "%s", tt_strerror(code));
        return code;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    return code;
}

void tt_error_clear(tt_error *err)
{
    if (err == NULL)
        return;
    err->code = TT_OK;
    err->message[0] = '\0';
}
