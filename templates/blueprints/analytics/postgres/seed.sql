-- previewd blueprint "analytics" (PostgreSQL): a small, coherent data set.
-- Rows refer to each other by natural keys (external_id, session_key,
-- funnel slug), never by id, so the seed works whatever the identity
-- sequences are at.  Times are relative to now(), so the data falls in
-- "the last few days" of any dashboard.
-- The story: u_1001 signs up and upgrades, u_1002 signs up from a
-- newsletter, an anonymous visitor starts signing up and drops off.

INSERT INTO users (external_id, first_seen_at, last_seen_at, created_at) VALUES
    ('u_1001', now() - interval '2 days',  now() - interval '10 minutes', now() - interval '2 days'),
    ('u_1002', now() - interval '1 day',   now() - interval '1 day' + interval '6 minutes', now() - interval '1 day'),
    ('u_1003', now() - interval '10 days', now() - interval '10 days', now() - interval '10 days');

INSERT INTO user_properties (user_id, name, value) VALUES
    ((SELECT id FROM users WHERE external_id = 'u_1001'), 'plan',          '"pro"'),
    ((SELECT id FROM users WHERE external_id = 'u_1001'), 'company_size',  '25'),
    ((SELECT id FROM users WHERE external_id = 'u_1001'), 'beta_features', '["new-editor"]'),
    ((SELECT id FROM users WHERE external_id = 'u_1002'), 'plan',          '"free"'),
    ((SELECT id FROM users WHERE external_id = 'u_1002'), 'newsletter',    'true'),
    ((SELECT id FROM users WHERE external_id = 'u_1003'), 'plan',          '"free"');

INSERT INTO sessions (session_key, user_id, anonymous_id, started_at, ended_at, user_agent, device_type, browser, os,
                      country_code, referrer, utm_source, utm_medium, utm_campaign, landing_path) VALUES
    ('6d0c1f0e-5a2d-4e7b-9c31-7d4f2a8e1c01', (SELECT id FROM users WHERE external_id = 'u_1001'), 'anon-7f3a',
     now() - interval '2 days', now() - interval '2 days' + interval '14 minutes',
     'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) Chrome/124.0', 'desktop', 'Chrome', 'macOS', 'US',
     'https://www.google.com/', NULL, NULL, NULL, '/'),
    ('6d0c1f0e-5a2d-4e7b-9c31-7d4f2a8e1c02', (SELECT id FROM users WHERE external_id = 'u_1002'), 'anon-91bd',
     now() - interval '1 day', now() - interval '1 day' + interval '6 minutes',
     'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) Safari/604.1', 'mobile', 'Safari', 'iOS', 'DE',
     NULL, 'newsletter', 'email', 'spring-launch', '/pricing'),
    ('6d0c1f0e-5a2d-4e7b-9c31-7d4f2a8e1c03', NULL, 'anon-c44e',
     now() - interval '3 hours', now() - interval '3 hours' + interval '2 minutes',
     'Mozilla/5.0 (Linux; Android 14) Chrome/124.0 Mobile', 'mobile', 'Chrome', 'Android', 'IN',
     'https://x.com/', NULL, NULL, NULL, '/'),
    ('6d0c1f0e-5a2d-4e7b-9c31-7d4f2a8e1c04', (SELECT id FROM users WHERE external_id = 'u_1001'), 'anon-7f3a',
     now() - interval '20 minutes', NULL,
     'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) Chrome/124.0', 'desktop', 'Chrome', 'macOS', 'US',
     NULL, NULL, NULL, NULL, '/dashboard');

INSERT INTO page_views (session_id, url, path, title, referrer, viewed_at, duration_ms, scroll_depth_pct) VALUES
    ((SELECT id FROM sessions WHERE session_key = '6d0c1f0e-5a2d-4e7b-9c31-7d4f2a8e1c01'), 'https://app.example.com/',             '/',             'Home',         'https://www.google.com/', now() - interval '2 days',                             45000,  80),
    ((SELECT id FROM sessions WHERE session_key = '6d0c1f0e-5a2d-4e7b-9c31-7d4f2a8e1c01'), 'https://app.example.com/signup',       '/signup',       'Sign up',      NULL,                      now() - interval '2 days' + interval '45 seconds',  135000, 100),
    ((SELECT id FROM sessions WHERE session_key = '6d0c1f0e-5a2d-4e7b-9c31-7d4f2a8e1c01'), 'https://app.example.com/projects/new', '/projects/new', 'New project',  NULL,                      now() - interval '2 days' + interval '9 minutes',   NULL,   NULL),
    ((SELECT id FROM sessions WHERE session_key = '6d0c1f0e-5a2d-4e7b-9c31-7d4f2a8e1c02'), 'https://app.example.com/pricing?utm_source=newsletter', '/pricing', 'Pricing', NULL,                now() - interval '1 day',                              60000,  65),
    ((SELECT id FROM sessions WHERE session_key = '6d0c1f0e-5a2d-4e7b-9c31-7d4f2a8e1c02'), 'https://app.example.com/signup',       '/signup',       'Sign up',      NULL,                      now() - interval '1 day' + interval '1 minute',     180000, 100),
    ((SELECT id FROM sessions WHERE session_key = '6d0c1f0e-5a2d-4e7b-9c31-7d4f2a8e1c03'), 'https://app.example.com/',             '/',             'Home',         'https://x.com/',          now() - interval '3 hours',                            50000,  40),
    ((SELECT id FROM sessions WHERE session_key = '6d0c1f0e-5a2d-4e7b-9c31-7d4f2a8e1c04'), 'https://app.example.com/pricing',      '/pricing',      'Pricing',      NULL,                      now() - interval '20 minutes' + interval '2 minutes', 150000, 90);

