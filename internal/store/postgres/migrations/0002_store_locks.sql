-- Named locks for work that must not run twice at once (store.DB.LoadExclusive): a holder locks
-- its row with SELECT ... FOR UPDATE inside its transaction, so the lock ends with the
-- transaction or the connection. A row lock, not an advisory lock, because PostgreSQL-compatible
-- distributed databases offer row locks.
CREATE TABLE store_locks (name TEXT PRIMARY KEY);
