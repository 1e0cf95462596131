/* The fake host of the SDK's native tests: see fakehost.h. */
#include "fakehost.h"

#include <stdio.h>
#include <string.h>

struct fake fake;

void fake_reset(void) { memset(&fake, 0, sizeof fake); }

/* trap records what the real host would trap on. */
static void trap(const char *why) {
    fprintf(stderr, "fake host: trap: %s\n", why);
    fake.traps++;
}

static bool in_hook(void) {
    if (fake.hook == FAKE_NONE) {
        trap("host function called outside a hook");
        return false;
    }
    return true;
}

/* give copies the n bytes of v into (buf, cap) as far as they fit, after
 * filling the whole buffer, so that a buffer smaller than its cap shows
 * up under the address sanitizer. */
static int32_t give(void *buf, size_t cap, const void *v, size_t n) {
    memset(buf, 0xAA, cap);
    memcpy(buf, v, n < cap ? n : cap);
    return (int32_t)n;
}

static void append(char *dst, size_t cap, const char *fmt, const char *a,
                   size_t a_len, const char *b, size_t b_len) {
    size_t n = strlen(dst);
    snprintf(dst + n, cap - n, fmt, (int)a_len, a, (int)b_len, b);
}

void wg_abi_log(int32_t level, const void *ptr, size_t len) {
    static const char *const names[] = {"DEBUG", "INFO", "WARN", "ERROR"};
    if (!in_hook())
        return;
    if (level < 0 || level > 3) {
        trap("log level");
        return;
    }
    fake.log_len += (size_t)snprintf(fake.log + fake.log_len,
                                     sizeof fake.log - fake.log_len,
                                     "%s %.*s\n", names[level], (int)len,
                                     (const char *)ptr);
}

int32_t wg_abi_config_get(void *buf, size_t cap) {
    in_hook();
    const char *c = fake.config ? fake.config : "null";
    return give(buf, cap, c, strlen(c));
}

int64_t wg_abi_time_now(void) {
    in_hook();
    return fake.now;
}

int32_t wg_abi_tick_set(uint32_t ctx, uint32_t period_ms) {
    in_hook();
    if (period_ms != 0 && period_ms < WG_MIN_TICK_MS)
        return WG_ERR_INVALID_ARGUMENT;
    fake.tick_ctx = ctx;
    fake.tick_ms = period_ms;
    return WG_OK;
}

static int kv_find(const void *key, size_t n) {
    for (int i = 0; i < fake.kv_len; i++)
        if (strlen(fake.kv_keys[i]) == n &&
            memcmp(fake.kv_keys[i], key, n) == 0)
            return i;
    return -1;
}

static int kv_put(const void *key, size_t n) {
    int i = kv_find(key, n);
    if (i >= 0)
        return i;
    if (fake.kv_full || fake.kv_len == FAKE_MAX)
        return -1;
    i = fake.kv_len++;
    snprintf(fake.kv_keys[i], sizeof fake.kv_keys[i], "%.*s", (int)n,
             (const char *)key);
    fake.kv_values[i][0] = '\0';
    return i;
}

int32_t wg_abi_kv_get(const void *key, size_t key_len, void *buf, size_t cap) {
    in_hook();
    int i = kv_find(key, key_len);
    if (i < 0)
        return WG_ERR_NOT_FOUND;
    return give(buf, cap, fake.kv_values[i], strlen(fake.kv_values[i]));
}

int32_t wg_abi_kv_set(const void *key, size_t key_len, const void *val,
                      size_t val_len, int64_t ttl_ms) {
    in_hook();
    if (ttl_ms < 0)
        return WG_ERR_INVALID_ARGUMENT;
    int i = kv_put(key, key_len);
    if (i < 0)
        return WG_ERR_TOO_LARGE;
    snprintf(fake.kv_values[i], sizeof fake.kv_values[i], "%.*s",
             (int)val_len, (const char *)val);
    return WG_OK;
}

int64_t wg_abi_kv_add(const void *key, size_t key_len, int64_t delta,
                      int64_t ttl_ms) {
    in_hook();
    if (ttl_ms < 0) {
        trap("kv_add: negative ttl");
        return 0;
    }
    int i = kv_put(key, key_len);
    if (i < 0)
        return WG_KV_ADD_FULL;
    long long n = 0;
    sscanf(fake.kv_values[i], "%lld", &n);
    n += delta;
    snprintf(fake.kv_values[i], sizeof fake.kv_values[i], "%lld", n);
    return n;
}

