/*
 * wasmgate.c: the C SDK for wasmgate filter plugins (see wasmgate.h).
 *
 * The module exports wasmgate_abi_v1 and every hook of the ABI; the hooks
 * call the callbacks of the filter that WG_FILTER defined. Off wasm32 (the
 * SDK's native tests) the hooks are plain functions and the host functions
 * are external ones, for a fake host to define.
 */
#define _POSIX_C_SOURCE 200809L

#include "wasmgate.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#if defined(__wasm__)
#define WG_EXPORT(name) __attribute__((export_name(#name)))
#else
#define WG_EXPORT(name)
#endif

const char *wg_code_string(int code) {
    if (code >= 0)
        return "ok";
    switch (code) {
    case WG_ERR_NOT_FOUND:
        return "not found";
    case WG_ERR_INVALID_ARGUMENT:
        return "invalid argument";
    case WG_ERR_TOO_LARGE:
        return "too large";
    case WG_ERR_WRONG_HOOK:
        return "wrong hook";
    }
    return "unknown error";
}

/* ------------------------------------------------------------------ */
/* Memory                                                              */
/* ------------------------------------------------------------------ */

/* out_of_memory ends the hook with a trap: the memory cap is the
 * operator's, and the host answers a trap by replacing the instance,
 * which is all a filter could do anyway. */
static void out_of_memory(void) {
    fputs("wasmgate: out of memory\n", stderr);
    __builtin_trap();
}

static void *xrealloc(void *p, size_t n) {
    p = realloc(p, n ? n : 1);
    if (!p)
        out_of_memory();
    return p;
}

static void *xmalloc(size_t n) { return xrealloc(NULL, n); }

/* The temporary memory of a callback (wg_temp_alloc): a static block,
 * then blocks from malloc when a callback needs more, all released when
 * it returns. The strings the SDK returns live in it, so none of them is
 * overwritten by the next call. Every size is rounded to TEMP_ALIGN, so
 * the room left in a block is a multiple of it. */
#define TEMP_FIRST 4096
#define TEMP_BLOCK 16384
#define TEMP_ALIGN _Alignof(max_align_t)

struct temp_block {
    struct temp_block *next;
    _Alignas(max_align_t) unsigned char data[];
};

static _Alignas(max_align_t) unsigned char temp_first[TEMP_FIRST];
static unsigned char *temp_pos = temp_first;
static unsigned char *temp_end = temp_first + TEMP_FIRST;
static struct temp_block *temp_blocks;

void *wg_temp_alloc(size_t n) {
    size_t size = (n + TEMP_ALIGN - 1) & ~(TEMP_ALIGN - 1);
    if (size < n)
        out_of_memory();
    if (size <= (size_t)(temp_end - temp_pos)) {
        void *p = temp_pos;
        temp_pos += size;
        return p;
    }
    size_t cap = size > TEMP_BLOCK ? size : TEMP_BLOCK;
    if (cap > SIZE_MAX - sizeof(struct temp_block))
        out_of_memory();
    struct temp_block *b = xmalloc(sizeof *b + cap);
    b->next = temp_blocks;
    temp_blocks = b;
    temp_pos = b->data + size;
    temp_end = b->data + cap;
    return b->data;
}

/* temp_room returns how many bytes the current block can still give. */
static size_t temp_room(void) { return (size_t)(temp_end - temp_pos); }

static void temp_reset(void) {
    while (temp_blocks) {
        struct temp_block *next = temp_blocks->next;
        free(temp_blocks);
        temp_blocks = next;
    }
    temp_pos = temp_first;
    temp_end = temp_first + TEMP_FIRST;
}

/* ------------------------------------------------------------------ */
/* Strings the host gives: (buf, cap) -> len                           */
/* ------------------------------------------------------------------ */

/* A getter calls one host function of the (buf, cap) -> len convention
 * with its arguments in arg. */
typedef int32_t (*getter)(const void *arg, char *buf, size_t cap);

/* fetch gets a value into temporary memory, NUL-terminated: first into
 * what is left of the current block, and when the value is longer, again
 * into memory of its length (and again while it grows: the key-value
 * store is shared). */
static int32_t fetch(getter get, const void *arg, const char **out,
                     size_t *len) {
    /* The value and its NUL fit in the room left when n < room, and then
     * wg_temp_alloc(n + 1) claims exactly that memory. A full block
     * leaves no room for the NUL of even an empty value: start afresh. */
    bool fresh = temp_room() == 0;
    char *buf = fresh ? wg_temp_alloc(1) : (char *)temp_pos;
    size_t cap = fresh ? 0 : temp_room() - 1;
    for (;;) {
        int32_t n = get(arg, buf, cap);
        if (n < 0)
            return n;
        if ((size_t)n <= cap) {
            if (!fresh)
                wg_temp_alloc((size_t)n + 1);
            buf[n] = '\0';
            *out = buf;
            *len = (size_t)n;
            return WG_OK;
        }
        cap = (size_t)n;
        buf = wg_temp_alloc(cap + 1);
        fresh = true;
    }
}

static int32_t get_config(const void *arg, char *buf, size_t cap) {
    (void)arg;
    return wg_abi_config_get(buf, cap);
}

