/*
 * Native tests of the C SDK: the JSON reader and the list parsers, and the
 * hooks run against the fake host of fakehost.c. Run by sdk/c/test.sh.
 */
#include "fakehost.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures;

#define CHECK(cond)                                                        \
    do {                                                                   \
        if (!(cond)) {                                                     \
            fprintf(stderr, "%s:%d: failed: %s\n", __FILE__, __LINE__,     \
                    #cond);                                                \
            failures++;                                                    \
        }                                                                  \
    } while (0)

#define CHECK_STR(got, want)                                               \
    do {                                                                   \
        const char *got_ = (got), *want_ = (want);                         \
        if (!got_ || strcmp(got_, want_) != 0) {                           \
            fprintf(stderr, "%s:%d: %s is \"%s\", want \"%s\"\n", __FILE__, \
                    __LINE__, #got, got_ ? got_ : "(null)", want_);        \
            failures++;                                                    \
        }                                                                  \
    } while (0)

#define LIST(s) ((wg_list){s, sizeof s - 1})

static wg_json J(const char *s) { return wg_json_parse(s, strlen(s)); }

/* str returns string value v unescaped into a static buffer. */
static const char *str(wg_json v) {
    static char buf[256];
    if (wg_json_string(v, buf, sizeof buf) < 0)
        return NULL;
    return buf;
}

/* ------------------------------------------------------------------ */
/* JSON                                                                */
/* ------------------------------------------------------------------ */

static void test_json_parse(void) {
    static const char *const valid[] = {
        "null", "true", "false", "0", "-0", "12", "-1.5e+3", "2E-2", "0.25",
        "\"\"", "\"a\\\"b\\\\c\\/\\b\\f\\n\\r\\t\\u00e9\"", "[]", "{}",
        " [ 1 , [ 2 , { } ] ] ", "{\"a\":{\"b\":[null,true]},\"c\":\"d\"}",
        "\n\t\r {\"\":0} \n",
    };
    static const char *const malformed[] = {
        "", " ", "nul", "tru", "nulls", "01", "1.", ".5", "-", "+1", "1e",
        "1e+", "0x10", "\"abc", "\"\\x\"", "\"\\u12g4\"", "\"\\u12\"",
        "\"tab\there\"", "[", "[1,]", "[,1]", "[1 2]", "{", "{\"a\"}",
        "{\"a\":}", "{\"a\":1,}", "{a:1}", "{\"a\" 1}", "{} x", "[1]]",
        "'a'", "NaN", "[1,2", "{\"a\":1 \"b\":2}",
    };
    for (size_t i = 0; i < sizeof valid / sizeof valid[0]; i++)
        if (!J(valid[i]).ptr) {
            fprintf(stderr, "valid JSON refused: %s\n", valid[i]);
            failures++;
        }
    for (size_t i = 0; i < sizeof malformed / sizeof malformed[0]; i++)
        if (J(malformed[i]).ptr) {
            fprintf(stderr, "malformed JSON accepted: %s\n", malformed[i]);
            failures++;
        }

    /* Surrounding white space is not part of the value. */
    wg_json v = J("  [1]  ");
    CHECK(v.len == 3 && memcmp(v.ptr, "[1]", 3) == 0);

    /* Nesting: WG_JSON_MAX_DEPTH levels of arrays, and one more. */
    char deep[2 * WG_JSON_MAX_DEPTH + 3];
    for (int depth = WG_JSON_MAX_DEPTH; depth <= WG_JSON_MAX_DEPTH + 1;
         depth++) {
        memset(deep, '[', (size_t)depth);
        memset(deep + depth, ']', (size_t)depth);
        CHECK((wg_json_parse(deep, 2 * (size_t)depth).ptr != NULL) ==
              (depth == WG_JSON_MAX_DEPTH));
    }

    /* A slice of a longer text: nothing past len is read. */
    CHECK(wg_json_parse("[1]]", 3).ptr);
    CHECK(!wg_json_parse("\"ab\"", 3).ptr);
    CHECK(!wg_json_parse(NULL, 0).ptr);
}

static void test_json_types(void) {
    CHECK(wg_json_type_of(J("null")) == WG_JSON_NULL);
    CHECK(wg_json_type_of(J("false")) == WG_JSON_BOOL);
    CHECK(wg_json_type_of(J("-3")) == WG_JSON_NUMBER);
    CHECK(wg_json_type_of(J("\"x\"")) == WG_JSON_STRING);
    CHECK(wg_json_type_of(J("[]")) == WG_JSON_ARRAY);
    CHECK(wg_json_type_of(J("{}")) == WG_JSON_OBJECT);
    CHECK(wg_json_type_of(J("{")) == WG_JSON_INVALID);
    /* A value made by hand is checked too. */
    CHECK(wg_json_type_of((wg_json){"[1,", 3}) == WG_JSON_INVALID);
    CHECK(wg_json_type_of((wg_json){"", 0}) == WG_JSON_INVALID);
}

static void test_json_lookup(void) {
    wg_json doc = J("{\"name\":\"router\",\"limits\":{\"rooms\":[\"lobby\","
                    "{\"id\":7}],\"max\":3},\"a.b\":1,\"a\":{\"b\":2},"
                    "\"0\":\"zero\",\"esc\\u0061ped\":true,\"dup\":1,"
                    "\"dup\":2}");
    CHECK(doc.ptr);
    CHECK_STR(str(wg_json_key(doc, "name")), "router");
    CHECK(!wg_json_key(doc, "nope").ptr);
    CHECK(!wg_json_key(doc, "nam").ptr);
    CHECK(!wg_json_key(doc, "names").ptr);

    int64_t n = 0;
    CHECK(wg_json_int(wg_json_path(doc, "limits.max"), &n) && n == 3);
    CHECK_STR(str(wg_json_path(doc, "limits.rooms.0")), "lobby");
    CHECK(wg_json_int(wg_json_path(doc, "limits.rooms.1.id"), &n) && n == 7);
    CHECK(!wg_json_path(doc, "limits.rooms.2").ptr);
    CHECK(!wg_json_path(doc, "limits.rooms.x").ptr);
    CHECK(!wg_json_path(doc, "limits.max.x").ptr);
    CHECK(!wg_json_path(doc, "limits..max").ptr);
    CHECK(wg_json_path(doc, "").ptr == doc.ptr);
    /* A path splits at dots; wg_json_key takes a key with one. */
    CHECK(wg_json_int(wg_json_path(doc, "a.b"), &n) && n == 2);
    CHECK(wg_json_int(wg_json_key(doc, "a.b"), &n) && n == 1);
    /* Digits index arrays, and name members of objects. */
    CHECK_STR(str(wg_json_path(doc, "0")), "zero");
    /* Keys compare unescaped; the last of repeated keys wins. */
    bool b = false;
    CHECK(wg_json_bool(wg_json_key(doc, "escaped"), &b) && b);
    CHECK(wg_json_int(wg_json_key(doc, "dup"), &n) && n == 2);

    wg_json rooms = wg_json_path(doc, "limits.rooms");
    CHECK(wg_json_count(rooms) == 2);
    CHECK(wg_json_count(doc) == 8);
    CHECK(wg_json_count(J("[]")) == 0);
    CHECK(wg_json_count(J("\"abc\"")) == 0);
    CHECK_STR(str(wg_json_at(rooms, 0)), "lobby");
    CHECK(!wg_json_at(rooms, 2).ptr);
    CHECK(!wg_json_at(doc, 0).ptr);
    CHECK(!wg_json_key(rooms, "0").ptr);

    /* The invalid value flows through every lookup. */
    wg_json none = wg_json_key(doc, "nope");
    CHECK(!wg_json_key(wg_json_key(none, "a"), "b").ptr);
    CHECK(!wg_json_at(none, 0).ptr && !wg_json_path(none, "a").ptr);
    CHECK(wg_json_count(none) == 0);
    CHECK(!wg_json_bool(none, &b) && !wg_json_int(none, &n));
    CHECK(wg_json_string(none, NULL, 0) == -1 && !wg_json_strdup(none));
}

static void test_json_iterate(void) {
    wg_json obj = J("{ \"x\" : 1 , \"y\\n\" : [2, 3] , \"z\" : {} }");
    wg_json_iter it = wg_json_iterate(obj);
    wg_json k, v;
    CHECK(wg_json_next(&it, &k, &v));
    CHECK_STR(str(k), "x");
    CHECK(v.len == 1 && v.ptr[0] == '1');
    CHECK(wg_json_next(&it, &k, &v));
    CHECK_STR(str(k), "y\n");
    CHECK(v.len == 6 && memcmp(v.ptr, "[2, 3]", 6) == 0);
    CHECK(wg_json_next(&it, NULL, &v));
    CHECK(v.len == 2 && memcmp(v.ptr, "{}", 2) == 0);
    CHECK(!wg_json_next(&it, &k, &v));
    CHECK(!wg_json_next(&it, &k, &v));

    wg_json arr = J("[ \"a\" ,2]");
    it = wg_json_iterate(arr);
    CHECK(wg_json_next(&it, &k, &v) && !k.ptr);
    CHECK_STR(str(v), "a");
    CHECK(wg_json_next(&it, &k, &v) && v.len == 1 && v.ptr[0] == '2');
    CHECK(!wg_json_next(&it, &k, &v));

    it = wg_json_iterate(J("[ ]"));
    CHECK(!wg_json_next(&it, &k, &v));
    it = wg_json_iterate(J("3"));
    CHECK(!wg_json_next(&it, &k, &v));
    it = wg_json_iterate((wg_json){"[1,", 3});
    CHECK(!wg_json_next(&it, &k, &v));
}

static void test_json_scalars(void) {
    bool b = true;
    CHECK(wg_json_bool(J("false"), &b) && !b);
    CHECK(wg_json_bool(J("true"), &b) && b);
    CHECK(!wg_json_bool(J("1"), &b));
    CHECK(!wg_json_bool(J("\"true\""), &b));

    int64_t n = 5;
    CHECK(wg_json_int(J("0"), &n) && n == 0);
    CHECK(wg_json_int(J("-0"), &n) && n == 0);
    CHECK(wg_json_int(J("-42"), &n) && n == -42);
    CHECK(wg_json_int(J("9223372036854775807"), &n) && n == INT64_MAX);
    CHECK(wg_json_int(J("-9223372036854775808"), &n) && n == INT64_MIN);
    n = 5;
    CHECK(!wg_json_int(J("9223372036854775808"), &n) && n == 5);
    CHECK(!wg_json_int(J("-9223372036854775809"), &n));
    CHECK(!wg_json_int(J("99999999999999999999999"), &n));
    CHECK(!wg_json_int(J("1.5"), &n));
    CHECK(!wg_json_int(J("1e3"), &n));
    CHECK(!wg_json_int(J("\"1\""), &n));
    CHECK(!wg_json_int(J("null"), &n));

    double d = 0;
    CHECK(wg_json_double(J("2.5"), &d) && d == 2.5);
    CHECK(wg_json_double(J("-1e-3"), &d) && d == -0.001);
    CHECK(wg_json_double(J("7"), &d) && d == 7);
    CHECK(!wg_json_double(J("1e400"), &d));
    CHECK(!wg_json_double(J("-1e400"), &d));
    CHECK(wg_json_double(J("1e-400"), &d) && d == 0);
    CHECK(!wg_json_double(J("true"), &d));
    /* A number longer than the reader's stack buffer. */
    char longnum[200] = "1.";
    memset(longnum + 2, '0', 150);
    strcpy(longnum + 152, "1");
    CHECK(wg_json_double(J(longnum), &d) && d == 1);
}

static void test_json_strings(void) {
    CHECK_STR(str(J("\"plain\"")), "plain");
    CHECK_STR(str(J("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"")), "\"\\/\b\f\n\r\t");
    CHECK_STR(str(J("\"caf\\u00e9 \\u00E9\"")), "caf\xc3\xa9 \xc3\xa9");
    CHECK_STR(str(J("\"\\u20ac\"")), "\xe2\x82\xac");
    CHECK_STR(str(J("\"\\u003cb\\u003e \\u0026\"")), "<b> &");
    /* UTF-8 in the text is copied as it is. */
    CHECK_STR(str(J("\"\xe6\x97\xa5\xe6\x9c\xac\"")), "\xe6\x97\xa5\xe6\x9c\xac");
    /* A surrogate pair is one code point; a lone surrogate is U+FFFD. */
    CHECK_STR(str(J("\"\\ud83d\\ude00\"")), "\xf0\x9f\x98\x80");
    CHECK_STR(str(J("\"\\ud800\"")), "\xef\xbf\xbd");
    CHECK_STR(str(J("\"\\udc00x\"")), "\xef\xbf\xbdx");
    CHECK_STR(str(J("\"\\ud800\\u0041\"")), "\xef\xbf\xbd" "A");
    CHECK_STR(str(J("\"\\ud800\\ud800\\udc00\"")),
              "\xef\xbf\xbd\xf0\x90\x80\x80");

    /* NUL bytes and lengths. */
    char buf[16];
    CHECK(wg_json_string(J("\"a\\u0000b\""), buf, sizeof buf) == 3);
    CHECK(memcmp(buf, "a\0b", 4) == 0);

    /* Cut as snprintf does. */
    memset(buf, 'x', sizeof buf);
    CHECK(wg_json_string(J("\"hello\""), buf, 4) == 5);
    CHECK(memcmp(buf, "hel\0x", 5) == 0);
    CHECK(wg_json_string(J("\"hello\""), buf, 6) == 5);
    CHECK_STR(buf, "hello");
    CHECK(wg_json_string(J("\"hello\""), NULL, 0) == 5);
    CHECK(wg_json_string(J("\"\""), buf, sizeof buf) == 0 && buf[0] == 0);
    CHECK(wg_json_string(J("5"), buf, sizeof buf) == -1);

    char *s = wg_json_strdup(J("\"dup\\n\""));
    CHECK_STR(s, "dup\n");
    free(s);

    CHECK(wg_json_string_equals(J("\"a\\u002eb\""), "a.b"));
    CHECK(!wg_json_string_equals(J("\"a.b\""), "a.bc"));
    CHECK(!wg_json_string_equals(J("\"a.bc\""), "a.b"));
    CHECK(!wg_json_string_equals(J("\"a\\u0000\""), "a"));
    CHECK(wg_json_string_equals(J("\"\""), ""));
    CHECK(!wg_json_string_equals(J("1"), "1"));
}

/* ------------------------------------------------------------------ */
/* Lists                                                               */
/* ------------------------------------------------------------------ */

static void test_lists(void) {
    wg_list l = LIST("chat.v2\0chat.v1\0");
    CHECK(wg_list_count(l) == 2);
    CHECK_STR(wg_list_next(&l), "chat.v2");
    CHECK_STR(wg_list_next(&l), "chat.v1");
    CHECK(wg_list_next(&l) == NULL);
    CHECK(wg_list_next(&l) == NULL);

    CHECK(wg_list_count(LIST("")) == 0);
    CHECK(wg_list_count((wg_list){NULL, 0}) == 0);
    l = LIST("\0");
    CHECK(wg_list_count(l) == 1);
    CHECK_STR(wg_list_next(&l), "");
    l = LIST("a\0\0b\0");
    CHECK(wg_list_count(l) == 3);
    /* Lenient: bytes after the last NUL are one more item. */
    l = LIST("a\0bc");
    CHECK(wg_list_count(l) == 2);
    wg_list_next(&l);
    CHECK_STR(wg_list_next(&l), "bc");

    const char *name, *value;
    l = LIST("cookie\0a=1\0origin\0https://x\0empty\0\0");
    CHECK(wg_list_next_header(&l, &name, &value));
    CHECK_STR(name, "cookie");
    CHECK_STR(value, "a=1");
    CHECK(wg_list_next_header(&l, &name, &value));
    CHECK_STR(name, "origin");
    CHECK_STR(value, "https://x");
    CHECK(wg_list_next_header(&l, &name, &value));
    CHECK_STR(name, "empty");
    CHECK_STR(value, "");
    CHECK(!wg_list_next_header(&l, &name, &value));
    /* A name without its value gets "". */
    l = LIST("a\0b\0c\0");
    CHECK(wg_list_next_header(&l, &name, &value));
    CHECK(wg_list_next_header(&l, &name, &value));
    CHECK_STR(name, "c");
    CHECK_STR(value, "");
    CHECK(!wg_list_next_header(&l, &name, &value));
}

static void test_codes(void) {
    CHECK_STR(wg_code_string(WG_OK), "ok");
    CHECK_STR(wg_code_string(12), "ok");
    CHECK_STR(wg_code_string(WG_ERR_NOT_FOUND), "not found");
    CHECK_STR(wg_code_string(WG_ERR_INVALID_ARGUMENT), "invalid argument");
    CHECK_STR(wg_code_string(WG_ERR_TOO_LARGE), "too large");
    CHECK_STR(wg_code_string(WG_ERR_WRONG_HOOK), "wrong hook");
    CHECK_STR(wg_code_string(-99), "unknown error");
}

/* ------------------------------------------------------------------ */
/* Hooks, against the fake host                                        */
/* ------------------------------------------------------------------ */

/* Each test sets the callbacks it needs; the filter forwards to them. */
static int (*t_start)(wg_json);
static wg_action (*t_open)(wg_conn *, wg_request *);
static void (*t_message)(wg_conn *, wg_message *);
static void (*t_close)(wg_conn *, const wg_close_event *);
static void (*t_tick)(wg_conn *);

static int f_start(wg_json c) { return t_start ? t_start(c) : 0; }
static wg_action f_open(wg_conn *c, wg_request *r) {
    return t_open ? t_open(c, r) : WG_ACTION_CONTINUE;
}
static void f_message(wg_conn *c, wg_message *m) {
    if (t_message)
        t_message(c, m);
}
static void f_close(wg_conn *c, const wg_close_event *e) {
    if (t_close)
        t_close(c, e);
}
static void f_tick(wg_conn *c) {
    if (t_tick)
        t_tick(c);
}

WG_FILTER(.on_start = f_start, .on_open = f_open, .on_message = f_message,
          .on_close = f_close, .on_tick = f_tick);

static void setup(void) {
    fake_reset();
    t_start = NULL;
    t_open = NULL;
    t_message = NULL;
    t_close = NULL;
    t_tick = NULL;
}

/* --- on_start --- */

static char big_config[10000];
static wg_json seen_config;
static wg_counter counter, counter_again, bad_counter;
static wg_gauge gauge;
static int define_results[4];

static int start_defines(wg_json config) {
    seen_config = config;
    define_results[0] = wg_counter_define(&counter, "msgs");
    define_results[1] = wg_gauge_define(&gauge, "open");
    define_results[2] = wg_counter_define(&counter_again, "msgs");
    define_results[3] = wg_counter_define(&bad_counter, "9bad");
    wg_counter_add(counter, 2);
    wg_counter_add(counter, -1); /* ignored: counters only go up */
    wg_counter_add(bad_counter, 1);
    wg_gauge_add(gauge, -3);
    wg_logf(WG_LOG_INFO, "tick=%d", wg_tick_set(NULL, 5));
    return 0;
}

static int start_fails(wg_json config) {
    (void)config;
    return 7;
}

static void test_start(void) {
    setup();
    /* A configuration longer than the SDK's first buffer. */
    memset(big_config, ' ', sizeof big_config - 1);
    memcpy(big_config, "{\"k\":\"v\"}", 9);
    fake.config = big_config;
    t_start = start_defines;
    CHECK(call_start() == 0);
    CHECK(seen_config.len == 9 && memcmp(seen_config.ptr, "{\"k\":", 5) == 0);
    CHECK(wg_config().ptr == seen_config.ptr);
    CHECK_STR(str(wg_json_key(wg_config(), "k")), "v");
    CHECK(define_results[0] == 0 && define_results[1] == 1);
    CHECK(define_results[2] == 0);
    CHECK(define_results[3] == WG_ERR_INVALID_ARGUMENT);
    CHECK(counter.ref == 1 && counter_again.ref == 1 && bad_counter.ref == 0);
    CHECK(fake.metric_values[0] == 2 && fake.metric_values[1] == -3);
    CHECK_STR(fake.log, "INFO tick=-2\n");

    /* Metrics outside on_start. */
    wg_counter late = {7};
    CHECK(wg_counter_define(&late, "late") == WG_ERR_WRONG_HOOK);
    CHECK(late.ref == 0);

    setup();
    t_start = start_fails;
    CHECK(call_start() == 1);
    /* Without a config, the JSON null. */
    setup();
    CHECK(call_start() == 0);
    CHECK(wg_json_type_of(wg_config()) == WG_JSON_NULL);
    CHECK(fake.traps == 0);
}

/* --- on_open --- */

static char long_value[5001];
static const char *open_path;
static int open_missing;

static wg_action open_reads(wg_conn *c, wg_request *r) {
    CHECK(wg_conn_id(c) == 3);
    CHECK(wg_conn_tls(c));
    CHECK(!wg_request_reopened(r));
    open_path = wg_request_path(r);
    CHECK_STR(wg_request_method(r), "GET");
    CHECK_STR(wg_request_uri(r), "/chat?room=1");
    CHECK_STR(wg_request_query(r), "room=1");
    CHECK_STR(wg_request_host(r), "example.com");
    CHECK_STR(wg_request_remote_addr(r), "192.0.2.1:4000");
    CHECK_STR(wg_request_route(r), "chat");
    wg_list p = wg_request_protocols(r);
    CHECK(wg_list_count(p) == 2);
    CHECK_STR(wg_list_next(&p), "chat.v2");

    const char *lv = wg_request_header(r, "X-Long");
    CHECK(lv && strlen(lv) == 5000 && lv[4999] == 'L');
    wg_list multi;
    CHECK(wg_request_header_values(r, "x-MULTI", &multi) == WG_OK);
    CHECK(multi.len == 4 && memcmp(multi.ptr, "a\0b\0", 4) == 0);
    CHECK(wg_request_header(r, "x-missing") == NULL);
    open_missing = wg_request_header_values(r, "x-missing", &multi);
    CHECK(multi.len == 0 && multi.ptr && *multi.ptr == '\0');
    wg_list all = wg_request_headers(r);
    CHECK(wg_list_count(all) == 8); /* 4 names and 4 values */
    /* Every string the SDK returned is still there. */
    CHECK_STR(open_path, "/chat");
    CHECK(lv[0] == 'L' && strlen(lv) == 5000);

    CHECK(wg_request_set_upstream_header(r, "X-A", "1") == WG_OK);
    CHECK(wg_request_add_upstream_header(r, "x-b", "2") == WG_OK);
    CHECK(wg_request_remove_upstream_header(r, "x-c") == WG_OK);
    CHECK(wg_request_set_upstream_header(r, "Upgrade", "x") ==
          WG_ERR_INVALID_ARGUMENT);
    CHECK(wg_request_choose_upstream(r, "alt") == WG_OK);
    CHECK(wg_request_choose_upstream(r, "nope") == WG_ERR_NOT_FOUND);
    CHECK(wg_request_set_upstream_uri(r, "/v2/chat?room=1") == WG_OK);
    CHECK(wg_request_set_upstream_uri(r, "no-slash") ==
          WG_ERR_INVALID_ARGUMENT);
    CHECK(wg_request_set_upstream_uri(r, "/a#b") == WG_ERR_INVALID_ARGUMENT);
    CHECK(wg_request_set_upstream_uri(r, "") == WG_ERR_INVALID_ARGUMENT);
    CHECK(wg_send_to_client(c, WG_TYPE_TEXT, "x", 1) == WG_ERR_WRONG_HOOK);
    c->data = "kept";
    return WG_ACTION_CONTINUE;
}

/* A value fetched when the temporary memory is exactly full. */
static wg_action open_full_temp(wg_conn *c, wg_request *r) {
    (void)c;
    /* The sizes are the SDK's: a first block of 4096 bytes, then blocks
     * of 16384, every allocation rounded to 16. */
    wg_temp_alloc(4096); /* the first block, whole */
    CHECK(wg_request_query(r)[0] == '\0'); /* empty: 16 bytes */
    CHECK_STR(wg_request_method(r), "GET"); /* 16 */
    CHECK_STR(wg_request_path(r), "/chat"); /* 16 */
    wg_temp_alloc(16384 - 48); /* the rest of the second block */
    CHECK(wg_request_query(r)[0] == '\0');
    CHECK_STR(wg_request_route(r), "chat");
    return WG_ACTION_REJECT;
}

static wg_request *saved_request;
static wg_conn *saved_conn;

static wg_action open_rejects(wg_conn *c, wg_request *r) {
    CHECK(c->data == NULL); /* a fresh connection */
    saved_request = r;
    CHECK(wg_request_reject(r, 200, "no") == WG_ERR_INVALID_ARGUMENT);
    CHECK(wg_request_reject(r, 451, "go away") == WG_OK);
    CHECK(wg_request_reject_header(r, "x-why", "test") == WG_OK);
    return 9; /* anything but continue rejects */
}

static wg_action open_closes(wg_conn *c, wg_request *r) {
    (void)r;
    CHECK(wg_close(c, 1005, "") == WG_ERR_INVALID_ARGUMENT);
    CHECK(wg_close(c, 4000, "closed in open") == WG_OK);
    return WG_ACTION_CONTINUE;
}

static wg_action open_reopened(wg_conn *c, wg_request *r) {
    saved_conn = c;
    CHECK(wg_request_reopened(r));
    return WG_ACTION_CONTINUE;
}

static void close_checks_data(wg_conn *c, const wg_close_event *e) {
    CHECK_STR(c->data, "kept");
    CHECK(e->by_upstream && !e->abnormal && e->code == 1001);
    CHECK_STR(e->reason, "going away");
    CHECK(e->reason_len == 10);
}

static void test_open(void) {
    setup();
    memset(long_value, 'L', 5000);
    static const char headers[] = "user-agent\0t\0x-multi\0a\0x-multi\0b\0"
                                  "x-long\0";
    static char all_headers[sizeof headers + 5001 + 1];
    memcpy(all_headers, headers, sizeof headers - 1);
    memcpy(all_headers + sizeof headers - 1, long_value, 5001);
    fake.headers = all_headers;
    fake.headers_len = sizeof headers - 1 + 5001;
    fake.fields[WG_FIELD_METHOD] = "GET";
    fake.fields[WG_FIELD_URI] = "/chat?room=1";
    fake.fields[WG_FIELD_PATH] = "/chat";
    fake.fields[WG_FIELD_QUERY] = "room=1";
    fake.fields[WG_FIELD_HOST] = "example.com";
    fake.fields[WG_FIELD_REMOTE_ADDR] = "192.0.2.1:4000";
    fake.fields[WG_FIELD_PROTOCOLS] = "chat.v2\0chat.v1\0";
    fake.protocols_len = 16;
    fake.fields[WG_FIELD_ROUTE] = "chat";
    fake.upstreams = "alt\0";
    fake.upstreams_len = 4;

    t_open = open_reads;
    CHECK(call_open(3, WG_OPEN_TLS) == WG_ACTION_CONTINUE);
    CHECK(open_missing == WG_ERR_NOT_FOUND);
    CHECK_STR(fake.upstream_edits, "set X-A=1;add x-b=2;remove x-c=;");
    CHECK_STR(fake.chosen, "alt");
    CHECK_STR(fake.upstream_uri, "/v2/chat?room=1");

    t_open = open_full_temp;
    fake.fields[WG_FIELD_QUERY] = "";
    CHECK(call_open(30, 0) == WG_ACTION_REJECT);
    fake.fields[WG_FIELD_QUERY] = "room=1";

    /* The connection and its data live until on_close. */
    t_close = close_checks_data;
    fake.close_reason = "going away";
    call_close(3, WG_CLOSE_BY_UPSTREAM, 1001);

    /* A rejected connection is forgotten at once; its request is dead. */
    t_open = open_rejects;
    CHECK(call_open(3, 0) == WG_ACTION_REJECT);
    CHECK(fake.reject_status == 451);
    CHECK_STR(fake.reject_body, "go away");
    CHECK(wg_request_path(saved_request)[0] == '\0');
    CHECK(wg_request_header(saved_request, "x-multi") == NULL);
    CHECK(wg_request_protocols(saved_request).len == 0);
    CHECK(wg_request_headers(saved_request).len == 0);
    CHECK(wg_request_reject(saved_request, 400, "") == WG_ERR_WRONG_HOOK);
    CHECK(wg_request_choose_upstream(saved_request, "alt") ==
          WG_ERR_WRONG_HOOK);
    CHECK(wg_request_set_upstream_uri(saved_request, "/x") ==
          WG_ERR_WRONG_HOOK);
    CHECK(call_open(3, 0) == WG_ACTION_REJECT); /* data is NULL again */

    /* So is one closed during on_open. */
    t_open = open_closes;
    CHECK(call_open(4, 0) == WG_ACTION_CONTINUE);
    CHECK(fake.closes == 1 && fake.close_ctx == 4 && fake.close_code == 4000);
    t_open = open_rejects;
    CHECK(call_open(4, 0) == WG_ACTION_REJECT);

    /* A reopened connection stays, even when on_open refuses it. */
    t_open = open_reopened;
    call_open(5, WG_OPEN_REOPEN);
    wg_conn *first = saved_conn;
    call_open(5, WG_OPEN_REOPEN);
    CHECK(saved_conn == first);
    t_close = NULL;
    call_close(5, 0, 1000);
    CHECK(fake.traps == 0);
}

/* --- on_messages --- */

static int seen_messages;
static wg_message *saved_message;

static void message_acts(wg_conn *c, wg_message *m) {
    seen_messages++;
    saved_message = m;
    CHECK(wg_message_count(m) == 4);
    CHECK(!wg_message_from_upstream(m));
    const char *p = wg_message_data(m);
    CHECK(wg_message_data(m) == p); /* read once */
    size_t n = wg_message_len(m);
    CHECK(p[n] == '\0');
    switch (wg_message_index(m)) {
    case 0:
        CHECK(wg_message_type(m) == WG_TYPE_TEXT);
        CHECK_STR(p, "hello, world");
        CHECK(wg_message_replace(m, WG_TYPE_TEXT, "HELLO", 5) == WG_OK);
        CHECK(wg_message_replace(m, 3, "x", 1) == WG_ERR_INVALID_ARGUMENT);
        static const char big[200];
        CHECK(wg_message_replace(m, WG_TYPE_TEXT, big, sizeof big) ==
              WG_ERR_TOO_LARGE);
        CHECK(wg_send_to_client(c, WG_TYPE_TEXT, "hi", 2) == WG_OK);
        CHECK(wg_send_to_client(c, 0, "hi", 2) == WG_ERR_INVALID_ARGUMENT);
        CHECK(wg_send_to_client(NULL, WG_TYPE_TEXT, "hi", 2) ==
              WG_ERR_NOT_FOUND);
        break;
    case 1:
        CHECK(wg_message_type(m) == WG_TYPE_BINARY);
        CHECK(n == 3 && memcmp(p, "\0\1\2", 3) == 0);
        CHECK(wg_message_drop(m) == WG_OK);
        break;
    case 2:
        CHECK(n == 0 && p && p[0] == '\0');
        CHECK(wg_close(c, 4001, "bye") == WG_OK);
        break;
    default:
        CHECK(!"a message after the close");
    }
}

static void test_messages(void) {
    setup();
    fake.read_chunk = 5; /* the payload comes in pieces */
    fake.batch[0] = (struct fake_message){.type = WG_TYPE_TEXT,
                                          .data = "hello, world", .len = 12};
    fake.batch[1] = (struct fake_message){.type = WG_TYPE_BINARY,
                                          .data = "\0\1\2", .len = 3};
    fake.batch[2] = (struct fake_message){.type = WG_TYPE_TEXT, .data = "",
                                          .len = 0};
    fake.batch[3] = (struct fake_message){.type = WG_TYPE_TEXT,
                                          .data = "after", .len = 5};
    fake.batch_len = 4;
    t_message = message_acts;
    CHECK(call_open(8, 0) == WG_ACTION_CONTINUE);
    CHECK(call_messages(8, 0) == 0);
    CHECK(seen_messages == 3);
    CHECK(fake.batch[0].replaced && fake.batch[0].new_len == 5);
    CHECK(fake.batch[1].dropped && !fake.batch[3].replaced);
    CHECK(fake.sends == 1 && fake.send_ctx == 8 &&
          fake.send_flags == WG_DIR_UPSTREAM_TO_CLIENT);
    CHECK(fake.closes == 1 && fake.close_code == 4001);

    /* A message is dead once its call returned: no host call. */
    CHECK(wg_message_data(saved_message) == NULL);
    CHECK(wg_message_drop(saved_message) == WG_ERR_WRONG_HOOK);
    CHECK(wg_message_replace(saved_message, WG_TYPE_TEXT, "", 0) ==
          WG_ERR_WRONG_HOOK);

    /* A host that gives an index it then refuses fails the batch. */
    fake.batch_len = 0;
    fake.hook = FAKE_MESSAGES;
    CHECK(wasmgate_on_messages(8, 0, 1) == 1);
    fake.hook = FAKE_NONE;
    CHECK(strstr(fake.log, "ERROR message_info(0) of a batch of 1: not found"));
    call_close(8, 0, 1000);
    CHECK(fake.traps == 0);
}

/* --- everywhere --- */

static void tick_everywhere(wg_conn *c) {
    CHECK(c == NULL);
    CHECK(wg_now() == 1234);
    const char *v;
    size_t n = 99;
    CHECK(wg_kv_get("k", &v, &n) == WG_ERR_NOT_FOUND && n == 99);
    CHECK(wg_kv_set("k", "value", 5, 0) == WG_OK);
    CHECK(wg_kv_get("k", &v, &n) == WG_OK && n == 5);
    CHECK_STR(v, "value");
    CHECK(wg_kv_set("k", "x", 1, -1) == WG_ERR_INVALID_ARGUMENT);
    int64_t sum = 0;
    CHECK(wg_kv_add("n", 2, 0, &sum) == WG_OK && sum == 2);
    CHECK(wg_kv_add("n", -5, 0, &sum) == WG_OK && sum == -3);
    CHECK(wg_kv_add("n", 1, -1, &sum) == WG_ERR_INVALID_ARGUMENT);
    CHECK(wg_kv_add("n", 1, 0, NULL) == WG_OK);
    fake.kv_full = true;
    CHECK(wg_kv_add("full", 1, 0, &sum) == WG_ERR_TOO_LARGE && sum == -3);
    fake.kv_full = false;
    CHECK(wg_kv_delete("k") == WG_OK);
    CHECK(wg_kv_delete("k") == WG_ERR_NOT_FOUND);

    wg_log(WG_LOG_DEBUG, "plain");
    wg_log((wg_log_level)9, "clamped up");
    wg_log((wg_log_level)-2, "clamped down");
    char big[600];
    memset(big, 'b', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    wg_logf(WG_LOG_WARN, "long %s end", big);
    CHECK(wg_tick_set(NULL, 10) == WG_OK && fake.tick_ctx == 0);
    CHECK(wg_close(NULL, 1000, "") == WG_ERR_NOT_FOUND);
    wg_gauge_set(gauge, 11);
    wg_counter_add((wg_counter){0}, 1); /* the zero value does nothing */
}

static void tick_conn(wg_conn *c) {
    CHECK(wg_conn_id(c) == 9);
    CHECK(wg_send_to_upstream(c, WG_TYPE_BINARY, "b", 1) == WG_OK);
    CHECK(wg_tick_set(c, 0) == WG_OK && fake.tick_ctx == 9);
    CHECK(wg_tick_set(c, 9) == WG_ERR_INVALID_ARGUMENT);
}

static void test_everywhere(void) {
    setup();
    t_start = start_defines;
    CHECK(call_start() == 0);
    fake.log_len = 0;
    fake.log[0] = '\0';
    fake.now = 1234;
    t_tick = tick_everywhere;
    call_tick(0);
    char want[1024];
    char big[600];
    memset(big, 'b', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    snprintf(want, sizeof want,
             "DEBUG plain\nERROR clamped up\nDEBUG clamped down\n"
             "WARN long %s end\n",
             big);
    CHECK_STR(fake.log, want);
    CHECK(fake.metric_values[1] == 11);

    t_tick = tick_conn;
    call_tick(9);
    CHECK(fake.sends == 1 && fake.send_ctx == 9 && fake.send_flags == 0);
    call_close(9, 0, 1000);

    /* Outside a hook nothing reaches the host. */
    const char *v;
    int64_t sum;
    CHECK(wg_kv_get("k", &v, NULL) == WG_ERR_WRONG_HOOK);
    CHECK(wg_kv_set("k", "", 0, 0) == WG_ERR_WRONG_HOOK);
    CHECK(wg_kv_add("k", 1, 0, &sum) == WG_ERR_WRONG_HOOK);
    CHECK(wg_kv_delete("k") == WG_ERR_WRONG_HOOK);
    CHECK(wg_tick_set(NULL, 10) == WG_ERR_WRONG_HOOK);
    wg_counter_add(counter, 1);
    wg_gauge_set(gauge, 1);
    CHECK(fake.metric_values[1] == 11);
    CHECK(wg_now() > 1600000000000000000);
    wg_log(WG_LOG_INFO, "(expected) outside a hook, wg_log writes here");
    CHECK(fake.traps == 0);
}

/* --- many connections --- */

static wg_action open_tags(wg_conn *c, wg_request *r) {
    (void)r;
    uint32_t *tag = malloc(sizeof *tag);
    *tag = wg_conn_id(c);
    c->data = tag;
    return WG_ACTION_CONTINUE;
}

static int tag_errors;

static void tick_checks_tag(wg_conn *c) {
    if (!c->data || *(uint32_t *)c->data != wg_conn_id(c))
        tag_errors++;
}

static void close_frees_tag(wg_conn *c, const wg_close_event *e) {
    (void)e;
    tick_checks_tag(c);
    free(c->data);
}

static void test_many_conns(void) {
    setup();
    t_open = open_tags;
    t_tick = tick_checks_tag;
    t_close = close_frees_tag;
    enum { N = 3000 };
    static bool live[N + 1];
    /* Ids that collide in a small table, opened and closed in an order
     * that moves entries around. */
    for (uint32_t id = 1; id <= N; id++) {
        call_open(id * 64, 0);
        live[id] = true;
    }
    uint32_t x = 12345;
    for (int round = 0; round < 4 * N; round++) {
        x = x * 1103515245u + 12345u;
        uint32_t id = 1 + (x >> 8) % N;
        if (live[id]) {
            call_tick(id * 64);
            if ((x >> 4) & 1) {
                call_close(id * 64, 0, 1000);
                live[id] = false;
            }
        } else {
            call_open(id * 64, 0);
            live[id] = true;
        }
    }
    for (uint32_t id = 1; id <= N; id++)
        if (live[id])
            call_close(id * 64, 0, 1000);
    CHECK(tag_errors == 0);
    CHECK(fake.traps == 0);
}

int main(void) {
    test_json_parse();
    test_json_types();
    test_json_lookup();
    test_json_iterate();
    test_json_scalars();
    test_json_strings();
    test_lists();
    test_codes();
    test_start();
    test_open();
    test_messages();
    test_everywhere();
    test_many_conns();
    if (failures) {
        fprintf(stderr, "sdk: %d failures\n", failures);
        return 1;
    }
    printf("sdk: ok\n");
    return 0;
}
