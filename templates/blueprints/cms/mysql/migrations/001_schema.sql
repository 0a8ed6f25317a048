-- previewd blueprint "cms" (MySQL 8 / MariaDB 10.11): a blog / content site.
-- authors, categories, tags, media, posts, post_tags, pages (a tree),
-- comments (threaded).
-- Bodies are stored as MEDIUMTEXT (Markdown or HTML: the application
-- decides); SEO fields and media metadata are JSON.
-- Times are DATETIME(6) in the session time zone: store UTC
-- (SET time_zone = '+00:00' in the application's connections).
-- Text is utf8mb4 with the database's default collation (case-insensitive,
-- so unique emails and tag names ignore case); slugs and MIME types are
-- ASCII with a binary (case-sensitive) collation.

CREATE TABLE authors (
    id           BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    email        VARCHAR(254) NOT NULL,
    display_name VARCHAR(200) NOT NULL,
    slug         VARCHAR(100) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    bio          TEXT NULL,
    role         VARCHAR(20) NOT NULL DEFAULT 'author',
    is_active    BOOLEAN NOT NULL DEFAULT TRUE,
    created_at   DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    updated_at   DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
    PRIMARY KEY (id),
    UNIQUE KEY uq_authors_email (email),
    UNIQUE KEY uq_authors_slug (slug),
    CONSTRAINT chk_authors_slug_format CHECK (slug REGEXP '^[a-z0-9]+(-[a-z0-9]+)*$'),
    CONSTRAINT chk_authors_email_format CHECK (email LIKE '_%@_%' AND email NOT LIKE '% %'),
    CONSTRAINT chk_authors_role CHECK (role IN ('admin', 'editor', 'author', 'contributor'))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE categories (
    id          BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    name        VARCHAR(100) NOT NULL,
    slug        VARCHAR(100) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    description TEXT NULL,
    created_at  DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    PRIMARY KEY (id),
    UNIQUE KEY uq_categories_name (name),
    UNIQUE KEY uq_categories_slug (slug),
    CONSTRAINT chk_categories_slug_format CHECK (slug REGEXP '^[a-z0-9]+(-[a-z0-9]+)*$')
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE tags (
    id         BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    name       VARCHAR(100) NOT NULL,
    slug       VARCHAR(100) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    PRIMARY KEY (id),
    UNIQUE KEY uq_tags_name (name),
    UNIQUE KEY uq_tags_slug (slug),
    CONSTRAINT chk_tags_slug_format CHECK (slug REGEXP '^[a-z0-9]+(-[a-z0-9]+)*$')
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- Uploaded files.  storage_key is where the bytes are (an object-store key
-- or a path, case-sensitive); the database holds only what describes them.
CREATE TABLE media (
    id                    BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    uploaded_by_author_id BIGINT UNSIGNED NULL,
    storage_key           VARCHAR(500) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    filename              VARCHAR(255) NOT NULL,
    mime_type             VARCHAR(127) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    byte_size             BIGINT NOT NULL,
    width                 INT NULL,
    height                INT NULL,
    alt_text              VARCHAR(500) NULL,
    caption               TEXT NULL,
    -- EXIF data, thumbnails, processing state ...
    metadata              JSON NOT NULL DEFAULT (JSON_OBJECT()),
    created_at            DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    PRIMARY KEY (id),
    UNIQUE KEY uq_media_storage_key (storage_key),
    CONSTRAINT fk_media_uploaded_by FOREIGN KEY (uploaded_by_author_id) REFERENCES authors (id) ON DELETE SET NULL,
    CONSTRAINT chk_media_mime_type_format CHECK (mime_type REGEXP '^[a-z]+/[a-zA-Z0-9.+-]+$'),
    CONSTRAINT chk_media_byte_size CHECK (byte_size >= 0),
    CONSTRAINT chk_media_dimensions CHECK ((width IS NULL OR width > 0) AND (height IS NULL OR height > 0)),
    CONSTRAINT chk_media_metadata_object CHECK (JSON_TYPE(metadata) = 'OBJECT')
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- An author with posts cannot be deleted (reassign the posts, or set
-- is_active = FALSE).  Deleting a category or a media file leaves the
-- posts without one.
CREATE TABLE posts (
    id                BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    author_id         BIGINT UNSIGNED NOT NULL,
    category_id       BIGINT UNSIGNED NULL,
    featured_media_id BIGINT UNSIGNED NULL,
    title             VARCHAR(300) NOT NULL,
    slug              VARCHAR(200) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    excerpt           TEXT NULL,
    body              MEDIUMTEXT NOT NULL DEFAULT (''),
    status            VARCHAR(20) NOT NULL DEFAULT 'draft',
    comments_enabled  BOOLEAN NOT NULL DEFAULT TRUE,
    -- Publication time; in the future for scheduled posts.
    published_at      DATETIME(6) NULL,
    -- {"title": ..., "description": ..., "canonical_url": ..., "og_image": ...}
    seo               JSON NOT NULL DEFAULT (JSON_OBJECT()),
    created_at        DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    updated_at        DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
    PRIMARY KEY (id),
    UNIQUE KEY uq_posts_slug (slug),
    CONSTRAINT fk_posts_author FOREIGN KEY (author_id) REFERENCES authors (id) ON DELETE RESTRICT,
    CONSTRAINT fk_posts_category FOREIGN KEY (category_id) REFERENCES categories (id) ON DELETE SET NULL,
    CONSTRAINT fk_posts_featured_media FOREIGN KEY (featured_media_id) REFERENCES media (id) ON DELETE SET NULL,
    CONSTRAINT chk_posts_slug_format CHECK (slug REGEXP '^[a-z0-9]+(-[a-z0-9]+)*$'),
    CONSTRAINT chk_posts_title_not_blank CHECK (TRIM(title) <> ''),
    CONSTRAINT chk_posts_status CHECK (status IN ('draft', 'scheduled', 'published', 'archived')),
    CONSTRAINT chk_posts_published_at CHECK (status NOT IN ('scheduled', 'published') OR published_at IS NOT NULL),
    CONSTRAINT chk_posts_seo_object CHECK (JSON_TYPE(seo) = 'OBJECT')
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE post_tags (
    post_id BIGINT UNSIGNED NOT NULL,
    tag_id  BIGINT UNSIGNED NOT NULL,
    PRIMARY KEY (post_id, tag_id),
    CONSTRAINT fk_post_tags_post FOREIGN KEY (post_id) REFERENCES posts (id) ON DELETE CASCADE,
    CONSTRAINT fk_post_tags_tag FOREIGN KEY (tag_id) REFERENCES tags (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- Static pages, nested (e.g. /about/team): parent_id is NULL at the top.
-- A page that still has children cannot be deleted.
CREATE TABLE pages (
    id           BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    parent_id    BIGINT UNSIGNED NULL,
    author_id    BIGINT UNSIGNED NULL,
    title        VARCHAR(300) NOT NULL,
    slug         VARCHAR(200) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    body         MEDIUMTEXT NOT NULL DEFAULT (''),
    template     VARCHAR(50) NOT NULL DEFAULT 'default',
    status       VARCHAR(20) NOT NULL DEFAULT 'draft',
    -- Order among siblings in navigation.
    position     INT NOT NULL DEFAULT 0,
    published_at DATETIME(6) NULL,
    seo          JSON NOT NULL DEFAULT (JSON_OBJECT()),
    created_at   DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    updated_at   DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
    PRIMARY KEY (id),
    UNIQUE KEY uq_pages_slug (slug),
    CONSTRAINT fk_pages_parent FOREIGN KEY (parent_id) REFERENCES pages (id) ON DELETE RESTRICT,
    CONSTRAINT fk_pages_author FOREIGN KEY (author_id) REFERENCES authors (id) ON DELETE SET NULL,
    CONSTRAINT chk_pages_slug_format CHECK (slug REGEXP '^[a-z0-9]+(-[a-z0-9]+)*$'),
    CONSTRAINT chk_pages_status CHECK (status IN ('draft', 'published', 'archived')),
    CONSTRAINT chk_pages_published_at CHECK (status <> 'published' OR published_at IS NOT NULL),
    CONSTRAINT chk_pages_seo_object CHECK (JSON_TYPE(seo) = 'OBJECT')
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- Threaded comments: parent_id is NULL for a top-level comment.  Deleting
-- a comment deletes its replies; to hide one and keep the thread, set
-- status = 'trash'.  (InnoDB follows ON DELETE CASCADE at most 15 levels
-- deep: deleting the root of a deeper thread fails, so delete from the
-- leaves or use status.)  author_id is set when a registered author
-- comments; author_name and author_email are what a visitor typed.
CREATE TABLE comments (
    id           BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    post_id      BIGINT UNSIGNED NOT NULL,
    parent_id    BIGINT UNSIGNED NULL,
    author_id    BIGINT UNSIGNED NULL,
    author_name  VARCHAR(200) NOT NULL,
    author_email VARCHAR(254) NULL,
    body         TEXT NOT NULL,
    status       VARCHAR(20) NOT NULL DEFAULT 'pending',
    ip_address   VARCHAR(45) CHARACTER SET ascii COLLATE ascii_bin NULL,
    user_agent   VARCHAR(500) NULL,
    created_at   DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    updated_at   DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
    PRIMARY KEY (id),
    CONSTRAINT fk_comments_post FOREIGN KEY (post_id) REFERENCES posts (id) ON DELETE CASCADE,
    CONSTRAINT fk_comments_parent FOREIGN KEY (parent_id) REFERENCES comments (id) ON DELETE CASCADE,
    CONSTRAINT fk_comments_author FOREIGN KEY (author_id) REFERENCES authors (id) ON DELETE SET NULL,
    CONSTRAINT chk_comments_body_not_blank CHECK (TRIM(body) <> ''),
    CONSTRAINT chk_comments_status CHECK (status IN ('pending', 'approved', 'spam', 'trash'))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
