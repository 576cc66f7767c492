-- Optional passwords (issue 6): an argon2id hash in PHC string form ($argon2id$v=19$...),
-- NULL for accounts that sign in by emailed link only (the default). docs/community.md.
ALTER TABLE users ADD COLUMN password_hash TEXT;
