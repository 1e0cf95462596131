/*
 * noop: a filter that reads every data message, in both directions, and
 * passes it unchanged. It exists to measure what a filter costs on its
 * own: because it exports an on_message hook, the proxy assembles every
 * message and hands it to the guest (in batches, one call per read), and
 * reading the payload copies it into guest memory once, as any real
 * filter that looks at messages does. Built by sdk/c/build.sh.
 */
#include "wasmgate.h"

static void message(wg_conn *c, wg_message *m) {
    (void)c;
    /* Reading is the point: a filter that never looks at the payload
     * would skip the copy into guest memory and understate the cost. */
    (void)wg_message_data(m);
}

WG_FILTER(.on_message = message);
