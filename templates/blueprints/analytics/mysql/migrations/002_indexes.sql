-- previewd blueprint "analytics" (MySQL 8 / MariaDB 10.11): indexes on
-- foreign keys and common lookups.  InnoDB made an index for each foreign
-- key already; these replace them with named ones that also serve the
-- queries an application runs (InnoDB drops its own index once one of
-- these covers the foreign key).  Primary and unique keys already have
-- their own indexes (user_properties is looked up by user through its
-- primary key, funnel_steps by funnel through (funnel_id, position)).
-- JSON columns are not indexed here: to filter on one property often,
-- add a generated column for it and index that.

-- "Which users have this property?"
CREATE INDEX idx_user_properties_name ON user_properties (name);

CREATE INDEX idx_sessions_user_id_started_at ON sessions (user_id, started_at);
CREATE INDEX idx_sessions_anonymous_id_started_at ON sessions (anonymous_id, started_at);
CREATE INDEX idx_sessions_started_at ON sessions (started_at);

CREATE INDEX idx_events_session_id_occurred_at ON events (session_id, occurred_at);
CREATE INDEX idx_events_user_id_occurred_at ON events (user_id, occurred_at);
-- Counting one event over a time range; funnels look events up by name.
CREATE INDEX idx_events_name_occurred_at ON events (name, occurred_at);
CREATE INDEX idx_events_occurred_at ON events (occurred_at);

CREATE INDEX idx_page_views_session_id_viewed_at ON page_views (session_id, viewed_at);
CREATE INDEX idx_page_views_path_viewed_at ON page_views (path, viewed_at);

CREATE INDEX idx_funnel_steps_event_name ON funnel_steps (event_name);
