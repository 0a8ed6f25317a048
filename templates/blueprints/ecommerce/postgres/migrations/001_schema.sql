-- previewd blueprint "ecommerce" (PostgreSQL): a small shop.
-- customers, customer_addresses, categories (a tree), products,
-- product_categories, warehouses, inventory, orders, order_items.
-- Money is stored as integer cents with an ISO 4217 currency code.
-- Orders keep a copy of what was bought (sku, name, price, addresses), so
-- they stay correct when products, customers or addresses change or go.

-- Keeps updated_at current on UPDATE (the MySQL flavour uses ON UPDATE).
CREATE FUNCTION set_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END
$$;

CREATE TABLE customers (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email             text        NOT NULL,
    first_name        text        NOT NULL,
    last_name         text        NOT NULL,
    phone             text,
    accepts_marketing boolean     NOT NULL DEFAULT false,
    -- Free-form data from the storefront or a CRM (tags, notes, ...).
    metadata          jsonb       NOT NULL DEFAULT '{}',
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT customers_email_format CHECK (email ~ '^[^@[:space:]]+@[^@[:space:]]+$'),
    CONSTRAINT customers_metadata_object CHECK (jsonb_typeof(metadata) = 'object')
);
-- Emails are unique without regard to case (no citext: no extensions).
CREATE UNIQUE INDEX customers_email_key ON customers (lower(email));

CREATE TABLE customer_addresses (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer_id         bigint      NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    label               text,
    recipient_name      text        NOT NULL,
    line1               text        NOT NULL,
    line2               text,
    city                text        NOT NULL,
    region              text,
    postal_code         text,
    country_code        char(2)     NOT NULL,
    phone               text,
    is_default_shipping boolean     NOT NULL DEFAULT false,
    is_default_billing  boolean     NOT NULL DEFAULT false,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT customer_addresses_country_code_format CHECK (country_code ~ '^[A-Z]{2}$')
);
-- At most one default shipping and one default billing address per customer.
CREATE UNIQUE INDEX customer_addresses_default_shipping_key
    ON customer_addresses (customer_id) WHERE is_default_shipping;
CREATE UNIQUE INDEX customer_addresses_default_billing_key
    ON customer_addresses (customer_id) WHERE is_default_billing;

