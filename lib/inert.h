/*
 * inert: text that came from outside, made unable to act where previewd
 * writes it.
 *
 * Whoever can open a pull request chooses the names of its migration
 * files, its branch, and the SQL whose errors the database server echoes
 * back. previewd prints those strings in four places, each with its own
 * way to turn text into structure:
 *
 *   - a text log line: a newline starts a forged line, an escape sequence
 *     drives the operator's terminal;
 *   - a JSON log line: the same, plus invalid UTF-8 breaks the parser of
 *     whoever ships the logs;
 *   - the pull request comment, Markdown: headings, links, @mentions,
 *     HTML, and a code span or block closed early to reach all of them.
 *
 * Each function below appends its whole result to out, or returns -1
 * (out then holds what fitted). None allocates besides out.
 *
 * What is escaped, and how it shows:
 *   - C0 controls and DEL: \n \r \t, else \xNN (JSON: \u00NN);
 *   - bytes that are not UTF-8 (overlong forms, surrogates, beyond
 *     U+10FFFF, cut sequences): \xNN in the text log, U+FFFD elsewhere;
 *   - characters that move or hide text without being seen (C1 controls,
 *     U+2028/U+2029, the bidirectional overrides and isolates): \uNNNN.
 * Backslashes stay as they are (but in JSON): the escapes are for
 * reading, and a forged "\n" is two harmless characters either way.
 */
#ifndef PREVIEWD_INERT_H
#define PREVIEWD_INERT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/util.h"

/* The UTF-8 character at s (len bytes available): its length in bytes
 * with *cp set, or 0 when s does not start a well-formed character (RFC
 * 3629: shortest form, no surrogates, at most U+10FFFF). */
size_t inert_utf8(const char *s, size_t len, uint32_t *cp);

/* s for a text log line: never a line break or a control character. */
int inert_line(const char *s, struct buf *out) MUST_CHECK;

/* s as the inside of a JSON string (without the quotes): always valid
 * JSON and valid UTF-8. */
int inert_json(const char *s, struct buf *out) MUST_CHECK;

/* s as the text of Markdown code, without fences: controls shown as
 * escapes, but line breaks (\n) and tabs kept when lines is true; well-
 * formed UTF-8. Backticks stay: the fence around it is the caller's. */
int inert_md_text(const char *s, bool lines, struct buf *out) MUST_CHECK;

/* s as a whole Markdown code span, backticks included: the fence is one
 * backtick longer than the longest run of backticks inside, so the value
 * cannot close it (CommonMark 0.31, "Code spans"); a space pads both ends
 * when the value starts or ends with a backtick or a space (CommonMark
 * strips exactly one from each end); line breaks and controls are shown
 * as escapes, since a code span cannot hold a line break safely (a line
 * may start a new block). An empty s appends nothing. Code is where
 * GitHub and GitLab find no mentions, references or links. */
int inert_md_span(const char *s, struct buf *out) MUST_CHECK;

/* s as a whole fenced code block, fences included, no newline after the
 * closing fence: the fence is at least three backticks and one longer
 * than any run inside, so no line of s closes it; s keeps its line
 * breaks (\n) and tabs, a carriage return shows as \r. */
int inert_md_fence(const char *s, struct buf *out) MUST_CHECK;

#endif
