-- previewd blueprint "analytics" (PostgreSQL): indexes on foreign keys and
-- common lookups.  Unique constraints and primary keys already have their
-- own indexes (user_properties is looked up by user through its primary
-- key, funnel_steps by funnel through (funnel_id, position)).

-- "Which users have this property (and value)?"
CREATE INDEX user_properties_name_idx ON user_properties (name);

CREATE INDEX sessions_user_id_started_at_idx ON sessions (user_id, started_at DESC);
CREATE INDEX sessions_anonymous_id_started_at_idx ON sessions (anonymous_id, started_at DESC);
CREATE INDEX sessions_started_at_idx ON sessions (started_at);

CREATE INDEX events_session_id_occurred_at_idx ON events (session_id, occurred_at);
CREATE INDEX events_user_id_occurred_at_idx ON events (user_id, occurred_at);
-- Counting one event over a time range; funnels look events up by name.
CREATE INDEX events_name_occurred_at_idx ON events (name, occurred_at);
-- Events arrive roughly in time order: a BRIN index on the time is tiny
-- and serves range scans over the whole table.
CREATE INDEX events_occurred_at_brin ON events USING brin (occurred_at);
-- Filtering on properties: properties @> '{"plan": "pro"}'.
CREATE INDEX events_properties_idx ON events USING gin (properties jsonb_path_ops);

CREATE INDEX page_views_session_id_viewed_at_idx ON page_views (session_id, viewed_at);
CREATE INDEX page_views_path_viewed_at_idx ON page_views (path, viewed_at);

CREATE INDEX funnel_steps_event_name_idx ON funnel_steps (event_name);
