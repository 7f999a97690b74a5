/*
 * jsonin.c: JSON documents read into jansson values, the values
 * json_loadb(buf, len, flags, err) gives, made faster.
 *
 * jansson 2.14 reads a document one byte at a time through a stream
 * callback, saving every token's text before it converts it: a 590-byte
 * event body takes about 12 µs to read, of which making its values is
 * about 2 µs (docs/bench.md). Every event is read when it is checked, again
 * when an audit replays it, and a trace reads the entries of every lot it
 * shows. This reader walks the bytes once and makes the same values in the
 * same order.
 *
 * It reads only what it is sure of: an object or an array, with strings of
 * valid UTF-8 (escapes included, surrogate pairs joined), integers jansson
 * can hold, reals strtod reads without overflow or underflow, the three
 * literals, at most READ_DEPTH deep and with no key twice in an object.
 * Anything else (every error among it) is left to jansson, which reads the
 * document afresh and gives its own answer and its own message. So a
 * document either reads here to what jansson would make of it, or jansson
 * reads it: tests/test_jsonin.c and tests/fuzz/fuzz_jsonin.c hold the two
 * to that.
 */
#define _GNU_SOURCE /* strtod_l */
#include "query/jsonin.h"

#include <errno.h>
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define READ_DEPTH 256

typedef struct reader {
    const unsigned char *p, *end;
    int depth;
} reader;

static json_t *read_value(reader *r);

static void skip_ws(reader *r)
{
    while (r->p < r->end && (*r->p == ' ' || *r->p == '\n' || *r->p == '\r' || *r->p == '\t'))
        r->p++;
}

/* The length of the UTF-8 sequence at p (RFC 3629: no overlong forms, no
 * surrogates, nothing past U+10FFFF), or 0. */
static size_t utf8_seq(const unsigned char *p, const unsigned char *end)
{
    unsigned c = p[0];
    size_t left = (size_t)(end - p);
    if (c >= 0xC2 && c <= 0xDF)
        return left >= 2 && (p[1] & 0xC0) == 0x80 ? 2 : 0;
    if (c >= 0xE0 && c <= 0xEF) {
        if (left < 3 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80)
            return 0;
        if ((c == 0xE0 && p[1] < 0xA0) || (c == 0xED && p[1] > 0x9F))
            return 0;
        return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        if (left < 4 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80 || (p[3] & 0xC0) != 0x80)
            return 0;
        if ((c == 0xF0 && p[1] < 0x90) || (c == 0xF4 && p[1] > 0x8F))
            return 0;
        return 4;
    }
    return 0;
}

static int hex4(const unsigned char *p, const unsigned char *end, unsigned *out)
{
    if (end - p < 4)
        return -1;
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned c = p[i], d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            d = c - 'A' + 10;
        else
            return -1;
        v = v << 4 | d;
    }
    *out = v;
    return 0;
}

/* what the one-letter escape \<c> stands for */
static const char UNESC[256] = {['"'] = '"',  ['\\'] = '\\', ['/'] = '/',  ['b'] = '\b',
                                ['f'] = '\f', ['n'] = '\n',  ['r'] = '\r', ['t'] = '\t'};

/* Decodes the escapes of the string body [s, e) (checked by read_string)
 * into out, which has room for e - s bytes; its length. */
static size_t unescape(const unsigned char *s, const unsigned char *e, char *out)
{
    size_t n = 0;
    while (s < e) {
        if (*s != '\\') {
            out[n++] = (char)*s++;
            continue;
        }
        s++;
        unsigned char c = *s++;
        if (c != 'u') { /* " \ / b f n r t */
            out[n++] = UNESC[c];
            continue;
        }
        unsigned u, lo;
        hex4(s, e, &u);
        s += 4;
        if (u >= 0xD800 && u <= 0xDBFF) { /* read_string saw its low half */
            hex4(s + 2, e, &lo);
            s += 6;
            u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
        }
        if (u < 0x80) {
            out[n++] = (char)u;
        } else if (u < 0x800) {
            out[n++] = (char)(0xC0 | u >> 6);
            out[n++] = (char)(0x80 | (u & 0x3F));
        } else if (u < 0x10000) {
            out[n++] = (char)(0xE0 | u >> 12);
            out[n++] = (char)(0x80 | (u >> 6 & 0x3F));
            out[n++] = (char)(0x80 | (u & 0x3F));
        } else {
            out[n++] = (char)(0xF0 | u >> 18);
            out[n++] = (char)(0x80 | (u >> 12 & 0x3F));
            out[n++] = (char)(0x80 | (u >> 6 & 0x3F));
            out[n++] = (char)(0x80 | (u & 0x3F));
        }
    }
    return n;
}

