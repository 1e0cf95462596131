/*
 * wasmgate.h: the C SDK for wasmgate filter plugins.
 *
 * A filter plugin is a WebAssembly module that wasmgate runs on the
 * handshakes and messages of the WebSocket connections it proxies. This
 * header and wasmgate.c implement the plugin ABI, version 1 (sdk/ABI.md),
 * for clang --target=wasm32-wasi with wasi-libc. A plugin fills a
 * wg_filter with its callbacks and registers it with WG_FILTER; the SDK
 * exports the ABI's hooks and calls the callbacks with a connection
 * object, the handshake or one message at a time.
 *
 *     #include "wasmgate.h"
 *
 *     static void shout(wg_conn *c, wg_message *m) {
 *         (void)c;
 *         ... wg_message_data(m), wg_message_replace(m, ...) ...
 *     }
 *
 *     WG_FILTER(.on_message = shout);
 *
 * Build it as a WASI reactor, so that the module's initializer runs before
 * the first hook:
 *
 *     clang --target=wasm32-wasi -mexec-model=reactor -std=c11 -Oz -g0 \
 *         -Wl,--stack-first -Wl,--strip-all \
 *         -I sdk/c -o shout.wasm shout.c sdk/c/wasmgate.c
 *
 * Conventions of the whole API:
 *
 * - Functions that can fail return an int: WG_OK (0) or a value >= 0 on
 *   success, a negative wg_code on failure, as the ABI's host functions
 *   do. wg_code_string names a code.
 * - Names, keys, header values, reasons and bodies are NUL-terminated
 *   strings; payloads and stored values are (pointer, length) pairs.
 * - Strings the SDK returns (request fields and headers, stored values,
 *   the close reason) live in memory the SDK owns until the callback that
 *   got them returns (each call of on_message is one): copy what must
 *   outlive it. They are NUL-terminated (the byte after the last one is
 *   NUL).
 * - The host functions act on the hook's connection and are valid only
 *   while a hook runs: called outside one (from a constructor), the SDK
 *   does not call the host and returns WG_ERR_WRONG_HOOK.
 * - A callback runs one at a time, on one thread: no locks are needed,
 *   and a callback must not block.
 * - Running out of memory traps (the host then discards the instance and
 *   applies the plugin's on_error policy), as does __builtin_trap().
 */
#ifndef WASMGATE_H
#define WASMGATE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ */
/* The ABI's numbers (sdk/ABI.md, section 6)                           */
/* ------------------------------------------------------------------ */

/* The ABI version this SDK implements. */
#define WG_ABI_VERSION 1

/* Result codes: zero and positive results are success, negative ones are
 * these errors. */
typedef enum wg_code {
    WG_OK = 0,
    /* No such header, key, message, upstream or connection. */
    WG_ERR_NOT_FOUND = -1,
    /* A value the host refuses: a header it may not set, a text payload
     * that is not UTF-8, a close code not valid on the wire. */
    WG_ERR_INVALID_ARGUMENT = -2,
    /* Over a limit: the route's message size, the key-value store's. */
    WG_ERR_TOO_LARGE = -3,
    /* Valid only in another hook, or on a reopened connection. */
    WG_ERR_WRONG_HOOK = -4
} wg_code;

/* What on_open decides about a handshake. */
typedef enum wg_action {
    /* The handshake goes on to the next filter, then the upstream. */
    WG_ACTION_CONTINUE = 0,
    /* The client is refused with the status, headers and body given with
     * wg_request_reject and wg_request_reject_header (403 with an empty
     * body without them). Later filters do not run. */
    WG_ACTION_REJECT = 1
} wg_action;

/* The type of a data message. */
typedef enum wg_msg_type {
    WG_TYPE_TEXT = 1,  /* the payload is UTF-8 */
    WG_TYPE_BINARY = 2
} wg_msg_type;

