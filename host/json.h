/* json.h — a small, strict JSON (RFC 8259) reader into a flat tree, and a string escaper for
 * writers. Enough for safetensors headers; never recursive, so hostile nesting cannot exhaust
 * the stack. */
#ifndef OPTCL_JSON_H
#define OPTCL_JSON_H

#include "optcl.h"

#include <stddef.h>
#include <stdint.h>

#define OPTCL__JSON_MAX_DEPTH 64 /* nested arrays/objects; deeper input is rejected */

typedef enum optcl__json_type {
    OPTCL__JSON_NULL,
    OPTCL__JSON_FALSE,
    OPTCL__JSON_TRUE,
    OPTCL__JSON_INTEGER, /* no fraction, no exponent, fits in int64_t: see .integer */
    OPTCL__JSON_NUMBER,  /* any other number (fraction, exponent, or beyond int64_t) */
    OPTCL__JSON_STRING,
    OPTCL__JSON_ARRAY,
    OPTCL__JSON_OBJECT
} optcl__json_type;

/* One value. Children of an array or object are linked by index: first_child, then each
 * child's next (0 ends the list; index 0 is always the root, so it is never a child). */
typedef struct optcl__json_value {
    optcl__json_type type;
    size_t offset;      /* byte offset of the value in the text, for messages */
    int64_t integer;    /* OPTCL__JSON_INTEGER */
    const char *string; /* OPTCL__JSON_STRING: decoded UTF-8, NUL-terminated */
    size_t length;      /* string bytes (it may hold a "\u0000" NUL), or children count */
    size_t first_child; /* arrays, objects; 0 when empty */
    size_t next;        /* the next sibling; 0 at the end */
    const char *key;    /* members of an object: the decoded key, NUL-terminated */
    size_t key_length;
} optcl__json_value;

/* A parsed document: values[0] is the root. Strings live in one block owned by the document. */
typedef struct optcl__json_doc {
    optcl__json_value *values;
    size_t count;
    char *strings;
} optcl__json_doc;

/* Parses exactly one value from text[0 .. length), with optional white space before and after
 * and nothing else. The text need not be NUL-terminated and must be valid UTF-8. Rejects
 * invalid escapes, lone surrogates, raw control characters in strings, leading zeros,
 * nesting deeper than OPTCL__JSON_MAX_DEPTH and repeated keys in one object (JSON leaves those
 * undefined; a file that means two things is an error). On failure (OPTCL_ERROR_FORMAT, or
 * OPTCL_ERROR_OUT_OF_HOST_MEMORY) *doc is empty and message says what and at which byte,
 * without any file name: the caller prefixes its own context. Memory: length + 1 bytes for the
 * strings plus one optcl__json_value (80 bytes on LP64) per value, so at most about 40 times
 * the text's length; callers bound the length (safetensors: OPTCL__ST_MAX_HEADER). */
optcl_status optcl__json_parse(const char *text, size_t length, optcl__json_doc *doc, char *message,
                               size_t message_size);
/* Frees a document; accepts an empty or already-freed one. */
void optcl__json_free(optcl__json_doc *doc);

/* Navigation: the first child / next sibling of a value, NULL at the end. */
const optcl__json_value *optcl__json_first(const optcl__json_doc *doc, const optcl__json_value *v);
const optcl__json_value *optcl__json_next(const optcl__json_doc *doc, const optcl__json_value *v);
/* The member of object obj whose key is the NUL-terminated key, or NULL (also for non-objects).
 * A linear search: for the few fields of a small object. */
const optcl__json_value *optcl__json_get(const optcl__json_doc *doc, const optcl__json_value *obj,
                                         const char *key);

/* Whether bytes [0, length) are well-formed UTF-8 (no overlong forms, no surrogates, nothing
 * above U+10FFFF). */
int optcl__json_valid_utf8(const char *s, size_t length);

/* Writes s (NUL-terminated, UTF-8) as a JSON string literal with its quotes into out, like
 * snprintf: returns the full length (without the NUL) and writes at most out_size bytes,
 * NUL included. Escapes '"', '\\' and control characters; other bytes pass unchanged. */
size_t optcl__json_escape(char *out, size_t out_size, const char *s);

/* Quotes s[0, length) for a one-line message: printable text as is, other bytes below 0x80 as
 * \xNN, at most OPTCL__JSON_QUOTE_MAX source bytes (cut on a character boundary, then "...").
 * Always NUL-terminates when size > 0; size OPTCL__JSON_QUOTE_SIZE always suffices. */
#define OPTCL__JSON_QUOTE_MAX 64
#define OPTCL__JSON_QUOTE_SIZE (4 * OPTCL__JSON_QUOTE_MAX + 4)
void optcl__json_quote(char *buf, size_t size, const char *s, size_t length);

#endif
