/*
 * The C SDK's conformance guest: it behaves exactly as sdk/CONFORMANCE.md
 * says, so that plugins/sdk_conformance_test.go gets the same transcript
 * from it as from the other SDKs' guests. It uses the SDK's friendly
 * API only, as a plugin would.
 */
#include "wasmgate.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* 2020-09-13, in Unix nanoseconds: a clock after it is a real clock. */
#define TIME_OK_AFTER INT64_C(1600000000000000000)

static wg_counter messages;
static wg_gauge open_conns;

/* format returns a string formatted as printf, in temporary memory. */
__attribute__((format(printf, 1, 2))) static char *format(const char *fmt,
                                                          ...) {
    va_list args;
    va_start(args, fmt);
    int n = vsnprintf(NULL, 0, fmt, args);
    va_end(args);
    char *s = wg_temp_alloc((size_t)n + 1);
    va_start(args, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, args);
    va_end(args);
    return s;
}

/* join returns the items of a list separated by sep, in temporary
 * memory. */
static char *join(wg_list l, char sep) {
    char *s = wg_temp_alloc(l.len + 1);
    size_t n = 0;
    bool first = true;
    for (const char *item; (item = wg_list_next(&l)) != NULL;) {
        if (!first)
            s[n++] = sep;
        first = false;
        size_t k = strlen(item);
        memcpy(s + n, item, k);
        n += k;
    }
    s[n] = '\0';
    return s;
}

static const char *time_verdict(void) {
    return wg_now() > TIME_OK_AFTER ? "ok" : "bad";
}

static int start(wg_json config) {
    wg_logf(WG_LOG_INFO, "conf start config=%.*s", (int)config.len,
            config.ptr);

    wg_counter again, bad;
    int c = wg_counter_define(&messages, "conf_messages");
    int g = wg_gauge_define(&open_conns, "conf_open");
    int c2 = wg_counter_define(&again, "conf_messages");
    int b = wg_counter_define(&bad, "9bad");
    bool same = c == c2 && c >= 0 && g >= 0 && g != c;
    wg_logf(WG_LOG_INFO, "conf start metrics same=%s bad=%d",
            same ? "true" : "false", b);

    wg_logf(WG_LOG_INFO, "conf start time=%s", time_verdict());
    wg_logf(WG_LOG_INFO, "conf start tick=%d", wg_tick_set(NULL, 5));
    return 0;
}

