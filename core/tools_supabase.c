/*
 * tools_supabase: the Supabase CLI's folder (core/tools.h), learnt from
 * github.com/supabase/cli: apps/cli-go/pkg/migration/list.go
 * (ListLocalMigrations: which files, the old "init" file skipped),
 * pkg/migration/file.go (NewMigrationFromFile, ExecBatch,
 * insertVersionSQL: version, name and statements of a row),
 * pkg/migration/apply.go (ApplyMigrations: RESET ALL before each file),
 * pkg/migration/history.go (CreateMigrationTable,
 * INSERT_MIGRATION_VERSION) and pkg/parser/token.go, pkg/parser/state.go
 * (how a file is split into the statements the row keeps).
 *
 * Supabase is PostgreSQL: the tool keeps no history on MySQL, where
 * using it fails the environment (core/migrate.c, tool_ready).
 */
#include "core/tools.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* file.go, migrateFilePattern: ^([0-9]+)_(.*)\.sql$ on the file's name:
 * the version is the digits as written, the name what lies between the
 * '_' and ".sql". Other files are skipped, as list.go skips them. */
static int
supabase_version(const char *name, char *version, char *err, size_t errlen)
{
	size_t digits = strspn(name, "0123456789");

	if (digits == 0 || name[digits] != '_' ||
	    !tool_ends_with(name + digits + 1, ".sql") ||
	    !tool_top_level(name))
		return 0;
	if (digits >= SOURCE_VERSION_SIZE) {
		snprintf(err, errlen, "version of %zu digits: previewd keeps "
		    "versions of up to %d", digits, SOURCE_VERSION_SIZE - 1);
		return -1;
	}
	snprintf(version, SOURCE_VERSION_SIZE, "%.*s", (int)digits, name);
	return 1;
}

/* The Supabase CLI's migrations are always <workdir>/supabase/migrations
 * (its utils.MigrationsDir): auto knows the folder by that path. */
static bool
supabase_names(const char *folder, const struct source *src)
{
	static const char tail[] = "supabase/migrations";
	size_t n = strlen(folder), m = sizeof(tail) - 1;

	(void)src;
	while (n > 0 && folder[n - 1] == '/')
		n--;
	return n >= m && memcmp(folder + n - m, tail, m) == 0 &&
	    (n == m || folder[n - m - 1] == '/');
}

/*
 * list.go, shouldSkip: the folder's first entry, when its name holds
 * <14 digits>_init.sql with a timestamp before 20211209000000, is the
 * initial schema older CLIs wrote, and is skipped. The pattern is not
 * anchored: the first such 14 digits decide.
 */
static bool
old_init(const char *name)
{
	size_t i, len = strlen(name);

	for (i = 0; i + 23 <= len; i++)
		if (strspn(name + i, "0123456789") >= 14 &&
		    memcmp(name + i + 14, "_init.sql", 9) == 0)
			return strncmp(name + i, "20211209000000", 14) < 0;
	return false;
}

static int
by_name(const void *a, const void *b)
{
	return strcmp(((const struct source_file *)a)->name,
	    ((const struct source_file *)b)->name);
}

/*
 * The CLI's order is the folder's, by name (fs.ReadDir), not by number.
 * Its "first entry" is the first of everything in the folder, which
 * previewd's listing shows only in part (*.sql files and those of
 * tool_wants): a file of another kind sorting before the old init file
 * (".gitkeep") would have kept the CLI from skipping it. Two files of
 * one version would fail on the history's primary key: refused here.
 */
static int
supabase_plan(struct source *src, const char *index, size_t len, char *err,
    size_t errlen)
{
	char why[200];
	size_t i, n = 0;
	int rc;

	(void)index;
	(void)len;
	if (src->n > 1)
		qsort(src->files, src->n, sizeof(*src->files), by_name);
	for (i = 0; i < src->n; i++) {
		struct source_file *f = &src->files[i];

		f->rerun = false;
		rc = supabase_version(f->name, f->version, why, sizeof(why));
		if (rc < 0) {
			snprintf(err, errlen, "%s: %s", f->path, why);
			return -1;
		}
		if (rc == 0 || (i == 0 && old_init(f->name)))
			continue;
		if (n != i)
			src->files[n] = *f;
		n++;
	}
	src->n = n;
	/* Names in byte order: one version's files ("<version>_") are
	 * next to each other. */
	for (i = 1; i < n; i++)
		if (strcmp(src->files[i - 1].version,
		    src->files[i].version) == 0) {
			snprintf(err, errlen, "two migrations of version %s: "
			    "%s and %s", src->files[i].version,
			    src->files[i - 1].path, src->files[i].path);
			return -1;
		}
	return 0;
}

