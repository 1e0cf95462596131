#include "redact_core.h"

#include <string.h>

static bool is_digit(char c) { return c >= '0' && c <= '9'; }

static bool is_card_separator(char c) { return c == ' ' || c == '-'; }

/* luhn reports whether the digits of a candidate (separators skipped)
 * pass the Luhn check. */
static bool luhn(const char *p, size_t n) {
    unsigned sum = 0;
    bool twice = false;
    for (size_t i = n; i-- > 0;) {
        if (!is_digit(p[i]))
            continue;
        unsigned d = (unsigned)(p[i] - '0');
        if (twice && (d *= 2) > 9)
            d -= 9;
        sum += d;
        twice = !twice;
    }
    return sum % 10 == 0;
}

bool mask_cards(const char *src, size_t n, char *dst) {
    memcpy(dst, src, n);
    bool changed = false;
    for (size_t i = 0; i < n;) {
        if (!is_digit(src[i])) {
            i++;
            continue;
        }
        /* A candidate starts here: the scan skips whole candidates, and a
         * candidate ends before a non-digit, so src[i-1] is no digit. */
        size_t end = i + 1, digits = 1;
        for (;;) {
            if (end < n && is_digit(src[end]))
                end++;
            else if (end + 1 < n && is_card_separator(src[end]) &&
                     is_digit(src[end + 1]))
                end += 2;
            else
                break;
            digits++;
        }
        if (digits >= 13 && digits <= 19 && luhn(src + i, end - i)) {
            for (size_t j = i, mask = digits - 4; mask > 0; j++)
                if (is_digit(dst[j])) {
                    dst[j] = '*';
                    mask--;
                }
            changed = true;
        }
        i = end;
    }
    return changed;
}

static bool is_letter_or_digit(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c);
}

static bool is_local(char c) {
    return is_letter_or_digit(c) || c == '.' || c == '_' || c == '%' ||
           c == '+' || c == '-';
}

static bool is_domain(char c) {
    return is_letter_or_digit(c) || c == '.' || c == '-';
}

/* valid_domain reports whether a trimmed domain is one pass 2 accepts: not
 * empty, not starting with '.' or '-', with a dot and no two in a row. */
static bool valid_domain(const char *d, size_t n) {
    if (n == 0 || d[0] == '.' || d[0] == '-')
        return false;
    bool dot = false;
    for (size_t i = 0; i < n; i++) {
        if (d[i] != '.')
            continue;
        if (i > 0 && d[i - 1] == '.')
            return false;
        dot = true;
    }
    return dot;
}

/* Each address consumes at least five bytes of input (a@b.c) and grows
 * by at most two (a one-byte local part becomes three). */
size_t emails_bound(size_t n) { return n + 2 * (n / 5); }

size_t mask_emails(const char *src, size_t n, char *dst, bool *changed) {
    size_t out = 0;
    size_t copied = 0; /* src[:copied] is in dst already */
    size_t p = 0;      /* no local part reaches before p */
    *changed = false;
    for (size_t from = 0;;) {
        const char *at = memchr(src + from, '@', n - from);
        if (!at)
            break;
        size_t a = (size_t)(at - src);
        size_t s = a;
        while (s > p && is_local(src[s - 1]))
            s--;
        if (s == a) {
            from = a + 1;
            continue;
        }
        size_t e = a + 1;
        while (e < n && is_domain(src[e]))
            e++;
        while (e > a + 1 && (src[e - 1] == '.' || src[e - 1] == '-'))
            e--;
        if (!valid_domain(src + a + 1, e - a - 1)) {
            from = a + 1;
            continue;
        }
        memcpy(dst + out, src + copied, s - copied);
        out += s - copied;
        memcpy(dst + out, "***", 3);
        out += 3;
        copied = a;
        *changed = true;
        p = from = e;
    }
    memcpy(dst + out, src + copied, n - copied);
    return out + n - copied;
}
