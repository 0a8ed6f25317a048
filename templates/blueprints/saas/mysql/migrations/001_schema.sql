-- previewd blueprint "saas" (MySQL 8 / MariaDB 10.11): multi-tenant SaaS core.
-- users, organizations, memberships, invoices, payments, api_keys.
-- Money is stored as integer cents with an ISO 4217 currency code.
-- Times are DATETIME(6) in the session time zone: store UTC
-- (SET time_zone = '+00:00' in the application's connections).
-- Text is utf8mb4 with the database's default collation (case-insensitive,
-- so unique emails ignore case); identifiers such as slugs, key prefixes,
-- hashes and currency codes are ASCII with a binary (case-sensitive) collation.

CREATE TABLE users (
    id                BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    email             VARCHAR(254) NOT NULL,
    name              VARCHAR(200) NOT NULL,
    -- NULL for users who only sign in through SSO.
    password_hash     VARCHAR(255) NULL,
    email_verified_at DATETIME(6) NULL,
    last_login_at     DATETIME(6) NULL,
    created_at        DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    updated_at        DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
    PRIMARY KEY (id),
    UNIQUE KEY uq_users_email (email),
    CONSTRAINT chk_users_email_format CHECK (email LIKE '_%@_%' AND email NOT LIKE '% %'),
    CONSTRAINT chk_users_name_not_blank CHECK (TRIM(name) <> '')
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE organizations (
    id            BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    name          VARCHAR(200) NOT NULL,
    slug          VARCHAR(63) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    plan          VARCHAR(20) NOT NULL DEFAULT 'free',
    billing_email VARCHAR(254) NULL,
    settings      JSON NOT NULL DEFAULT (JSON_OBJECT()),
    created_at    DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    updated_at    DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
    PRIMARY KEY (id),
    UNIQUE KEY uq_organizations_slug (slug),
    CONSTRAINT chk_organizations_slug_format CHECK (slug REGEXP '^[a-z0-9]+(-[a-z0-9]+)*$'),
    CONSTRAINT chk_organizations_plan CHECK (plan IN ('free', 'pro', 'business', 'enterprise')),
    CONSTRAINT chk_organizations_settings_object CHECK (JSON_TYPE(settings) = 'OBJECT')
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- A user's role in an organization.  Deleting either side removes it.
CREATE TABLE memberships (
    organization_id    BIGINT UNSIGNED NOT NULL,
    user_id            BIGINT UNSIGNED NOT NULL,
    role               VARCHAR(20) NOT NULL DEFAULT 'member',
    invited_by_user_id BIGINT UNSIGNED NULL,
    created_at         DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    updated_at         DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
    PRIMARY KEY (organization_id, user_id),
    CONSTRAINT fk_memberships_organization FOREIGN KEY (organization_id) REFERENCES organizations (id) ON DELETE CASCADE,
    CONSTRAINT fk_memberships_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE,
    CONSTRAINT fk_memberships_invited_by FOREIGN KEY (invited_by_user_id) REFERENCES users (id) ON DELETE SET NULL,
    CONSTRAINT chk_memberships_role CHECK (role IN ('owner', 'admin', 'member', 'billing', 'viewer'))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- Billing records are kept: an organization that has invoices or payments
-- cannot be deleted (ON DELETE RESTRICT); deactivate it instead.
CREATE TABLE invoices (
    id              BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    organization_id BIGINT UNSIGNED NOT NULL,
    number          VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    status          VARCHAR(20) NOT NULL DEFAULT 'draft',
    currency        CHAR(3) CHARACTER SET ascii COLLATE ascii_bin NOT NULL DEFAULT 'USD',
    subtotal_cents  BIGINT NOT NULL DEFAULT 0,
    tax_cents       BIGINT NOT NULL DEFAULT 0,
    total_cents     BIGINT NOT NULL DEFAULT 0,
    period_start    DATETIME(6) NOT NULL,
    period_end      DATETIME(6) NOT NULL,
    issued_at       DATETIME(6) NULL,
    due_at          DATETIME(6) NULL,
    paid_at         DATETIME(6) NULL,
    -- Line items as the payment provider sent them, for display.
    line_items      JSON NOT NULL DEFAULT (JSON_ARRAY()),
    -- The payment provider's id (e.g. a Stripe invoice id), if any.
    external_id     VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NULL,
    created_at      DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    updated_at      DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
    PRIMARY KEY (id),
    UNIQUE KEY uq_invoices_number (number),
    UNIQUE KEY uq_invoices_external_id (external_id),
    CONSTRAINT fk_invoices_organization FOREIGN KEY (organization_id) REFERENCES organizations (id) ON DELETE RESTRICT,
    CONSTRAINT chk_invoices_status CHECK (status IN ('draft', 'open', 'paid', 'void', 'uncollectible')),
    CONSTRAINT chk_invoices_currency CHECK (currency REGEXP '^[A-Z]{3}$'),
    CONSTRAINT chk_invoices_amounts CHECK (subtotal_cents >= 0 AND tax_cents >= 0
                                           AND total_cents = subtotal_cents + tax_cents),
    CONSTRAINT chk_invoices_period CHECK (period_end > period_start),
    CONSTRAINT chk_invoices_paid CHECK (status <> 'paid' OR paid_at IS NOT NULL),
    CONSTRAINT chk_invoices_line_items_array CHECK (JSON_TYPE(line_items) = 'ARRAY')
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE payments (
    id                  BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    organization_id     BIGINT UNSIGNED NOT NULL,
    invoice_id          BIGINT UNSIGNED NULL,
    amount_cents        BIGINT NOT NULL,
    currency            CHAR(3) CHARACTER SET ascii COLLATE ascii_bin NOT NULL DEFAULT 'USD',
    status              VARCHAR(20) NOT NULL DEFAULT 'pending',
    provider            VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    provider_payment_id VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NULL,
    -- Card brand, last four digits and the like; never a full card number.
    payment_method      JSON NOT NULL DEFAULT (JSON_OBJECT()),
    failure_reason      VARCHAR(255) NULL,
    created_at          DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    succeeded_at        DATETIME(6) NULL,
    refunded_at         DATETIME(6) NULL,
    PRIMARY KEY (id),
    UNIQUE KEY uq_payments_provider_payment_id (provider, provider_payment_id),
    CONSTRAINT fk_payments_organization FOREIGN KEY (organization_id) REFERENCES organizations (id) ON DELETE RESTRICT,
    CONSTRAINT fk_payments_invoice FOREIGN KEY (invoice_id) REFERENCES invoices (id) ON DELETE RESTRICT,
    CONSTRAINT chk_payments_amount CHECK (amount_cents > 0),
    CONSTRAINT chk_payments_currency CHECK (currency REGEXP '^[A-Z]{3}$'),
    CONSTRAINT chk_payments_status CHECK (status IN ('pending', 'succeeded', 'failed', 'refunded')),
    CONSTRAINT chk_payments_succeeded CHECK (status NOT IN ('succeeded', 'refunded') OR succeeded_at IS NOT NULL),
    CONSTRAINT chk_payments_refunded CHECK (status <> 'refunded' OR refunded_at IS NOT NULL)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- Only a hash of each key is stored.  key_prefix is the first, public part
-- of the key (shown in the UI and used to find the row); key_hash is the
-- SHA-256 of the whole key, lowercase hex.
CREATE TABLE api_keys (
    id                 BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    organization_id    BIGINT UNSIGNED NOT NULL,
    created_by_user_id BIGINT UNSIGNED NULL,
    name               VARCHAR(200) NOT NULL,
    key_prefix         VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    key_hash           CHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    scopes             JSON NOT NULL DEFAULT (JSON_ARRAY()),
    last_used_at       DATETIME(6) NULL,
    expires_at         DATETIME(6) NULL,
    revoked_at         DATETIME(6) NULL,
    created_at         DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    PRIMARY KEY (id),
    UNIQUE KEY uq_api_keys_key_prefix (key_prefix),
    UNIQUE KEY uq_api_keys_key_hash (key_hash),
    CONSTRAINT fk_api_keys_organization FOREIGN KEY (organization_id) REFERENCES organizations (id) ON DELETE CASCADE,
    CONSTRAINT fk_api_keys_created_by FOREIGN KEY (created_by_user_id) REFERENCES users (id) ON DELETE SET NULL,
    CONSTRAINT chk_api_keys_key_prefix_format CHECK (key_prefix REGEXP '^[A-Za-z0-9_]{8,32}$'),
    CONSTRAINT chk_api_keys_key_hash_format CHECK (key_hash REGEXP '^[0-9a-f]{64}$'),
    CONSTRAINT chk_api_keys_scopes_array CHECK (JSON_TYPE(scopes) = 'ARRAY'),
    CONSTRAINT chk_api_keys_revoked CHECK (revoked_at IS NULL OR revoked_at >= created_at),
    CONSTRAINT chk_api_keys_expires CHECK (expires_at IS NULL OR expires_at > created_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
