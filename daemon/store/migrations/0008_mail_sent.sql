-- 0008_mail_sent: recording a delivered email in one statement.
--
-- MarkSent took six round trips per email (BEGIN, a locking SELECT, two UPDATEs, the audit
-- INSERT, COMMIT), which held a mail round far below the relay's speed. This function does
-- the same work, in the same order and with the same checks, as one statement (credd calls
-- it between BEGIN and COMMIT: three round trips). It returns false,
-- changing nothing, when the row is no longer ours (the lease was taken over).
-- p_next_reminder_days: days after the first email (after now, for a resend) when the next
-- reminder is due; NULL when none is left.
CREATE FUNCTION credd_mail_sent(p_outbox bigint, p_owner text, p_at timestamptz,
                                p_reply text, p_next_reminder_days integer)
RETURNS boolean
LANGUAGE plpgsql
AS $fn$
DECLARE
  o mail_outbox%ROWTYPE;
BEGIN
  UPDATE mail_outbox SET status = 'sent', sent_at = p_at, last_reply = p_reply,
         lease_owner = NULL, lease_until = NULL, updated_at = now()
   WHERE id = p_outbox AND lease_owner = p_owner AND status = 'sending'
  RETURNING * INTO o;
  IF NOT FOUND THEN
    RETURN false;
  END IF;
  IF o.kind = 'notice' THEN
    UPDATE invitations SET state = 'sent', attempts = attempts + 1,
           first_sent_at = coalesce(first_sent_at, p_at), updated_at = now()
     WHERE id = o.invitation;
  ELSE
    UPDATE invitations SET
           state = CASE WHEN o.kind = 'reminder' THEN 'reminded' ELSE 'sent' END,
           reminders_sent = CASE WHEN o.kind = 'resend' THEN 0
             ELSE reminders_sent + CASE WHEN o.kind = 'reminder' THEN 1 ELSE 0 END END,
           attempts = attempts + 1,
           -- A resend starts the reminder schedule again from now.
           first_sent_at = CASE WHEN o.kind = 'resend' THEN p_at
             ELSE coalesce(first_sent_at, p_at) END,
           next_reminder_at = CASE WHEN p_next_reminder_days IS NULL THEN NULL
             WHEN o.kind = 'resend' THEN p_at + make_interval(days => p_next_reminder_days)
             ELSE coalesce(first_sent_at, p_at) + make_interval(days => p_next_reminder_days)
             END,
           updated_at = now()
     WHERE id = o.invitation AND state NOT IN ('activated', 'cancelled');
  END IF;
  INSERT INTO audit_events (actor, institution_id, event, subject, details)
  VALUES ('credd', o.institution_id, 'mail.sent', 'invitation:' || o.invitation,
          jsonb_build_object('message_id', o.message_id, 'kind', o.kind));
  RETURN true;
END
$fn$;
