/*
 * source: listing and reading SQL files from the forge or the disk.
 */
#include "core/source.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "forges/blobs.h"
#include "forges/github.h"
#include "core/tools.h"
#include "forges/gitlab.h"

static int
add_file(struct forge_call *call, struct source *s, const char *name,
    const char *path)
{
	struct source_file *f;

	if (s->n == SOURCE_MAX_FILES) {
		snprintf(call->error, sizeof(call->error), "more than %d "
		    "migration files", SOURCE_MAX_FILES);
		return -1;
	}
	if ((f = realloc(s->files, (s->n + 1) * sizeof(*f))) == NULL) {
		str_copy(call->error, "out of memory", sizeof(call->error));
		return -1;
	}
	s->files = f;
	memset(&f[s->n], 0, sizeof(*f));
	if (str_copy(f[s->n].name, name, sizeof(f->name)) != 0 ||
	    str_copy(f[s->n].path, path, sizeof(f->path)) != 0) {
		snprintf(call->error, sizeof(call->error), "file name too long: "
		    "\"%.80s...\"", name);
		return -1;
	}
	s->n++;
	return 0;
}

static int
by_name(const void *a, const void *b)
{
	/* Byte order: strcmp compares as unsigned char. */
	return strcmp(((const struct source_file *)a)->name,
	    ((const struct source_file *)b)->name);
}

/* A remote listing: the folder's entries among the tree's. */
struct listing {
	struct forge_call *call;
	struct source *s;
	const char *folder;        /* as configured, without slashes around */
	bool seen;                 /* the folder (or a file of that path) */
	bool failed;
};

/* An entry of the tree: kept when it is in the folder, no deeper than
 * SOURCE_MAX_DEPTH, and a file tools want; a path naming a file is a
 * folder of one file, as it always was. */
static int
on_entry(const struct forge_entry *e, void *arg)
{
	struct listing *l = arg;
	size_t n = strlen(l->folder), depth = 1;
	const char *rel, *p;

	if (strcmp(e->path, l->folder) == 0) {
		l->seen = true;
		if (!e->is_file)
			return 0;
		rel = e->name;
	} else if (n == 0) {
		rel = e->path;
	} else if (strncmp(e->path, l->folder, n) == 0 && e->path[n] == '/') {
		rel = e->path + n + 1;
		l->seen = true;
	} else {
		return 0;
	}
	for (p = rel; (p = strchr(p, '/')) != NULL; p++)
		depth++;
	if (!e->is_file || depth > SOURCE_MAX_DEPTH || !tool_wants(rel))
		return 0;
	if (add_file(l->call, l->s, rel, e->path) != 0) {
		l->failed = true;
		return 1;
	}
	str_copy(l->s->files[l->s->n - 1].blob, e->blob,
	    sizeof(l->s->files[0].blob));
	return 0;
}

/* A folder walked through GitHub's contents API: its entries, and the
 * subfolders to walk next. */
struct walk {
	struct listing *l;
	char (*dirs)[1024];
	size_t n;
};

static int
on_walk_entry(const struct forge_entry *e, void *arg)
{
	struct walk *w = arg;
	void *p;

	if (e->is_file || strcmp(e->path, w->l->folder) == 0)
		return on_entry(e, w->l);
	if ((p = realloc(w->dirs, (w->n + 1) * sizeof(*w->dirs))) == NULL) {
		w->l->failed = true;
		return 1;
	}
	w->dirs = p;
	str_copy(w->dirs[w->n++], e->path, sizeof(w->dirs[0]));
	return on_entry(e, w->l);
}

/* GitHub cuts a tree of more than 100,000 entries short: the folder is
 * then walked through the contents API instead, a request per folder. */
static enum forge_rc
walk_github(struct forge_call *call, struct listing *l, const char *path,
    int depth)
{
	struct walk w = { l, NULL, 0 };
	enum forge_rc rc;
	size_t i;

	rc = github_list_dir(call, l->s->target, path, l->s->sha,
	    on_walk_entry, &w);
	for (i = 0; rc == FORGE_OK && !l->failed && depth < SOURCE_MAX_DEPTH &&
	    i < w.n; i++)
		rc = walk_github(call, l, w.dirs[i], depth + 1);
	free(w.dirs);
	return rc;
}