/* ---- the statements of a file, as pkg/parser splits it ------------------ */

/*
 * pkg/parser's tokenizer is a state machine over the file's characters;
 * a statement ends at a ';' read in the ready state. Its states, by the
 * names of state.go: ready, comment (a '-' read), dollar (inside a "--"
 * comment up to its newline, or a $tag$ string up to the tag again),
 * tag (a '$' read), block (a '/' read, then a block comment, nested
 * by depth), quote (' or ", a doubled delimiter staying inside), escape (the
 * character after a '\'), and atomic: a "(" ... ")" or a BEGIN ATOMIC
 * ... END in which ';' ends nothing. An atomic state runs another state
 * inside it, which may be atomic again: a chain, kept here as a stack
 * of the closing words with the innermost other state.
 *
 * token.go feeds every byte of the file to the states (its loop steps
 * one byte at a time, a multi-byte character's later bytes reading as
 * U+FFFD): no byte outside ASCII changes a state, except to end a $tag
 * (only letters, digits and '_' of ASCII stay in a tag, then).
 */
enum pstate { P_READY, P_COMMENT, P_DOLLAR, P_TAG, P_BLOCK, P_QUOTE,
    P_ESCAPE };

struct parser {
	const char *data;
	size_t len;
	size_t start;                /* where the statement began */
	enum pstate st;
	int depth;                   /* block comments */
	char quote;
	bool closed;                 /* the quote's delimiter just read */
	size_t tag;                  /* where the $tag began */
	const char *delim;           /* dollar's end: "\n" or the tag */
	size_t dlen;
	char *atomic;                /* ')' or 'E' (END), innermost last */
	size_t natomic, atomic_cap;
};

/* What a state's step did: the state is kept or changed in place (KEEP),
 * a ';' ended the statement (END), or an atomic state opened (OPEN, with
 * its closing word in *close). */
enum step_rc { KEEP, END, OPEN };

/* Go's unicode.IsSpace, for the characters it names: the length of the
 * space at p (n bytes there), or 0. */
static size_t
space_at(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;

	if (n >= 1 && (p[0] == ' ' || (p[0] >= '\t' && p[0] <= '\r')))
		return 1;
	if (n >= 2 && p[0] == 0xc2 && (p[1] == 0x85 || p[1] == 0xa0))
		return 2;
	if (n < 3)
		return 0;
	if ((p[0] == 0xe1 && p[1] == 0x9a && p[2] == 0x80) ||
	    (p[0] == 0xe2 && p[1] == 0x80 && (p[2] <= 0x8a || p[2] == 0xa8 ||
	    p[2] == 0xa9 || p[2] == 0xaf)) ||
	    (p[0] == 0xe2 && p[1] == 0x81 && p[2] == 0x9f) ||
	    (p[0] == 0xe3 && p[1] == 0x80 && p[2] == 0x80))
		return 3;
	return 0;
}

/* The length of a space ending at s + n, or 0. */
static size_t
space_before(const char *s, size_t n)
{
	size_t k;

	for (k = 1; k <= 3 && k <= n; k++)
		if (space_at(s + n - k, k) == k)
			return k;
	return 0;
}

static bool
is_word_byte(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	    (c >= 'A' && c <= 'Z') || c == '_';
}

/* state.go's isIdentifierRune for the character ending at s + n: a
 * letter, a digit, '_' or '$'. Of the characters outside ASCII, only
 * spaces are taken as not one (the letters and digits of other scripts
 * are, and a rare punctuation mark there is taken as one too). */
static bool
ident_before(const char *s, size_t n)
{
	unsigned char c = (unsigned char)s[n - 1];

	if (c < 0x80)
		return is_word_byte(c) || c == '$';
	return space_before(s, n) == 0;
}

