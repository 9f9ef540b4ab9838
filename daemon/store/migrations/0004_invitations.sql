-- 0004_invitations: what the mailer needs.
--
-- * mail_outbox rows say what they are (first invitation, reminder, notice, resend), for
--   whom (institution, the address row) and are counted by sent_at for rate limits, which
--   therefore hold across restarts and across several credd processes.
-- * invitations remember when the first email went out (reminders count from it).
-- * credd_store_chunk also writes the invitation of each student whose credential it
--   stored, in the same transaction (the outbox pattern): one per student per batch, and
--   none while an earlier one is still waiting to be sent (it will list every document).

ALTER TABLE mail_outbox ADD COLUMN kind text NOT NULL DEFAULT 'invitation'
  CHECK (kind IN ('invitation', 'reminder', 'notice', 'resend'));
ALTER TABLE mail_outbox ADD COLUMN institution_id text REFERENCES institutions (id);
ALTER TABLE mail_outbox ADD COLUMN email bigint REFERENCES student_emails (id);
CREATE INDEX mail_outbox_sent_by_institution ON mail_outbox (institution_id, sent_at);
CREATE INDEX mail_outbox_sent ON mail_outbox (sent_at);
CREATE INDEX mail_outbox_claimable ON mail_outbox (institution_id, status, next_attempt_at);

ALTER TABLE invitations ADD COLUMN first_sent_at timestamptz;
-- When the relay last saw an attempt that did not end in 'sent' (deferred, failed, maybe
-- delivered): such attempts count against the rate limits too.
ALTER TABLE mail_outbox ADD COLUMN last_attempt_at timestamptz;
CREATE INDEX mail_outbox_attempted ON mail_outbox (institution_id, last_attempt_at);

DROP FUNCTION credd_store_chunk(bigint, text, jsonb, jsonb, integer, integer, integer);

CREATE FUNCTION credd_store_chunk(p_batch bigint, p_actor text, p_records jsonb,
                                  p_errors jsonb, p_records_processed integer,
                                  p_total integer, p_rejected integer,
                                  p_invitations boolean, p_notices boolean)
RETURNS TABLE (ordinal integer, outcome text, version integer)
LANGUAGE plpgsql
AS $fn$
#variable_conflict use_column
DECLARE
  v_institution text;
  r jsonb;
  v_student bigint;
  v_active record;
  v_supersedes bigint;
  v_version integer;
  v_credential bigint;
  v_email bigint;
  v_activated boolean;
  v_accepted integer := 0;
  v_unchanged integer := 0;
  v_rejected integer := p_rejected;
