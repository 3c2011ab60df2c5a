-- Password reset by email.

-- name: find_account
SELECT id, name, email, password_hash FROM customers
WHERE lower(email) = lower($1) AND password_hash IS NOT NULL;

-- name: lock_account
SELECT id, password_hash FROM customers WHERE id = $1 AND password_hash IS NOT NULL FOR UPDATE;

-- name: set_password
UPDATE customers SET password_hash = $2 WHERE id = $1;
