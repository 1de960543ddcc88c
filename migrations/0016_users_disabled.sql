-- Staff users (back-office and finance) are disabled by the back-office
-- (DELETE /api/v1/staff-users/{user_id}): the same UserRemoved event that
-- removes a partner's user, so every check that refuses a removed user
-- (login, session, password reset) refuses a disabled one. disabled_at names
-- it the console's way and is derived, so that it can never disagree with
-- removed_at. The user stays in the table (and in the history).
ALTER TABLE users ADD COLUMN disabled_at timestamptz GENERATED ALWAYS AS (removed_at) STORED;
CREATE INDEX users_staff ON users (created_at, user_id) WHERE role IN ('backoffice', 'finance');
