-- previewd blueprint "saas" (PostgreSQL): a small, coherent data set.
-- Rows refer to each other by natural keys (email, slug, invoice number),
-- never by id, so the seed works whatever the identity sequences are at.
-- Times are relative to now(), so the data always looks recent.
-- None of the password hashes or API keys below is a real secret.

INSERT INTO users (email, name, password_hash, email_verified_at, last_login_at, created_at) VALUES
    ('alice@acme.example',  'Alice Nguyen',  '$argon2id$v=19$m=65536,t=3,p=4$c2VlZHNhbHQx$placeholderhashAAAAAAAAAAAAAAAAAAAAAAAAAA', now() - interval '120 days', now() - interval '1 hour',  now() - interval '120 days'),
    ('bob@acme.example',    'Bob Martins',   '$argon2id$v=19$m=65536,t=3,p=4$c2VlZHNhbHQy$placeholderhashBBBBBBBBBBBBBBBBBBBBBBBBBB', now() - interval '90 days',  now() - interval '3 days',  now() - interval '90 days'),
    ('carol@globex.example','Carol Okafor',  NULL,                                                                                       now() - interval '60 days',  now() - interval '2 days',  now() - interval '60 days'),
    ('dan@example.com',     'Dan Kowalski',  '$argon2id$v=19$m=65536,t=3,p=4$c2VlZHNhbHQz$placeholderhashCCCCCCCCCCCCCCCCCCCCCCCCCC', NULL,                        NULL,                       now() - interval '5 days');

INSERT INTO organizations (name, slug, plan, billing_email, settings, created_at) VALUES
    ('Acme Inc.',         'acme',     'pro',      'billing@acme.example',  '{"timezone": "Europe/Berlin", "sso_required": false, "seats": 10}', now() - interval '120 days'),
    ('Globex Corporation','globex',   'business', 'ap@globex.example',     '{"timezone": "America/New_York", "sso_required": true, "seats": 50}', now() - interval '60 days'),
    ('Dan''s Side Project','dans-lab', 'free',     NULL,                    '{}', now() - interval '5 days');

INSERT INTO memberships (organization_id, user_id, role, invited_by_user_id, created_at) VALUES
    ((SELECT id FROM organizations WHERE slug = 'acme'),     (SELECT id FROM users WHERE email = 'alice@acme.example'),   'owner',   NULL, now() - interval '120 days'),
    ((SELECT id FROM organizations WHERE slug = 'acme'),     (SELECT id FROM users WHERE email = 'bob@acme.example'),     'admin',   (SELECT id FROM users WHERE email = 'alice@acme.example'), now() - interval '90 days'),
    ((SELECT id FROM organizations WHERE slug = 'acme'),     (SELECT id FROM users WHERE email = 'dan@example.com'),      'viewer',  (SELECT id FROM users WHERE email = 'bob@acme.example'),   now() - interval '4 days'),
    ((SELECT id FROM organizations WHERE slug = 'globex'),   (SELECT id FROM users WHERE email = 'carol@globex.example'), 'owner',   NULL, now() - interval '60 days'),
    ((SELECT id FROM organizations WHERE slug = 'globex'),   (SELECT id FROM users WHERE email = 'alice@acme.example'),   'billing', (SELECT id FROM users WHERE email = 'carol@globex.example'), now() - interval '30 days'),
    ((SELECT id FROM organizations WHERE slug = 'dans-lab'), (SELECT id FROM users WHERE email = 'dan@example.com'),      'owner',   NULL, now() - interval '5 days');

