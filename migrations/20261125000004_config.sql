-- The back office's 回调日志 and 操作审计 lists: every filter column leads an index followed by
-- created_at (InnoDB appends the id), so each filter combination reads its 50 newest rows in
-- index order instead of sorting the matching rows.

-- 回调日志 filtered by target and outcome together, newest first.
CREATE INDEX ix_callback_attempts_target_outcome_created
    ON callback_attempts (target, outcome, created_at);

-- 操作审计 filtered by user, by action, or by target type.
CREATE INDEX ix_audit_username_created ON audit_log (username, created_at);
CREATE INDEX ix_audit_action_created ON audit_log (action, created_at);
CREATE INDEX ix_audit_target_type_created ON audit_log (target_type, created_at);
