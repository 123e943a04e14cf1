/* json.c — a strict, non-recursive JSON reader into a flat array of values (for safetensors
 * headers), plus the string escaping its writer needs. */
#include "json.h"
#include "internal.h"

#include <stdlib.h>
#include <string.h>

typedef struct frame {
    size_t index;      /* the container's value */
    size_t last_child; /* 0 while it has none */
} frame;

typedef struct parser {
    const unsigned char *text;
    size_t pos, len;
    optcl__json_doc doc;
    size_t capacity;
    char *out; /* next free byte of doc.strings */
    frame stack[OPTCL__JSON_MAX_DEPTH];
    int depth;
    int opened;      /* the last value opened a container whose first element comes next */
    const char *key; /* the member key waiting for its value */
    size_t key_length;
    char *message;
    size_t message_size;
} parser;

static optcl_status syntax(parser *ps, const char *what)
{
    optcl__format(ps->message, ps->message_size, "%s at byte %zu", what, ps->pos);
    return OPTCL_ERROR_FORMAT;
}

static void skip_space(parser *ps)
{
    while (ps->pos < ps->len) {
        unsigned char c = ps->text[ps->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
            break;
        ps->pos++;
    }
}

/* The length of the well-formed UTF-8 sequence at s (avail bytes left), or 0 (RFC 3629:
 * shortest form only, no surrogates, at most U+10FFFF). */
static size_t utf8_sequence(const unsigned char *s, size_t avail)
{
    unsigned char c = s[0];
    if (c < 0x80)
        return 1;
    size_t n;
    unsigned char lo = 0x80, hi = 0xBF; /* range of the second byte */
    if (c >= 0xC2 && c <= 0xDF)
        n = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        if (c == 0xE0)
            lo = 0xA0; /* overlong */
        if (c == 0xED)
            hi = 0x9F; /* surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        if (c == 0xF0)
            lo = 0x90; /* overlong */
        if (c == 0xF4)
            hi = 0x8F; /* above U+10FFFF */
    } else
        return 0;
    if (avail < n || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if (s[i] < 0x80 || s[i] > 0xBF)
            return 0;
    return n;
}

int optcl__json_valid_utf8(const char *s, size_t length)
{
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < length;) {
        size_t n = utf8_sequence(u + i, length - i);
        if (n == 0)
            return 0;
        i += n;
    }
    return 1;
}

static char *put_utf8(char *out, unsigned long cp)
{
    if (cp < 0x80) {
        *out++ = (char)cp;
    } else if (cp < 0x800) {
        *out++ = (char)(0xC0 | cp >> 6);
        *out++ = (char)(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        *out++ = (char)(0xE0 | cp >> 12);
        *out++ = (char)(0x80 | (cp >> 6 & 0x3F));
        *out++ = (char)(0x80 | (cp & 0x3F));
    } else {
        *out++ = (char)(0xF0 | cp >> 18);
        *out++ = (char)(0x80 | (cp >> 12 & 0x3F));
        *out++ = (char)(0x80 | (cp >> 6 & 0x3F));
        *out++ = (char)(0x80 | (cp & 0x3F));
    }
    return out;
}

/* Four hex digits after "\u" at ps->pos; -1 when they are not. */
static long hex4(parser *ps)
{
    if (ps->len - ps->pos < 4)
        return -1;
    long v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned char c = ps->text[ps->pos + (size_t)i];
        int d = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
        if (d < 0)
            return -1;
        v = v * 16 + d;
    }
    ps->pos += 4;
    return v;
}

/* The string at ps->pos (its opening quote), decoded into the string block. Decoding never
 * lengthens a string and each one costs at least its two quotes, so a block of the text's
 * length plus one always has room for every string and its NUL. */