INSERT INTO invoices (organization_id, number, status, currency, subtotal_cents, tax_cents, total_cents,
                      period_start, period_end, issued_at, due_at, paid_at, line_items, external_id, created_at) VALUES
    ((SELECT id FROM organizations WHERE slug = 'acme'), 'INV-2024-0001', 'paid', 'USD', 9900, 1881, 11781,
     now() - interval '60 days', now() - interval '30 days', now() - interval '30 days', now() - interval '16 days', now() - interval '29 days',
     '[{"description": "Pro plan, 10 seats", "quantity": 10, "unit_amount_cents": 990}]', 'in_seed_acme_0001', now() - interval '30 days'),
    ((SELECT id FROM organizations WHERE slug = 'acme'), 'INV-2024-0002', 'open', 'USD', 9900, 1881, 11781,
     now() - interval '30 days', now(), now() - interval '1 day', now() + interval '13 days', NULL,
     '[{"description": "Pro plan, 10 seats", "quantity": 10, "unit_amount_cents": 990}]', 'in_seed_acme_0002', now() - interval '1 day'),
    ((SELECT id FROM organizations WHERE slug = 'globex'), 'INV-2024-0003', 'paid', 'EUR', 49900, 0, 49900,
     now() - interval '30 days', now(), now() - interval '2 days', now() + interval '28 days', now() - interval '2 days',
     '[{"description": "Business plan", "quantity": 1, "unit_amount_cents": 49900}]', 'in_seed_globex_0003', now() - interval '2 days');

INSERT INTO payments (organization_id, invoice_id, amount_cents, currency, status, provider, provider_payment_id,
                      payment_method, failure_reason, created_at, succeeded_at) VALUES
    ((SELECT id FROM organizations WHERE slug = 'acme'),   (SELECT id FROM invoices WHERE number = 'INV-2024-0001'), 11781, 'USD', 'succeeded', 'stripe', 'pi_seed_0001',
     '{"type": "card", "brand": "visa", "last4": "4242"}', NULL, now() - interval '29 days', now() - interval '29 days'),
    ((SELECT id FROM organizations WHERE slug = 'acme'),   (SELECT id FROM invoices WHERE number = 'INV-2024-0002'), 11781, 'USD', 'failed', 'stripe', 'pi_seed_0002',
     '{"type": "card", "brand": "visa", "last4": "0341"}', 'card_declined', now() - interval '1 day', NULL),
    ((SELECT id FROM organizations WHERE slug = 'globex'), (SELECT id FROM invoices WHERE number = 'INV-2024-0003'), 49900, 'EUR', 'succeeded', 'stripe', 'pi_seed_0003',
     '{"type": "sepa_debit", "bank": "Seed Bank", "last4": "3000"}', NULL, now() - interval '2 days', now() - interval '2 days');

-- The full keys (never stored) are sk_live_7Hq2Xk9P.Zr0aWv5cYt1uBn8sKd3mGx6e,
-- sk_test_Lm4Rt8Wz.Pf2hJq7nVb9cXs1kDa5yTe3u and sk_live_Qa3Ne6Ud.Hc8vRm1xLw4pZt7gSj2bKf9n.
INSERT INTO api_keys (organization_id, created_by_user_id, name, key_prefix, key_hash, scopes,
                      last_used_at, expires_at, revoked_at, created_at) VALUES
    ((SELECT id FROM organizations WHERE slug = 'acme'), (SELECT id FROM users WHERE email = 'alice@acme.example'),
     'Production backend', 'sk_live_7Hq2Xk9P', '623a9b14f22cbdc4d0d2b9fa0363ad881cd065cd7d7de5026d8917b614f5a76a',
     '["read", "write"]', now() - interval '5 minutes', NULL, NULL, now() - interval '100 days'),
    ((SELECT id FROM organizations WHERE slug = 'acme'), (SELECT id FROM users WHERE email = 'bob@acme.example'),
     'Old CI key', 'sk_test_Lm4Rt8Wz', 'b57a59af7f9b96c01af2b6d7bf5424d2a5951d1a4ac1fb563aadf43ee7d1a48a',
     '["read"]', now() - interval '40 days', NULL, now() - interval '35 days', now() - interval '80 days'),
    ((SELECT id FROM organizations WHERE slug = 'globex'), (SELECT id FROM users WHERE email = 'carol@globex.example'),
     'Data export', 'sk_live_Qa3Ne6Ud', '98903945c436a94ffed429830be3eb3137052fe945dd215b4877ea65435bcddd',
     '["read"]', NULL, now() + interval '90 days', NULL, now() - interval '10 days');
