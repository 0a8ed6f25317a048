-- previewd blueprint "ecommerce" (PostgreSQL): indexes on foreign keys and
-- common lookups.  Unique constraints and primary keys already have their
-- own indexes (product_categories and inventory are looked up by product
-- through their primary keys).

CREATE INDEX customer_addresses_customer_id_idx ON customer_addresses (customer_id);

CREATE INDEX categories_parent_id_position_idx ON categories (parent_id, position);

-- The storefront lists active products.
CREATE INDEX products_status_name_idx ON products (status, name);

CREATE INDEX product_categories_category_id_position_idx ON product_categories (category_id, position);

CREATE INDEX inventory_warehouse_id_idx ON inventory (warehouse_id);
-- Rows at or below their reorder point.
CREATE INDEX inventory_low_stock_idx ON inventory (warehouse_id, product_id)
    WHERE quantity_on_hand - quantity_reserved <= reorder_point;

CREATE INDEX orders_customer_id_placed_at_idx ON orders (customer_id, placed_at DESC);
CREATE INDEX orders_status_placed_at_idx ON orders (status, placed_at DESC);
CREATE INDEX orders_email_idx ON orders (lower(email));

CREATE INDEX order_items_product_id_idx ON order_items (product_id);