static optcl_status parse_string(parser *ps, const char **s, size_t *length)
{
    char *start = ps->out, *out = ps->out;
    ps->pos++;
    for (;;) {
        if (ps->pos >= ps->len)
            return syntax(ps, "unterminated string");
        unsigned char c = ps->text[ps->pos];
        if (c == '"')
            break;
        if (c < 0x20)
            return syntax(ps, "control character in a string (escape it)");
        if (c != '\\') {
            size_t n = utf8_sequence(ps->text + ps->pos, ps->len - ps->pos);
            if (n == 0)
                return syntax(ps, "invalid UTF-8");
            memcpy(out, ps->text + ps->pos, n);
            out += n;
            ps->pos += n;
            continue;
        }
        size_t escape_at = ps->pos++;
        c = ps->pos < ps->len ? ps->text[ps->pos++] : 0;
        const char *simple = strchr("\"\\/bfnrt", c);
        if (c != 0 && simple) {
            static const char decoded[] = "\"\\/\b\f\n\r\t";
            *out++ = decoded[simple - "\"\\/bfnrt"];
            continue;
        }
        if (c != 'u') {
            ps->pos = escape_at;
            return syntax(ps, "invalid escape in a string");
        }
        long cp = hex4(ps);
        if (cp < 0) {
            ps->pos = escape_at;
            return syntax(ps, "\\u is not followed by four hex digits");
        }
        if (cp >= 0xDC00 && cp <= 0xDFFF) {
            ps->pos = escape_at;
            return syntax(ps, "unpaired low surrogate escape");
        }
        if (cp >= 0xD800 && cp <= 0xDBFF) {
            long low = -1;
            if (ps->len - ps->pos >= 2 && ps->text[ps->pos] == '\\' &&
                ps->text[ps->pos + 1] == 'u') {
                ps->pos += 2;
                low = hex4(ps);
            }
            if (low < 0xDC00 || low > 0xDFFF) {
                ps->pos = escape_at;
                return syntax(ps, "unpaired high surrogate escape");
            }
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
        }
        out = put_utf8(out, (unsigned long)cp);
    }
    ps->pos++; /* the closing quote */
    *out = '\0';
    *s = start;
    *length = (size_t)(out - start);
    ps->out = out + 1;
    return OPTCL_SUCCESS;
}

static optcl_status parse_number(parser *ps, optcl__json_value *v)
{
    const unsigned char *t = ps->text;
    int negative = t[ps->pos] == '-';
    if (negative)
        ps->pos++;
    if (ps->pos >= ps->len || t[ps->pos] < '0' || t[ps->pos] > '9')
        return syntax(ps, "expected a digit");
    uint64_t magnitude = 0;
    int overflow = 0, integral = 1;
    if (t[ps->pos] == '0') {
        ps->pos++;
        if (ps->pos < ps->len && t[ps->pos] >= '0' && t[ps->pos] <= '9')
            return syntax(ps, "leading zero in a number");
    } else {
        while (ps->pos < ps->len && t[ps->pos] >= '0' && t[ps->pos] <= '9') {
            unsigned d = (unsigned)(t[ps->pos++] - '0');
            if (magnitude > (UINT64_MAX - d) / 10)
                overflow = 1;
            else
                magnitude = magnitude * 10 + d;
        }
    }
    if (ps->pos < ps->len && t[ps->pos] == '.') {
        integral = 0;
        ps->pos++;
        if (ps->pos >= ps->len || t[ps->pos] < '0' || t[ps->pos] > '9')
            return syntax(ps, "expected a digit after '.'");
        while (ps->pos < ps->len && t[ps->pos] >= '0' && t[ps->pos] <= '9')
            ps->pos++;
    }
    if (ps->pos < ps->len && (t[ps->pos] == 'e' || t[ps->pos] == 'E')) {
        integral = 0;
        ps->pos++;
        if (ps->pos < ps->len && (t[ps->pos] == '+' || t[ps->pos] == '-'))
            ps->pos++;
        if (ps->pos >= ps->len || t[ps->pos] < '0' || t[ps->pos] > '9')
            return syntax(ps, "expected a digit in an exponent");
        while (ps->pos < ps->len && t[ps->pos] >= '0' && t[ps->pos] <= '9')
            ps->pos++;
    }
    const uint64_t limit = (uint64_t)INT64_MAX + (negative ? 1u : 0u);
    if (integral && !overflow && magnitude <= limit) {
        v->type = OPTCL__JSON_INTEGER;
        /* -2^63 has no positive counterpart, so it is built without negating it. */
        v->integer = !negative                        ? (int64_t)magnitude
                     : magnitude == (uint64_t)1 << 63 ? INT64_MIN
                                                      : -(int64_t)magnitude;
    } else {
        v->type = OPTCL__JSON_NUMBER;
    }
    return OPTCL_SUCCESS;
}