static int32_t get_field(const void *arg, char *buf, size_t cap) {
    return wg_abi_request_get(*(const int32_t *)arg, buf, cap);
}

static int32_t get_header(const void *arg, char *buf, size_t cap) {
    const char *name = arg;
    return wg_abi_request_header(name, strlen(name), buf, cap);
}

static int32_t get_headers(const void *arg, char *buf, size_t cap) {
    (void)arg;
    return wg_abi_request_headers(buf, cap);
}

static int32_t get_kv(const void *arg, char *buf, size_t cap) {
    const char *key = arg;
    return wg_abi_kv_get(key, strlen(key), buf, cap);
}

static int32_t get_close_reason(const void *arg, char *buf, size_t cap) {
    (void)arg;
    return wg_abi_close_reason_get(buf, cap);
}

/* ------------------------------------------------------------------ */
/* Hooks and connections                                               */
/* ------------------------------------------------------------------ */

/* The hook the guest is running in: the host functions act only during
 * one, and trap outside. */
enum hook { HOOK_NONE, HOOK_START, HOOK_OPEN, HOOK_MESSAGES, HOOK_CLOSE,
            HOOK_TICK };

static enum hook current;

static void enter(enum hook h) { current = h; }

static void leave(void) {
    current = HOOK_NONE;
    temp_reset();
}

struct conn {
    wg_conn pub; /* first, so a wg_conn * is a struct conn * */
    uint32_t id;
    bool tls;
    bool closed; /* wg_close succeeded */
};

static struct conn *conn_of(const wg_conn *c) { return (struct conn *)c; }

uint32_t wg_conn_id(const wg_conn *c) { return c ? conn_of(c)->id : 0; }

bool wg_conn_tls(const wg_conn *c) { return c && conn_of(c)->tls; }

/* The connections of the instance, by context id: an open-addressing
 * table with linear probing. Context id 0 never names a connection, so
 * an empty slot is a NULL pointer. */
static struct conn **conns;
static size_t conns_cap, conns_len; /* conns_cap is 0 or 1 << conns_bits */
static unsigned conns_bits;

static size_t slot_of(uint32_t id) {
    /* Fibonacci hashing: the top bits of the product depend on every bit
     * of the id. */
    return (uint32_t)(id * 2654435769u) >> (32 - conns_bits);
}

static void conns_insert(struct conn *c) {
    size_t i = slot_of(c->id);
    while (conns[i])
        i = (i + 1) & (conns_cap - 1);
    conns[i] = c;
}

static void conns_grow(void) {
    struct conn **old = conns;
    size_t old_cap = conns_cap;
    conns_bits = old_cap ? conns_bits + 1 : 4;
    conns_cap = (size_t)1 << conns_bits;
    conns = xmalloc(conns_cap * sizeof *conns);
    memset(conns, 0, conns_cap * sizeof *conns);
    for (size_t i = 0; i < old_cap; i++)
        if (old[i])
            conns_insert(old[i]);
    free(old);
}

/* conn_get returns the connection of a context id, creating it for an id
 * the instance has not seen (a connection opened before this instance
 * took it over). */
static struct conn *conn_get(uint32_t id) {
    if (conns_cap) {
        for (size_t i = slot_of(id); conns[i]; i = (i + 1) & (conns_cap - 1))
            if (conns[i]->id == id)
                return conns[i];
    }
    if (2 * (conns_len + 1) > conns_cap)
        conns_grow();
    struct conn *c = xmalloc(sizeof *c);
    *c = (struct conn){.id = id};
    conns_insert(c);
    conns_len++;
    return c;
}

/* conn_forget frees a connection the host will not name again, moving
 * the entries after it back so that no probe sequence is broken. */
static void conn_forget(struct conn *c) {
    size_t i = slot_of(c->id);
    while (conns[i] != c)
        i = (i + 1) & (conns_cap - 1);
    conns[i] = NULL;
    for (size_t j = (i + 1) & (conns_cap - 1); conns[j];
         j = (j + 1) & (conns_cap - 1)) {
        size_t home = slot_of(conns[j]->id);
        /* The entry at j may move to the hole at i when its home slot
         * does not lie cyclically in (i, j]. */
        if (((j - home) & (conns_cap - 1)) >= ((j - i) & (conns_cap - 1))) {
            conns[i] = conns[j];
            conns[j] = NULL;
            i = j;
        }
    }
    conns_len--;
    free(c);
}

struct wg_request {
    bool reopen;
    bool valid;
};

struct wg_message {
    uint32_t index, count, len;
    wg_msg_type type;
    bool from_upstream;
    bool loaded;
    bool valid;
};

static struct wg_request request;
static struct wg_message message;
/* The payload of the message being handled, once read; grows to the
 * largest message seen, plus a NUL. */
static char *message_buf;
static size_t message_cap;
/* The connection of the running on_messages, and whether the filter
 * closed it (the host drops the rest of the batch). */
static struct conn *batch_conn;
static bool batch_closed;

/* The configuration's text, read by on_start, and its value. */
static char *config_text;
static wg_json config = {NULL, 0};

wg_json wg_config(void) { return config; }

WG_EXPORT(wasmgate_abi_v1) void wasmgate_abi_v1(void) {}

