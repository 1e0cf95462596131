/*
 * router: a filter that picks the upstream of each connection from the
 * subprotocols the client offers or from a segment of the request path
 * (see README.md for the configuration). Built by sdk/c/build.sh.
 *
 * The choice, on each handshake:
 * 1. the first subprotocol the client offers (in its order of preference)
 *    that "protocols" maps;
 * 2. otherwise, segment "path_segment" of the path (counted from 1 at the
 *    start of the path, whatever the route's prefix: in /chat/eu/room,
 *    segment 2 is "eu") when "path_upstreams" maps it;
 * 3. otherwise the route's own upstream, or, when "required" is true, a
 *    404 refusal whose body lists what would have matched.
 * A mapping to an upstream that wasmgate does not have is a mistake in the
 * configuration: the handshake is refused with 502 and the mistake logged.
 */
#include "wasmgate.h"

#include <stdio.h>
#include <string.h>

/* The configuration, checked by start: wg_json values point into the
 * configuration, which lives as long as the instance. */
static struct {
    wg_json protocols;      /* object: subprotocol -> upstream, or invalid */
    int64_t path_segment;   /* from 1; 0 when paths are not looked at */
    wg_json path_upstreams; /* object: segment -> upstream, or invalid */
    bool required;
} cfg;

/* string_map checks that v, when present, is an object of non-empty
 * strings, and logs why when it is not. */
static bool string_map(wg_json v, const char *name) {
    if (!v.ptr)
        return true;
    if (wg_json_type_of(v) != WG_JSON_OBJECT) {
        wg_logf(WG_LOG_ERROR, "router: %s must be an object", name);
        return false;
    }
    wg_json_iter it = wg_json_iterate(v);
    wg_json key, value;
    while (wg_json_next(&it, &key, &value)) {
        if (wg_json_type_of(value) != WG_JSON_STRING ||
            wg_json_string_equals(value, "")) {
            wg_logf(WG_LOG_ERROR,
                    "router: %s: the value of %.*s must be an upstream's name",
                    name, (int)key.len, key.ptr);
            return false;
        }
    }
    return true;
}

static int start(wg_json config) {
    static const char *const known[] = {"protocols", "path_segment",
                                        "path_upstreams", "required"};
    if (wg_json_type_of(config) != WG_JSON_OBJECT) {
        wg_log(WG_LOG_ERROR, "router: the config must be an object "
                             "(protocols, path_segment, path_upstreams, "
                             "required)");
        return 1;
    }
    /* An unknown key is most likely a misspelt known one. */
    wg_json_iter it = wg_json_iterate(config);
    wg_json key, value;
    while (wg_json_next(&it, &key, &value)) {
        bool ok = false;
        for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
            ok = ok || wg_json_string_equals(key, known[i]);
        if (!ok) {
            wg_logf(WG_LOG_ERROR, "router: unknown config key %.*s",
                    (int)key.len, key.ptr);
            return 1;
        }
    }

    cfg.protocols = wg_json_key(config, "protocols");
    cfg.path_upstreams = wg_json_key(config, "path_upstreams");
    if (!string_map(cfg.protocols, "protocols") ||
        !string_map(cfg.path_upstreams, "path_upstreams"))
        return 1;

    wg_json segment = wg_json_key(config, "path_segment");
    cfg.path_segment = 0;
    if (segment.ptr &&
        (!wg_json_int(segment, &cfg.path_segment) || cfg.path_segment < 1)) {
        wg_log(WG_LOG_ERROR, "router: path_segment must be a whole number "
                             "from 1");
        return 1;
    }
    if (!segment.ptr != !cfg.path_upstreams.ptr) {
        wg_log(WG_LOG_ERROR, "router: path_segment and path_upstreams go "
                             "together");
        return 1;
    }
    if (!cfg.protocols.ptr && !cfg.path_upstreams.ptr) {
        wg_log(WG_LOG_ERROR, "router: the config maps nothing: give "
                             "protocols, or path_segment and path_upstreams");
        return 1;
    }

    wg_json required = wg_json_key(config, "required");
    cfg.required = false;
    if (required.ptr && !wg_json_bool(required, &cfg.required)) {
        wg_log(WG_LOG_ERROR, "router: required must be true or false");
        return 1;
    }
    return 0;
}

/* segment returns segment n (from 1) of path, in temporary memory, or NULL
 * when the path has fewer segments or that one is empty. */
