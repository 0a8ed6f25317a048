-- previewd blueprint "saas" (MySQL 8 / MariaDB 10.11): indexes on foreign
-- keys and common lookups.  InnoDB made an index for each foreign key
-- already; these replace them with named ones that also serve the queries
-- an application runs (InnoDB drops its own index once one of these covers
-- the foreign key).  Unique keys already have their own indexes.

-- The primary key (organization_id, user_id) covers lookups by
-- organization; "which organizations is this user in" needs its own.
CREATE INDEX idx_memberships_user_id ON memberships (user_id);
CREATE INDEX idx_memberships_invited_by_user_id ON memberships (invited_by_user_id);

CREATE INDEX idx_invoices_organization_id_issued_at ON invoices (organization_id, issued_at);
-- Dunning: invoices still open, by due date.
CREATE INDEX idx_invoices_status_due_at ON invoices (status, due_at);

CREATE INDEX idx_payments_organization_id_created_at ON payments (organization_id, created_at);
CREATE INDEX idx_payments_invoice_id ON payments (invoice_id);

-- (organization_id, revoked_at): an organization's keys, and the ones it
-- can still use (revoked_at IS NULL).
CREATE INDEX idx_api_keys_organization_id_revoked_at ON api_keys (organization_id, revoked_at);
CREATE INDEX idx_api_keys_created_by_user_id ON api_keys (created_by_user_id);
