-- The face a customer or an event belongs to. The challenge face (/clientes, /eventos,
-- /compras: anonymous, API.md section 1) sees only its own rows; the product API sees all.
ALTER TABLE customers
    ADD COLUMN face text NOT NULL DEFAULT 'product' CHECK (face IN ('product', 'challenge'));
ALTER TABLE events
    ADD COLUMN face text NOT NULL DEFAULT 'product' CHECK (face IN ('product', 'challenge'));

-- Rows from before this migration: challenge clients are the customers without a password
-- (every product account has one); challenge events are the seeded ones
-- (550e8400-e29b-41d4-a716-4466554400xx). Events created earlier through /eventos cannot
-- be told from the organizer's and stay product: they are no longer seen by /eventos.
UPDATE customers SET face = 'challenge' WHERE password_hash IS NULL;
UPDATE events SET face = 'challenge'
WHERE id::text LIKE '550e8400-e29b-41d4-a716-4466554400__';
