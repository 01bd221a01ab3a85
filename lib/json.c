/* JSON writer, RFC 8259 sections 2 (grammar) and 7 (strings). */
#include "lib/json.h"

static const char hex_digits[] = "0123456789abcdef";

static void put(struct json_out *o, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++, o->len++)
        if (o->len < o->size)
            o->buf[o->len] = s[i];
}

static void putc1(struct json_out *o, char c)
{
    put(o, &c, 1);
}

void json_init(struct json_out *o, char *buf, size_t size)
{
    *o = (struct json_out){.buf = buf, .size = buf ? size : 0};
}

/*
 * Before a value: a comma when it is not the first element of an array.
 * A value in an object needs its key first; a second top-level value would
 * make two documents. Both are caller bugs: flagged, and the value is written
 * anyway so the lengths stay predictable.
 */
static void before_value(struct json_out *o)
{
    if (o->after_key) {
        o->after_key = false;
        return;
    }
    if (o->depth == 0) {
        if (o->len != 0)
            o->error = true;
        return;
    }
    if (!(o->is_array & (1u << o->depth)))
        o->error = true;
    if (o->has_items & (1u << o->depth))
        putc1(o, ',');
    o->has_items |= 1u << o->depth;
}

size_t json_escaped_len(const char *s, size_t n)
{
    size_t len = 0;

    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c == '"' || c == '\\' || c == '\b' || c == '\f' || c == '\n' || c == '\r' || c == '\t')
            len += 2;
        else if (c < 0x20 || c >= 0x7f)
            len += 6;
        else
            len += 1;
    }
    return len;
}

static void put_escaped(struct json_out *o, const char *s, size_t n)
{
    size_t run = 0; /* bytes at s[i - run .. i) that need no escape */

    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[6] = {'\\', 0, '0', '0', 0, 0};
        size_t esc_len = 2;

        switch (c) {
        case '"':
            esc[1] = '"';
            break;
        case '\\':
            esc[1] = '\\';
            break;
        case '\b':
            esc[1] = 'b';
            break;
        case '\f':
            esc[1] = 'f';
            break;
        case '\n':
            esc[1] = 'n';
            break;
        case '\r':
            esc[1] = 'r';
            break;
        case '\t':
            esc[1] = 't';
            break;
        default:
            if (c >= 0x20 && c < 0x7f) {
                run++;
                continue;
            }
            esc[1] = 'u';
            esc[4] = hex_digits[c >> 4];
            esc[5] = hex_digits[c & 15];
            esc_len = 6;
        }
        put(o, s + i - run, run);
        run = 0;
        put(o, esc, esc_len);
    }
    put(o, s + n - run, run);
}

static void open_container(struct json_out *o, char c, bool array)
{
    before_value(o);
    putc1(o, c);
    if (o->depth + 1 >= JSON_MAX_DEPTH) {
        o->error = true;
        return;
    }
    o->depth++;
    o->has_items &= ~(1u << o->depth);
    if (array)
        o->is_array |= 1u << o->depth;
    else
        o->is_array &= ~(1u << o->depth);
}

static void close_container(struct json_out *o, bool array)
{
    bool is_array = o->is_array & (1u << o->depth);

    if (o->depth <= o->floor || is_array != array) {
        o->error = true;
        return;
    }
    if (o->after_key) { /* a key without its value: keep the document valid */
        o->error = true;
        o->after_key = false;
        put(o, "null", 4);
    }
    putc1(o, array ? ']' : '}');
    o->depth--;
}

void json_begin_object(struct json_out *o)
{
    open_container(o, '{', false);
}
void json_end_object(struct json_out *o)
{
    close_container(o, false);
}
void json_begin_array(struct json_out *o)
{
    open_container(o, '[', true);
}
void json_end_array(struct json_out *o)
{
    close_container(o, true);
}

void json_close_to(struct json_out *o, unsigned depth)
{
    if (o->after_key) {
        o->after_key = false;
        put(o, "null", 4);
    }
    while (o->depth > depth) {
        putc1(o, (o->is_array & (1u << o->depth)) ? ']' : '}');
        o->depth--;
    }
}

void json_key(struct json_out *o, const char *key)
{
    if (o->depth == 0 || (o->is_array & (1u << o->depth)) || o->after_key)
        o->error = true;
    if (o->has_items & (1u << o->depth))
        putc1(o, ',');
    o->has_items |= 1u << o->depth;
    putc1(o, '"');
    put_escaped(o, key, __builtin_strlen(key));
    put(o, "\":", 2);
    o->after_key = true;
}

void json_string_n(struct json_out *o, const char *s, size_t n)
{
    before_value(o);
    putc1(o, '"');
    put_escaped(o, s, n);
    putc1(o, '"');
}

void json_string(struct json_out *o, const char *s)
{
    if (!s) {
        json_null(o);
        return;
    }
    json_string_n(o, s, __builtin_strlen(s));
}

void json_u64(struct json_out *o, uint64_t v)
{
    char digits[20];
    size_t n = 0;

    before_value(o);
    do {
        digits[sizeof(digits) - 1 - n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    put(o, digits + sizeof(digits) - n, n);
}

void json_i64(struct json_out *o, int64_t v)
{
    if (v >= 0) {
        json_u64(o, (uint64_t)v);
        return;
    }
    /* Negative: the sign, then the magnitude. */
    char digits[20];
    size_t n = 0;
    uint64_t m = -(uint64_t)v; /* well defined for INT64_MIN too */

    before_value(o);
    putc1(o, '-');
    do {
        digits[sizeof(digits) - 1 - n++] = (char)('0' + m % 10);
        m /= 10;
    } while (m);
    put(o, digits + sizeof(digits) - n, n);
}

void json_bool(struct json_out *o, bool v)
{
    before_value(o);
    if (v)
        put(o, "true", 4);
    else
        put(o, "false", 5);
}

void json_null(struct json_out *o)
{
    before_value(o);
    put(o, "null", 4);
}

void json_kv_string(struct json_out *o, const char *key, const char *s)
{
    json_key(o, key);
    json_string(o, s);
}

void json_kv_u64(struct json_out *o, const char *key, uint64_t v)
{
    json_key(o, key);
    json_u64(o, v);
}

void json_kv_i64(struct json_out *o, const char *key, int64_t v)
{
    json_key(o, key);
    json_i64(o, v);
}

void json_kv_bool(struct json_out *o, const char *key, bool v)
{
    json_key(o, key);
    json_bool(o, v);
}