/* The level of a log line. */
typedef enum wg_log_level {
    WG_LOG_DEBUG = 0,
    WG_LOG_INFO = 1,
    WG_LOG_WARN = 2,
    WG_LOG_ERROR = 3
} wg_log_level;

/* The request fields of wg_abi_request_get. */
typedef enum wg_field {
    WG_FIELD_METHOD = 0,
    WG_FIELD_URI = 1,         /* path and query as sent */
    WG_FIELD_PATH = 2,
    WG_FIELD_QUERY = 3,       /* without '?' */
    WG_FIELD_HOST = 4,
    WG_FIELD_REMOTE_ADDR = 5, /* ip:port */
    WG_FIELD_PROTOCOLS = 6,   /* the offered subprotocols, a list */
    WG_FIELD_ROUTE = 7        /* the route's name */
} wg_field;

/* The metric kinds of wg_abi_metric_define. */
typedef enum wg_metric_kind {
    WG_METRIC_COUNTER = 0,
    WG_METRIC_GAUGE = 1
} wg_metric_kind;

/* Flags of the hooks and of wg_abi_send. */
enum {
    WG_OPEN_TLS = 1,               /* on_open: the client used TLS */
    WG_OPEN_REOPEN = 2,            /* on_open: rerun on a live connection */
    WG_DIR_UPSTREAM_TO_CLIENT = 1, /* on_messages and send: the direction */
    WG_CLOSE_BY_UPSTREAM = 1,      /* on_close: the upstream ended it */
    WG_CLOSE_ABNORMAL = 2          /* on_close: no close frame (1006) */
};

/* The result of wg_abi_kv_add when the store is full: -2^63. */
#define WG_KV_ADD_FULL INT64_MIN

/* The shortest timer period, in milliseconds. */
#define WG_MIN_TICK_MS 10

/* wg_code_string returns a short description of a result: "ok" for zero
 * and positive results, "not found", "invalid argument", "too large",
 * "wrong hook", or "unknown error" for another negative one. */
const char *wg_code_string(int code);

/* ------------------------------------------------------------------ */
/* The raw ABI: the host functions of module "wasmgate" (section 4)    */
/* ------------------------------------------------------------------ */

/* The functions below are the host's imports exactly as ABI.md gives
 * them; the rest of this header is built on them and a plugin should not
 * need them. Unlike the friendly layer they check nothing: an invalid
 * enumeration value, a pointer outside memory or a call outside a hook
 * traps. On targets other than wasm32 (the SDK's native tests) they are
 * plain external functions, for a fake host to define. */