INSERT INTO events (session_id, user_id, anonymous_id, name, properties, occurred_at) VALUES
    ((SELECT id FROM sessions WHERE session_key = '6d0c1f0e-5a2d-4e7b-9c31-7d4f2a8e1c01'), (SELECT id FROM users WHERE external_id = 'u_1001'), 'anon-7f3a',
     'landing_viewed',   '{"path": "/"}',                                      now() - interval '2 days'),
    ((SELECT id FROM sessions WHERE session_key = '6d0c1f0e-5a2d-4e7b-9c31-7d4f2a8e1c01'), (SELECT id FROM users WHERE external_id = 'u_1001'), 'anon-7f3a',
     'signup_started',   '{}',                                                 now() - interval '2 days' + interval '45 seconds'),
    ((SELECT id FROM sessions WHERE session_key = '6d0c1f0e-5a2d-4e7b-9c31-7d4f2a8e1c01'), (SELECT id FROM users WHERE external_id = 'u_1001'), 'anon-7f3a',
     'signup_completed', '{"method": "google"}',                               now() - interval '2 days' + interval '3 minutes'),
    ((SELECT id FROM sessions WHERE session_key = '6d0c1f0e-5a2d-4e7b-9c31-7d4f2a8e1c01'), (SELECT id FROM users WHERE external_id = 'u_1001'), 'anon-7f3a',
     'project_created',  '{"template": "blank", "collaborators": 0}',          now() - interval '2 days' + interval '10 minutes'),
    ((SELECT id FROM sessions WHERE session_key = '6d0c1f0e-5a2d-4e7b-9c31-7d4f2a8e1c02'), (SELECT id FROM users WHERE external_id = 'u_1002'), 'anon-91bd',
     'landing_viewed',   '{"path": "/pricing"}',                               now() - interval '1 day'),
    ((SELECT id FROM sessions WHERE session_key = '6d0c1f0e-5a2d-4e7b-9c31-7d4f2a8e1c02'), (SELECT id FROM users WHERE external_id = 'u_1002'), 'anon-91bd',
     'signup_started',   '{}',                                                 now() - interval '1 day' + interval '1 minute'),
    ((SELECT id FROM sessions WHERE session_key = '6d0c1f0e-5a2d-4e7b-9c31-7d4f2a8e1c02'), (SELECT id FROM users WHERE external_id = 'u_1002'), 'anon-91bd',
     'signup_completed', '{"method": "email"}',                                now() - interval '1 day' + interval '4 minutes'),
    ((SELECT id FROM sessions WHERE session_key = '6d0c1f0e-5a2d-4e7b-9c31-7d4f2a8e1c03'), NULL, 'anon-c44e',
     'landing_viewed',   '{"path": "/"}',                                      now() - interval '3 hours'),
    ((SELECT id FROM sessions WHERE session_key = '6d0c1f0e-5a2d-4e7b-9c31-7d4f2a8e1c03'), NULL, 'anon-c44e',
     'signup_started',   '{}',                                                 now() - interval '3 hours' + interval '50 seconds'),
    ((SELECT id FROM sessions WHERE session_key = '6d0c1f0e-5a2d-4e7b-9c31-7d4f2a8e1c04'), (SELECT id FROM users WHERE external_id = 'u_1001'), 'anon-7f3a',
     'pricing_viewed',   '{}',                                                 now() - interval '20 minutes' + interval '2 minutes'),
    ((SELECT id FROM sessions WHERE session_key = '6d0c1f0e-5a2d-4e7b-9c31-7d4f2a8e1c04'), (SELECT id FROM users WHERE external_id = 'u_1001'), 'anon-7f3a',
     'plan_upgraded',    '{"plan": "pro", "from_plan": "free", "amount_cents": 2900, "currency": "USD"}', now() - interval '20 minutes' + interval '5 minutes');

INSERT INTO funnels (name, slug, description, conversion_window_seconds) VALUES
    ('Signup to first project', 'signup-activation', 'From the landing page to a first project.', 604800),
    ('Upgrade to Pro',          'upgrade-to-pro',    'Pricing page to a Pro upgrade.',             86400);

INSERT INTO funnel_steps (funnel_id, position, name, event_name, filters) VALUES
    ((SELECT id FROM funnels WHERE slug = 'signup-activation'), 1, 'Viewed landing page', 'landing_viewed',   '{}'),
    ((SELECT id FROM funnels WHERE slug = 'signup-activation'), 2, 'Started signup',      'signup_started',   '{}'),
    ((SELECT id FROM funnels WHERE slug = 'signup-activation'), 3, 'Completed signup',    'signup_completed', '{}'),
    ((SELECT id FROM funnels WHERE slug = 'signup-activation'), 4, 'Created a project',   'project_created',  '{}'),
    ((SELECT id FROM funnels WHERE slug = 'upgrade-to-pro'),    1, 'Viewed pricing',      'pricing_viewed',   '{}'),
    ((SELECT id FROM funnels WHERE slug = 'upgrade-to-pro'),    2, 'Upgraded to Pro',     'plan_upgraded',    '{"plan": "pro"}');
