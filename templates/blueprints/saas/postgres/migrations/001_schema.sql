-- previewd blueprint "saas" (PostgreSQL): multi-tenant SaaS core.
-- users, organizations, memberships, invoices, payments, api_keys.
-- Money is stored as integer cents with an ISO 4217 currency code.
-- Every timestamp is timestamptz.  No extensions are used.

-- Keeps updated_at current on UPDATE (the MySQL flavour uses ON UPDATE).
CREATE FUNCTION set_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END
$$;

CREATE TABLE users (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email             text        NOT NULL,
    name              text        NOT NULL,
    -- NULL for users who only sign in through SSO.
    password_hash     text,
    email_verified_at timestamptz,
    last_login_at     timestamptz,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT users_email_format CHECK (email ~ '^[^@[:space:]]+@[^@[:space:]]+$'),
    CONSTRAINT users_name_not_blank CHECK (btrim(name) <> '')
);
-- Emails are unique without regard to case (no citext: no extensions).
CREATE UNIQUE INDEX users_email_key ON users (lower(email));

CREATE TABLE organizations (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name          text        NOT NULL,
    slug          text        NOT NULL,
    plan          text        NOT NULL DEFAULT 'free',
    billing_email text,
    settings      jsonb       NOT NULL DEFAULT '{}',
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT organizations_slug_key UNIQUE (slug),
    CONSTRAINT organizations_slug_format CHECK (slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$' AND length(slug) <= 63),
    CONSTRAINT organizations_plan_check CHECK (plan IN ('free', 'pro', 'business', 'enterprise')),
    CONSTRAINT organizations_settings_object CHECK (jsonb_typeof(settings) = 'object')
);

-- A user's role in an organization.  Deleting either side removes it.
CREATE TABLE memberships (
    organization_id    bigint      NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id            bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role               text        NOT NULL DEFAULT 'member',
    invited_by_user_id bigint      REFERENCES users (id) ON DELETE SET NULL,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organization_id, user_id),
    CONSTRAINT memberships_role_check CHECK (role IN ('owner', 'admin', 'member', 'billing', 'viewer'))
);

-- Billing records are kept: an organization that has invoices or payments
-- cannot be deleted (ON DELETE RESTRICT); deactivate it instead.
CREATE TABLE invoices (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    organization_id bigint      NOT NULL REFERENCES organizations (id) ON DELETE RESTRICT,
    number          text        NOT NULL,
    status          text        NOT NULL DEFAULT 'draft',
    currency        char(3)     NOT NULL DEFAULT 'USD',
    subtotal_cents  bigint      NOT NULL DEFAULT 0,
    tax_cents       bigint      NOT NULL DEFAULT 0,
    total_cents     bigint      NOT NULL DEFAULT 0,
    period_start    timestamptz NOT NULL,
    period_end      timestamptz NOT NULL,
    issued_at       timestamptz,
    due_at          timestamptz,
    paid_at         timestamptz,
    -- Line items as the payment provider sent them, for display.
    line_items      jsonb       NOT NULL DEFAULT '[]',
    -- The payment provider's id (e.g. a Stripe invoice id), if any.
    external_id     text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT invoices_number_key UNIQUE (number),
    CONSTRAINT invoices_external_id_key UNIQUE (external_id),
    CONSTRAINT invoices_status_check CHECK (status IN ('draft', 'open', 'paid', 'void', 'uncollectible')),
    CONSTRAINT invoices_currency_check CHECK (currency ~ '^[A-Z]{3}$'),
    CONSTRAINT invoices_amounts_check CHECK (subtotal_cents >= 0 AND tax_cents >= 0
                                             AND total_cents = subtotal_cents + tax_cents),
    CONSTRAINT invoices_period_check CHECK (period_end > period_start),
    CONSTRAINT invoices_paid_check CHECK (status <> 'paid' OR paid_at IS NOT NULL),
    CONSTRAINT invoices_line_items_array CHECK (jsonb_typeof(line_items) = 'array')
);

CREATE TABLE payments (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    organization_id     bigint      NOT NULL REFERENCES organizations (id) ON DELETE RESTRICT,
    invoice_id          bigint      REFERENCES invoices (id) ON DELETE RESTRICT,
    amount_cents        bigint      NOT NULL,
    currency            char(3)     NOT NULL DEFAULT 'USD',
    status              text        NOT NULL DEFAULT 'pending',
    provider            text        NOT NULL,
    provider_payment_id text,
    -- Card brand, last four digits and the like; never a full card number.
    payment_method      jsonb       NOT NULL DEFAULT '{}',
    failure_reason      text,
    created_at          timestamptz NOT NULL DEFAULT now(),
    succeeded_at        timestamptz,
    refunded_at         timestamptz,
    CONSTRAINT payments_provider_payment_id_key UNIQUE (provider, provider_payment_id),
    CONSTRAINT payments_amount_check CHECK (amount_cents > 0),
    CONSTRAINT payments_currency_check CHECK (currency ~ '^[A-Z]{3}$'),
    CONSTRAINT payments_status_check CHECK (status IN ('pending', 'succeeded', 'failed', 'refunded')),
    CONSTRAINT payments_succeeded_check CHECK (status NOT IN ('succeeded', 'refunded') OR succeeded_at IS NOT NULL),
    CONSTRAINT payments_refunded_check CHECK (status <> 'refunded' OR refunded_at IS NOT NULL)
);

-- Only a hash of each key is stored.  key_prefix is the first, public part
-- of the key (shown in the UI and used to find the row); key_hash is the
-- SHA-256 of the whole key, lowercase hex.
CREATE TABLE api_keys (
    id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    organization_id    bigint      NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    created_by_user_id bigint      REFERENCES users (id) ON DELETE SET NULL,
    name               text        NOT NULL,
    key_prefix         text        NOT NULL,
    key_hash           text        NOT NULL,
    scopes             jsonb       NOT NULL DEFAULT '[]',
    last_used_at       timestamptz,
    expires_at         timestamptz,
    revoked_at         timestamptz,
    created_at         timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT api_keys_key_prefix_key UNIQUE (key_prefix),
    CONSTRAINT api_keys_key_hash_key UNIQUE (key_hash),
    CONSTRAINT api_keys_key_prefix_format CHECK (key_prefix ~ '^[A-Za-z0-9_]{8,32}$'),
    CONSTRAINT api_keys_key_hash_format CHECK (key_hash ~ '^[0-9a-f]{64}$'),
    CONSTRAINT api_keys_scopes_array CHECK (jsonb_typeof(scopes) = 'array'),
    CONSTRAINT api_keys_revoked_check CHECK (revoked_at IS NULL OR revoked_at >= created_at),
    CONSTRAINT api_keys_expires_check CHECK (expires_at IS NULL OR expires_at > created_at)
);

CREATE TRIGGER users_set_updated_at BEFORE UPDATE ON users
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER organizations_set_updated_at BEFORE UPDATE ON organizations
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER memberships_set_updated_at BEFORE UPDATE ON memberships
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER invoices_set_updated_at BEFORE UPDATE ON invoices
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
