-- previewd blueprint "cms" (PostgreSQL): a blog / content site.
-- authors, categories, tags, media, posts, post_tags, pages (a tree),
-- comments (threaded).
-- Bodies are stored as text (Markdown or HTML: the application decides);
-- SEO fields and media metadata are jsonb.

-- Keeps updated_at current on UPDATE (the MySQL flavour uses ON UPDATE).
CREATE FUNCTION set_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END
$$;

CREATE TABLE authors (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email        text        NOT NULL,
    display_name text        NOT NULL,
    slug         text        NOT NULL,
    bio          text,
    role         text        NOT NULL DEFAULT 'author',
    is_active    boolean     NOT NULL DEFAULT true,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT authors_slug_key UNIQUE (slug),
    CONSTRAINT authors_slug_format CHECK (slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$'),
    CONSTRAINT authors_email_format CHECK (email ~ '^[^@[:space:]]+@[^@[:space:]]+$'),
    CONSTRAINT authors_role_check CHECK (role IN ('admin', 'editor', 'author', 'contributor'))
);
-- Emails are unique without regard to case (no citext: no extensions).
CREATE UNIQUE INDEX authors_email_key ON authors (lower(email));

CREATE TABLE categories (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        text        NOT NULL,
    slug        text        NOT NULL,
    description text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT categories_slug_key UNIQUE (slug),
    CONSTRAINT categories_slug_format CHECK (slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$')
);
CREATE UNIQUE INDEX categories_name_key ON categories (lower(name));

CREATE TABLE tags (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name       text        NOT NULL,
    slug       text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT tags_slug_key UNIQUE (slug),
    CONSTRAINT tags_slug_format CHECK (slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$')
);
-- Names are unique without regard to case ("PostgreSQL" = "postgresql").
CREATE UNIQUE INDEX tags_name_key ON tags (lower(name));

-- Uploaded files.  storage_key is where the bytes are (an object-store key
-- or a path); the database holds only what describes them.
CREATE TABLE media (
    id                    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    uploaded_by_author_id bigint      REFERENCES authors (id) ON DELETE SET NULL,
    storage_key           text        NOT NULL,
    filename              text        NOT NULL,
    mime_type             text        NOT NULL,
    byte_size             bigint      NOT NULL,
    width                 integer,
    height                integer,
    alt_text              text,
    caption               text,
    -- EXIF data, thumbnails, processing state ...
    metadata              jsonb       NOT NULL DEFAULT '{}',
    created_at            timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT media_storage_key_key UNIQUE (storage_key),
    CONSTRAINT media_mime_type_format CHECK (mime_type ~ '^[a-z]+/[a-zA-Z0-9.+-]+$'),
    CONSTRAINT media_byte_size_check CHECK (byte_size >= 0),
    CONSTRAINT media_dimensions_check CHECK ((width IS NULL OR width > 0) AND (height IS NULL OR height > 0)),
    CONSTRAINT media_metadata_object CHECK (jsonb_typeof(metadata) = 'object')
);

-- An author with posts cannot be deleted (reassign the posts, or set
-- is_active = false).  Deleting a category or a media file leaves the posts
-- without one.
CREATE TABLE posts (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    author_id         bigint      NOT NULL REFERENCES authors (id) ON DELETE RESTRICT,
    category_id       bigint      REFERENCES categories (id) ON DELETE SET NULL,
    featured_media_id bigint      REFERENCES media (id) ON DELETE SET NULL,
    title             text        NOT NULL,
    slug              text        NOT NULL,
    excerpt           text,
    body              text        NOT NULL DEFAULT '',
    status            text        NOT NULL DEFAULT 'draft',
    comments_enabled  boolean     NOT NULL DEFAULT true,
    -- Publication time; in the future for scheduled posts.
    published_at      timestamptz,
    -- {"title": ..., "description": ..., "canonical_url": ..., "og_image": ...}
    seo               jsonb       NOT NULL DEFAULT '{}',
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT posts_slug_key UNIQUE (slug),
    CONSTRAINT posts_slug_format CHECK (slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$'),
    CONSTRAINT posts_title_not_blank CHECK (btrim(title) <> ''),
    CONSTRAINT posts_status_check CHECK (status IN ('draft', 'scheduled', 'published', 'archived')),
    CONSTRAINT posts_published_at_check CHECK (status NOT IN ('scheduled', 'published') OR published_at IS NOT NULL),
    CONSTRAINT posts_seo_object CHECK (jsonb_typeof(seo) = 'object')
);

CREATE TABLE post_tags (
    post_id bigint NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
    tag_id  bigint NOT NULL REFERENCES tags (id) ON DELETE CASCADE,
    PRIMARY KEY (post_id, tag_id)
);

-- Static pages, nested (e.g. /about/team): parent_id is NULL at the top.
-- A page that still has children cannot be deleted.
CREATE TABLE pages (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    parent_id    bigint      REFERENCES pages (id) ON DELETE RESTRICT,
    author_id    bigint      REFERENCES authors (id) ON DELETE SET NULL,
    title        text        NOT NULL,
    slug         text        NOT NULL,
    body         text        NOT NULL DEFAULT '',
    template     text        NOT NULL DEFAULT 'default',
    status       text        NOT NULL DEFAULT 'draft',
    -- Order among siblings in navigation.
    position     integer     NOT NULL DEFAULT 0,
    published_at timestamptz,
    seo          jsonb       NOT NULL DEFAULT '{}',
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT pages_slug_key UNIQUE (slug),
    CONSTRAINT pages_slug_format CHECK (slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$'),
    CONSTRAINT pages_status_check CHECK (status IN ('draft', 'published', 'archived')),
    CONSTRAINT pages_published_at_check CHECK (status <> 'published' OR published_at IS NOT NULL),
    CONSTRAINT pages_not_own_parent CHECK (parent_id <> id),
    CONSTRAINT pages_seo_object CHECK (jsonb_typeof(seo) = 'object')
);

-- Threaded comments: parent_id is NULL for a top-level comment.  Deleting
-- a comment deletes its replies; to hide one and keep the thread, set
-- status = 'trash'.  author_id is set when a registered author comments;
-- author_name and author_email are what a visitor typed.
CREATE TABLE comments (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    post_id      bigint      NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
    parent_id    bigint      REFERENCES comments (id) ON DELETE CASCADE,
    author_id    bigint      REFERENCES authors (id) ON DELETE SET NULL,
    author_name  text        NOT NULL,
    author_email text,
    body         text        NOT NULL,
    status       text        NOT NULL DEFAULT 'pending',
    ip_address   inet,
    user_agent   text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT comments_body_not_blank CHECK (btrim(body) <> ''),
    CONSTRAINT comments_status_check CHECK (status IN ('pending', 'approved', 'spam', 'trash')),
    CONSTRAINT comments_not_own_parent CHECK (parent_id <> id)
);

CREATE TRIGGER authors_set_updated_at BEFORE UPDATE ON authors
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER posts_set_updated_at BEFORE UPDATE ON posts
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER pages_set_updated_at BEFORE UPDATE ON pages
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER comments_set_updated_at BEFORE UPDATE ON comments
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