#if defined(__wasm__)
#define WG_IMPORT(name) \
    __attribute__((import_module("wasmgate"), import_name(#name)))
#else
#define WG_IMPORT(name)
#endif

/* Everywhere (4.1). */
WG_IMPORT(log) void wg_abi_log(int32_t level, const void *ptr, size_t len);
WG_IMPORT(config_get) int32_t wg_abi_config_get(void *buf, size_t cap);
WG_IMPORT(time_now) int64_t wg_abi_time_now(void);
WG_IMPORT(tick_set) int32_t wg_abi_tick_set(uint32_t ctx, uint32_t period_ms);
WG_IMPORT(kv_get) int32_t wg_abi_kv_get(const void *key, size_t key_len,
                                        void *buf, size_t cap);
WG_IMPORT(kv_set) int32_t wg_abi_kv_set(const void *key, size_t key_len,
                                        const void *val, size_t val_len,
                                        int64_t ttl_ms);
WG_IMPORT(kv_add) int64_t wg_abi_kv_add(const void *key, size_t key_len,
                                        int64_t delta, int64_t ttl_ms);
WG_IMPORT(kv_delete) int32_t wg_abi_kv_delete(const void *key, size_t key_len);
WG_IMPORT(metric_define) int32_t wg_abi_metric_define(int32_t kind,
                                                      const void *name,
                                                      size_t name_len);
WG_IMPORT(metric_add) void wg_abi_metric_add(int32_t id, int64_t delta);
WG_IMPORT(metric_set) void wg_abi_metric_set(int32_t id, int64_t value);

/* On the handshake (4.2). */
WG_IMPORT(request_get) int32_t wg_abi_request_get(int32_t field, void *buf,
                                                  size_t cap);
WG_IMPORT(request_header) int32_t wg_abi_request_header(const void *name,
                                                        size_t name_len,
                                                        void *buf, size_t cap);
WG_IMPORT(request_headers) int32_t wg_abi_request_headers(void *buf,
                                                          size_t cap);
WG_IMPORT(upstream_header_set) int32_t wg_abi_upstream_header_set(
    const void *name, size_t name_len, const void *val, size_t val_len);
WG_IMPORT(upstream_header_add) int32_t wg_abi_upstream_header_add(
    const void *name, size_t name_len, const void *val, size_t val_len);
WG_IMPORT(upstream_header_remove) int32_t wg_abi_upstream_header_remove(
    const void *name, size_t name_len);
WG_IMPORT(upstream_choose) int32_t wg_abi_upstream_choose(const void *name,
                                                          size_t name_len);
WG_IMPORT(upstream_uri_set) int32_t wg_abi_upstream_uri_set(const void *uri,
                                                            size_t uri_len);
WG_IMPORT(reject) int32_t wg_abi_reject(int32_t status, const void *body,
                                        size_t body_len);
WG_IMPORT(reject_header) int32_t wg_abi_reject_header(const void *name,
                                                      size_t name_len,
                                                      const void *val,
                                                      size_t val_len);

/* On messages (4.3). */
WG_IMPORT(message_info) int64_t wg_abi_message_info(uint32_t index);
WG_IMPORT(message_read) int32_t wg_abi_message_read(uint32_t index,
                                                    uint32_t offset, void *buf,
                                                    size_t cap);
WG_IMPORT(message_replace) int32_t wg_abi_message_replace(uint32_t index,
                                                          int32_t type,
                                                          const void *ptr,
                                                          size_t len);
WG_IMPORT(message_drop) int32_t wg_abi_message_drop(uint32_t index);
WG_IMPORT(send) int32_t wg_abi_send(uint32_t ctx, uint32_t flags, int32_t type,
                                    const void *ptr, size_t len);
WG_IMPORT(close) int32_t wg_abi_close(uint32_t ctx, int32_t code,
                                      const void *reason, size_t reason_len);

/* On close (4.4). */
WG_IMPORT(close_reason_get) int32_t wg_abi_close_reason_get(void *buf,
                                                            size_t cap);

/* ------------------------------------------------------------------ */
/* Lists                                                               */
/* ------------------------------------------------------------------ */

/* A wg_list is a list of strings as the ABI gives them: each item
 * followed by a NUL byte ("chat.v2\0chat.v1\0"), so each item is a C
 * string in place. ptr[len] is always NUL, so the last item is
 * terminated even when the host left out its NUL. Iterating consumes
 * the list (it is a cheap value: copy it to iterate twice):
 *
 *     wg_list l = wg_request_protocols(r);
 *     for (const char *p; (p = wg_list_next(&l)) != NULL;)
 *         ...
 */
typedef struct wg_list {
    const char *ptr;
    size_t len;
} wg_list;

/* wg_list_next returns the list's next item and moves past it, or NULL
 * at the end. */
const char *wg_list_next(wg_list *l);

/* wg_list_count returns the number of items of the list. */
size_t wg_list_count(wg_list l);

/* wg_list_next_header reads the next name and value of a header list
 * (name, NUL, value, NUL, repeated) into *name and *value and returns
 * true, or returns false at the end. A name without a value gets "". */
bool wg_list_next_header(wg_list *l, const char **name, const char **value);

/* ------------------------------------------------------------------ */
/* JSON: the plugin's configuration                                    */
/* ------------------------------------------------------------------ */

/* A wg_json is one JSON value: a slice of a document's text. The reader
 * works in place and allocates nothing (but wg_json_strdup); a value that
 * is missing or malformed has the type WG_JSON_INVALID, and every
 * function takes such a value and answers "nothing there", so lookups
 * chain without checks in between. Nesting deeper than WG_JSON_MAX_DEPTH
 * is malformed. */
typedef struct wg_json {
    const char *ptr; /* NULL for the invalid value */
    size_t len;
} wg_json;

#define WG_JSON_MAX_DEPTH 64

typedef enum wg_json_type {
    WG_JSON_INVALID = 0,
    WG_JSON_NULL,
    WG_JSON_BOOL,
    WG_JSON_NUMBER,
    WG_JSON_STRING,
    WG_JSON_ARRAY,
    WG_JSON_OBJECT
} wg_json_type;

/* wg_json_parse returns the value of a whole document of len bytes
 * (white space around it allowed), or the invalid value when the text is
 * not exactly one JSON value. The value points into text. */
wg_json wg_json_parse(const char *text, size_t len);

/* wg_json_type_of returns the type of v. */
wg_json_type wg_json_type_of(wg_json v);

/* wg_json_key returns the member of object v whose key, unescaped,
 * equals key (the last one when the key repeats). */
wg_json wg_json_key(wg_json v, const char *key);

/* wg_json_at returns element i (from 0) of array v. */
wg_json wg_json_at(wg_json v, size_t i);

/* wg_json_path follows a path of keys and indexes separated by '.':
 * "limits.rooms.0" is wg_json_at(wg_json_key(wg_json_key(v, "limits"),
 * "rooms"), 0). A segment is an index when the value it applies to is an
 * array. Use wg_json_key for a key that contains a '.'. The empty path is
 * v itself. */
wg_json wg_json_path(wg_json v, const char *path);

/* wg_json_count returns the number of elements of an array or members of
 * an object, 0 for any other value. */
size_t wg_json_count(wg_json v);

/* A wg_json_iter walks the members of an object or the elements of an
 * array:
 *
 *     wg_json_iter it = wg_json_iterate(obj);
 *     wg_json key, val;
 *     while (wg_json_next(&it, &key, &val))
 *         ...
 */
typedef struct wg_json_iter {
    const char *pos, *end;
    bool object;
} wg_json_iter;

/* wg_json_iterate starts iterating over an object or an array; over any
 * other value the iteration is empty. */
wg_json_iter wg_json_iterate(wg_json v);

/* wg_json_next reads the next member into *key (a string value; the
 * invalid value for an array's elements) and *value, and returns true, or
 * returns false at the end. key may be NULL. */
bool wg_json_next(wg_json_iter *it, wg_json *key, wg_json *value);

/* wg_json_bool stores a boolean's value in *out and returns true, or
 * returns false (leaving *out alone) for any other value. */
bool wg_json_bool(wg_json v, bool *out);

/* wg_json_int stores an integer in *out and returns true, or returns
 * false for anything else: a string, a number outside int64_t, or one
 * written with a fraction or an exponent (wasmgate writes a whole number
 * of the configuration as digits: 1e3 in HCL reaches the plugin as
 * 1000). */
bool wg_json_int(wg_json v, int64_t *out);

/* wg_json_double stores a number's value in *out (the nearest double)
 * and returns true, or returns false for anything else, a number beyond
 * the range of double included. */
bool wg_json_double(wg_json v, double *out);

/* wg_json_string unescapes string v into buf, as snprintf does: it writes
 * at most cap bytes including a terminating NUL (nothing when cap is 0)
 * and returns the unescaped length, which is >= cap when the string was
 * cut; -1 when v is not a string. The string may contain NUL bytes
 * (\u0000); an unpaired surrogate (\ud800) becomes U+FFFD. */
ptrdiff_t wg_json_string(wg_json v, char *buf, size_t cap);

/* wg_json_strdup returns string v unescaped in memory from malloc (the
 * caller frees it), or NULL when v is not a string. */
char *wg_json_strdup(wg_json v);

/* wg_json_string_equals reports whether v is a string that, unescaped,
 * equals s. */
bool wg_json_string_equals(wg_json v, const char *s);

/* ------------------------------------------------------------------ */
/* The filter                                                          */
/* ------------------------------------------------------------------ */

/* A wg_conn is one proxied connection, as this instance of the plugin
 * sees it. The SDK creates it for the connection's first hook and frees
 * it when on_close returns (or, for a connection that on_open refused or
 * closed, when on_open returns): drop every pointer to it then. */
typedef struct wg_conn {
    /* The filter's own state for the connection, NULL at first. The SDK
     * never reads it: free what it points to in on_close (and in on_open
     * when refusing the connection). */
    void *data;
} wg_conn;

/* The handshake, given to on_open; valid only during that call. */
typedef struct wg_request wg_request;

/* A data message, given to on_message; valid only during that call. */
typedef struct wg_message wg_message;

/* How a connection ended, given to on_close. */
typedef struct wg_close_event {
    /* Set when the upstream side ended the connection, clear when the
     * client did. */
    bool by_upstream;
    /* Set when that side vanished without a close frame; code is then
     * 1006. */
    bool abnormal;
    /* The close code, 1005 when the close frame had none. */
    uint16_t code;
    /* The close reason (UTF-8, "" for none), valid during on_close. */
    const char *reason;
    size_t reason_len;
} wg_close_event;

/* wg_filter is a plugin's filter: the callbacks the SDK calls from the
 * ABI's hooks. A NULL callback does the ABI's default. */
typedef struct wg_filter {
    /* Called once per instance, before any connection, with the plugin's
     * configuration (the config attribute of its HCL block; the JSON
     * null without one). The only place to define metrics. A non-zero
     * result refuses the plugin: at startup wasmgate does not start, on a
     * reload the old configuration stays. Default: succeed. */
    int (*on_start)(wg_json config);

    /* Called on each handshake, before the upstream is dialed, and again
     * when the plugin was replaced on a live connection
     * (wg_request_reopened). Returns WG_ACTION_CONTINUE or
     * WG_ACTION_REJECT. A connection it rejects, or closes with wg_close,
     * gets no on_close. Default: continue. */
    wg_action (*on_open)(wg_conn *c, wg_request *r);

    /* Called for each data message, in order, in both directions
     * (wg_message_from_upstream). Without wg_message_replace or
     * wg_message_drop the message goes on unchanged. Default: pass. */
    void (*on_message)(wg_conn *c, wg_message *m);

    /* Called once per connection that on_open let through, when it
     * ends. The SDK frees c when it returns. Default: nothing. */
    void (*on_close)(wg_conn *c, const wg_close_event *e);

    /* Called when a timer fires: one set with wg_tick_set(c, ...), or,
     * with c NULL, one set with wg_tick_set(NULL, ...). Default:
     * nothing. */
    void (*on_tick)(wg_conn *c);
} wg_filter;

/* WG_FILTER registers the plugin's filter, given as designated
 * initializers of a wg_filter; write it once, at file scope:
 *
 *     WG_FILTER(.on_start = start, .on_message = message);
 *
 * It defines the symbol the SDK's hooks call, so a plugin without it
 * fails to link ("undefined symbol: wg_registered_filter"), and one with
 * two fails with a duplicate symbol. */
#define WG_FILTER(...) const wg_filter wg_registered_filter = {__VA_ARGS__}

/* The filter WG_FILTER defines. */
extern const wg_filter wg_registered_filter;

/* ------------------------------------------------------------------ */
/* Connections                                                         */
/* ------------------------------------------------------------------ */

/* wg_conn_id returns the connection's context id, unique among the live
 * connections of the plugin. */
uint32_t wg_conn_id(const wg_conn *c);

/* wg_conn_tls reports whether the client connected with TLS (wss). */
bool wg_conn_tls(const wg_conn *c);

/* wg_send_to_client sends a message of type t and payload (p, n) to the
 * client. During on_message of the same connection it goes out after the
 * message being handled, in order; to another connection of the instance
 * it goes at once. The route's other filters do not see it. Valid in
 * on_message and on_tick (WG_ERR_WRONG_HOOK elsewhere); WG_ERR_NOT_FOUND
 * for a closed connection, WG_ERR_INVALID_ARGUMENT for text that is not
 * UTF-8 or a type that is neither WG_TYPE_TEXT nor WG_TYPE_BINARY,
 * WG_ERR_TOO_LARGE over the route's message size. */
int wg_send_to_client(wg_conn *c, wg_msg_type t, const void *p, size_t n);

/* wg_send_to_upstream sends a message to the upstream, as
 * wg_send_to_client does to the client. */
int wg_send_to_upstream(wg_conn *c, wg_msg_type t, const void *p, size_t n);

/* wg_close closes the connection: the client gets code and reason (at
 * most 123 bytes of UTF-8), the upstream 1001. During on_message the
 * rest of the batch is dropped (the SDK calls on_message no more for it);
 * during on_open it refuses the handshake with 403 and the reason as the
 * body, and the connection gets no on_close. Valid in on_open,
 * on_message and on_tick; WG_ERR_INVALID_ARGUMENT for a code that is not
 * valid on the wire (1005, 1006, ...). */
int wg_close(wg_conn *c, int code, const char *reason);

/* wg_tick_set makes on_tick(c) run every period_ms milliseconds (at
 * least WG_MIN_TICK_MS) until the connection ends; c NULL sets the
 * instance's plugin-wide timer, on_tick(NULL). A period of 0 stops the
 * timer; a shorter one is WG_ERR_INVALID_ARGUMENT. */
int wg_tick_set(wg_conn *c, uint32_t period_ms);

/* ------------------------------------------------------------------ */
/* The handshake (on_open)                                             */
/* ------------------------------------------------------------------ */

/* The request's fields. Each returns a string that lives until on_open
 * returns, "" when called after it (or when the host has no value). */
const char *wg_request_method(wg_request *r);      /* GET */
const char *wg_request_uri(wg_request *r);         /* path and query */
const char *wg_request_path(wg_request *r);        /* as sent, not decoded */
const char *wg_request_query(wg_request *r);       /* without '?' */
const char *wg_request_host(wg_request *r);        /* the Host asked for */
const char *wg_request_remote_addr(wg_request *r); /* ip:port */
const char *wg_request_route(wg_request *r);       /* the route's name */

/* wg_request_protocols returns the subprotocols the client offered, in
 * its order of preference (an empty list for none). */
wg_list wg_request_protocols(wg_request *r);

/* wg_request_reopened reports whether this on_open reruns for a live
 * connection after the plugin was replaced: no handshake is in progress,
 * and the functions that edit the upstream request or the refusal return
 * WG_ERR_WRONG_HOOK. */
bool wg_request_reopened(const wg_request *r);

/* wg_request_header returns the first value of the named header (matched
 * without regard to case), or NULL when the request has none. */
const char *wg_request_header(wg_request *r, const char *name);

/* wg_request_header_values stores every value of the named header in
 * *values and returns WG_OK, or returns WG_ERR_NOT_FOUND (leaving
 * *values empty) when the request has no such header. */
int wg_request_header_values(wg_request *r, const char *name, wg_list *values);

/* wg_request_headers returns every header of the request as a header
 * list, names in lower case, one pair per value (see
 * wg_list_next_header). */
wg_list wg_request_headers(wg_request *r);

/* wg_request_set_upstream_header replaces a header of the request sent
 * upstream. Handshake headers (Host, Upgrade, Connection,
 * Sec-WebSocket-*), hop-by-hop headers and values with CR, LF or NUL are
 * WG_ERR_INVALID_ARGUMENT. */
int wg_request_set_upstream_header(wg_request *r, const char *name,
                                   const char *value);

/* wg_request_add_upstream_header adds a value to a header of the request
 * sent upstream, with the limits of wg_request_set_upstream_header. */
int wg_request_add_upstream_header(wg_request *r, const char *name,
                                   const char *value);

/* wg_request_remove_upstream_header removes a header from the request
 * sent upstream, with the limits of wg_request_set_upstream_header. */
int wg_request_remove_upstream_header(wg_request *r, const char *name);

/* wg_request_choose_upstream makes the connection dial the named upstream
 * instead of the route's; WG_ERR_NOT_FOUND when wasmgate has no upstream
 * of that name. */
int wg_request_choose_upstream(wg_request *r, const char *name);

/* wg_request_set_upstream_uri replaces the request-target (path and
 * query, as in "/v2/chat?room=1") sent to the upstream, after its
 * server's base path. Filters later in the route read the new one.
 * WG_ERR_INVALID_ARGUMENT unless it starts with '/' and is at most 8192
 * bytes of visible ASCII without '#' (percent-encode anything else). */
int wg_request_set_upstream_uri(wg_request *r, const char *uri);

/* wg_request_reject sets the refusal sent to the client if on_open
 * returns WG_ACTION_REJECT: a status from 400 to 599
 * (WG_ERR_INVALID_ARGUMENT otherwise) and a body. */
int wg_request_reject(wg_request *r, int status, const char *body);

/* wg_request_reject_header adds a header to the refusal, with the limits
 * of wg_request_set_upstream_header. */
int wg_request_reject_header(wg_request *r, const char *name,
                             const char *value);

/* ------------------------------------------------------------------ */
/* Messages (on_message)                                               */
/* ------------------------------------------------------------------ */

/* wg_message_type returns the message's type as it arrived. */
wg_msg_type wg_message_type(const wg_message *m);

/* wg_message_len returns the length of the payload as it arrived. */
size_t wg_message_len(const wg_message *m);

/* wg_message_from_upstream reports whether the message goes from the
 * upstream to the client; false means from the client to the upstream. */
bool wg_message_from_upstream(const wg_message *m);

/* wg_message_index returns the message's position in its batch (from 0),
 * and wg_message_count the number of messages of the batch: every data
 * message one read produced, which the SDK hands to on_message one at a
 * time. */
size_t wg_message_index(const wg_message *m);
size_t wg_message_count(const wg_message *m);

/* wg_message_data returns the payload as it arrived, wg_message_len
 * bytes followed by a NUL (so a text message without NUL bytes is a C
 * string). The SDK reads it from the host on the first call, into a
 * buffer it reuses for every message: it is valid until on_message
 * returns. NULL when called after that. */
const char *wg_message_data(wg_message *m);

/* wg_message_replace makes the message go on with type t and payload
 * (p, n) instead; the host copies the payload. WG_ERR_INVALID_ARGUMENT
 * for a text payload that is not UTF-8 (or a type that is neither text
 * nor binary), WG_ERR_TOO_LARGE for one over the route's message size. */
int wg_message_replace(wg_message *m, wg_msg_type t, const void *p, size_t n);

/* wg_message_drop makes the message go no further. */
int wg_message_drop(wg_message *m);

/* ------------------------------------------------------------------ */
/* Everywhere                                                          */
/* ------------------------------------------------------------------ */

/* wg_config returns the plugin's configuration, the JSON on_start got;
 * the invalid value before on_start. It lives as long as the instance. */
wg_json wg_config(void);

/* wg_log logs msg at level; wasmgate adds the plugin's name and the
 * connection. A level outside WG_LOG_DEBUG..WG_LOG_ERROR is taken as the
 * nearest. Outside a hook it writes to standard error. */
void wg_log(wg_log_level level, const char *msg);

/* wg_logf logs at level, formatting as printf. */
void wg_logf(wg_log_level level, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

/* wg_vlogf is wg_logf with a va_list. */
void wg_vlogf(wg_log_level level, const char *format, va_list args)
    __attribute__((format(printf, 2, 0)));

/* wg_now returns the wall-clock time in nanoseconds since the Unix
 * epoch: the host's clock in a hook, WASI's outside one. */
int64_t wg_now(void);

/* wg_temp_alloc returns n bytes of memory (aligned for any type) that the
 * SDK frees when the current callback returns, the memory the SDK's
 * returned strings live in: a plugin can build a reply in it and forget
 * it. Outside a callback the memory lives until the next one returns. */
void *wg_temp_alloc(size_t n);

/* The key-value store is shared by every instance of the plugin (and by
 * other plugins only when wasmgate is configured so): wg_kv_add is how
 * instances count together. A ttl_ms of 0 keeps a value until it is
 * deleted; a negative one is WG_ERR_INVALID_ARGUMENT. */

/* wg_kv_get stores the value of key in *value (NUL-terminated, living
 * until the callback returns) and its length in *len (which may be NULL),
 * and returns WG_OK, or WG_ERR_NOT_FOUND. */
int wg_kv_get(const char *key, const char **value, size_t *len);

/* wg_kv_set stores the value (p, n) under key; WG_ERR_TOO_LARGE when the
 * store's limits are reached. */
int wg_kv_set(const char *key, const void *p, size_t n, int64_t ttl_ms);

/* wg_kv_add atomically adds delta to the integer stored under key (a
 * missing key counts as 0, and gets ttl_ms), stores the new value in *sum
 * (which may be NULL) and returns WG_OK; WG_ERR_TOO_LARGE when the
 * store's limits are reached. The key must hold a decimal integer and the
 * sum must not overflow: the host traps otherwise. */
int wg_kv_add(const char *key, int64_t delta, int64_t ttl_ms, int64_t *sum);

/* wg_kv_delete deletes key: WG_OK, or WG_ERR_NOT_FOUND when it had no
 * value. */
int wg_kv_delete(const char *key);

/* A counter only goes up; a gauge goes up and down. wasmgate exports
 * them with a plugin label. The zero value ({0}) of either does nothing,
 * so a metric that failed to be defined is harmless. */
typedef struct wg_counter {
    int32_t ref; /* the metric's id + 1; 0 when undefined */
} wg_counter;
typedef struct wg_gauge {
    int32_t ref; /* the metric's id + 1; 0 when undefined */
} wg_gauge;

/* wg_counter_define defines a counter named [a-zA-Z_][a-zA-Z0-9_]* into
 * *c and returns its id (>= 0), or a negative code:
 * WG_ERR_INVALID_ARGUMENT for a bad name (or one defined as a gauge),
 * WG_ERR_TOO_LARGE over wasmgate's limit of metrics, WG_ERR_WRONG_HOOK
 * outside on_start, the only place to define metrics. Defining a name
 * again gives the same metric. */
int wg_counter_define(wg_counter *c, const char *name);

/* wg_gauge_define defines a gauge, as wg_counter_define a counter. */
int wg_gauge_define(wg_gauge *g, const char *name);

/* wg_counter_add adds n to the counter; n <= 0 does nothing. */
void wg_counter_add(wg_counter c, int64_t n);

/* wg_gauge_add adds n, which may be negative, to the gauge. */
void wg_gauge_add(wg_gauge g, int64_t n);

/* wg_gauge_set sets the gauge to v. */
void wg_gauge_set(wg_gauge g, int64_t v);

#ifdef __cplusplus
}
#endif

#endif /* WASMGATE_H */