int32_t wg_abi_kv_delete(const void *key, size_t key_len) {
    in_hook();
    int i = kv_find(key, key_len);
    if (i < 0)
        return WG_ERR_NOT_FOUND;
    fake.kv_len--;
    memcpy(fake.kv_keys[i], fake.kv_keys[fake.kv_len], sizeof fake.kv_keys[i]);
    memcpy(fake.kv_values[i], fake.kv_values[fake.kv_len],
           sizeof fake.kv_values[i]);
    return WG_OK;
}

static bool metric_name(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                      c == '_';
        if (!letter && !(i > 0 && c >= '0' && c <= '9'))
            return false;
    }
    return n > 0 && n < 32;
}

int32_t wg_abi_metric_define(int32_t kind, const void *name, size_t name_len) {
    in_hook();
    if (kind != WG_METRIC_COUNTER && kind != WG_METRIC_GAUGE) {
        trap("metric kind");
        return 0;
    }
    if (fake.hook != FAKE_START)
        return WG_ERR_WRONG_HOOK;
    if (!metric_name(name, name_len))
        return WG_ERR_INVALID_ARGUMENT;
    for (int i = 0; i < fake.metrics_len; i++)
        if (strlen(fake.metric_names[i]) == name_len &&
            memcmp(fake.metric_names[i], name, name_len) == 0)
            return fake.metric_kinds[i] == kind ? i : WG_ERR_INVALID_ARGUMENT;
    if (fake.metrics_len == FAKE_MAX)
        return WG_ERR_TOO_LARGE;
    int i = fake.metrics_len++;
    snprintf(fake.metric_names[i], sizeof fake.metric_names[i], "%.*s",
             (int)name_len, (const char *)name);
    fake.metric_kinds[i] = kind;
    return i;
}

void wg_abi_metric_add(int32_t id, int64_t delta) {
    in_hook();
    if (id < 0 || id >= fake.metrics_len) {
        trap("metric_add: unknown id");
        return;
    }
    if (fake.metric_kinds[id] == WG_METRIC_COUNTER && delta < 0) {
        trap("metric_add: negative delta for a counter");
        return;
    }
    fake.metric_values[id] += delta;
}

void wg_abi_metric_set(int32_t id, int64_t value) {
    in_hook();
    if (id < 0 || id >= fake.metrics_len ||
        fake.metric_kinds[id] != WG_METRIC_GAUGE) {
        trap("metric_set: not a gauge");
        return;
    }
    fake.metric_values[id] = value;
}

/* On the handshake. */

int32_t wg_abi_request_get(int32_t field, void *buf, size_t cap) {
    in_hook();
    if (field < WG_FIELD_METHOD || field > WG_FIELD_ROUTE) {
        trap("request field");
        return 0;
    }
    if (fake.hook != FAKE_OPEN)
        return WG_ERR_WRONG_HOOK;
    const char *v = fake.fields[field] ? fake.fields[field] : "";
    size_t n = field == WG_FIELD_PROTOCOLS ? fake.protocols_len : strlen(v);
    return give(buf, cap, v, n);
}

static bool same_name(const char *a, const char *b, size_t n) {
    if (strlen(a) != n)
        return false;
    for (size_t i = 0; i < n; i++) {
        char x = a[i], y = b[i];
        if (x >= 'A' && x <= 'Z')
            x = (char)(x - 'A' + 'a');
        if (y >= 'A' && y <= 'Z')
            y = (char)(y - 'A' + 'a');
        if (x != y)
            return false;
    }
    return true;
}

int32_t wg_abi_request_header(const void *name, size_t name_len, void *buf,
                              size_t cap) {
    static char values[8192];
    in_hook();
    if (fake.hook != FAKE_OPEN)
        return WG_ERR_WRONG_HOOK;
    size_t n = 0;
    wg_list l = {fake.headers, fake.headers_len};
    for (const char *k, *v; wg_list_next_header(&l, &k, &v);) {
        if (!same_name(k, name, name_len))
            continue;
        size_t m = strlen(v) + 1;
        memcpy(values + n, v, m);
        n += m;
    }
    if (n == 0)
        return WG_ERR_NOT_FOUND;
    return give(buf, cap, values, n);
}