-- A tree: parent_id is NULL for top-level categories.  A category that
-- still has subcategories cannot be deleted (move or delete them first).
CREATE TABLE categories (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    parent_id   bigint      REFERENCES categories (id) ON DELETE RESTRICT,
    name        text        NOT NULL,
    slug        text        NOT NULL,
    description text,
    position    integer     NOT NULL DEFAULT 0,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT categories_slug_key UNIQUE (slug),
    CONSTRAINT categories_slug_format CHECK (slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$'),
    CONSTRAINT categories_not_own_parent CHECK (parent_id <> id)
);

CREATE TABLE products (
    id                     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    sku                    text        NOT NULL,
    name                   text        NOT NULL,
    slug                   text        NOT NULL,
    description            text,
    status                 text        NOT NULL DEFAULT 'draft',
    price_cents            bigint      NOT NULL,
    -- The "was" price shown struck through; NULL when not on sale.
    compare_at_price_cents bigint,
    currency               char(3)     NOT NULL DEFAULT 'USD',
    weight_grams           integer,
    -- Variant-independent attributes: colour, size, material, specs ...
    attributes             jsonb       NOT NULL DEFAULT '{}',
    created_at             timestamptz NOT NULL DEFAULT now(),
    updated_at             timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT products_sku_key UNIQUE (sku),
    CONSTRAINT products_slug_key UNIQUE (slug),
    CONSTRAINT products_slug_format CHECK (slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$'),
    CONSTRAINT products_status_check CHECK (status IN ('draft', 'active', 'archived')),
    CONSTRAINT products_price_check CHECK (price_cents >= 0),
    CONSTRAINT products_compare_at_price_check CHECK (compare_at_price_cents IS NULL OR compare_at_price_cents > price_cents),
    CONSTRAINT products_currency_check CHECK (currency ~ '^[A-Z]{3}$'),
    CONSTRAINT products_weight_check CHECK (weight_grams IS NULL OR weight_grams >= 0),
    CONSTRAINT products_attributes_object CHECK (jsonb_typeof(attributes) = 'object')
);

CREATE TABLE product_categories (
    product_id  bigint  NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    category_id bigint  NOT NULL REFERENCES categories (id) ON DELETE CASCADE,
    -- Order of the product within the category listing.
    position    integer NOT NULL DEFAULT 0,
    PRIMARY KEY (product_id, category_id)
);

-- Stock locations.  A warehouse that still holds inventory rows cannot be
-- deleted; set is_active = false instead.
CREATE TABLE warehouses (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code         text        NOT NULL,
    name         text        NOT NULL,
    city         text        NOT NULL,
    country_code char(2)     NOT NULL,
    is_active    boolean     NOT NULL DEFAULT true,
    created_at   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT warehouses_code_key UNIQUE (code),
    CONSTRAINT warehouses_code_format CHECK (code ~ '^[A-Z0-9]+(-[A-Z0-9]+)*$'),
    CONSTRAINT warehouses_country_code_format CHECK (country_code ~ '^[A-Z]{2}$')
);

-- Stock of one product in one warehouse.  quantity_reserved is held for
-- orders that are placed but not shipped yet.
CREATE TABLE inventory (
    product_id         bigint      NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    warehouse_id       bigint      NOT NULL REFERENCES warehouses (id) ON DELETE RESTRICT,
    quantity_on_hand   integer     NOT NULL DEFAULT 0,
    quantity_reserved  integer     NOT NULL DEFAULT 0,
    reorder_point      integer     NOT NULL DEFAULT 0,
    updated_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (product_id, warehouse_id),
    CONSTRAINT inventory_quantities_check CHECK (quantity_on_hand >= 0 AND quantity_reserved >= 0
                                                 AND quantity_reserved <= quantity_on_hand),
    CONSTRAINT inventory_reorder_point_check CHECK (reorder_point >= 0)
);

-- customer_id is NULL for guest checkouts and after the customer is
-- deleted; email and the address copies keep the order usable.
CREATE TABLE orders (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    number           text        NOT NULL,
    customer_id      bigint      REFERENCES customers (id) ON DELETE SET NULL,
    email            text        NOT NULL,
    status           text        NOT NULL DEFAULT 'pending',
    currency         char(3)     NOT NULL DEFAULT 'USD',
    subtotal_cents   bigint      NOT NULL DEFAULT 0,
    shipping_cents   bigint      NOT NULL DEFAULT 0,
    tax_cents        bigint      NOT NULL DEFAULT 0,
    discount_cents   bigint      NOT NULL DEFAULT 0,
    total_cents      bigint      NOT NULL DEFAULT 0,
    shipping_address jsonb,
    billing_address  jsonb,
    notes            text,
    placed_at        timestamptz NOT NULL DEFAULT now(),
    paid_at          timestamptz,
    shipped_at       timestamptz,
    cancelled_at     timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT orders_number_key UNIQUE (number),
    CONSTRAINT orders_status_check CHECK (status IN ('pending', 'paid', 'shipped', 'delivered', 'cancelled', 'refunded')),
    CONSTRAINT orders_currency_check CHECK (currency ~ '^[A-Z]{3}$'),
    CONSTRAINT orders_amounts_check CHECK (subtotal_cents >= 0 AND shipping_cents >= 0 AND tax_cents >= 0
                                           AND discount_cents >= 0 AND total_cents >= 0
                                           AND total_cents = subtotal_cents + shipping_cents + tax_cents - discount_cents),
    CONSTRAINT orders_cancelled_check CHECK (status <> 'cancelled' OR cancelled_at IS NOT NULL),
    CONSTRAINT orders_shipped_check CHECK (status NOT IN ('shipped', 'delivered') OR shipped_at IS NOT NULL)
);

-- product_id is NULL once the product is deleted; sku, product_name and
-- unit_price_cents are what the customer saw when ordering.
CREATE TABLE order_items (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    order_id         bigint      NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    product_id       bigint      REFERENCES products (id) ON DELETE SET NULL,
    sku              text        NOT NULL,
    product_name     text        NOT NULL,
    quantity         integer     NOT NULL,
    unit_price_cents bigint      NOT NULL,
    total_cents      bigint      NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT order_items_order_id_sku_key UNIQUE (order_id, sku),
    CONSTRAINT order_items_quantity_check CHECK (quantity > 0),
    CONSTRAINT order_items_amounts_check CHECK (unit_price_cents >= 0 AND total_cents = quantity * unit_price_cents)
);

CREATE TRIGGER customers_set_updated_at BEFORE UPDATE ON customers
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER customer_addresses_set_updated_at BEFORE UPDATE ON customer_addresses
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER categories_set_updated_at BEFORE UPDATE ON categories
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER products_set_updated_at BEFORE UPDATE ON products
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER inventory_set_updated_at BEFORE UPDATE ON inventory
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER orders_set_updated_at BEFORE UPDATE ON orders
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
