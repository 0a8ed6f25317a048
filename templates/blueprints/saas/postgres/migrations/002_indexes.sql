-- previewd blueprint "saas" (PostgreSQL): indexes on foreign keys and
-- common lookups.  Unique constraints already have their own indexes.

-- memberships' primary key (organization_id, user_id) covers lookups by
-- organization; "which organizations is this user in" needs its own.
CREATE INDEX memberships_user_id_idx ON memberships (user_id);
CREATE INDEX memberships_invited_by_user_id_idx ON memberships (invited_by_user_id);

CREATE INDEX invoices_organization_id_issued_at_idx ON invoices (organization_id, issued_at DESC);
-- Dunning: invoices still open, by due date.
CREATE INDEX invoices_open_due_at_idx ON invoices (due_at) WHERE status = 'open';

CREATE INDEX payments_organization_id_created_at_idx ON payments (organization_id, created_at DESC);
CREATE INDEX payments_invoice_id_idx ON payments (invoice_id);

CREATE INDEX api_keys_organization_id_idx ON api_keys (organization_id);
CREATE INDEX api_keys_created_by_user_id_idx ON api_keys (created_by_user_id);
-- The keys an organization can still use.
CREATE INDEX api_keys_active_idx ON api_keys (organization_id) WHERE revoked_at IS NULL;