static enum forge_rc
list_remote(struct forge_call *call, struct source *s, const char *path)
{
	char folder[1024];
	struct listing l = { call, s, folder, false, false };
	enum forge_rc rc;
	bool truncated = false;
	size_t n;

	/* "db/migrations/" and "/db/migrations" are db/migrations. */
	while (*path == '/')
		path++;
	if (str_copy(folder, path, sizeof(folder)) != 0) {
		str_copy(call->error, "migrations folder path too long",
		    sizeof(call->error));
		return FORGE_FAIL;
	}
	for (n = strlen(folder); n > 0 && folder[n - 1] == '/'; n--)
		folder[n - 1] = '\0';
	if (strcmp(s->provider, "gitlab") == 0)
		rc = gitlab_list_dir(call, s->target, folder, s->sha, on_entry,
		    &l);
	else
		rc = github_list_tree(call, s->target, s->sha, on_entry, &l,
		    &truncated);
	if (rc == FORGE_OK && truncated && !l.failed) {
		source_release(s);
		l.seen = false;
		rc = walk_github(call, &l, folder, 1);
	}
	if (rc == FORGE_OK && !l.failed && !l.seen && folder[0] != '\0')
		rc = FORGE_NOT_FOUND;
	if (rc == FORGE_NOT_FOUND)
		snprintf(call->error, sizeof(call->error), "migrations folder "
		    "\"%s\" not found in %s at %.12s", path, s->target, s->sha);
	if (rc == FORGE_OK && l.failed)
		rc = FORGE_FAIL;
	return rc;
}

/* Folder dir (its name under the migrations folder rel, "" at the top)
 * and its subfolders, down to SOURCE_MAX_DEPTH. Symbolic links to
 * folders are not followed: a link could loop. */
static enum forge_rc
walk_local(struct forge_call *call, struct source *s, const char *dir,
    const char *rel, int depth)
{
	char path[2048], name[1024];
	struct dirent *d;
	struct stat sb;
	DIR *dp;
	enum forge_rc rc = FORGE_OK;

	if ((dp = opendir(dir)) == NULL) {
		snprintf(call->error, sizeof(call->error), "migrations folder "
		    "\"%s\" cannot be read: %s", dir, errno == ENOENT ?
		    "no such folder" : "permission denied or not a folder");
		return errno == ENOENT ? FORGE_NOT_FOUND : FORGE_FAIL;
	}
	while (rc == FORGE_OK && (d = readdir(dp)) != NULL) {
		if (strcmp(d->d_name, ".") == 0 || strcmp(d->d_name, "..") == 0 ||
		    str_printf(path, sizeof(path), "%s/%s", dir, d->d_name) != 0 ||
		    str_printf(name, sizeof(name), "%s%s%s", rel, rel[0] ? "/" :
		    "", d->d_name) != 0 || lstat(path, &sb) != 0)
			continue;
		if (S_ISDIR(sb.st_mode)) {
			if (depth < SOURCE_MAX_DEPTH)
				rc = walk_local(call, s, path, name, depth + 1);
			continue;
		}
		if (!tool_wants(name) || stat(path, &sb) != 0 ||
		    !S_ISREG(sb.st_mode))
			continue;
		if (add_file(call, s, name, path) != 0)
			rc = FORGE_FAIL;
	}
	closedir(dp);
	return rc;
}

static enum forge_rc
list_local(struct forge_call *call, struct source *s, const char *dir)
{
	return walk_local(call, s, dir, "", 1);
}

/* Fill s's identity: which repository, at which commit. */
static void
source_init(struct source *s, const struct env *e, const char *sha)
{
	memset(s, 0, sizeof(*s));
	str_copy(s->provider, e->provider, sizeof(s->provider));
	str_copy(s->target, e->api_target[0] ? e->api_target : e->repo,
	    sizeof(s->target));
	str_copy(s->sha, sha, sizeof(s->sha));
}

enum forge_rc
source_migrations(struct forge_call *call, const struct env *e,
    const char *spec, const char *sha, struct source *out)
{
	char dir[2048];
	enum forge_rc rc = FORGE_OK;

	source_init(out, e, sha);
	if (strcmp(spec, "none") == 0)
		return FORGE_OK;
	if (str_starts(spec, "repo:")) {
		out->remote = true;
		rc = list_remote(call, out, spec + 5);
	} else if (str_starts(spec, "dir:")) {
		rc = list_local(call, out, spec + 4);
	} else if (str_starts(spec, "blueprint:")) {
		if (str_printf(dir, sizeof(dir), "%s/blueprints/%s/%s/migrations",
		    call->cfg->server.templates_dir, spec + 10, e->engine) != 0) {
			str_copy(call->error, "path too long", sizeof(call->error));
			return FORGE_FAIL;
		}
		rc = list_local(call, out, dir);
	} else {
		snprintf(call->error, sizeof(call->error), "unknown migrations "
		    "source \"%s\"", spec);
		return FORGE_FAIL;
	}
	/* qsort wants a non-NULL array even for nothing to sort. */
	if (rc == FORGE_OK && out->n > 1)
		qsort(out->files, out->n, sizeof(*out->files), by_name);
	return rc;
}