/* Appends a value, links it under the open container (with the waiting key) and returns its
 * index through *index. Indices, never pointers, are kept: the array moves as it grows. */
static optcl_status add_value(parser *ps, optcl__json_type type, size_t *index)
{
    optcl__json_doc *d = &ps->doc;
    if (d->count == ps->capacity) {
        size_t cap = ps->capacity ? 2 * ps->capacity : 16;
        optcl__json_value *grown = NULL;
        if (cap <= SIZE_MAX / sizeof *grown)
            grown = realloc(d->values, cap * sizeof *grown);
        if (!grown) {
            optcl__format(ps->message, ps->message_size, "out of host memory for %zu values", cap);
            return OPTCL_ERROR_OUT_OF_HOST_MEMORY;
        }
        d->values = grown;
        ps->capacity = cap;
    }
    size_t i = d->count++;
    d->values[i] = (optcl__json_value){.type = type, .offset = ps->pos};
    if (ps->depth > 0) {
        frame *f = &ps->stack[ps->depth - 1];
        optcl__json_value *parent = &d->values[f->index];
        if (parent->type == OPTCL__JSON_OBJECT) {
            d->values[i].key = ps->key;
            d->values[i].key_length = ps->key_length;
        }
        if (f->last_child)
            d->values[f->last_child].next = i;
        else
            parent->first_child = i;
        f->last_child = i;
        parent->length++;
    }
    *index = i;
    return OPTCL_SUCCESS;
}

typedef struct key_ref {
    const char *key;
    size_t length, index;
} key_ref;

static int compare_keys(const void *a, const void *b)
{
    const key_ref *x = a, *y = b;
    size_t n = x->length < y->length ? x->length : y->length;
    int c = memcmp(x->key, y->key, n);
    if (c != 0)
        return c;
    if (x->length != y->length)
        return x->length < y->length ? -1 : 1;
    return x->index < y->index ? -1 : x->index > y->index;
}

/* Rejects an object that repeats a key: sorted, so a header of many tensors stays fast. */
static optcl_status check_unique_keys(parser *ps, size_t object)
{
    optcl__json_value *v = ps->doc.values;
    size_t n = v[object].length;
    if (n < 2)
        return OPTCL_SUCCESS;
    key_ref *refs = malloc(n * sizeof *refs);
    if (!refs) {
        optcl__format(ps->message, ps->message_size, "out of host memory for %zu keys", n);
        return OPTCL_ERROR_OUT_OF_HOST_MEMORY;
    }
    size_t k = 0;
    for (size_t i = v[object].first_child; i; i = v[i].next)
        refs[k++] = (key_ref){v[i].key, v[i].key_length, i};
    qsort(refs, n, sizeof *refs, compare_keys);
    optcl_status st = OPTCL_SUCCESS;
    for (size_t i = 1; i < n && st == OPTCL_SUCCESS; i++) {
        if (refs[i].length == refs[i - 1].length &&
            memcmp(refs[i].key, refs[i - 1].key, refs[i].length) == 0) {
            char quoted[OPTCL__JSON_QUOTE_SIZE];
            optcl__json_quote(quoted, sizeof quoted, refs[i].key, refs[i].length);
            optcl__format(ps->message, ps->message_size, "repeated key '%s' at byte %zu", quoted,
                          v[refs[i].index].offset);
            st = OPTCL_ERROR_FORMAT;
        }
    }
    free(refs);
    return st;
}

/* A member's key and its colon, leaving ps at the value. */
static optcl_status parse_key(parser *ps)
{
    skip_space(ps);
    if (ps->pos >= ps->len || ps->text[ps->pos] != '"')
        return syntax(ps, "expected a string key");
    optcl_status st = parse_string(ps, &ps->key, &ps->key_length);
    if (st != OPTCL_SUCCESS)
        return st;
    skip_space(ps);
    if (ps->pos >= ps->len || ps->text[ps->pos] != ':')
        return syntax(ps, "expected ':' after a key");
    ps->pos++;
    return OPTCL_SUCCESS;
}

static int literal(parser *ps, const char *word)
{
    size_t n = strlen(word);
    if (ps->len - ps->pos < n || memcmp(ps->text + ps->pos, word, n) != 0)
        return 0;
    ps->pos += n;
    return 1;
}

