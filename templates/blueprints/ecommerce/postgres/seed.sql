-- previewd blueprint "ecommerce" (PostgreSQL): a small, coherent data set.
-- Rows refer to each other by natural keys (email, slug, sku, warehouse
-- code, order number), never by id, so the seed works whatever the identity
-- sequences are at.  Times are relative to now(), so the data looks recent.
-- Order totals add up: total = subtotal + shipping + tax - discount.

INSERT INTO customers (email, first_name, last_name, phone, accepts_marketing, metadata, created_at) VALUES
    ('jane.doe@example.com',     'Jane', 'Doe',     '+1 555 0100',   true,  '{"tags": ["vip"], "source": "instagram"}', now() - interval '200 days'),
    ('omar.haddad@example.com',  'Omar', 'Haddad',  '+49 30 5550199', false, '{}',                                        now() - interval '45 days'),
    ('li.wei@example.org',       'Li',   'Wei',     NULL,            true,  '{"source": "newsletter"}',                 now() - interval '3 days');

INSERT INTO customer_addresses (customer_id, label, recipient_name, line1, line2, city, region, postal_code, country_code,
                                phone, is_default_shipping, is_default_billing) VALUES
    ((SELECT id FROM customers WHERE email = 'jane.doe@example.com'),    'Home',   'Jane Doe',    '12 Elm Street', 'Apt 4B', 'Springfield', 'IL', '62701', 'US', '+1 555 0100', true,  true),
    ((SELECT id FROM customers WHERE email = 'jane.doe@example.com'),    'Office', 'Jane Doe',    '500 Market Ave', 'Floor 9', 'Chicago',    'IL', '60601', 'US', NULL,          false, false),
    ((SELECT id FROM customers WHERE email = 'omar.haddad@example.com'), 'Home',   'Omar Haddad', 'Torstrasse 101', NULL,     'Berlin',      NULL, '10119', 'DE', NULL,          true,  true),
    ((SELECT id FROM customers WHERE email = 'li.wei@example.org'),      NULL,     'Li Wei',      '8 Harbour Road', NULL,     'Vancouver',   'BC', 'V6B 1A1', 'CA', NULL,        true,  false);

-- Top-level categories first, then their children (INSERT ... SELECT finds
-- the parent by slug).
INSERT INTO categories (name, slug, description, position) VALUES
    ('Electronics', 'electronics', 'Computers, audio and gadgets', 1),
    ('Home & Kitchen', 'home-kitchen', 'Everything for the kitchen', 2);
INSERT INTO categories (parent_id, name, slug, description, position)
    SELECT id, 'Laptops', 'laptops', 'Notebooks and ultrabooks', 1 FROM categories WHERE slug = 'electronics';
INSERT INTO categories (parent_id, name, slug, description, position)
    SELECT id, 'Audio', 'audio', 'Headphones and speakers', 2 FROM categories WHERE slug = 'electronics';

INSERT INTO products (sku, name, slug, description, status, price_cents, compare_at_price_cents, currency, weight_grams, attributes) VALUES
    ('LAP-13-PRO',   'Aurora 13 Pro Laptop',       'aurora-13-pro-laptop',     '13-inch laptop, 16 GB RAM, 512 GB SSD.', 'active', 129900, 139900, 'USD', 1250,
     '{"color": "silver", "ram_gb": 16, "storage_gb": 512, "screen_in": 13.3}'),
    ('HP-ANC-200',   'QuietWave 200 Headphones',   'quietwave-200-headphones', 'Over-ear, active noise cancelling.',     'active', 19900,  NULL,   'USD', 260,
     '{"color": "black", "wireless": true, "battery_h": 30}'),
    ('SPK-MINI-BLU', 'Pocket Speaker (Blue)',      'pocket-speaker-blue',      'Small waterproof Bluetooth speaker.',     'active', 4900,   5900,   'USD', 180,
     '{"color": "blue", "waterproof": "IP67"}'),
    ('KTL-STEEL-17', 'Steel Kettle 1.7 L',         'steel-kettle-1-7-l',       'Stainless steel electric kettle.',       'active', 3900,   NULL,   'USD', 1100,
     '{"capacity_l": 1.7, "voltage": "110-120V"}');

INSERT INTO product_categories (product_id, category_id, position) VALUES
    ((SELECT id FROM products WHERE sku = 'LAP-13-PRO'),   (SELECT id FROM categories WHERE slug = 'laptops'),      1),
    ((SELECT id FROM products WHERE sku = 'LAP-13-PRO'),   (SELECT id FROM categories WHERE slug = 'electronics'),  1),
    ((SELECT id FROM products WHERE sku = 'HP-ANC-200'),   (SELECT id FROM categories WHERE slug = 'audio'),        1),
    ((SELECT id FROM products WHERE sku = 'SPK-MINI-BLU'), (SELECT id FROM categories WHERE slug = 'audio'),        2),
    ((SELECT id FROM products WHERE sku = 'KTL-STEEL-17'), (SELECT id FROM categories WHERE slug = 'home-kitchen'), 1);

