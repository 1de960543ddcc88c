-- Failed logins shared by every gateway: one row per counted key (an
-- account's e-mail or a client address), named by a keyed BLAKE2b hash so a
-- dump shows neither. The gateway reserves an attempt with one atomic upsert
-- before the password hash is checked (services/gateway/login_limits.c), so
-- N gateways allow the limit, not N times it. Not a read model of the log:
-- a replay leaves it alone; rows whose window ended are purged by logins.
-- UNLOGGED: a failed guess writes no WAL nor waits for a disk flush (1.0 ms
-- an upsert against 2.2-4.1 ms logged, measured on a loaded machine); a
-- database crash empties it, which reopens at most one window of guesses.
CREATE UNLOGGED TABLE login_attempts (
  key_hash text PRIMARY KEY,
  window_start_ms bigint NOT NULL,
  failures integer NOT NULL CHECK (failures >= 0),
  taken boolean NOT NULL          -- whether the last reservation counted
);
CREATE INDEX login_attempts_window_start ON login_attempts (window_start_ms);