BEGIN
  SELECT b.institution_id INTO STRICT v_institution FROM batches b WHERE b.id = p_batch
    FOR UPDATE;
  FOR r IN SELECT value FROM jsonb_array_elements(p_records) LOOP
    ordinal := (r->>'ordinal')::integer;
    INSERT INTO students AS s (institution_id, student_id, family_name, given_names,
                               birth_date, preferred_locale)
    VALUES (v_institution, r->>'student_id', r->>'family_name', r->>'given_names',
            NULLIF(r->>'birth_date', '')::date, r->>'locale')
    ON CONFLICT (institution_id, student_id) DO UPDATE
      SET family_name = EXCLUDED.family_name, given_names = EXCLUDED.given_names,
          birth_date = coalesce(EXCLUDED.birth_date, s.birth_date),
          preferred_locale = EXCLUDED.preferred_locale, updated_at = now()
    RETURNING s.id INTO v_student;

    IF r->>'email' <> '' THEN
      INSERT INTO student_emails (student, kind, address, is_primary)
      SELECT v_student, 'institutional', r->>'email',
             NOT EXISTS (SELECT 1 FROM student_emails e WHERE e.student = v_student AND e.is_primary)
      ON CONFLICT (student, address) DO NOTHING;
    END IF;
    IF r->>'personal_email' <> '' THEN
      INSERT INTO student_emails (student, kind, address, is_primary)
      SELECT v_student, 'personal', r->>'personal_email',
             NOT EXISTS (SELECT 1 FROM student_emails e WHERE e.student = v_student AND e.is_primary)
      ON CONFLICT (student, address) DO NOTHING;
    END IF;

    SELECT c.id, c.version, c.content_sha256, c.batch, c.source_line INTO v_active
      FROM credentials c
     WHERE c.student = v_student AND c.credential_key = r->>'key' AND c.status = 'active'
       FOR UPDATE;
    v_supersedes := NULL;
    IF FOUND THEN
      IF v_active.batch = p_batch THEN
        INSERT INTO batch_errors (batch, line, field, message)
        VALUES (p_batch, (r->>'line')::integer, 'student_id',
                'duplicate of line ' || v_active.source_line ||
                ': the same student and credential appear twice in this file');
        v_rejected := v_rejected + 1;
        outcome := 'duplicate_in_file';
        version := v_active.version;
        RETURN NEXT;
        CONTINUE;
      END IF;
      IF v_active.content_sha256 = r->>'content_sha256' THEN
        v_unchanged := v_unchanged + 1;
        outcome := 'unchanged';
        version := v_active.version;
        RETURN NEXT;
        CONTINUE;
      END IF;
      UPDATE credentials SET status = 'superseded', updated_at = now() WHERE id = v_active.id;
      v_supersedes := v_active.id;
    END IF;

    SELECT coalesce(max(c.version), 0) + 1 INTO v_version FROM credentials c
     WHERE c.student = v_student AND c.credential_key = r->>'key';
    INSERT INTO credentials (student, batch, kind, credential_key, title, program, issued_on,
                             locale, data, content_sha256, version, supersedes,
                             source_document_id, source_pdf, source_line)
    VALUES (v_student, p_batch, r->>'kind', r->>'key', r->>'title', r->>'program',
            NULLIF(r->>'issued_on', '')::date, r->>'locale', r->'data', r->>'content_sha256',
            v_version, v_supersedes, r->>'source_document_id',
            decode(r->>'source_pdf', 'base64'), (r->>'line')::integer)
    RETURNING id INTO v_credential;
    INSERT INTO audit_events (actor, institution_id, event, subject, details)
    VALUES (p_actor, v_institution,
            CASE WHEN v_supersedes IS NULL THEN 'credential.created'
                 ELSE 'credential.superseded' END,
            'credential:' || v_credential,
            jsonb_strip_nulls(jsonb_build_object(
              'student_id', r->>'student_id', 'credential_key', r->>'key',
              'version', v_version, 'batch', p_batch, 'line', (r->>'line')::integer,
              'supersedes', v_supersedes)));

    -- The outbox: one email per student per batch, to the best address we have.
    IF p_invitations THEN
      SELECT e.id INTO v_email FROM student_emails e
       WHERE e.student = v_student AND e.status = 'active'
       ORDER BY e.is_primary DESC, (e.kind = 'institutional') DESC, e.id LIMIT 1;
      SELECT st.activated_at IS NOT NULL INTO v_activated FROM students st WHERE st.id = v_student;
      -- Coalesce into a pending invitation only while nothing of it has been queued: its
      -- email, when it goes, lists every current document of the student.
      IF v_email IS NOT NULL AND (NOT v_activated OR p_notices)
         AND NOT EXISTS (SELECT 1 FROM invitations i
                          WHERE i.student = v_student AND i.state = 'pending'
                            AND NOT EXISTS (SELECT 1 FROM mail_outbox o
                                             WHERE o.invitation = i.id)) THEN
        INSERT INTO invitations (student, batch, email, kind, state, send_after)
        VALUES (v_student, p_batch, v_email,
                CASE WHEN v_activated THEN 'notice' ELSE 'invitation' END, 'pending', now())
        ON CONFLICT (student, batch, kind) DO NOTHING;
      END IF;
    END IF;

    v_accepted := v_accepted + 1;
    outcome := 'stored';
    version := v_version;
    RETURN NEXT;
  END LOOP;

  INSERT INTO batch_errors (batch, line, col, field, message, severity)
  SELECT p_batch, (e->>'line')::integer, NULLIF((e->>'column')::integer, 0), e->>'field',
         e->>'message', e->>'severity'
    FROM jsonb_array_elements(p_errors) e;

  UPDATE batches
     SET total = total + p_total, accepted = accepted + v_accepted,
         rejected = rejected + v_rejected, duplicates = duplicates + v_unchanged,
         records_processed = p_records_processed
   WHERE id = p_batch;
END
$fn$;
