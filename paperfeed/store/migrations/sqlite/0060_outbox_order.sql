-- Sending takes pending rows in (priority, id) order, LIMIT 50: with only outbox_due
-- (priority, next_attempt_at) the database sorted every pending row, message bytes and all,
-- for each batch (100,000 queued digests: ~35 messages/s, docs/benchmarks.md). This index
-- walks them in order instead.
CREATE INDEX outbox_pending_order ON outbox (priority, id) WHERE status = 'pending';
