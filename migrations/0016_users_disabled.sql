-- Staff users (back-office and finance) are disabled by the back-office
-- (DELETE /api/v1/staff-users/{user_id}) with the same UserRemoved event that
-- removes a partner's user: removed_at is set for both, so every check that
-- refuses a removed user (login, session, password reset) refuses a disabled
-- one. disabled_at is set, to the same instant, for staff users only: they
-- stay listed (and in the history) as disabled, where a partner's removed
-- user leaves its partner's list.
ALTER TABLE users ADD COLUMN disabled_at timestamptz
  CHECK (disabled_at IS NULL OR (disabled_at = removed_at AND role IN ('backoffice', 'finance')));
CREATE INDEX users_staff ON users (created_at, user_id) WHERE role IN ('backoffice', 'finance');