WG_EXPORT(wasmgate_on_start) int32_t wasmgate_on_start(void) {
    enter(HOOK_START);
    const char *raw;
    size_t len;
    int32_t err = fetch(get_config, NULL, &raw, &len);
    if (err < 0) {
        wg_logf(WG_LOG_ERROR, "reading the configuration: %s",
                wg_code_string(err));
        leave();
        return 1;
    }
    /* The configuration outlives the hook: on_start keeps pieces of it. */
    free(config_text);
    config_text = xmalloc(len + 1);
    memcpy(config_text, raw, len + 1);
    config = wg_json_parse(config_text, len);
    int status = 0;
    if (wg_registered_filter.on_start)
        status = wg_registered_filter.on_start(config);
    leave();
    return status != 0;
}

WG_EXPORT(wasmgate_on_open)
int32_t wasmgate_on_open(uint32_t ctx, uint32_t flags) {
    struct conn *c = conn_get(ctx);
    c->tls = (flags & WG_OPEN_TLS) != 0;
    request = (struct wg_request){.reopen = (flags & WG_OPEN_REOPEN) != 0,
                                  .valid = true};
    enter(HOOK_OPEN);
    wg_action a = WG_ACTION_CONTINUE;
    if (wg_registered_filter.on_open)
        a = wg_registered_filter.on_open(&c->pub, &request);
    leave();
    request.valid = false;
    if (a != WG_ACTION_CONTINUE)
        a = WG_ACTION_REJECT;
    /* A refused handshake, or one closed during on_open (which the host
     * turns into a refusal), gets no on_close. A reopened connection is
     * live, and ends with on_close. */
    if (!request.reopen && (a == WG_ACTION_REJECT || c->closed))
        conn_forget(c);
    return a;
}

WG_EXPORT(wasmgate_on_messages)
int32_t wasmgate_on_messages(uint32_t ctx, uint32_t flags, uint32_t count) {
    if (!wg_registered_filter.on_message)
        return 0;
    struct conn *c = conn_get(ctx);
    batch_conn = c;
    batch_closed = false;
    enter(HOOK_MESSAGES);
    int32_t status = 0;
    for (uint32_t i = 0; i < count && !batch_closed; i++) {
        int64_t info = wg_abi_message_info(i);
        if (info < 0) {
            wg_logf(WG_LOG_ERROR, "message_info(%u) of a batch of %u: %s",
                    (unsigned)i, (unsigned)count, wg_code_string((int)info));
            status = 1;
            break;
        }
        message = (struct wg_message){
            .index = i,
            .count = count,
            .len = (uint32_t)info,
            .type = (wg_msg_type)(info >> 32),
            .from_upstream = (flags & WG_DIR_UPSTREAM_TO_CLIENT) != 0,
            .valid = true,
        };
        wg_registered_filter.on_message(&c->pub, &message);
        message.valid = false;
        /* Each message's temporary memory goes with it: a long batch
         * does not pile up. */
        temp_reset();
    }
    leave();
    batch_conn = NULL;
    return status;
}

WG_EXPORT(wasmgate_on_close)
void wasmgate_on_close(uint32_t ctx, uint32_t flags, uint32_t code) {
    struct conn *c = conn_get(ctx);
    enter(HOOK_CLOSE);
    wg_close_event e = {
        .by_upstream = (flags & WG_CLOSE_BY_UPSTREAM) != 0,
        .abnormal = (flags & WG_CLOSE_ABNORMAL) != 0,
        .code = (uint16_t)code,
        .reason = "",
    };
    if (fetch(get_close_reason, NULL, &e.reason, &e.reason_len) < 0) {
        e.reason = "";
        e.reason_len = 0;
    }
    if (wg_registered_filter.on_close)
        wg_registered_filter.on_close(&c->pub, &e);
    leave();
    conn_forget(c);
}

WG_EXPORT(wasmgate_on_tick) void wasmgate_on_tick(uint32_t ctx) {
    struct conn *c = ctx ? conn_get(ctx) : NULL;
    enter(HOOK_TICK);
    if (wg_registered_filter.on_tick)
        wg_registered_filter.on_tick(c ? &c->pub : NULL);
    leave();
}

/* ------------------------------------------------------------------ */
/* Connections                                                         */
/* ------------------------------------------------------------------ */

static bool valid_type(wg_msg_type t) {
    return t == WG_TYPE_TEXT || t == WG_TYPE_BINARY;
}

static int send_message(wg_conn *c, uint32_t flags, wg_msg_type t,
                        const void *p, size_t n) {
    if (current == HOOK_NONE)
        return WG_ERR_WRONG_HOOK;
    if (!c)
        return WG_ERR_NOT_FOUND;
    if (!valid_type(t))
        return WG_ERR_INVALID_ARGUMENT;
    return wg_abi_send(conn_of(c)->id, flags, t, p, n);
}

int wg_send_to_client(wg_conn *c, wg_msg_type t, const void *p, size_t n) {
    return send_message(c, WG_DIR_UPSTREAM_TO_CLIENT, t, p, n);
}

int wg_send_to_upstream(wg_conn *c, wg_msg_type t, const void *p, size_t n) {
    return send_message(c, 0, t, p, n);
}