/* One value at ps->pos. Containers are opened (pushed) here and closed by parse_rest. */
static optcl_status parse_value(parser *ps)
{
    ps->opened = 0;
    skip_space(ps);
    if (ps->pos >= ps->len)
        return syntax(ps, "expected a value");
    unsigned char c = ps->text[ps->pos];
    size_t i;
    optcl_status st;
    if (c == '{' || c == '[') {
        if (ps->depth == OPTCL__JSON_MAX_DEPTH) {
            optcl__format(ps->message, ps->message_size,
                          "nesting deeper than %d levels at byte %zu", OPTCL__JSON_MAX_DEPTH,
                          ps->pos);
            return OPTCL_ERROR_FORMAT;
        }
        st = add_value(ps, c == '{' ? OPTCL__JSON_OBJECT : OPTCL__JSON_ARRAY, &i);
        if (st != OPTCL_SUCCESS)
            return st;
        ps->pos++;
        ps->stack[ps->depth++] = (frame){i, 0};
        skip_space(ps);
        if (ps->pos < ps->len && ps->text[ps->pos] == (c == '{' ? '}' : ']')) {
            ps->pos++;
            ps->depth--;
            return OPTCL_SUCCESS;
        }
        ps->opened = 1;
        return c == '{' ? parse_key(ps) : OPTCL_SUCCESS;
    }
    if (c == '"') {
        st = add_value(ps, OPTCL__JSON_STRING, &i);
        if (st != OPTCL_SUCCESS)
            return st;
        return parse_string(ps, &ps->doc.values[i].string, &ps->doc.values[i].length);
    }
    if (c == '-' || (c >= '0' && c <= '9')) {
        st = add_value(ps, OPTCL__JSON_NUMBER, &i);
        return st != OPTCL_SUCCESS ? st : parse_number(ps, &ps->doc.values[i]);
    }
    optcl__json_type type = c == 't'   ? OPTCL__JSON_TRUE
                            : c == 'f' ? OPTCL__JSON_FALSE
                                       : OPTCL__JSON_NULL;
    const char *word = c == 't' ? "true" : c == 'f' ? "false" : "null";
    st = add_value(ps, type, &i);
    if (st == OPTCL_SUCCESS && !literal(ps, word))
        st = syntax(ps, "expected a value");
    return st;
}

/* After a value: a ',' and the next member or element, or the closing bracket (possibly
 * several). Returns with ps->depth == 0 when the root is complete, else positioned at the
 * next value. */
static optcl_status parse_rest(parser *ps)
{
    while (ps->depth > 0) {
        frame *f = &ps->stack[ps->depth - 1];
        int object = ps->doc.values[f->index].type == OPTCL__JSON_OBJECT;
        skip_space(ps);
        unsigned char c = ps->pos < ps->len ? ps->text[ps->pos] : 0;
        if (c == ',') {
            ps->pos++;
            return object ? parse_key(ps) : OPTCL_SUCCESS;
        }
        if (c != (object ? '}' : ']'))
            return syntax(ps, object ? "expected ',' or '}'" : "expected ',' or ']'");
        ps->pos++;
        if (object) {
            optcl_status st = check_unique_keys(ps, f->index);
            if (st != OPTCL_SUCCESS)
                return st;
        }
        ps->depth--;
    }
    return OPTCL_SUCCESS;
}

optcl_status optcl__json_parse(const char *text, size_t length, optcl__json_doc *doc, char *message,
                               size_t message_size)
{
    if (!doc)
        return OPTCL_ERROR_NULL_POINTER;
    *doc = (optcl__json_doc){0};
    if (!text && length > 0) {
        optcl__format(message, message_size, "no text");
        return OPTCL_ERROR_NULL_POINTER;
    }
    parser ps = {.text = (const unsigned char *)text,
                 .len = length,
                 .message = message,
                 .message_size = message_size};
    ps.doc.strings = malloc(length + 1);
    if (!ps.doc.strings) {
        optcl__format(message, message_size, "out of host memory for %zu bytes", length + 1);
        return OPTCL_ERROR_OUT_OF_HOST_MEMORY;
    }
    ps.out = ps.doc.strings;

    optcl_status st;
    do {
        st = parse_value(&ps);
        if (st == OPTCL_SUCCESS && !ps.opened)
            st = parse_rest(&ps);
    } while (st == OPTCL_SUCCESS && ps.depth > 0);
    if (st == OPTCL_SUCCESS) {
        skip_space(&ps);
        if (ps.pos != ps.len)
            st = syntax(&ps, "unexpected text after the value");
    }
    if (st != OPTCL_SUCCESS) {
        optcl__json_free(&ps.doc);
        return st;
    }
    *doc = ps.doc;
    return OPTCL_SUCCESS;
}

