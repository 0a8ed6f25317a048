-- previewd blueprint "ecommerce" (MySQL 8 / MariaDB 10.11): a small shop.
-- customers, customer_addresses, categories (a tree), products,
-- product_categories, warehouses, inventory, orders, order_items.
-- Money is stored as integer cents with an ISO 4217 currency code.
-- Orders keep a copy of what was bought (sku, name, price, addresses), so
-- they stay correct when products, customers or addresses change or go.
-- Times are DATETIME(6) in the session time zone: store UTC
-- (SET time_zone = '+00:00' in the application's connections).
-- Text is utf8mb4 with the database's default collation (case-insensitive,
-- so unique emails ignore case); identifiers such as slugs, SKUs, codes
-- and currency codes are ASCII with a binary (case-sensitive) collation.

CREATE TABLE customers (
    id                BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    email             VARCHAR(254) NOT NULL,
    first_name        VARCHAR(100) NOT NULL,
    last_name         VARCHAR(100) NOT NULL,
    phone             VARCHAR(32) NULL,
    accepts_marketing BOOLEAN NOT NULL DEFAULT FALSE,
    -- Free-form data from the storefront or a CRM (tags, notes, ...).
    metadata          JSON NOT NULL DEFAULT (JSON_OBJECT()),
    created_at        DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    updated_at        DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
    PRIMARY KEY (id),
    UNIQUE KEY uq_customers_email (email),
    CONSTRAINT chk_customers_email_format CHECK (email LIKE '_%@_%' AND email NOT LIKE '% %'),
    CONSTRAINT chk_customers_metadata_object CHECK (JSON_TYPE(metadata) = 'OBJECT')
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- The PostgreSQL flavour also allows at most one default shipping and one
-- default billing address per customer (partial unique indexes); MySQL has
-- no partial indexes, so here the application keeps that rule.
CREATE TABLE customer_addresses (
    id                  BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    customer_id         BIGINT UNSIGNED NOT NULL,
    label               VARCHAR(50) NULL,
    recipient_name      VARCHAR(200) NOT NULL,
    line1               VARCHAR(255) NOT NULL,
    line2               VARCHAR(255) NULL,
    city                VARCHAR(100) NOT NULL,
    region              VARCHAR(100) NULL,
    postal_code         VARCHAR(20) NULL,
    country_code        CHAR(2) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    phone               VARCHAR(32) NULL,
    is_default_shipping BOOLEAN NOT NULL DEFAULT FALSE,
    is_default_billing  BOOLEAN NOT NULL DEFAULT FALSE,
    created_at          DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    updated_at          DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
    PRIMARY KEY (id),
    CONSTRAINT fk_customer_addresses_customer FOREIGN KEY (customer_id) REFERENCES customers (id) ON DELETE CASCADE,
    CONSTRAINT chk_customer_addresses_country_code CHECK (country_code REGEXP '^[A-Z]{2}$')
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- A tree: parent_id is NULL for top-level categories.  A category that
-- still has subcategories cannot be deleted (move or delete them first).
CREATE TABLE categories (
    id          BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    parent_id   BIGINT UNSIGNED NULL,
    name        VARCHAR(200) NOT NULL,
    slug        VARCHAR(100) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    description TEXT NULL,
    position    INT NOT NULL DEFAULT 0,
    created_at  DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    updated_at  DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
    PRIMARY KEY (id),
    UNIQUE KEY uq_categories_slug (slug),
    CONSTRAINT fk_categories_parent FOREIGN KEY (parent_id) REFERENCES categories (id) ON DELETE RESTRICT,
    CONSTRAINT chk_categories_slug_format CHECK (slug REGEXP '^[a-z0-9]+(-[a-z0-9]+)*$')
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE products (
    id                     BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    sku                    VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    name                   VARCHAR(255) NOT NULL,
    slug                   VARCHAR(150) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    description            TEXT NULL,
    status                 VARCHAR(20) NOT NULL DEFAULT 'draft',
    price_cents            BIGINT NOT NULL,
    -- The "was" price shown struck through; NULL when not on sale.
    compare_at_price_cents BIGINT NULL,
    currency               CHAR(3) CHARACTER SET ascii COLLATE ascii_bin NOT NULL DEFAULT 'USD',
    weight_grams           INT NULL,
    -- Variant-independent attributes: colour, size, material, specs ...
    attributes             JSON NOT NULL DEFAULT (JSON_OBJECT()),
    created_at             DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    updated_at             DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
    PRIMARY KEY (id),
    UNIQUE KEY uq_products_sku (sku),
    UNIQUE KEY uq_products_slug (slug),
    CONSTRAINT chk_products_slug_format CHECK (slug REGEXP '^[a-z0-9]+(-[a-z0-9]+)*$'),
    CONSTRAINT chk_products_status CHECK (status IN ('draft', 'active', 'archived')),
    CONSTRAINT chk_products_price CHECK (price_cents >= 0),
    CONSTRAINT chk_products_compare_at_price CHECK (compare_at_price_cents IS NULL OR compare_at_price_cents > price_cents),
    CONSTRAINT chk_products_currency CHECK (currency REGEXP '^[A-Z]{3}$'),
    CONSTRAINT chk_products_weight CHECK (weight_grams IS NULL OR weight_grams >= 0),
    CONSTRAINT chk_products_attributes_object CHECK (JSON_TYPE(attributes) = 'OBJECT')
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE product_categories (
    product_id  BIGINT UNSIGNED NOT NULL,
    category_id BIGINT UNSIGNED NOT NULL,
    -- Order of the product within the category listing.
    position    INT NOT NULL DEFAULT 0,
    PRIMARY KEY (product_id, category_id),
    CONSTRAINT fk_product_categories_product FOREIGN KEY (product_id) REFERENCES products (id) ON DELETE CASCADE,
    CONSTRAINT fk_product_categories_category FOREIGN KEY (category_id) REFERENCES categories (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- Stock locations.  A warehouse that still holds inventory rows cannot be
-- deleted; set is_active = FALSE instead.
CREATE TABLE warehouses (
    id           BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    code         VARCHAR(16) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    name         VARCHAR(200) NOT NULL,
    city         VARCHAR(100) NOT NULL,
    country_code CHAR(2) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    is_active    BOOLEAN NOT NULL DEFAULT TRUE,
    created_at   DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    PRIMARY KEY (id),
    UNIQUE KEY uq_warehouses_code (code),
    CONSTRAINT chk_warehouses_code_format CHECK (code REGEXP '^[A-Z0-9]+(-[A-Z0-9]+)*$'),
    CONSTRAINT chk_warehouses_country_code CHECK (country_code REGEXP '^[A-Z]{2}$')
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- Stock of one product in one warehouse.  quantity_reserved is held for
-- orders that are placed but not shipped yet.
CREATE TABLE inventory (
    product_id        BIGINT UNSIGNED NOT NULL,
    warehouse_id      BIGINT UNSIGNED NOT NULL,
    quantity_on_hand  INT NOT NULL DEFAULT 0,
    quantity_reserved INT NOT NULL DEFAULT 0,
    reorder_point     INT NOT NULL DEFAULT 0,
    updated_at        DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
    PRIMARY KEY (product_id, warehouse_id),
    CONSTRAINT fk_inventory_product FOREIGN KEY (product_id) REFERENCES products (id) ON DELETE CASCADE,
    CONSTRAINT fk_inventory_warehouse FOREIGN KEY (warehouse_id) REFERENCES warehouses (id) ON DELETE RESTRICT,
    CONSTRAINT chk_inventory_quantities CHECK (quantity_on_hand >= 0 AND quantity_reserved >= 0
                                               AND quantity_reserved <= quantity_on_hand),
    CONSTRAINT chk_inventory_reorder_point CHECK (reorder_point >= 0)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- customer_id is NULL for guest checkouts and after the customer is
-- deleted; email and the address copies keep the order usable.
CREATE TABLE orders (
    id               BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    number           VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    customer_id      BIGINT UNSIGNED NULL,
    email            VARCHAR(254) NOT NULL,
    status           VARCHAR(20) NOT NULL DEFAULT 'pending',
    currency         CHAR(3) CHARACTER SET ascii COLLATE ascii_bin NOT NULL DEFAULT 'USD',
    subtotal_cents   BIGINT NOT NULL DEFAULT 0,
    shipping_cents   BIGINT NOT NULL DEFAULT 0,
    tax_cents        BIGINT NOT NULL DEFAULT 0,
    discount_cents   BIGINT NOT NULL DEFAULT 0,
    total_cents      BIGINT NOT NULL DEFAULT 0,
    shipping_address JSON NULL,
    billing_address  JSON NULL,
    notes            TEXT NULL,
    placed_at        DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    paid_at          DATETIME(6) NULL,
    shipped_at       DATETIME(6) NULL,
    cancelled_at     DATETIME(6) NULL,
    created_at       DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    updated_at       DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
    PRIMARY KEY (id),
    UNIQUE KEY uq_orders_number (number),
    CONSTRAINT fk_orders_customer FOREIGN KEY (customer_id) REFERENCES customers (id) ON DELETE SET NULL,
    CONSTRAINT chk_orders_status CHECK (status IN ('pending', 'paid', 'shipped', 'delivered', 'cancelled', 'refunded')),
    CONSTRAINT chk_orders_currency CHECK (currency REGEXP '^[A-Z]{3}$'),
    CONSTRAINT chk_orders_amounts CHECK (subtotal_cents >= 0 AND shipping_cents >= 0 AND tax_cents >= 0
                                         AND discount_cents >= 0 AND total_cents >= 0
                                         AND total_cents = subtotal_cents + shipping_cents + tax_cents - discount_cents),
    CONSTRAINT chk_orders_cancelled CHECK (status <> 'cancelled' OR cancelled_at IS NOT NULL),
    CONSTRAINT chk_orders_shipped CHECK (status NOT IN ('shipped', 'delivered') OR shipped_at IS NOT NULL)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- product_id is NULL once the product is deleted; sku, product_name and
-- unit_price_cents are what the customer saw when ordering.
CREATE TABLE order_items (
    id               BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    order_id         BIGINT UNSIGNED NOT NULL,
    product_id       BIGINT UNSIGNED NULL,
    sku              VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    product_name     VARCHAR(255) NOT NULL,
    quantity         INT NOT NULL,
    unit_price_cents BIGINT NOT NULL,
    total_cents      BIGINT NOT NULL,
    created_at       DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    PRIMARY KEY (id),
    UNIQUE KEY uq_order_items_order_id_sku (order_id, sku),
    CONSTRAINT fk_order_items_order FOREIGN KEY (order_id) REFERENCES orders (id) ON DELETE CASCADE,
    CONSTRAINT fk_order_items_product FOREIGN KEY (product_id) REFERENCES products (id) ON DELETE SET NULL,
    CONSTRAINT chk_order_items_quantity CHECK (quantity > 0),
    CONSTRAINT chk_order_items_amounts CHECK (unit_price_cents >= 0 AND total_cents = quantity * unit_price_cents)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
