/*
 * jsonin.h: the library's JSON reader (core/jsonin.c), inside the library
 * and for its tests. Programs use tt_json_load (tcmtrace/api.h).
 */
#ifndef TCMTRACE_JSONIN_H
#define TCMTRACE_JSONIN_H

#include <jansson.h>
#include <stddef.h>

#include "tcmtrace/api.h"

/* The document in buf, read by the project's reader alone: NULL for what
 * it leaves to jansson (and when memory runs out). */
json_t *tt_json_load_fast(const char *buf, size_t len);

#endif