void optcl__json_free(optcl__json_doc *doc)
{
    if (!doc)
        return;
    free(doc->values);
    free(doc->strings);
    *doc = (optcl__json_doc){0};
}

const optcl__json_value *optcl__json_first(const optcl__json_doc *doc, const optcl__json_value *v)
{
    if (!v || (v->type != OPTCL__JSON_ARRAY && v->type != OPTCL__JSON_OBJECT) || !v->first_child)
        return NULL;
    return &doc->values[v->first_child];
}

const optcl__json_value *optcl__json_next(const optcl__json_doc *doc, const optcl__json_value *v)
{
    return v && v->next ? &doc->values[v->next] : NULL;
}

const optcl__json_value *optcl__json_get(const optcl__json_doc *doc, const optcl__json_value *obj,
                                         const char *key)
{
    if (!obj || obj->type != OPTCL__JSON_OBJECT)
        return NULL;
    size_t n = strlen(key);
    for (const optcl__json_value *m = optcl__json_first(doc, obj); m; m = optcl__json_next(doc, m))
        if (m->key_length == n && memcmp(m->key, key, n) == 0)
            return m;
    return NULL;
}

/* Appends c to out if it fits (keeping room for the NUL) and counts it either way. */
static void put(char *out, size_t out_size, size_t *n, char c)
{
    if (*n + 1 < out_size)
        out[*n] = c;
    (*n)++;
}

size_t optcl__json_escape(char *out, size_t out_size, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    size_t n = 0;
    put(out, out_size, &n, '"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        unsigned char c = *p;
        const char *short_form = c == '"'    ? "\\\""
                                 : c == '\\' ? "\\\\"
                                 : c == '\b' ? "\\b"
                                 : c == '\f' ? "\\f"
                                 : c == '\n' ? "\\n"
                                 : c == '\r' ? "\\r"
                                 : c == '\t' ? "\\t"
                                             : NULL;
        if (short_form) {
            put(out, out_size, &n, short_form[0]);
            put(out, out_size, &n, short_form[1]);
        } else if (c < 0x20) {
            const char u[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            for (int i = 0; i < 6; i++)
                put(out, out_size, &n, u[i]);
        } else {
            put(out, out_size, &n, (char)c);
        }
    }
    put(out, out_size, &n, '"');
    if (out_size > 0)
        out[n < out_size ? n : out_size - 1] = '\0';
    return n;
}

void optcl__json_quote(char *buf, size_t size, const char *s, size_t length)
{
    if (!buf || size == 0)
        return;
    const unsigned char *u = (const unsigned char *)s;
    size_t n = 0, i = 0;
    int cut = 0;
    while (i < length) {
        size_t seq = utf8_sequence(u + i, length - i);
        if (seq == 0)
            seq = 1; /* not UTF-8: shown byte by byte as \xNN below */
        if (i + seq > OPTCL__JSON_QUOTE_MAX) {
            cut = 1;
            break;
        }
        char piece[8];
        size_t len;
        if (seq == 1 && (u[i] < 0x20 || u[i] >= 0x7F)) {
            static const char hex[] = "0123456789abcdef";
            piece[0] = '\\';
            piece[1] = 'x';
            piece[2] = hex[u[i] >> 4];
            piece[3] = hex[u[i] & 15];
            len = 4;
        } else {
            memcpy(piece, u + i, seq);
            len = seq;
        }
        if (n + len + 1 > size) {
            cut = 1;
            break;
        }
        memcpy(buf + n, piece, len);
        n += len;
        i += seq;
    }
    if (cut && n + 4 <= size) {
        memcpy(buf + n, "...", 3);
        n += 3;
    }
    buf[n] = '\0';
}