enum forge_rc
source_seed(struct forge_call *call, const struct env *e, const char *spec,
    const char *sha, struct source *out)
{
	char path[2048];
	const char *p, *base;

	source_init(out, e, sha);
	if (strcmp(spec, "none") == 0)
		return FORGE_OK;
	if (str_starts(spec, "repo:")) {
		out->remote = true;
		p = spec + 5;
	} else if (str_starts(spec, "file:")) {
		p = spec + 5;
	} else if (str_starts(spec, "blueprint:")) {
		if (str_printf(path, sizeof(path), "%s/blueprints/%s/%s/seed.sql",
		    call->cfg->server.templates_dir, spec + 10, e->engine) != 0) {
			str_copy(call->error, "path too long", sizeof(call->error));
			return FORGE_FAIL;
		}
		p = path;
	} else {
		snprintf(call->error, sizeof(call->error), "unknown seed source "
		    "\"%s\"", spec);
		return FORGE_FAIL;
	}
	base = strrchr(p, '/');
	return add_file(call, out, base ? base + 1 : p, p) == 0 ? FORGE_OK :
	    FORGE_FAIL;
}

static enum forge_rc
read_local(struct forge_call *call, const char *path, struct buf *out)
{
	char chunk[65536];
	size_t n;
	FILE *fp;
	enum forge_rc rc = FORGE_OK;

	if ((fp = fopen(path, "rb")) == NULL) {
		snprintf(call->error, sizeof(call->error), "\"%s\" cannot be "
		    "read: %s", path, errno == ENOENT ? "no such file" :
		    "permission denied");
		return errno == ENOENT ? FORGE_NOT_FOUND : FORGE_FAIL;
	}
	while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0) {
		if (buf_add(out, chunk, n) != 0) {
			snprintf(call->error, sizeof(call->error), "\"%s\" is "
			    "larger than %zu bytes", path, SOURCE_MAX_FILE);
			rc = FORGE_FAIL;
			break;
		}
	}
	if (rc == FORGE_OK && ferror(fp)) {
		snprintf(call->error, sizeof(call->error), "\"%s\" cannot be "
		    "read", path);
		rc = FORGE_FAIL;
	}
	fclose(fp);
	return rc;
}

/* A listed file by its blob id: from the blobs kept, or read once. */
static enum forge_rc
read_blob(struct forge_call *call, const struct source *s,
    const struct source_file *f, struct buf *out)
{
	bool gitlab = strcmp(s->provider, "gitlab") == 0;
	enum forge_rc rc;

	if (blobs_get(s->provider, f->blob, out))
		return FORGE_OK;
	if (gitlab)
		rc = gitlab_read_blob(call, s->target, f->blob,
		    SOURCE_MAX_FILE, out);
	else
		rc = github_read_blob(call, s->target, f->blob,
		    SOURCE_MAX_FILE, out);
	if (rc == FORGE_OK)
		blobs_put(s->provider, f->blob, out->data, out->len);
	/* Name the file, not the blob. */
	if (rc == FORGE_FAIL && strstr(call->error, f->blob) != NULL)
		snprintf(call->error, sizeof(call->error), "\"%s\" is larger "
		    "than %zu bytes", f->path, SOURCE_MAX_FILE);
	return rc;
}

enum forge_rc
source_read(struct forge_call *call, const struct source *s, size_t i,
    struct buf *out)
{
	const struct source_file *f = &s->files[i];
	enum forge_rc rc;

	buf_release(out);
	buf_init(out, SOURCE_MAX_FILE);
	if (!s->remote)
		rc = read_local(call, f->path, out);
	else if (f->blob[0] != '\0')
		rc = read_blob(call, s, f, out);
	else if (strcmp(s->provider, "gitlab") == 0)
		rc = gitlab_read_file(call, s->target, f->path, s->sha,
		    SOURCE_MAX_FILE, out);
	else
		rc = github_read_file(call, s->target, f->path, s->sha,
		    SOURCE_MAX_FILE, out);
	if (rc == FORGE_NOT_FOUND && s->remote)
		snprintf(call->error, sizeof(call->error), "\"%s\" not found in "
		    "%s at %.12s", f->path, s->target, s->sha);
	if (rc == FORGE_OK && out->data == NULL && buf_add(out, "", 0) != 0)
		rc = FORGE_FAIL;
	/* Scripts are handed to C APIs that stop at a NUL. */
	if (rc == FORGE_OK && memchr(out->data, '\0', out->len) != NULL) {
		snprintf(call->error, sizeof(call->error), "\"%s\" contains a "
		    "NUL byte: not an SQL script", f->name);
		rc = FORGE_FAIL;
	}
	return rc;
}

void
source_release(struct source *s)
{
	free(s->files);
	s->files = NULL;
	s->n = 0;
}

bool
source_blueprint_exists(const char *templates_dir, const char *name,
    const char *engine)
{
	char path[4096];
	struct stat sb;

	if (name[0] == '\0' || strspn(name, "abcdefghijklmnopqrstuvwxyz"
	    "0123456789_-") != strlen(name))
		return false;
	return str_printf(path, sizeof(path), "%s/blueprints/%s/%s/migrations",
	    templates_dir, name, engine) == 0 && stat(path, &sb) == 0 &&
	    S_ISDIR(sb.st_mode);
}