int32_t wg_abi_request_headers(void *buf, size_t cap) {
    in_hook();
    if (fake.hook != FAKE_OPEN)
        return WG_ERR_WRONG_HOOK;
    return give(buf, cap, fake.headers ? fake.headers : "", fake.headers_len);
}

static int32_t edit(const char *op, const void *name, size_t name_len,
                    const void *val, size_t val_len) {
    in_hook();
    if (fake.hook != FAKE_OPEN)
        return WG_ERR_WRONG_HOOK;
    if (same_name("upgrade", name, name_len) ||
        same_name("host", name, name_len))
        return WG_ERR_INVALID_ARGUMENT;
    size_t n = strlen(fake.upstream_edits);
    snprintf(fake.upstream_edits + n, sizeof fake.upstream_edits - n, "%s ",
             op);
    append(fake.upstream_edits, sizeof fake.upstream_edits, "%.*s=%.*s;",
           name, name_len, val ? val : "", val_len);
    return WG_OK;
}

int32_t wg_abi_upstream_header_set(const void *name, size_t name_len,
                                   const void *val, size_t val_len) {
    return edit("set", name, name_len, val, val_len);
}

int32_t wg_abi_upstream_header_add(const void *name, size_t name_len,
                                   const void *val, size_t val_len) {
    return edit("add", name, name_len, val, val_len);
}

int32_t wg_abi_upstream_header_remove(const void *name, size_t name_len) {
    return edit("remove", name, name_len, NULL, 0);
}

int32_t wg_abi_upstream_choose(const void *name, size_t name_len) {
    in_hook();
    if (fake.hook != FAKE_OPEN)
        return WG_ERR_WRONG_HOOK;
    wg_list l = {fake.upstreams, fake.upstreams_len};
    for (const char *u; (u = wg_list_next(&l)) != NULL;)
        if (strlen(u) == name_len && memcmp(u, name, name_len) == 0) {
            snprintf(fake.chosen, sizeof fake.chosen, "%s", u);
            return WG_OK;
        }
    return WG_ERR_NOT_FOUND;
}

int32_t wg_abi_upstream_uri_set(const void *uri, size_t uri_len) {
    in_hook();
    if (fake.hook != FAKE_OPEN)
        return WG_ERR_WRONG_HOOK;
    const unsigned char *u = uri;
    if (uri_len == 0 || uri_len > 8192 || u[0] != '/')
        return WG_ERR_INVALID_ARGUMENT;
    for (size_t i = 0; i < uri_len; i++)
        if (u[i] <= ' ' || u[i] >= 0x7f || u[i] == '#')
            return WG_ERR_INVALID_ARGUMENT;
    snprintf(fake.upstream_uri, sizeof fake.upstream_uri, "%.*s",
             (int)uri_len, u);
    return WG_OK;
}

int32_t wg_abi_reject(int32_t status, const void *body, size_t body_len) {
    in_hook();
    if (fake.hook != FAKE_OPEN)
        return WG_ERR_WRONG_HOOK;
    if (status < 400 || status > 599)
        return WG_ERR_INVALID_ARGUMENT;
    fake.reject_status = status;
    snprintf(fake.reject_body, sizeof fake.reject_body, "%.*s", (int)body_len,
             (const char *)body);
    return WG_OK;
}

int32_t wg_abi_reject_header(const void *name, size_t name_len,
                             const void *val, size_t val_len) {
    return edit("reject", name, name_len, val, val_len);
}

/* On messages. */

static struct fake_message *batch_message(uint32_t index, int32_t *err) {
    *err = WG_OK;
    if (fake.hook != FAKE_MESSAGES)
        *err = WG_ERR_WRONG_HOOK;
    else if (index >= fake.batch_len)
        *err = WG_ERR_NOT_FOUND;
    return *err ? NULL : &fake.batch[index];
}

int64_t wg_abi_message_info(uint32_t index) {
    in_hook();
    int32_t err;
    struct fake_message *m = batch_message(index, &err);
    if (!m)
        return err;
    return (int64_t)m->type << 32 | (int64_t)m->len;
}

