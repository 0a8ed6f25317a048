-- previewd blueprint "ecommerce" (MySQL 8 / MariaDB 10.11): indexes on
-- foreign keys and common lookups.  InnoDB made an index for each foreign
-- key already; these replace them with named ones that also serve the
-- queries an application runs (InnoDB drops its own index once one of
-- these covers the foreign key).  Primary and unique keys already have
-- their own indexes (product_categories and inventory are looked up by
-- product through their primary keys, order_items by order through
-- uq_order_items_order_id_sku).

CREATE INDEX idx_customer_addresses_customer_id ON customer_addresses (customer_id);

CREATE INDEX idx_categories_parent_id_position ON categories (parent_id, position);

-- The storefront lists active products.
CREATE INDEX idx_products_status_name ON products (status, name);

CREATE INDEX idx_product_categories_category_id_position ON product_categories (category_id, position);

CREATE INDEX idx_inventory_warehouse_id ON inventory (warehouse_id);

CREATE INDEX idx_orders_customer_id_placed_at ON orders (customer_id, placed_at);
CREATE INDEX idx_orders_status_placed_at ON orders (status, placed_at);
-- The collation ignores case, so this serves lookups by any spelling.
CREATE INDEX idx_orders_email ON orders (email);

CREATE INDEX idx_order_items_product_id ON order_items (product_id);
