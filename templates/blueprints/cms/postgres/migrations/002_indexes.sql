-- previewd blueprint "cms" (PostgreSQL): indexes on foreign keys and common
-- lookups.  Unique constraints and primary keys already have their own
-- indexes (post_tags is looked up by post through its primary key).

CREATE INDEX media_uploaded_by_author_id_idx ON media (uploaded_by_author_id);
CREATE INDEX media_created_at_idx ON media (created_at DESC);

CREATE INDEX posts_author_id_idx ON posts (author_id);
CREATE INDEX posts_category_id_idx ON posts (category_id);
CREATE INDEX posts_featured_media_id_idx ON posts (featured_media_id);
-- The front page and feeds: published posts, newest first.
CREATE INDEX posts_published_idx ON posts (published_at DESC) WHERE status = 'published';

CREATE INDEX post_tags_tag_id_idx ON post_tags (tag_id);

CREATE INDEX pages_parent_id_position_idx ON pages (parent_id, position);
CREATE INDEX pages_author_id_idx ON pages (author_id);

CREATE INDEX comments_post_id_created_at_idx ON comments (post_id, created_at);
CREATE INDEX comments_parent_id_idx ON comments (parent_id);
CREATE INDEX comments_author_id_idx ON comments (author_id);
-- The moderation queue.
CREATE INDEX comments_pending_idx ON comments (created_at) WHERE status = 'pending';