/*
 * The string at r->p (after its opening quote): its body [*s, *e), and
 * whether it has escapes; -1 for anything left to jansson (a control
 * byte, bad UTF-8 or escape, a lone surrogate half, \u0000, no end).
 */
static int read_string(reader *r, const unsigned char **s, const unsigned char **e)
{
    const unsigned char *p = r->p;
    int escaped = 0;
    *s = p;
    while (p < r->end) {
        unsigned c = *p;
        if (c == '"') {
            *e = p;
            r->p = p + 1;
            return escaped;
        }
        if (c < 0x20)
            return -1;
        if (c < 0x80) {
            if (c == '\\') {
                if (++p == r->end)
                    return -1;
                escaped = 1;
                unsigned u, lo;
                switch (*p) {
                case 'u':
                    if (hex4(p + 1, r->end, &u) != 0 || u == 0 || (u >= 0xDC00 && u <= 0xDFFF))
                        return -1;
                    p += 5;
                    if (u >= 0xD800 && u <= 0xDBFF) {
                        if (r->end - p < 6 || p[0] != '\\' || p[1] != 'u' ||
                            hex4(p + 2, r->end, &lo) != 0 || lo < 0xDC00 || lo > 0xDFFF)
                            return -1;
                        p += 6;
                    }
                    break;
                default: /* " \ / b f n r t */
                    if (!UNESC[*p])
                        return -1;
                    p++;
                }
                continue;
            }
            p++;
            continue;
        }
        size_t k = utf8_seq(p, r->end);
        if (k == 0)
            return -1;
        p += k;
    }
    return -1;
}

/* A string value, or NULL (left to jansson, or no memory). */
static json_t *string_value(reader *r)
{
    const unsigned char *s, *e;
    int esc = read_string(r, &s, &e);
    if (esc < 0)
        return NULL;
    if (!esc)
        return json_stringn_nocheck((const char *)s, (size_t)(e - s));
    char stack[256], *out = (size_t)(e - s) <= sizeof stack ? stack : malloc((size_t)(e - s));
    if (out == NULL)
        return NULL;
    json_t *v = json_stringn_nocheck(out, unescape(s, e, out));
    if (out != stack)
        free(out);
    return v;
}

static locale_t c_locale;
static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;

static void c_locale_make(void)
{
    c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
}

/* Past one or more digits at p, or NULL when there is none. */
static const unsigned char *digits(const unsigned char *p, const unsigned char *end)
{
    if (p == end || *p < '0' || *p > '9')
        return NULL;
    while (p < end && *p >= '0' && *p <= '9')
        p++;
    return p;
}

/* A number, as jansson's grammar has it: an integer unless it has a
 * fraction or an exponent. */
static json_t *number_value(reader *r)
{
    const unsigned char *p = r->p, *start = p, *end = r->end;
    int real = 0;
    if (p < end && *p == '-')
        p++;
    if (p < end && *p == '0')
        p++;
    else if (p < end && *p >= '1' && *p <= '9')
        while (p < end && *p >= '0' && *p <= '9')
            p++;
    else
        return NULL;
    if (p < end && *p == '.') {
        if ((p = digits(p + 1, end)) == NULL)
            return NULL;
        real = 1;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            p++;
        if ((p = digits(p, end)) == NULL)
            return NULL;
        real = 1;
    }
    size_t n = (size_t)(p - start);
    r->p = p;
    if (!real) {
        /* up to 18 digits cannot overflow a 64-bit integer; longer is jansson's */
        const unsigned char *d = start + (*start == '-');
        if (p - d > 18)
            return NULL;
        int64_t v = 0;
        for (; d < p; d++)
            v = v * 10 + (*d - '0');
        return json_integer((json_int_t)(*start == '-' ? -v : v));
    }
    char text[64];
    if (n >= sizeof text)
        return NULL;
    memcpy(text, start, n);
    text[n] = '\0';
    pthread_once(&c_locale_once, c_locale_make);
    if (c_locale == (locale_t)0)
        return NULL;
    errno = 0;
    char *stop;
    double v = strtod_l(text, &stop, c_locale);
    if (errno != 0 || stop != text + n || !isfinite(v))
        return NULL; /* overflow and underflow: jansson's own words for them */
    return json_real(v);
}