int wg_close(wg_conn *c, int code, const char *reason) {
    if (current == HOOK_NONE)
        return WG_ERR_WRONG_HOOK;
    if (!c)
        return WG_ERR_NOT_FOUND;
    if (!reason)
        reason = "";
    struct conn *cc = conn_of(c);
    int err = wg_abi_close(cc->id, code, reason, strlen(reason));
    if (err == WG_OK) {
        cc->closed = true;
        if (cc == batch_conn)
            batch_closed = true;
    }
    return err;
}

int wg_tick_set(wg_conn *c, uint32_t period_ms) {
    if (current == HOOK_NONE)
        return WG_ERR_WRONG_HOOK;
    return wg_abi_tick_set(c ? conn_of(c)->id : 0, period_ms);
}

/* ------------------------------------------------------------------ */
/* The handshake                                                       */
/* ------------------------------------------------------------------ */

static bool request_ok(const wg_request *r) {
    return r && r->valid && current == HOOK_OPEN;
}

bool wg_request_reopened(const wg_request *r) { return r && r->reopen; }

static const char *request_field(wg_request *r, int32_t field, size_t *len) {
    const char *s;
    size_t n;
    if (!request_ok(r) || fetch(get_field, &field, &s, &n) < 0) {
        s = "";
        n = 0;
    }
    if (len)
        *len = n;
    return s;
}

const char *wg_request_method(wg_request *r) {
    return request_field(r, WG_FIELD_METHOD, NULL);
}
const char *wg_request_uri(wg_request *r) {
    return request_field(r, WG_FIELD_URI, NULL);
}
const char *wg_request_path(wg_request *r) {
    return request_field(r, WG_FIELD_PATH, NULL);
}
const char *wg_request_query(wg_request *r) {
    return request_field(r, WG_FIELD_QUERY, NULL);
}
const char *wg_request_host(wg_request *r) {
    return request_field(r, WG_FIELD_HOST, NULL);
}
const char *wg_request_remote_addr(wg_request *r) {
    return request_field(r, WG_FIELD_REMOTE_ADDR, NULL);
}
const char *wg_request_route(wg_request *r) {
    return request_field(r, WG_FIELD_ROUTE, NULL);
}

wg_list wg_request_protocols(wg_request *r) {
    wg_list l;
    l.ptr = request_field(r, WG_FIELD_PROTOCOLS, &l.len);
    return l;
}

int wg_request_header_values(wg_request *r, const char *name,
                             wg_list *values) {
    *values = (wg_list){"", 0};
    if (!request_ok(r))
        return WG_ERR_WRONG_HOOK;
    const char *s;
    size_t n;
    int32_t err = fetch(get_header, name, &s, &n);
    if (err < 0)
        return err;
    *values = (wg_list){s, n};
    return WG_OK;
}

const char *wg_request_header(wg_request *r, const char *name) {
    wg_list l;
    if (wg_request_header_values(r, name, &l) < 0)
        return NULL;
    /* The items are NUL-terminated in place: the first is at the start. */
    return l.ptr;
}

wg_list wg_request_headers(wg_request *r) {
    wg_list l = {"", 0};
    if (request_ok(r) && fetch(get_headers, NULL, &l.ptr, &l.len) < 0)
        l = (wg_list){"", 0};
    return l;
}

int wg_request_set_upstream_header(wg_request *r, const char *name,
                                   const char *value) {
    if (!request_ok(r))
        return WG_ERR_WRONG_HOOK;
    return wg_abi_upstream_header_set(name, strlen(name), value,
                                      strlen(value));
}

int wg_request_add_upstream_header(wg_request *r, const char *name,
                                   const char *value) {
    if (!request_ok(r))
        return WG_ERR_WRONG_HOOK;
    return wg_abi_upstream_header_add(name, strlen(name), value,
                                      strlen(value));
}

int wg_request_remove_upstream_header(wg_request *r, const char *name) {
    if (!request_ok(r))
        return WG_ERR_WRONG_HOOK;
    return wg_abi_upstream_header_remove(name, strlen(name));
}

int wg_request_choose_upstream(wg_request *r, const char *name) {
    if (!request_ok(r))
        return WG_ERR_WRONG_HOOK;
    return wg_abi_upstream_choose(name, strlen(name));
}

int wg_request_set_upstream_uri(wg_request *r, const char *uri) {
    if (!request_ok(r))
        return WG_ERR_WRONG_HOOK;
    return wg_abi_upstream_uri_set(uri, strlen(uri));
}

int wg_request_reject(wg_request *r, int status, const char *body) {
    if (!request_ok(r))
        return WG_ERR_WRONG_HOOK;
    if (!body)
        body = "";
    return wg_abi_reject(status, body, strlen(body));
}

int wg_request_reject_header(wg_request *r, const char *name,
                             const char *value) {
    if (!request_ok(r))
        return WG_ERR_WRONG_HOOK;
    return wg_abi_reject_header(name, strlen(name), value, strlen(value));
}

/* ------------------------------------------------------------------ */
/* Messages                                                            */
/* ------------------------------------------------------------------ */

static bool message_ok(const wg_message *m) {
    return m && m->valid && current == HOOK_MESSAGES;
}

