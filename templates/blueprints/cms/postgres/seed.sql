-- previewd blueprint "cms" (PostgreSQL): a small, coherent data set.
-- Rows refer to each other by natural keys (email, slug, storage key),
-- never by id, so the seed works whatever the identity sequences are at.
-- Times are relative to now(), so the data always looks recent.

INSERT INTO authors (email, display_name, slug, bio, role, created_at) VALUES
    ('maria@blog.example', 'Maria Santos', 'maria-santos', 'Editor in chief. Writes about databases.', 'admin',       now() - interval '400 days'),
    ('tom@blog.example',   'Tom Becker',   'tom-becker',   'Backend engineer.',                        'author',      now() - interval '200 days'),
    ('sara@blog.example',  'Sara Lind',    'sara-lind',    NULL,                                       'contributor', now() - interval '10 days');

INSERT INTO categories (name, slug, description) VALUES
    ('Engineering',  'engineering',  'How we build things'),
    ('Product',      'product',      'Releases and roadmap'),
    ('Company News', 'company-news', NULL);

INSERT INTO tags (name, slug) VALUES
    ('PostgreSQL',  'postgresql'),
    ('Performance', 'performance'),
    ('Release',     'release'),
    ('Hiring',      'hiring');

INSERT INTO media (uploaded_by_author_id, storage_key, filename, mime_type, byte_size, width, height, alt_text, metadata, created_at) VALUES
    ((SELECT id FROM authors WHERE slug = 'tom-becker'),   'uploads/2024/05/query-plan.png',   'query-plan.png',   'image/png',       184320, 1600, 900,
     'A query plan before and after adding an index', '{"thumbnails": {"small": "uploads/2024/05/query-plan-320.png"}}', now() - interval '30 days'),
    ((SELECT id FROM authors WHERE slug = 'maria-santos'), 'uploads/2024/06/release-banner.jpg', 'release-banner.jpg', 'image/jpeg',   412876, 2400, 1260,
     'Version 2.0 banner', '{"exif": {"camera": null}, "dominant_color": "#1f6feb"}', now() - interval '8 days'),
    ((SELECT id FROM authors WHERE slug = 'maria-santos'), 'uploads/2024/06/press-kit.pdf',    'press-kit.pdf',    'application/pdf', 2048000, NULL, NULL,
     NULL, '{"pages": 12}', now() - interval '8 days');

INSERT INTO posts (author_id, category_id, featured_media_id, title, slug, excerpt, body, status, published_at, seo, created_at) VALUES
    ((SELECT id FROM authors WHERE slug = 'tom-becker'), (SELECT id FROM categories WHERE slug = 'engineering'),
     (SELECT id FROM media WHERE storage_key = 'uploads/2024/05/query-plan.png'),
     'How one index made our dashboard 40x faster', 'one-index-40x-faster',
     'A slow query, EXPLAIN ANALYZE and a composite index.',
     '## The problem

Our dashboard query took four seconds.

## The fix

A composite index on (account_id, created_at).',
     'published', now() - interval '28 days',
     '{"title": "One index, 40x faster", "description": "Fixing a slow dashboard query with a composite index."}', now() - interval '30 days'),
    ((SELECT id FROM authors WHERE slug = 'maria-santos'), (SELECT id FROM categories WHERE slug = 'product'),
     (SELECT id FROM media WHERE storage_key = 'uploads/2024/06/release-banner.jpg'),
     'Version 2.0 is here', 'version-2-0-is-here',
     'Preview databases for every pull request, and more.',
     'Version 2.0 ships today. Here is what changed.',
     'published', now() - interval '7 days',
     '{"title": "Version 2.0", "og_image": "uploads/2024/06/release-banner.jpg"}', now() - interval '8 days'),
    ((SELECT id FROM authors WHERE slug = 'sara-lind'), (SELECT id FROM categories WHERE slug = 'company-news'), NULL,
     'We are hiring backend engineers', 'we-are-hiring-backend-engineers',
     NULL, 'Draft: roles, team, how to apply.',
     'draft', NULL, '{}', now() - interval '1 day');