int32_t wg_abi_message_read(uint32_t index, uint32_t offset, void *buf,
                            size_t cap) {
    in_hook();
    int32_t err;
    struct fake_message *m = batch_message(index, &err);
    if (!m)
        return err;
    if (offset >= m->len)
        return 0;
    size_t n = m->len - offset;
    if (n > cap)
        n = cap;
    if (fake.read_chunk && n > fake.read_chunk)
        n = fake.read_chunk;
    memcpy(buf, m->data + offset, n);
    return (int32_t)n;
}

static bool check_type(int32_t type) {
    if (type != WG_TYPE_TEXT && type != WG_TYPE_BINARY) {
        trap("message type");
        return false;
    }
    return true;
}

int32_t wg_abi_message_replace(uint32_t index, int32_t type, const void *ptr,
                               size_t len) {
    in_hook();
    int32_t err;
    struct fake_message *m = batch_message(index, &err);
    if (!m)
        return err;
    if (!check_type(type))
        return 0;
    if (len >= sizeof m->new_data) /* the route's limit */
        return WG_ERR_TOO_LARGE;
    m->replaced = true;
    m->new_type = type;
    memcpy(m->new_data, ptr, len);
    m->new_len = len;
    return WG_OK;
}

int32_t wg_abi_message_drop(uint32_t index) {
    in_hook();
    int32_t err;
    struct fake_message *m = batch_message(index, &err);
    if (!m)
        return err;
    m->dropped = true;
    return WG_OK;
}

int32_t wg_abi_send(uint32_t ctx, uint32_t flags, int32_t type,
                    const void *ptr, size_t len) {
    in_hook();
    if (fake.hook != FAKE_MESSAGES && fake.hook != FAKE_TICK)
        return WG_ERR_WRONG_HOOK;
    if (!check_type(type))
        return 0;
    fake.sends++;
    fake.send_ctx = ctx;
    fake.send_flags = flags;
    fake.send_type = type;
    snprintf(fake.send_data, sizeof fake.send_data, "%.*s", (int)len,
             (const char *)ptr);
    return WG_OK;
}

int32_t wg_abi_close(uint32_t ctx, int32_t code, const void *reason,
                     size_t reason_len) {
    in_hook();
    if (fake.hook != FAKE_OPEN && fake.hook != FAKE_MESSAGES &&
        fake.hook != FAKE_TICK)
        return WG_ERR_WRONG_HOOK;
    if (code < 1000 || code > 4999 || code == 1005 || code == 1006 ||
        reason_len > 123)
        return WG_ERR_INVALID_ARGUMENT;
    fake.closes++;
    fake.close_ctx = ctx;
    fake.close_code = code;
    snprintf(fake.close_reason_out, sizeof fake.close_reason_out, "%.*s",
             (int)reason_len, (const char *)reason);
    return WG_OK;
}

int32_t wg_abi_close_reason_get(void *buf, size_t cap) {
    in_hook();
    if (fake.hook != FAKE_CLOSE)
        return WG_ERR_WRONG_HOOK;
    const char *r = fake.close_reason ? fake.close_reason : "";
    return give(buf, cap, r, strlen(r));
}

/* The hooks, as the host calls them. */

int32_t call_start(void) {
    fake.hook = FAKE_START;
    int32_t r = wasmgate_on_start();
    fake.hook = FAKE_NONE;
    return r;
}

int32_t call_open(uint32_t ctx, uint32_t flags) {
    fake.hook = FAKE_OPEN;
    int32_t r = wasmgate_on_open(ctx, flags);
    fake.hook = FAKE_NONE;
    return r;
}

int32_t call_messages(uint32_t ctx, uint32_t flags) {
    fake.hook = FAKE_MESSAGES;
    int32_t r = wasmgate_on_messages(ctx, flags, fake.batch_len);
    fake.hook = FAKE_NONE;
    return r;
}

void call_close(uint32_t ctx, uint32_t flags, uint32_t code) {
    fake.hook = FAKE_CLOSE;
    wasmgate_on_close(ctx, flags, code);
    fake.hook = FAKE_NONE;
}

void call_tick(uint32_t ctx) {
    fake.hook = FAKE_TICK;
    wasmgate_on_tick(ctx);
    fake.hook = FAKE_NONE;
}