static const char *segment(const char *path, int64_t n) {
    if (*path == '/')
        path++;
    for (; n > 1; n--) {
        path = strchr(path, '/');
        if (!path)
            return NULL;
        path++;
    }
    size_t len = strcspn(path, "/");
    if (len == 0)
        return NULL;
    char *s = wg_temp_alloc(len + 1);
    memcpy(s, path, len);
    s[len] = '\0';
    return s;
}

/* keys returns the keys of a string map joined by ", ", in temporary
 * memory. */
static const char *keys(wg_json map) {
    char *s = wg_temp_alloc(map.len + 1); /* keys unescape to less */
    size_t n = 0;
    wg_json_iter it = wg_json_iterate(map);
    wg_json key, value;
    for (bool first = true; wg_json_next(&it, &key, &value); first = false) {
        if (!first) {
            memcpy(s + n, ", ", 2);
            n += 2;
        }
        n += (size_t)wg_json_string(key, s + n, map.len + 1 - n);
    }
    s[n] = '\0';
    return s;
}

/* refuse_unrouted refuses a handshake that nothing maps, with a body that
 * says what would have matched. */
static wg_action refuse_unrouted(wg_request *r) {
    const char *protocols = cfg.protocols.ptr ? keys(cfg.protocols) : NULL;
    const char *segments = cfg.path_upstreams.ptr ? keys(cfg.path_upstreams)
                                                  : NULL;
    char number[24];
    snprintf(number, sizeof number, "%lld", (long long)cfg.path_segment);
    size_t cap = 128 + (protocols ? strlen(protocols) : 0) +
                 (segments ? strlen(segments) : 0);
    char *body = wg_temp_alloc(cap);
    snprintf(body, cap, "no upstream for this request%s%s%s%s%s%s\n",
             protocols ? "; known subprotocols: " : "",
             protocols ? protocols : "",
             segments ? "; known values of path segment " : "",
             segments ? number : "", segments ? ": " : "",
             segments ? segments : "");
    wg_request_reject(r, 404, body);
    return WG_ACTION_REJECT;
}

/* temp_string returns string value v unescaped, in temporary memory. */
static char *temp_string(wg_json v) {
    size_t n = (size_t)wg_json_string(v, NULL, 0);
    char *s = wg_temp_alloc(n + 1);
    wg_json_string(v, s, n + 1);
    return s;
}

/* route dials the upstream named by string value upstream, which `why`
 * chose, or refuses the handshake when wasmgate has no such upstream. */
static wg_action route(wg_request *r, wg_json upstream, const char *why) {
    const char *name = temp_string(upstream);
    int err = wg_request_choose_upstream(r, name);
    wg_action a = WG_ACTION_CONTINUE;
    if (err == WG_OK) {
        wg_logf(WG_LOG_DEBUG, "router: %s: upstream %s", why, name);
    } else {
        wg_logf(WG_LOG_ERROR,
                "router: %s maps to upstream %s, which wasmgate has not: "
                "fix the plugin's config or add the upstream (%s)",
                why, name, wg_code_string(err));
        size_t cap = strlen(name) + 64;
        char *body = wg_temp_alloc(cap);
        snprintf(body, cap, "upstream %s is not configured\n", name);
        wg_request_reject(r, 502, body);
        a = WG_ACTION_REJECT;
    }
    return a;
}

static wg_action open_conn(wg_conn *c, wg_request *r) {
    (void)c;
    /* A reopened connection is already dialed: nothing to choose. */
    if (wg_request_reopened(r))
        return WG_ACTION_CONTINUE;

    wg_list offered = wg_request_protocols(r);
    for (const char *p; (p = wg_list_next(&offered)) != NULL;) {
        wg_json upstream = wg_json_key(cfg.protocols, p);
        if (upstream.ptr) {
            size_t cap = strlen(p) + 16;
            char *why = wg_temp_alloc(cap);
            snprintf(why, cap, "subprotocol %s", p);
            return route(r, upstream, why);
        }
    }

    if (cfg.path_segment > 0) {
        const char *seg = segment(wg_request_path(r), cfg.path_segment);
        wg_json upstream = seg ? wg_json_key(cfg.path_upstreams, seg)
                               : (wg_json){NULL, 0};
        if (upstream.ptr) {
            size_t cap = strlen(seg) + 48;
            char *why = wg_temp_alloc(cap);
            snprintf(why, cap, "path segment %lld %s",
                     (long long)cfg.path_segment, seg);
            return route(r, upstream, why);
        }
    }

    if (cfg.required)
        return refuse_unrouted(r);
    wg_log(WG_LOG_DEBUG, "router: no mapping: the route's upstream");
    return WG_ACTION_CONTINUE;
}

WG_FILTER(.on_start = start, .on_open = open_conn);