static bool
ends_with_fold(const char *s, size_t n, const char *word)
{
	size_t m = strlen(word), i;

	if (n < m)
		return false;
	for (i = 0; i < m; i++) {
		char c = s[n - m + i];

		if (c >= 'a' && c <= 'z')
			c = (char)(c - 'a' + 'A');
		if (c != word[i])
			return false;
	}
	return true;
}

/* isBeginAtomic: the statement so far (w, n bytes) ends in ATOMIC, a
 * word, with BEGIN, a word, before it across white space. */
static bool
begin_atomic(const char *w, size_t n)
{
	size_t k;

	if (!ends_with_fold(w, n, "ATOMIC"))
		return false;
	n -= 6;
	if (n > 0 && ident_before(w, n))
		return false;
	while (n > 0 && (k = space_before(w, n)) > 0)
		n -= k;
	if (!ends_with_fold(w, n, "BEGIN"))
		return false;
	n -= 5;
	return n == 0 || !ident_before(w, n);
}

/* The ready state's step for the byte at i (also the step of the states
 * that fall back to it). */
static enum step_rc
ready_step(struct parser *p, size_t i, char *close)
{
	char c = p->data[i];

	p->st = P_READY;
	switch (c) {
	case '$':
		p->st = P_TAG;
		p->tag = i;
		break;
	case '\'':
	case '"':
		p->st = P_QUOTE;
		p->quote = c;
		p->closed = false;
		break;
	case '-':
		p->st = P_COMMENT;
		break;
	case '/':
		p->st = P_BLOCK;
		p->depth = 0;
		break;
	case '\\':
		p->st = P_ESCAPE;
		break;
	case ';':
		return END;
	case '(':
		*close = ')';
		return OPEN;
	case 'c':
	case 'C':
		if (begin_atomic(p->data + p->start, i + 1 - p->start)) {
			*close = 'E';
			return OPEN;
		}
		break;
	}
	return KEEP;
}

/* A fall back to the ready state that ends the statement leaves, in an
 * atomic state, the state it fell from as it was: state.go's AtomicState
 * keeps its inner state when that returns nil. */
static enum step_rc
fall_back(struct parser *p, size_t i, char *close)
{
	struct parser was = *p;
	enum step_rc rc = ready_step(p, i, close);

	if (rc == END)
		*p = was;
	return rc;
}

/* One byte through the innermost state that is not atomic. */
static enum step_rc
inner_step(struct parser *p, size_t i, char *close)
{
	const char *w = p->data + p->start;
	size_t n = i + 1 - p->start;
	unsigned char c = (unsigned char)p->data[i];

	switch (p->st) {
	case P_READY:
		return ready_step(p, i, close);
	case P_COMMENT:
		if (c != '-')
			return fall_back(p, i, close);
		p->st = P_DOLLAR;
		p->delim = "\n";
		p->dlen = 1;
		return KEEP;
	case P_DOLLAR:
		if (n >= p->dlen && memcmp(w + n - p->dlen, p->delim,
		    p->dlen) == 0)
			p->st = P_READY;
		return KEEP;
	case P_TAG:
		if (c == '$') {
			p->st = P_DOLLAR;
			p->delim = p->data + p->tag;
			p->dlen = i + 1 - p->tag;
			return KEEP;
		}
		return is_word_byte(c) ? KEEP : fall_back(p, i, close);
	case P_BLOCK:
		if (n >= 2 && w[n - 2] == '/' && w[n - 1] == '*') {
			p->depth++;
			return KEEP;
		}
		if (p->depth == 0)
			return fall_back(p, i, close);
		if (n >= 2 && w[n - 2] == '*' && w[n - 1] == '/' &&
		    --p->depth == 0)
			p->st = P_READY;
		return KEEP;
	case P_QUOTE:
		if (!p->closed) {
			p->closed = c == (unsigned char)p->quote;
			return KEEP;
		}
		if (c == (unsigned char)p->quote) {
			p->closed = false;
			return KEEP;
		}
		return fall_back(p, i, close);
	case P_ESCAPE:
		p->st = P_READY;
		return KEEP;
	}
	return KEEP;
}

