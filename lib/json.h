/*
 * A small JSON writer (RFC 8259) into a bounded buffer, for /stats and the
 * HTTP echo server's JSON responses. No allocation, no lwIP: the host tests
 * compile it as is.
 *
 * Like snprintf, a writer keeps counting when its buffer is full: json_len()
 * is the size the whole document needs, so a caller can measure with a
 * zero-sized buffer, allocate, and write again.
 *
 * Commas and colons are placed by the writer: call json_key() before each
 * member of an object, nothing before the elements of an array.
 *
 *   json_begin_object(&o);
 *   json_kv_u64(&o, "used", 3);
 *   json_key(&o, "names");
 *   json_begin_array(&o); json_string(&o, "a"); json_end_array(&o);
 *   json_end_object(&o);                        -> {"used":3,"names":["a"]}
 *
 * Strings are escaped so that the output is always valid JSON and pure
 * ASCII whatever the input bytes: '"' and '\' get a backslash, control
 * characters and DEL become \b \f \n \r \t or \u00XX, and every byte from
 * 0x80 up becomes \u00XX (the input is read as ISO-8859-1, so arbitrary
 * binary data survives a round trip through any JSON parser).
 */
#ifndef LIB_JSON_H
#define LIB_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Deeper nesting sets the error flag and writes nothing more. */
#define JSON_MAX_DEPTH 32

struct json_out {
    char *buf;
    size_t size; /* capacity of buf */
    size_t len;  /* bytes the whole output needs; may exceed size */
    unsigned depth;
    unsigned floor;     /* json_end_*() never closes containers at or below this depth */
    bool after_key;     /* a key was written, its value is due */
    bool error;         /* misuse (too deep, unbalanced, value without key): output is not valid */
    uint32_t has_items; /* bit d: the container at depth d has at least one member */
    uint32_t is_array;  /* bit d: the container at depth d is an array */
};

/**
 * json_init() - start an empty document in @buf (@size bytes; @buf may be
 * NULL when @size is 0, to measure). The output is not NUL-terminated.
 */
void json_init(struct json_out *o, char *buf, size_t size);

/** json_len() - bytes the output needs (written so far, counting what did not fit). */
static inline size_t json_len(const struct json_out *o)
{
    return o->len;
}

/** json_truncated() - true if the output did not fit in the buffer. */
static inline bool json_truncated(const struct json_out *o)
{
    return o->len > o->size;
}

void json_begin_object(struct json_out *o);
void json_end_object(struct json_out *o);
void json_begin_array(struct json_out *o);
void json_end_array(struct json_out *o);

/** json_key() - the name of the next object member (escaped like any string). */
void json_key(struct json_out *o, const char *key);

void json_string(struct json_out *o, const char *s); /* NULL writes null */
void json_string_n(struct json_out *o, const char *s, size_t n);
void json_u64(struct json_out *o, uint64_t v);
void json_i64(struct json_out *o, int64_t v);
void json_bool(struct json_out *o, bool v);
void json_null(struct json_out *o);

/* Key and value in one call. */
void json_kv_string(struct json_out *o, const char *key, const char *s);
void json_kv_u64(struct json_out *o, const char *key, uint64_t v);
void json_kv_i64(struct json_out *o, const char *key, int64_t v);
void json_kv_bool(struct json_out *o, const char *key, bool v);

/**
 * json_close_to() - close every container above @depth (arrays with ']',
 * objects with '}'), writing null first if a key is waiting for its value.
 * Lets a caller recover a well-formed document after code it does not
 * trust (a stats provider) returned with containers left open.
 */
void json_close_to(struct json_out *o, unsigned depth);

/**
 * json_escaped_len() - the length of @n bytes at @s once escaped as a JSON
 * string body (without the quotes).
 */
size_t json_escaped_len(const char *s, size_t n);

#endif