wg_msg_type wg_message_type(const wg_message *m) { return m->type; }
size_t wg_message_len(const wg_message *m) { return m->len; }
bool wg_message_from_upstream(const wg_message *m) { return m->from_upstream; }
size_t wg_message_index(const wg_message *m) { return m->index; }
size_t wg_message_count(const wg_message *m) { return m->count; }

const char *wg_message_data(wg_message *m) {
    if (!message_ok(m))
        return NULL;
    if (m->loaded)
        return message_buf;
    size_t n = m->len;
    if (message_cap < n + 1) {
        message_buf = xrealloc(message_buf, n + 1);
        message_cap = n + 1;
    }
    size_t off = 0;
    while (off < n) {
        int32_t k = wg_abi_message_read(m->index, (uint32_t)off,
                                        message_buf + off, n - off);
        if (k <= 0) {
            if (k < 0)
                wg_logf(WG_LOG_ERROR, "message_read(%u, %zu): %s",
                        (unsigned)m->index, off, wg_code_string(k));
            break;
        }
        off += (size_t)k < n - off ? (size_t)k : n - off;
    }
    /* A host that gave less than message_info said leaves zeros, not
     * the previous message. */
    memset(message_buf + off, 0, n + 1 - off);
    m->loaded = true;
    return message_buf;
}

int wg_message_replace(wg_message *m, wg_msg_type t, const void *p,
                       size_t n) {
    if (!message_ok(m))
        return WG_ERR_WRONG_HOOK;
    if (!valid_type(t))
        return WG_ERR_INVALID_ARGUMENT;
    return wg_abi_message_replace(m->index, t, p, n);
}

int wg_message_drop(wg_message *m) {
    if (!message_ok(m))
        return WG_ERR_WRONG_HOOK;
    return wg_abi_message_drop(m->index);
}

/* ------------------------------------------------------------------ */
/* Everywhere                                                          */
/* ------------------------------------------------------------------ */

static const char *level_name(int level) {
    static const char *const names[] = {"debug", "info", "warn", "error"};
    return names[level];
}

static void log_bytes(wg_log_level requested, const char *msg, size_t len) {
    /* Compared as an int: the enumeration's type may be unsigned. */
    int level = (int)requested;
    if (level < WG_LOG_DEBUG)
        level = WG_LOG_DEBUG;
    if (level > WG_LOG_ERROR)
        level = WG_LOG_ERROR;
    if (current == HOOK_NONE) {
        fprintf(stderr, "wasmgate %s: %.*s\n", level_name(level), (int)len,
                msg);
        return;
    }
    wg_abi_log(level, msg, len);
}

void wg_log(wg_log_level level, const char *msg) {
    log_bytes(level, msg, strlen(msg));
}

void wg_vlogf(wg_log_level level, const char *format, va_list args) {
    char small[256];
    va_list again;
    va_copy(again, args);
    int n = vsnprintf(small, sizeof small, format, args);
    if (n < 0) {
        wg_log(level, format);
    } else if ((size_t)n < sizeof small) {
        log_bytes(level, small, (size_t)n);
    } else {
        char *big = wg_temp_alloc((size_t)n + 1);
        vsnprintf(big, (size_t)n + 1, format, again);
        log_bytes(level, big, (size_t)n);
    }
    va_end(again);
}

void wg_logf(wg_log_level level, const char *format, ...) {
    va_list args;
    va_start(args, format);
    wg_vlogf(level, format, args);
    va_end(args);
}