/* One byte through the whole chain: END when it ends the statement,
 * else 0 or -1 (out of memory). */
static int
parser_step(struct parser *p, size_t i, bool *end)
{
	const char *w = p->data + p->start;
	size_t n = i + 1 - p->start;
	char close = 0;
	enum step_rc rc = inner_step(p, i, &close);

	*end = false;
	if (rc == OPEN) {
		if (p->natomic == p->atomic_cap) {
			size_t cap = p->atomic_cap ? 2 * p->atomic_cap : 16;
			char *a = realloc(p->atomic, cap);

			if (a == NULL)
				return -1;
			p->atomic = a;
			p->atomic_cap = cap;
		}
		p->atomic[p->natomic++] = close;
		p->st = P_READY;
		return 0;
	}
	if (rc == END && p->natomic == 0) {
		*end = true;
		return 0;
	}
	/* Each atomic state whose inner state is ready looks for its
	 * closing word at the end of the statement so far; one that closes
	 * leaves the one around it with a ready state, which looks too. */
	while (p->natomic > 0 && p->st == P_READY &&
	    (p->atomic[p->natomic - 1] == ')' ? w[n - 1] == ')' :
	    ends_with_fold(w, n, "END")))
		p->natomic--;
	return 0;
}

/* Each statement of data (len bytes, no NUL inside) to fn, as
 * SplitAndTrim keeps it: its trailing ';' cut, then white space at both
 * ends; none left empty. 0, or -1: out of memory, or fn's -1. */
static int
split_walk(const char *data, size_t len,
    int (*fn)(const char *, size_t, void *), void *arg)
{
	struct parser p;
	const char *w;
	size_t i, n, k;
	bool end;
	int rc = -1;

	memset(&p, 0, sizeof(p));
	p.data = data;
	p.len = len;
	/* The last pass takes what is left at the end: a statement too
	 * (token.go at EOF). */
	for (i = 0; i <= len; i++) {
		if (i < len && parser_step(&p, i, &end) != 0)
			goto out;
		if (i < len && !end)
			continue;
		w = data + p.start;
		n = (i < len ? i + 1 : len) - p.start;
		p.start = i + 1;
		p.st = P_READY;
		while (n > 0 && w[n - 1] == ';')
			n--;
		while (n > 0 && (k = space_at(w, n)) > 0) {
			w += k;
			n -= k;
		}
		while (n > 0 && (k = space_before(w, n)) > 0)
			n -= k;
		if (n > 0 && fn(w, n, arg) != 0)
			goto out;
	}
	rc = 0;
out:
	free(p.atomic);
	return rc;
}

/* The text of a PostgreSQL text[] being written, and its elements. */
struct array_text {
	struct buf *out;
	size_t count;
};

/* Statement w (n bytes) as the array's next element: quoted, with '"'
 * and '\' escaped. */
static int
add_element(const char *w, size_t n, void *arg)
{
	struct array_text *a = arg;
	size_t run;

	if (buf_addstr(a->out, a->count == 0 ? "{\"" : ",\"") != 0)
		return -1;
	while (n > 0) {
		for (run = 0; run < n && w[run] != '"' && w[run] != '\\'; run++)
			;
		if (buf_add(a->out, w, run) != 0)
			return -1;
		w += run;
		n -= run;
		if (n == 0)
			break;
		if (buf_add(a->out, "\\", 1) != 0 || buf_add(a->out, w, 1) != 0)
			return -1;
		w++;
		n--;
	}
	a->count++;
	return buf_addstr(a->out, "\"");
}

/* Whether statement w (n bytes) is comments and white space only,
 * nothing PostgreSQL runs. */
static bool
comments_only(const char *w, size_t n)
{
	size_t i = 0, k;
	int depth;

	while (i < n) {
		if ((k = space_at(w + i, n - i)) > 0) {
			i += k;
		} else if (n - i >= 2 && w[i] == '-' && w[i + 1] == '-') {
			while (i < n && w[i] != '\n')
				i++;
		} else if (n - i >= 2 && w[i] == '/' && w[i + 1] == '*') {
			for (depth = 1, i += 2; i < n && depth > 0; i++) {
				if (i + 1 == n)
					continue;
				if (w[i] == '/' && w[i + 1] == '*') {
					depth++;
					i++;
				} else if (w[i] == '*' && w[i + 1] == '/') {
					depth--;
					i++;
				}
			}
		} else {
			return false;
		}
	}
	return true;
}