INSERT INTO post_tags (post_id, tag_id) VALUES
    ((SELECT id FROM posts WHERE slug = 'one-index-40x-faster'),            (SELECT id FROM tags WHERE slug = 'postgresql')),
    ((SELECT id FROM posts WHERE slug = 'one-index-40x-faster'),            (SELECT id FROM tags WHERE slug = 'performance')),
    ((SELECT id FROM posts WHERE slug = 'version-2-0-is-here'),             (SELECT id FROM tags WHERE slug = 'release')),
    ((SELECT id FROM posts WHERE slug = 'version-2-0-is-here'),             (SELECT id FROM tags WHERE slug = 'performance')),
    ((SELECT id FROM posts WHERE slug = 'we-are-hiring-backend-engineers'), (SELECT id FROM tags WHERE slug = 'hiring'));

INSERT INTO pages (author_id, title, slug, body, template, status, position, published_at) VALUES
    ((SELECT id FROM authors WHERE slug = 'maria-santos'), 'About us', 'about',   'We build developer tools.',  'default', 'published', 1, now() - interval '300 days'),
    ((SELECT id FROM authors WHERE slug = 'maria-santos'), 'Contact',  'contact', 'Write to hello@blog.example.', 'contact', 'published', 2, now() - interval '300 days');
-- A child page: INSERT ... SELECT finds the parent by slug.
INSERT INTO pages (parent_id, author_id, title, slug, body, template, status, position, published_at)
    SELECT p.id, a.id, 'Our team', 'team', 'The people behind the blog.', 'team', 'published', 1, now() - interval '100 days'
    FROM pages p, authors a WHERE p.slug = 'about' AND a.slug = 'maria-santos';

-- Top-level comments first, then replies (INSERT ... SELECT finds the
-- comment replied to by its post and commenter).
INSERT INTO comments (post_id, author_id, author_name, author_email, body, status, ip_address, user_agent, created_at) VALUES
    ((SELECT id FROM posts WHERE slug = 'one-index-40x-faster'), NULL, 'Priya', 'priya@example.net',
     'Did you consider a partial index instead?', 'approved', '203.0.113.7', 'Mozilla/5.0 (X11; Linux x86_64)', now() - interval '27 days'),
    ((SELECT id FROM posts WHERE slug = 'one-index-40x-faster'), NULL, 'Lee', NULL,
     'Great write-up, thanks!', 'approved', '198.51.100.23', 'Mozilla/5.0 (Macintosh)', now() - interval '26 days'),
    ((SELECT id FROM posts WHERE slug = 'version-2-0-is-here'), NULL, 'cheap-pills-4u', 'spam@example.invalid',
     'Buy now!!! Visit my site', 'spam', '192.0.2.99', 'curl/8.0', now() - interval '6 days');
INSERT INTO comments (post_id, parent_id, author_id, author_name, author_email, body, status, created_at)
    SELECT c.post_id, c.id, a.id, a.display_name, a.email,
           'We tried one, but the dashboard filters on every status.', 'approved', now() - interval '27 days' + interval '2 hours'
    FROM comments c
    JOIN posts p ON p.id = c.post_id
    JOIN authors a ON a.slug = 'tom-becker'
    WHERE p.slug = 'one-index-40x-faster' AND c.author_email = 'priya@example.net' AND c.parent_id IS NULL;
INSERT INTO comments (post_id, parent_id, author_name, author_email, body, status, created_at)
    SELECT c.post_id, c.id, 'Priya', 'priya@example.net',
           'Makes sense, thanks for explaining.', 'pending', now() - interval '1 hour'
    FROM comments c
    JOIN posts p ON p.id = c.post_id
    JOIN authors a ON a.id = c.author_id
    WHERE p.slug = 'one-index-40x-faster' AND a.slug = 'tom-becker' AND c.parent_id IS NOT NULL;
