/*
 * The algorithm of examples/redact/SPEC.md, which the four builds of the
 * example share byte for byte. It is kept apart from the plugin glue
 * (redact.c) so that test.c runs it natively.
 */
#ifndef REDACT_CORE_H
#define REDACT_CORE_H

#include <stdbool.h>
#include <stddef.h>

/* mask_cards is pass 1: it writes the n bytes of src to dst (n bytes)
 * with every digit of each card number but the last four replaced by
 * '*', and reports whether it masked any. */
bool mask_cards(const char *src, size_t n, char *dst);

/* emails_bound returns the size of a buffer that can hold the output of
 * mask_emails for n bytes of input. */
size_t emails_bound(size_t n);

/* mask_emails is pass 2: it writes src to dst (emails_bound(n) bytes)
 * with the local part of each e-mail address replaced by "***", returns
 * the length written, and stores in *changed whether it replaced any. */
size_t mask_emails(const char *src, size_t n, char *dst, bool *changed);

#endif