static int
count_statement(const char *w, size_t n, void *arg)
{
	size_t *count = arg;

	if (!comments_only(w, n))
		(*count)++;
	return 0;
}

size_t
tool_pg_statements(const char *data, size_t len)
{
	size_t count = 0;

	/* Out of memory (a deep nest of parentheses): "several", the
	 * answer that changes nothing. */
	if (split_walk(data, len, count_statement, &count) != 0)
		return 2;
	return count > 2 ? 2 : count;
}

/*
 * The row insertVersionSQL writes with the file, in the file's batch:
 * $1 the version, $2 the name, $3 the statements as parser.SplitAndTrim
 * leaves them (NULL for a file of none: pgtype's TextArray of a nil
 * slice).
 */
static int
supabase_row(const struct tool_file *f, struct tool_params *out, char *err,
    size_t errlen)
{
	const char *name = f->file->name;
	size_t digits = strspn(name, "0123456789");
	char title[sizeof(f->file->name)];
	struct array_text array;
	struct buf text;
	int rc = -1;

	/* Each statement may double, and brings 3 characters of its own. */
	buf_init(&text, 3 * f->len + 16);
	array.out = &text;
	array.count = 0;
	snprintf(title, sizeof(title), "%.*s", (int)(strlen(name) - digits -
	    5), name + digits + 1);
	if (split_walk(f->data, f->len, add_element, &array) != 0 ||
	    (array.count > 0 && buf_addstr(&text, "}") != 0) ||
	    tool_params_add(out, f->file->version) != 0 ||
	    tool_params_add(out, title) != 0 ||
	    tool_params_add(out, array.count > 0 ? text.data : NULL) != 0) {
		str_copy(err, "out of memory", errlen);
		goto out;
	}
	rc = 0;
out:
	buf_release(&text);
	return rc;
}

/*
 * history.go: CreateMigrationTable's statements, then per file
 * ApplyMigrations' "RESET ALL" and INSERT_MIGRATION_VERSION. The CLI
 * resets the session before each file, so that what one file SETs
 * (pg_dump's set_config('search_path', '', false)) does not reach the
 * next; previewd runs the files on one session, and resets it after
 * each, before its history row and record: the same for the next file.
 * The RESET ALL is in the file's transaction, and the SETs it undoes
 * are too. CreateMigrationTable's "SET lock_timeout = '4s'" guards the
 * CLI against a busy remote database; a preview's is its own.
 */
static const char *const supabase_pg_create[] = {
	"CREATE SCHEMA IF NOT EXISTS supabase_migrations",
	"CREATE TABLE IF NOT EXISTS supabase_migrations.schema_migrations "
	"(version text NOT NULL PRIMARY KEY)",
	"ALTER TABLE supabase_migrations.schema_migrations ADD COLUMN IF NOT "
	"EXISTS statements text[]",
	"ALTER TABLE supabase_migrations.schema_migrations ADD COLUMN IF NOT "
	"EXISTS name text",
	NULL,
};
static const char *const supabase_pg_write[] = {
	/* The engine's SET LOCAL search_path TO DEFAULT, run before these
	 * (engines/postgres_session.c), leaves search_path at its default
	 * for RESET ALL to pass over, and the script's own value would come
	 * back at COMMIT: a SET of the session's first. */
	"SET search_path TO DEFAULT",
	"RESET ALL",
	"INSERT INTO supabase_migrations.schema_migrations(version, name, "
	"statements) VALUES($1, $2, $3)",
	NULL,
};
static const struct tool_history supabase_history[] = {
	{ "postgres", supabase_pg_create, supabase_pg_write },
	{ NULL, NULL, NULL },
};

const struct tool tool_supabase = {
	.name = "supabase",
	.names_match = supabase_names,
	.looks_for = "supabase/migrations path",
	.version = supabase_version, .plan = supabase_plan,
	.history_row = supabase_row, .history = supabase_history,
};
