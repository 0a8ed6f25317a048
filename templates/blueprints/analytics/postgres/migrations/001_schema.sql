-- previewd blueprint "analytics" (PostgreSQL): product analytics.
-- users, user_properties, sessions, events, page_views, funnels,
-- funnel_steps.
-- Event properties, user property values and funnel step filters are
-- jsonb.  occurred_at is when something happened (the client's clock),
-- received_at when the server stored it.

-- Keeps updated_at current on UPDATE (the MySQL flavour uses ON UPDATE).
CREATE FUNCTION set_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END
$$;

-- People the application knows, by the application's own user id.
-- Visitors who never signed in appear only as sessions.anonymous_id.
CREATE TABLE users (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    external_id   text        NOT NULL,
    first_seen_at timestamptz NOT NULL DEFAULT now(),
    last_seen_at  timestamptz NOT NULL DEFAULT now(),
    created_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT users_external_id_key UNIQUE (external_id),
    CONSTRAINT users_seen_check CHECK (last_seen_at >= first_seen_at)
);

-- Key/value traits of a user ("plan" = "pro", "company_size" = 25).  The
-- value is jsonb so numbers, booleans and lists keep their type.
CREATE TABLE user_properties (
    user_id    bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name       text        NOT NULL,
    value      jsonb       NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, name),
    CONSTRAINT user_properties_name_check CHECK (btrim(name) <> '' AND length(name) <= 200)
);

-- A visit.  session_key is the id the client generated; user_id is set
-- once the visitor is identified, and cleared if the user is deleted
-- (the anonymous history stays).
CREATE TABLE sessions (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    session_key  text        NOT NULL,
    user_id      bigint      REFERENCES users (id) ON DELETE SET NULL,
    anonymous_id text        NOT NULL,
    started_at   timestamptz NOT NULL DEFAULT now(),
    -- NULL while the session is still going.
    ended_at     timestamptz,
    user_agent   text,
    device_type  text        NOT NULL DEFAULT 'other',
    browser      text,
    os           text,
    country_code char(2),
    referrer     text,
    utm_source   text,
    utm_medium   text,
    utm_campaign text,
    landing_path text,
    CONSTRAINT sessions_session_key_key UNIQUE (session_key),
    CONSTRAINT sessions_ended_check CHECK (ended_at IS NULL OR ended_at >= started_at),
    CONSTRAINT sessions_device_type_check CHECK (device_type IN ('desktop', 'mobile', 'tablet', 'bot', 'other')),
    CONSTRAINT sessions_country_code_format CHECK (country_code ~ '^[A-Z]{2}$')
);

-- Everything that happens.  Deleting a session deletes its events;
-- deleting a user keeps them, anonymous.
CREATE TABLE events (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    session_id   bigint      REFERENCES sessions (id) ON DELETE CASCADE,
    user_id      bigint      REFERENCES users (id) ON DELETE SET NULL,
    anonymous_id text,
    name         text        NOT NULL,
    properties   jsonb       NOT NULL DEFAULT '{}',
    occurred_at  timestamptz NOT NULL DEFAULT now(),
    received_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT events_name_check CHECK (btrim(name) <> '' AND length(name) <= 200),
    CONSTRAINT events_properties_object CHECK (jsonb_typeof(properties) = 'object')
);

CREATE TABLE page_views (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    session_id       bigint      NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    url              text        NOT NULL,
    path             text        NOT NULL,
    title            text,
    referrer         text,
    viewed_at        timestamptz NOT NULL DEFAULT now(),
    -- Time on page and how far down it was read, when the client reports them.
    duration_ms      integer,
    scroll_depth_pct smallint,
    CONSTRAINT page_views_path_check CHECK (path LIKE '/%'),
    CONSTRAINT page_views_duration_check CHECK (duration_ms IS NULL OR duration_ms >= 0),
    CONSTRAINT page_views_scroll_depth_check CHECK (scroll_depth_pct IS NULL OR scroll_depth_pct BETWEEN 0 AND 100)
);

-- A funnel is an ordered list of steps, each an event name (optionally
-- with property filters); a user converts when they do every step in
-- order within conversion_window_seconds of the first.
CREATE TABLE funnels (
    id                        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name                      text        NOT NULL,
    slug                      text        NOT NULL,
    description               text,
    conversion_window_seconds integer     NOT NULL DEFAULT 604800,
    is_archived               boolean     NOT NULL DEFAULT false,
    created_at                timestamptz NOT NULL DEFAULT now(),
    updated_at                timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT funnels_slug_key UNIQUE (slug),
    CONSTRAINT funnels_slug_format CHECK (slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$'),
    CONSTRAINT funnels_window_check CHECK (conversion_window_seconds > 0)
);

CREATE TABLE funnel_steps (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    funnel_id  bigint      NOT NULL REFERENCES funnels (id) ON DELETE CASCADE,
    -- 1, 2, 3 ... within the funnel.
    position   integer     NOT NULL,
    name       text        NOT NULL,
    event_name text        NOT NULL,
    -- Property filters the event must match, e.g. {"plan": "pro"}.
    filters    jsonb       NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT funnel_steps_funnel_id_position_key UNIQUE (funnel_id, position),
    CONSTRAINT funnel_steps_position_check CHECK (position >= 1),
    CONSTRAINT funnel_steps_filters_object CHECK (jsonb_typeof(filters) = 'object')
);

CREATE TRIGGER user_properties_set_updated_at BEFORE UPDATE ON user_properties
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER funnels_set_updated_at BEFORE UPDATE ON funnels
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