static int literal(reader *r, const char *word, size_t n)
{
    if ((size_t)(r->end - r->p) < n || memcmp(r->p, word, n) != 0)
        return 0;
    r->p += n;
    return 1;
}

/* After a member of a container closed by `close`: 1 when the container
 * ends there, 0 when a comma (and white space) leads to the next member,
 * -1 for anything else. */
static int after_member(reader *r, char close)
{
    skip_ws(r);
    if (r->p == r->end)
        return -1;
    if (*r->p == close) {
        r->p++;
        return 1;
    }
    if (*r->p != ',')
        return -1;
    r->p++;
    skip_ws(r);
    return 0;
}

/* One member "key": value of object o, at r->p; 0 for what is left to jansson. */
static int read_member(reader *r, json_t *o)
{
    const unsigned char *s, *e;
    if (r->p == r->end || *r->p != '"')
        return 0;
    r->p++;
    int esc = read_string(r, &s, &e);
    if (esc < 0)
        return 0;
    char stack[128], *key = (char *)s;
    size_t klen = (size_t)(e - s);
    if (esc) {
        key = klen <= sizeof stack ? stack : malloc(klen);
        if (key == NULL)
            return 0;
        klen = unescape(s, e, key);
    }
    json_t *v = NULL;
    int ok = json_object_getn(o, key, klen) == NULL; /* a key twice: jansson's to judge */
    if (ok) {
        skip_ws(r);
        ok = r->p < r->end && *r->p == ':';
    }
    if (ok) {
        r->p++;
        skip_ws(r);
        ok = (v = read_value(r)) != NULL;
    }
    if (ok)
        ok = json_object_setn_new_nocheck(o, key, klen, v) == 0;
    if (esc && key != stack)
        free(key);
    return ok;
}

/* An object or an array, after its opening bracket. */
static json_t *read_container(reader *r, int object)
{
    json_t *c = object ? json_object() : json_array();
    char close = object ? '}' : ']';
    if (c == NULL)
        return NULL;
    skip_ws(r);
    if (r->p < r->end && *r->p == close) {
        r->p++;
        return c;
    }
    for (;;) {
        int ok;
        if (object) {
            ok = read_member(r, c);
        } else {
            json_t *v = read_value(r);
            ok = v != NULL && json_array_append_new(c, v) == 0;
        }
        int end = ok ? after_member(r, close) : -1;
        if (end < 0) {
            json_decref(c);
            return NULL;
        }
        if (end)
            return c;
    }
}

/* The value at r->p (no white space before it), or NULL. */
static json_t *read_value(reader *r)
{
    if (r->p == r->end)
        return NULL;
    json_t *v = NULL;
    switch (*r->p) {
    case '{':
    case '[':
        if (r->depth >= READ_DEPTH)
            return NULL;
        r->depth++;
        r->p++;
        v = read_container(r, *(r->p - 1) == '{');
        r->depth--;
        return v;
    case '"':
        r->p++;
        return string_value(r);
    case 't':
        return literal(r, "true", 4) ? json_true() : NULL;
    case 'f':
        return literal(r, "false", 5) ? json_false() : NULL;
    case 'n':
        return literal(r, "null", 4) ? json_null() : NULL;
    default:
        return number_value(r);
    }
}

json_t *tt_json_load_fast(const char *buf, size_t len)
{
    if (buf == NULL)
        return NULL;
    reader r = {(const unsigned char *)buf, (const unsigned char *)buf + len, 0};
    skip_ws(&r);
    if (r.p == r.end || (*r.p != '{' && *r.p != '['))
        return NULL;
    json_t *v = read_value(&r);
    if (v == NULL)
        return NULL;
    skip_ws(&r);
    if (r.p != r.end) { /* more after the document: jansson's to say so */
        json_decref(v);
        return NULL;
    }
    return v;
}

json_t *tt_json_load(const char *buf, size_t len, size_t flags, json_error_t *err)
{
    if ((flags & ~(size_t)JSON_REJECT_DUPLICATES) == 0) {
        json_t *v = tt_json_load_fast(buf, len);
        if (v != NULL) {
            if (err) { /* as jansson leaves it after a document it read */
                memset(err, 0, sizeof *err);
                err->line = -1;
                err->column = -1;
                err->position = (int)len;
                strcpy(err->source, "<buffer>");
            }
            return v;
        }
    }
    return json_loadb(buf, len, flags, err);
}
