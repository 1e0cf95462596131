/*
 * redact, the C build: a filter that masks card numbers and the local
 * parts of e-mail addresses in the text messages of both directions,
 * exactly as examples/redact/SPEC.md says (the algorithm is in
 * redact_core.c). Built by sdk/c/build.sh.
 */
#include "redact_core.h"
#include "wasmgate.h"

static void message(wg_conn *c, wg_message *m) {
    (void)c;
    if (wg_message_type(m) != WG_TYPE_TEXT)
        return;
    size_t n = wg_message_len(m);
    const char *p = wg_message_data(m);
    /* Temporary memory: the SDK frees it when the call returns. */
    char *cards = wg_temp_alloc(n);
    bool changed = mask_cards(p, n, cards);
    char *out = wg_temp_alloc(emails_bound(n));
    bool emails;
    size_t k = mask_emails(cards, n, out, &emails);
    if (!changed && !emails)
        return;
    int err = wg_message_replace(m, WG_TYPE_TEXT, out, k);
    if (err != WG_OK) {
        /* Masking keeps UTF-8 valid, so this is the route's size limit: a
         * local part of one or two bytes becomes three. Letting the
         * original through would leak what the filter is there to hide. */
        wg_logf(WG_LOG_WARN, "redacted message not sent: %s",
                wg_code_string(err));
        err = wg_message_drop(m);
        if (err != WG_OK)
            wg_logf(WG_LOG_ERROR, "drop: %s", wg_code_string(err));
    }
}

WG_FILTER(.on_message = message);
