-- 0006_claimed_at: when a row was claimed for its current attempt.
--
-- A row in 'sending' counts against the rate windows while its lease runs and within the
-- windows its attempt began in: its worker may still be sending it. Before, such a row
-- counted for ever, so a worker frozen (SIGSTOP, a paused VM) holding a full window of
-- claims stopped every other worker's mail, and the take-over of its expired leases with it.
ALTER TABLE mail_outbox ADD COLUMN claimed_at timestamptz;
UPDATE mail_outbox SET claimed_at = updated_at WHERE status = 'sending';