static wg_action open_conn(wg_conn *c, wg_request *r) {
    const char *path = wg_request_path(r);
    wg_logf(WG_LOG_INFO,
            "conf open method=%s uri=%s path=%s query=%s host=%s remote=%s "
            "protocols=%s route=%s tls=%d reopen=%d",
            wg_request_method(r), wg_request_uri(r), path,
            wg_request_query(r), wg_request_host(r),
            wg_request_remote_addr(r), join(wg_request_protocols(r), ','),
            wg_request_route(r), wg_conn_tls(c), wg_request_reopened(r));

    wg_list multi, missing;
    wg_request_header_values(r, "X-Multi", &multi);
    int missing_code = wg_request_header_values(r, "x-missing", &missing);
    const char *long_value = wg_request_header(r, "x-long");
    wg_list headers = wg_request_headers(r);
    size_t pairs = 0, n = 0;
    char *names = wg_temp_alloc(headers.len + 1);
    for (const char *name, *value;
         wg_list_next_header(&headers, &name, &value); pairs++) {
        if (pairs > 0)
            names[n++] = ',';
        size_t k = strlen(name);
        memcpy(names + n, name, k);
        n += k;
    }
    names[n] = '\0';
    wg_logf(WG_LOG_INFO,
            "conf open multi=%s missing=%d long=%zu headers=%zu names=%s",
            join(multi, '|'), missing_code,
            long_value ? strlen(long_value) : 0, pairs, names);

    int64_t opens = 0;
    wg_kv_add("opens", 1, 0, &opens);
    wg_kv_set("last-path", path, strlen(path), 0);
    const char *last = "";
    wg_kv_get("last-path", &last, NULL);
    const char *ignored;
    int get_missing = wg_kv_get("nope", &ignored, NULL);
    int delete_missing = wg_kv_delete("nope");
    wg_logf(WG_LOG_INFO,
            "conf open opens=%" PRId64 " last=%s get_missing=%d "
            "delete_missing=%d",
            opens, last, get_missing, delete_missing);

    wg_gauge_add(open_conns, 1);

    if (strcmp(path, "/reject") == 0) {
        wg_request_reject(r, 451, "conformance says no");
        wg_request_reject_header(r, "x-conf-reason", "test");
        wg_log(WG_LOG_INFO, "conf open reject");
        return WG_ACTION_REJECT;
    }
    if (strcmp(path, "/close") == 0) {
        wg_logf(WG_LOG_INFO, "conf open close=%d",
                wg_close(c, 4000, "closed in open"));
        return WG_ACTION_CONTINUE;
    }
    wg_request_set_upstream_header(r, "X-Conf", "1");
    wg_request_add_upstream_header(r, "x-conf-add", "a");
    wg_request_add_upstream_header(r, "x-conf-add", "b");
    wg_request_remove_upstream_header(r, "x-remove-me");
    int up = wg_request_set_upstream_header(r, "upgrade", "x");
    int ch = wg_request_choose_upstream(r, "alt");
    int chm = wg_request_choose_upstream(r, "nope");
    int u = wg_request_set_upstream_uri(r, format("/up%s", wg_request_uri(r)));
    int ub = wg_request_set_upstream_uri(r, "no-slash");
    wg_logf(WG_LOG_INFO,
            "conf open edits upgrade=%d choose=%d choose_missing=%d uri=%d "
            "uri_bad=%d",
            up, ch, chm, u, ub);
    return WG_ACTION_CONTINUE;
}

/* replace_text replaces the message with the text s. */
static void replace_text(wg_message *m, const char *s) {
    wg_message_replace(m, WG_TYPE_TEXT, s, strlen(s));
}

/* arg returns the argument of command name ("name:<arg>") in payload p,
 * or NULL when p is another command. */
static const char *arg(const char *p, const char *name) {
    size_t n = strlen(name);
    return strncmp(p, name, n) == 0 && p[n] == ':' ? p + n + 1 : NULL;
}

