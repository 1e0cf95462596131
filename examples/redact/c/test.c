/*
 * Native unit tests of the redact algorithm: the examples of SPEC.md and
 * the corners of the algorithm. Run by sdk/c/test.sh.
 */
#include "redact_core.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    const char *in, *want;
} cases[] = {
    /* SPEC.md, pass 1. */
    {"pay 4111 1111 1111 1111 now", "pay **** **** **** 1111 now"},
    {"4111-1111-1111-1111", "****-****-****-1111"},
    {"order 1234567890123", "order 1234567890123"},
    {"4111111111111111", "************1111"},
    /* SPEC.md, pass 2. */
    {"mail jane.doe+x@example.com.", "mail ***@example.com."},
    {"a@b", "a@b"},
    {"x@y.io and z@w.org", "***@y.io and ***@w.org"},
    {"@example.com", "@example.com"},
    /* Corners. */
    {"", ""},
    {"no secrets here", "no secrets here"},
    {"411111111111", "411111111111"},                 /* 12 digits */
    {"41111111111111111113", "41111111111111111113"}, /* 20 digits */
    {"5500 0000 0000 0004 ", "**** **** **** 0004 "},
    {"5500  0000 0000 0004", "5500  0000 0000 0004"},
    {"card:378282246310005.", "card:***********0005."},
    {"4111111111111111@cards.example", "***************@cards.example"},
    {"a.b-c_d%e+f@sub.example.co.uk!", "***@sub.example.co.uk!"},
    {"x@.example.com", "x@.example.com"},
    {"x@example..com", "x@example..com"},
    {"x@-example.com", "x@-example.com"},
    {"x@example.com-", "***@example.com-"},
    {"a@b@c.d", "a@***@c.d"},
    {"a@b.c", "***@b.c"}, /* the most an address grows */
    {"a@b.ca@b.c", "***@b.ca@b.c"},
    {"\xc3\xa9@\xc3\xbc.de jane@ex\xc3\xa4mple.com",
     "\xc3\xa9@\xc3\xbc.de jane@ex\xc3\xa4mple.com"},
    {"\xe6\x97\xa5 jane@example.jp", "\xe6\x97\xa5 ***@example.jp"},
};

/* redact runs both passes as the filter does; the result is malloc'd. */
static char *redact(const char *in, size_t n, size_t *out_n, bool *changed) {
    char *cards = malloc(n + 1);
    char *out = malloc(emails_bound(n) + 1);
    bool emails;
    *changed = mask_cards(in, n, cards);
    *out_n = mask_emails(cards, n, out, &emails);
    *changed = *changed || emails;
    free(cards);
    return out;
}

int main(void) {
    int failed = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t n = strlen(cases[i].in), got_n;
        bool changed;
        char *got = redact(cases[i].in, n, &got_n, &changed);
        size_t want_n = strlen(cases[i].want);
        if (got_n != want_n || memcmp(got, cases[i].want, want_n) != 0) {
            fprintf(stderr, "redact(\"%s\") = \"%.*s\", want \"%s\"\n",
                    cases[i].in, (int)got_n, got, cases[i].want);
            failed++;
        }
        if (changed != (strcmp(cases[i].in, cases[i].want) != 0)) {
            fprintf(stderr, "redact(\"%s\"): changed = %d\n", cases[i].in,
                    changed);
            failed++;
        }
        if (got_n > emails_bound(n)) {
            fprintf(stderr, "redact(\"%s\"): %zu bytes, over the bound %zu\n",
                    cases[i].in, got_n, emails_bound(n));
            failed++;
        }
        free(got);
    }
    if (failed) {
        fprintf(stderr, "redact: %d failures\n", failed);
        return 1;
    }
    printf("redact: %zu cases ok\n", sizeof cases / sizeof cases[0]);
    return 0;
}