int64_t wg_now(void) {
    if (current != HOOK_NONE)
        return wg_abi_time_now();
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int wg_kv_get(const char *key, const char **value, size_t *len) {
    if (current == HOOK_NONE)
        return WG_ERR_WRONG_HOOK;
    size_t n;
    int32_t err = fetch(get_kv, key, value, &n);
    if (err < 0)
        return err;
    if (len)
        *len = n;
    return WG_OK;
}

int wg_kv_set(const char *key, const void *p, size_t n, int64_t ttl_ms) {
    if (current == HOOK_NONE)
        return WG_ERR_WRONG_HOOK;
    if (ttl_ms < 0)
        return WG_ERR_INVALID_ARGUMENT;
    return wg_abi_kv_set(key, strlen(key), p, n, ttl_ms);
}

int wg_kv_add(const char *key, int64_t delta, int64_t ttl_ms, int64_t *sum) {
    if (current == HOOK_NONE)
        return WG_ERR_WRONG_HOOK;
    if (ttl_ms < 0)
        return WG_ERR_INVALID_ARGUMENT; /* the host would trap */
    int64_t n = wg_abi_kv_add(key, strlen(key), delta, ttl_ms);
    if (n == WG_KV_ADD_FULL)
        return WG_ERR_TOO_LARGE;
    if (sum)
        *sum = n;
    return WG_OK;
}

int wg_kv_delete(const char *key) {
    if (current == HOOK_NONE)
        return WG_ERR_WRONG_HOOK;
    return wg_abi_kv_delete(key, strlen(key));
}

static int metric_define(wg_metric_kind kind, int32_t *ref, const char *name) {
    *ref = 0;
    if (current == HOOK_NONE)
        return WG_ERR_WRONG_HOOK;
    int32_t id = wg_abi_metric_define(kind, name, strlen(name));
    if (id >= 0)
        *ref = id + 1;
    return id;
}

int wg_counter_define(wg_counter *c, const char *name) {
    return metric_define(WG_METRIC_COUNTER, &c->ref, name);
}

int wg_gauge_define(wg_gauge *g, const char *name) {
    return metric_define(WG_METRIC_GAUGE, &g->ref, name);
}

/* The metric functions check what the host would trap on: an id it did
 * not give, a negative delta for a counter. */

void wg_counter_add(wg_counter c, int64_t n) {
    if (c.ref > 0 && n > 0 && current != HOOK_NONE)
        wg_abi_metric_add(c.ref - 1, n);
}

void wg_gauge_add(wg_gauge g, int64_t n) {
    if (g.ref > 0 && current != HOOK_NONE)
        wg_abi_metric_add(g.ref - 1, n);
}

void wg_gauge_set(wg_gauge g, int64_t v) {
    if (g.ref > 0 && current != HOOK_NONE)
        wg_abi_metric_set(g.ref - 1, v);
}

/* ------------------------------------------------------------------ */
/* Lists                                                               */
/* ------------------------------------------------------------------ */

/* The parsers are lenient with a malformed list from a host: bytes after
 * the last NUL make one more item (terminated by the NUL at ptr[len]). */

const char *wg_list_next(wg_list *l) {
    if (!l->ptr || l->len == 0)
        return NULL;
    const char *item = l->ptr;
    const char *nul = memchr(item, '\0', l->len);
    size_t n = nul ? (size_t)(nul - item) + 1 : l->len;
    l->ptr += n;
    l->len -= n;
    return item;
}

size_t wg_list_count(wg_list l) {
    size_t n = 0;
    while (wg_list_next(&l))
        n++;
    return n;
}

bool wg_list_next_header(wg_list *l, const char **name, const char **value) {
    const char *n = wg_list_next(l);
    if (!n)
        return false;
    const char *v = wg_list_next(l);
    *name = n;
    *value = v ? v : "";
    return true;
}

/* ------------------------------------------------------------------ */
/* JSON                                                                */
/* ------------------------------------------------------------------ */

/* The reader validates a value (RFC 8259's grammar; the bytes of strings
 * are not checked for UTF-8) by skipping over it, and every lookup starts
 * by validating the value it is given, so a malformed one answers
 * "nothing there". Configurations are small: the rescans cost nothing
 * next to a hook call. */

static const wg_json invalid = {NULL, 0};

static const char *skip_ws(const char *p, const char *e) {
    while (p < e && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    return p;
}

static bool is_digit(char c) { return c >= '0' && c <= '9'; }

static int hex_value(char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* skip_string returns the end of the string starting at p (a '"'), or
 * NULL. */
static const char *skip_string(const char *p, const char *e) {
    if (p >= e || *p != '"')
        return NULL;
    for (p++; p < e; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '"')
            return p + 1;
        if (c < 0x20)
            return NULL;
        if (c != '\\')
            continue;
        if (++p >= e)
            return NULL;
        switch (*p) {
        case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r':
        case 't':
            break;
        case 'u':
            if (e - p < 5)
                return NULL;
            for (int i = 1; i <= 4; i++)
                if (hex_value(p[i]) < 0)
                    return NULL;
            p += 4;
            break;
        default:
            return NULL;
        }
    }
    return NULL;
}

static const char *skip_digits(const char *p, const char *e) {
    const char *start = p;
    while (p < e && is_digit(*p))
        p++;
    return p > start ? p : NULL;
}

static const char *skip_number(const char *p, const char *e) {
    if (p < e && *p == '-')
        p++;
    if (p < e && *p == '0')
        p++;
    else if (!(p = skip_digits(p, e)))
        return NULL;
    if (p < e && *p == '.' && !(p = skip_digits(p + 1, e)))
        return NULL;
    if (p < e && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < e && (*p == '+' || *p == '-'))
            p++;
        if (!(p = skip_digits(p, e)))
            return NULL;
    }
    return p;
}

static const char *skip_literal(const char *p, const char *e,
                                const char *word) {
    size_t n = strlen(word);
    if ((size_t)(e - p) < n || memcmp(p, word, n) != 0)
        return NULL;
    return p + n;
}

/* skip_value returns the end of the value starting at p, or NULL when
 * there is no valid value there. */
static const char *skip_value(const char *p, const char *e, int depth) {
    if (p >= e)
        return NULL;
    switch (*p) {
    case '"':
        return skip_string(p, e);
    case 't':
        return skip_literal(p, e, "true");
    case 'f':
        return skip_literal(p, e, "false");
    case 'n':
        return skip_literal(p, e, "null");
    case '[':
    case '{': {
        if (depth >= WG_JSON_MAX_DEPTH)
            return NULL;
        bool object = *p == '{';
        char close = object ? '}' : ']';
        p = skip_ws(p + 1, e);
        if (p < e && *p == close)
            return p + 1;
        for (;;) {
            if (object) {
                if (!(p = skip_string(p, e)))
                    return NULL;
                p = skip_ws(p, e);
                if (p >= e || *p != ':')
                    return NULL;
                p = skip_ws(p + 1, e);
            }
            if (!(p = skip_value(p, e, depth + 1)))
                return NULL;
            p = skip_ws(p, e);
            if (p >= e)
                return NULL;
            if (*p == close)
                return p + 1;
            if (*p != ',')
                return NULL;
            p = skip_ws(p + 1, e);
        }
    }
    default:
        return skip_number(p, e);
    }
}

static bool valid(wg_json v) {
    return v.ptr && v.len > 0 &&
           skip_value(v.ptr, v.ptr + v.len, 0) == v.ptr + v.len;
}

wg_json wg_json_parse(const char *text, size_t len) {
    if (!text)
        return invalid;
    const char *e = text + len;
    const char *p = skip_ws(text, e);
    const char *q = skip_value(p, e, 0);
    if (!q || skip_ws(q, e) != e)
        return invalid;
    return (wg_json){p, (size_t)(q - p)};
}

wg_json_type wg_json_type_of(wg_json v) {
    if (!valid(v))
        return WG_JSON_INVALID;
    switch (v.ptr[0]) {
    case 'n':
        return WG_JSON_NULL;
    case 't':
    case 'f':
        return WG_JSON_BOOL;
    case '"':
        return WG_JSON_STRING;
    case '[':
        return WG_JSON_ARRAY;
    case '{':
        return WG_JSON_OBJECT;
    }
    return WG_JSON_NUMBER;
}

wg_json_iter wg_json_iterate(wg_json v) {
    wg_json_type t = wg_json_type_of(v);
    if (t != WG_JSON_ARRAY && t != WG_JSON_OBJECT)
        return (wg_json_iter){NULL, NULL, false};
    /* Between the brackets: the value is valid, so the loop below needs
     * no checks. */
    return (wg_json_iter){v.ptr + 1, v.ptr + v.len - 1, t == WG_JSON_OBJECT};
}

bool wg_json_next(wg_json_iter *it, wg_json *key, wg_json *value) {
    if (!it->pos)
        return false;
    const char *p = skip_ws(it->pos, it->end);
    if (p >= it->end) {
        it->pos = NULL;
        return false;
    }
    wg_json k = invalid;
    if (it->object) {
        const char *q = skip_string(p, it->end);
        k = (wg_json){p, (size_t)(q - p)};
        p = skip_ws(skip_ws(q, it->end) + 1, it->end); /* past ':' */
    }
    const char *q = skip_value(p, it->end, 0);
    if (key)
        *key = k;
    *value = (wg_json){p, (size_t)(q - p)};
    q = skip_ws(q, it->end);
    it->pos = q < it->end ? q + 1 : q; /* past ',' */
    return true;
}

size_t wg_json_count(wg_json v) {
    wg_json_iter it = wg_json_iterate(v);
    wg_json value;
    size_t n = 0;
    while (wg_json_next(&it, NULL, &value))
        n++;
    return n;
}

wg_json wg_json_at(wg_json v, size_t i) {
    if (wg_json_type_of(v) != WG_JSON_ARRAY)
        return invalid;
    wg_json_iter it = wg_json_iterate(v);
    wg_json value;
    while (wg_json_next(&it, NULL, &value))
        if (i-- == 0)
            return value;
    return invalid;
}

/* An unescaper reads the contents of a valid string value one code point
 * at a time, as UTF-8. */
struct unescaper {
    const char *p, *end; /* end is the closing quote */
};

static struct unescaper unescaper_of(wg_json s) {
    return (struct unescaper){s.ptr + 1, s.ptr + s.len - 1};
}

static unsigned hex4(const char *p) {
    unsigned v = 0;
    for (int i = 0; i < 4; i++)
        v = v << 4 | (unsigned)hex_value(p[i]);
    return v;
}

static int utf8_encode(unsigned r, unsigned char out[4]) {
    if (r < 0x80) {
        out[0] = (unsigned char)r;
        return 1;
    }
    if (r < 0x800) {
        out[0] = (unsigned char)(0xC0 | r >> 6);
        out[1] = (unsigned char)(0x80 | (r & 0x3F));
        return 2;
    }
    if (r < 0x10000) {
        out[0] = (unsigned char)(0xE0 | r >> 12);
        out[1] = (unsigned char)(0x80 | (r >> 6 & 0x3F));
        out[2] = (unsigned char)(0x80 | (r & 0x3F));
        return 3;
    }
    out[0] = (unsigned char)(0xF0 | r >> 18);
    out[1] = (unsigned char)(0x80 | (r >> 12 & 0x3F));
    out[2] = (unsigned char)(0x80 | (r >> 6 & 0x3F));
    out[3] = (unsigned char)(0x80 | (r & 0x3F));
    return 4;
}

/* unescape_next writes the next bytes of the string into out and returns
 * their number, 0 at the end. A byte that is not part of an escape comes
 * out as it is; an escaped surrogate pair becomes one code point, an
 * unpaired surrogate U+FFFD (as Go's encoding/json does). */
static int unescape_next(struct unescaper *u, unsigned char out[4]) {
    if (u->p >= u->end)
        return 0;
    if (*u->p != '\\') {
        out[0] = (unsigned char)*u->p++;
        return 1;
    }
    char c = u->p[1];
    u->p += 2;
    switch (c) {
    case 'b': out[0] = '\b'; return 1;
    case 'f': out[0] = '\f'; return 1;
    case 'n': out[0] = '\n'; return 1;
    case 'r': out[0] = '\r'; return 1;
    case 't': out[0] = '\t'; return 1;
    case 'u': break;
    default: out[0] = (unsigned char)c; return 1; /* " \ / */
    }
    unsigned r = hex4(u->p);
    u->p += 4;
    if (r >= 0xD800 && r < 0xDC00 && u->end - u->p >= 6 && u->p[0] == '\\' &&
        u->p[1] == 'u') {
        unsigned lo = hex4(u->p + 2);
        if (lo >= 0xDC00 && lo < 0xE000) {
            u->p += 6;
            return utf8_encode(0x10000 + ((r - 0xD800) << 10) + (lo - 0xDC00),
                               out);
        }
    }
    if (r >= 0xD800 && r < 0xE000)
        r = 0xFFFD;
    return utf8_encode(r, out);
}

/* string_equals_n reports whether s is a string value equal, unescaped,
 * to the n bytes at want. */
static bool string_equals_n(wg_json s, const char *want, size_t n) {
    struct unescaper u = unescaper_of(s);
    unsigned char b[4];
    size_t off = 0;
    for (int k; (k = unescape_next(&u, b)) > 0; off += (size_t)k)
        if ((size_t)k > n - off || memcmp(b, want + off, (size_t)k) != 0)
            return false;
    return off == n;
}

static wg_json key_n(wg_json v, const char *key, size_t n) {
    if (wg_json_type_of(v) != WG_JSON_OBJECT)
        return invalid;
    wg_json_iter it = wg_json_iterate(v);
    wg_json k, value, found = invalid;
    while (wg_json_next(&it, &k, &value))
        if (string_equals_n(k, key, n))
            found = value;
    return found;
}

wg_json wg_json_key(wg_json v, const char *key) {
    return key_n(v, key, strlen(key));
}

wg_json wg_json_path(wg_json v, const char *path) {
    if (!valid(v))
        return invalid;
    while (*path) {
        const char *dot = strchr(path, '.');
        size_t n = dot ? (size_t)(dot - path) : strlen(path);
        bool index = n > 0;
        size_t i = 0;
        for (size_t j = 0; j < n && index; j++) {
            index = is_digit(path[j]) && i <= (SIZE_MAX - 9) / 10;
            i = i * 10 + (size_t)(path[j] - '0');
        }
        if (index && wg_json_type_of(v) == WG_JSON_ARRAY)
            v = wg_json_at(v, i);
        else
            v = key_n(v, path, n);
        if (!v.ptr)
            return invalid;
        path += n;
        if (*path == '.')
            path++;
    }
    return v;
}

bool wg_json_bool(wg_json v, bool *out) {
    if (wg_json_type_of(v) != WG_JSON_BOOL)
        return false;
    *out = v.ptr[0] == 't';
    return true;
}

bool wg_json_int(wg_json v, int64_t *out) {
    if (wg_json_type_of(v) != WG_JSON_NUMBER)
        return false;
    const char *p = v.ptr, *e = v.ptr + v.len;
    bool neg = *p == '-';
    if (neg)
        p++;
    uint64_t limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    uint64_t n = 0;
    for (; p < e; p++) {
        if (!is_digit(*p))
            return false; /* a fraction or an exponent */
        unsigned d = (unsigned)(*p - '0');
        if (n > (limit - d) / 10)
            return false;
        n = n * 10 + d;
    }
    /* -(n - 1) - 1 reaches INT64_MIN without overflowing. */
    *out = neg ? (n ? -(int64_t)(n - 1) - 1 : 0) : (int64_t)n;
    return true;
}

bool wg_json_double(wg_json v, double *out) {
    if (wg_json_type_of(v) != WG_JSON_NUMBER)
        return false;
    /* strtod needs a terminated copy: the value is a slice. */
    char small[64];
    char *s = v.len < sizeof small ? small : xmalloc(v.len + 1);
    memcpy(s, v.ptr, v.len);
    s[v.len] = '\0';
    errno = 0;
    double d = strtod(s, NULL);
    bool ok = !(errno == ERANGE && (d > 1 || d < -1));
    if (s != small)
        free(s);
    if (ok)
        *out = d;
    return ok;
}

ptrdiff_t wg_json_string(wg_json v, char *buf, size_t cap) {
    if (wg_json_type_of(v) != WG_JSON_STRING)
        return -1;
    struct unescaper u = unescaper_of(v);
    unsigned char b[4];
    size_t n = 0;
    for (int k; (k = unescape_next(&u, b)) > 0; n += (size_t)k)
        for (int i = 0; i < k; i++)
            if (n + (size_t)i + 1 < cap)
                buf[n + (size_t)i] = (char)b[i];
    if (cap > 0)
        buf[n < cap ? n : cap - 1] = '\0';
    return (ptrdiff_t)n;
}

char *wg_json_strdup(wg_json v) {
    ptrdiff_t n = wg_json_string(v, NULL, 0);
    if (n < 0)
        return NULL;
    char *s = xmalloc((size_t)n + 1);
    wg_json_string(v, s, (size_t)n + 1);
    return s;
}

bool wg_json_string_equals(wg_json v, const char *s) {
    return wg_json_type_of(v) == WG_JSON_STRING &&
           string_equals_n(v, s, strlen(s));
}