static void command(wg_conn *c, wg_message *m, const char *p) {
    const char *a;
    if (strcmp(p, "info") == 0) {
        replace_text(m, format("info index=%zu type=%d len=%zu dir=%s "
                               "count=%zu",
                               wg_message_index(m), (int)wg_message_type(m),
                               wg_message_len(m),
                               wg_message_from_upstream(m) ? "u2c" : "c2u",
                               wg_message_count(m)));
    } else if ((a = arg(p, "upper"))) {
        char *s = format("%s", a);
        for (char *q = s; *q; q++)
            if (*q >= 'a' && *q <= 'z')
                *q = (char)(*q - 'a' + 'A');
        replace_text(m, s);
    } else if (strcmp(p, "drop") == 0) {
        wg_message_drop(m);
    } else if ((a = arg(p, "bin"))) {
        wg_message_replace(m, WG_TYPE_BINARY, a, strlen(a));
    } else if ((a = arg(p, "send"))) {
        if (wg_message_from_upstream(m))
            wg_send_to_upstream(c, WG_TYPE_TEXT, a, strlen(a));
        else
            wg_send_to_client(c, WG_TYPE_TEXT, a, strlen(a));
    } else if ((a = arg(p, "kv"))) {
        int64_t n = 0;
        wg_kv_add(a, 1, 0, &n);
        replace_text(m, format("kv %s=%" PRId64, a, n));
    } else if ((a = arg(p, "kvset"))) {
        const char *eq = strchr(a, '=');
        const char *value = eq ? eq + 1 : "";
        char *key = format("%.*s", (int)(eq ? (size_t)(eq - a) : strlen(a)),
                           a);
        int r = wg_kv_set(key, value, strlen(value), 60000);
        replace_text(m, format("kvset=%d", r));
    } else if ((a = arg(p, "kvget"))) {
        const char *value;
        int r = wg_kv_get(a, &value, NULL);
        replace_text(m, r == WG_OK ? format("kvget %s=%s", a, value)
                                   : format("kvget %s=%d", a, r));
    } else if ((a = arg(p, "kvdel"))) {
        replace_text(m, format("kvdel=%d", wg_kv_delete(a)));
    } else if ((a = arg(p, "gauge"))) {
        long long n = strtoll(a, NULL, 10);
        wg_gauge_set(open_conns, n);
        replace_text(m, format("gauge=%lld", n));
    } else if ((a = arg(p, "log"))) {
        wg_logf(WG_LOG_WARN, "conf log %s", a);
    } else if (strcmp(p, "time") == 0) {
        replace_text(m, format("time=%s", time_verdict()));
    } else if (strcmp(p, "wrong") == 0) {
        wg_counter wrong;
        replace_text(m, format("wrong=%d",
                               wg_counter_define(&wrong, "conf_wrong")));
    } else if (strcmp(p, "badutf8") == 0) {
        int r = wg_message_replace(m, WG_TYPE_TEXT, "\xff\xfe", 2);
        replace_text(m, format("badutf8=%d", r));
    } else if (strcmp(p, "big") == 0) {
        enum { BIG = 70000 };
        char *s = wg_temp_alloc(BIG);
        memset(s, 'a', BIG);
        int r = wg_message_replace(m, WG_TYPE_TEXT, s, BIG);
        replace_text(m, format("big=%d", r));
    } else if (strcmp(p, "badclose") == 0) {
        replace_text(m, format("badclose=%d", wg_close(c, 1005, "")));
    } else if (strcmp(p, "tick") == 0) {
        replace_text(m, format("tick=%d", wg_tick_set(c, 10)));
    } else if ((a = arg(p, "close"))) {
        /* close:<code>:<reason>; the SDK handles no more messages of the
         * batch once the close succeeded. */
        char *end;
        long code = strtol(a, &end, 10);
        wg_close(c, (int)code, *end == ':' ? end + 1 : "");
    } else if (strcmp(p, "trap") == 0) {
        __builtin_trap();
    }
}

static void message(wg_conn *c, wg_message *m) {
    wg_counter_add(messages, 1);
    const char *p = wg_message_data(m);
    size_t n = wg_message_len(m);
    if (wg_message_type(m) == WG_TYPE_BINARY) {
        char *rev = wg_temp_alloc(n);
        for (size_t i = 0; i < n; i++)
            rev[i] = p[n - 1 - i];
        wg_message_replace(m, WG_TYPE_BINARY, rev, n);
        return;
    }
    command(c, m, p);
}

static void close_conn(wg_conn *c, const wg_close_event *e) {
    (void)c;
    int64_t closes = 0;
    wg_kv_add("closes", 1, 0, &closes);
    wg_gauge_add(open_conns, -1);
    wg_logf(WG_LOG_INFO,
            "conf close by=%s abnormal=%d code=%d reason=%s closes=%" PRId64,
            e->by_upstream ? "upstream" : "client", e->abnormal, e->code,
            e->reason, closes);
}

static void tick(wg_conn *c) {
    if (!c) {
        wg_log(WG_LOG_INFO, "conf tick global");
        return;
    }
    static const char fired[] = "tick fired";
    wg_send_to_client(c, WG_TYPE_TEXT, fired, sizeof fired - 1);
    wg_tick_set(c, 0);
}

WG_FILTER(.on_start = start, .on_open = open_conn, .on_message = message,
          .on_close = close_conn, .on_tick = tick);
