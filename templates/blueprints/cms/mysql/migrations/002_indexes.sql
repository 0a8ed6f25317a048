-- previewd blueprint "cms" (MySQL 8 / MariaDB 10.11): indexes on foreign
-- keys and common lookups.  InnoDB made an index for each foreign key
-- already; these replace them with named ones that also serve the queries
-- an application runs (InnoDB drops its own index once one of these
-- covers the foreign key).  Primary and unique keys already have their own
-- indexes (post_tags is looked up by post through its primary key).

CREATE INDEX idx_media_uploaded_by_author_id ON media (uploaded_by_author_id);
CREATE INDEX idx_media_created_at ON media (created_at);

CREATE INDEX idx_posts_author_id ON posts (author_id);
CREATE INDEX idx_posts_category_id ON posts (category_id);
CREATE INDEX idx_posts_featured_media_id ON posts (featured_media_id);
-- The front page and feeds: published posts, newest first.
CREATE INDEX idx_posts_status_published_at ON posts (status, published_at);

CREATE INDEX idx_post_tags_tag_id ON post_tags (tag_id);

CREATE INDEX idx_pages_parent_id_position ON pages (parent_id, position);
CREATE INDEX idx_pages_author_id ON pages (author_id);

CREATE INDEX idx_comments_post_id_created_at ON comments (post_id, created_at);
CREATE INDEX idx_comments_parent_id ON comments (parent_id);
CREATE INDEX idx_comments_author_id ON comments (author_id);
-- The moderation queue (status = 'pending').
CREATE INDEX idx_comments_status_created_at ON comments (status, created_at);
