/*
 * A fake wasmgate host for the SDK's native tests: it defines every
 * wg_abi_* function of wasmgate.h over the state in `fake`, which a test
 * fills (the request, the batch, the store) and then reads (what the
 * guest logged, replaced, sent, closed). It checks what the real host
 * traps on: a call outside a hook, an enumeration value out of range, a
 * negative counter delta, an unknown metric id.
 */
#ifndef FAKEHOST_H
#define FAKEHOST_H

#include "wasmgate.h"

/* The hooks of the SDK, which wasmgate.c exports. */
void wasmgate_abi_v1(void);
int32_t wasmgate_on_start(void);
int32_t wasmgate_on_open(uint32_t ctx, uint32_t flags);
int32_t wasmgate_on_messages(uint32_t ctx, uint32_t flags, uint32_t count);
void wasmgate_on_close(uint32_t ctx, uint32_t flags, uint32_t code);
void wasmgate_on_tick(uint32_t ctx);

enum fake_hook { FAKE_NONE, FAKE_START, FAKE_OPEN, FAKE_MESSAGES, FAKE_CLOSE,
                 FAKE_TICK };

#define FAKE_MAX 16

struct fake_message {
    int type;
    const char *data;
    size_t len;
    /* What the guest did with it. */
    bool replaced, dropped;
    int new_type;
    char new_data[128];
    size_t new_len;
};

struct fake {
    enum fake_hook hook; /* set by the call_* functions */
    /* Errors the host would trap on; a test requires none. */
    int traps;

    /* Inputs. */
    const char *config;
    const char *fields[8]; /* by wg_field; the protocols as a list */
    size_t protocols_len;
    const char *headers; /* a header list */
    size_t headers_len;
    const char *upstreams; /* a list of the upstreams that exist */
    size_t upstreams_len;
    struct fake_message batch[FAKE_MAX];
    uint32_t batch_len;
    size_t read_chunk;        /* message_read copies at most this (0: all) */
    const char *close_reason; /* given to on_close */
    int64_t now;

    /* Outputs. */
    char log[16384]; /* "LEVEL message\n" per line */
    size_t log_len;
    char chosen[64];
    char upstream_uri[128];
    int reject_status;
    char reject_body[256];
    char upstream_edits[512]; /* "set name=value;add ...;remove name;" */
    int sends;
    uint32_t send_ctx, send_flags;
    int send_type;
    char send_data[128];
    int closes;
    uint32_t close_ctx;
    int close_code;
    char close_reason_out[128];
    uint32_t tick_ctx, tick_ms;

    /* The key-value store and the metrics. */
    int kv_len;
    char kv_keys[FAKE_MAX][32], kv_values[FAKE_MAX][64];
    bool kv_full;
    int metrics_len;
    char metric_names[FAKE_MAX][32];
    int metric_kinds[FAKE_MAX];
    int64_t metric_values[FAKE_MAX];
};

extern struct fake fake;

/* fake_reset empties the fake host. */
void fake_reset(void);

/* The hooks, called as the host does: with fake.hook set during the
 * call. */
int32_t call_start(void);
int32_t call_open(uint32_t ctx, uint32_t flags);
int32_t call_messages(uint32_t ctx, uint32_t flags);
void call_close(uint32_t ctx, uint32_t flags, uint32_t code);
void call_tick(uint32_t ctx);

#endif