INSERT INTO warehouses (code, name, city, country_code) VALUES
    ('NJ-1',  'Newark Fulfilment Center', 'Newark', 'US'),
    ('BER-1', 'Berlin Warehouse',         'Berlin', 'DE');

-- Reserved stock matches the orders below that are paid or pending.
INSERT INTO inventory (product_id, warehouse_id, quantity_on_hand, quantity_reserved, reorder_point) VALUES
    ((SELECT id FROM products WHERE sku = 'LAP-13-PRO'),   (SELECT id FROM warehouses WHERE code = 'NJ-1'),  14, 0, 5),
    ((SELECT id FROM products WHERE sku = 'LAP-13-PRO'),   (SELECT id FROM warehouses WHERE code = 'BER-1'),  3, 0, 5),
    ((SELECT id FROM products WHERE sku = 'HP-ANC-200'),   (SELECT id FROM warehouses WHERE code = 'NJ-1'),  40, 1, 10),
    ((SELECT id FROM products WHERE sku = 'HP-ANC-200'),   (SELECT id FROM warehouses WHERE code = 'BER-1'), 12, 0, 10),
    ((SELECT id FROM products WHERE sku = 'SPK-MINI-BLU'), (SELECT id FROM warehouses WHERE code = 'NJ-1'),   0, 0, 20),
    ((SELECT id FROM products WHERE sku = 'SPK-MINI-BLU'), (SELECT id FROM warehouses WHERE code = 'BER-1'), 75, 2, 20),
    ((SELECT id FROM products WHERE sku = 'KTL-STEEL-17'), (SELECT id FROM warehouses WHERE code = 'BER-1'), 30, 1, 5);

INSERT INTO orders (number, customer_id, email, status, currency, subtotal_cents, shipping_cents, tax_cents, discount_cents, total_cents,
                    shipping_address, billing_address, notes, placed_at, paid_at, shipped_at, created_at) VALUES
    ('ORD-10001', (SELECT id FROM customers WHERE email = 'jane.doe@example.com'), 'jane.doe@example.com', 'delivered', 'USD',
     149800, 0, 11984, 0, 161784,
     '{"name": "Jane Doe", "line1": "12 Elm Street", "line2": "Apt 4B", "city": "Springfield", "region": "IL", "postal_code": "62701", "country": "US"}',
     '{"name": "Jane Doe", "line1": "12 Elm Street", "line2": "Apt 4B", "city": "Springfield", "region": "IL", "postal_code": "62701", "country": "US"}',
     NULL, now() - interval '20 days', now() - interval '20 days', now() - interval '19 days', now() - interval '20 days'),
    ('ORD-10002', (SELECT id FROM customers WHERE email = 'omar.haddad@example.com'), 'omar.haddad@example.com', 'paid', 'USD',
     13700, 599, 1096, 1000, 14395,
     '{"name": "Omar Haddad", "line1": "Torstrasse 101", "city": "Berlin", "postal_code": "10119", "country": "DE"}',
     '{"name": "Omar Haddad", "line1": "Torstrasse 101", "city": "Berlin", "postal_code": "10119", "country": "DE"}',
     'Please leave with the neighbour if not home.', now() - interval '1 day', now() - interval '1 day', NULL, now() - interval '1 day'),
    ('ORD-10003', NULL, 'guest.buyer@example.net', 'pending', 'USD',
     19900, 599, 0, 0, 20499,
     '{"name": "Sam Guest", "line1": "77 Ocean Drive", "city": "Miami", "region": "FL", "postal_code": "33139", "country": "US"}',
     NULL, NULL, now() - interval '2 hours', NULL, NULL, now() - interval '2 hours');

INSERT INTO order_items (order_id, product_id, sku, product_name, quantity, unit_price_cents, total_cents) VALUES
    ((SELECT id FROM orders WHERE number = 'ORD-10001'), (SELECT id FROM products WHERE sku = 'LAP-13-PRO'),   'LAP-13-PRO',   'Aurora 13 Pro Laptop',     1, 129900, 129900),
    ((SELECT id FROM orders WHERE number = 'ORD-10001'), (SELECT id FROM products WHERE sku = 'HP-ANC-200'),   'HP-ANC-200',   'QuietWave 200 Headphones', 1, 19900,  19900),
    ((SELECT id FROM orders WHERE number = 'ORD-10002'), (SELECT id FROM products WHERE sku = 'SPK-MINI-BLU'), 'SPK-MINI-BLU', 'Pocket Speaker (Blue)',    2, 4900,   9800),
    ((SELECT id FROM orders WHERE number = 'ORD-10002'), (SELECT id FROM products WHERE sku = 'KTL-STEEL-17'), 'KTL-STEEL-17', 'Steel Kettle 1.7 L',       1, 3900,   3900),
    ((SELECT id FROM orders WHERE number = 'ORD-10003'), (SELECT id FROM products WHERE sku = 'HP-ANC-200'),   'HP-ANC-200',   'QuietWave 200 Headphones', 1, 19900,  19900);
