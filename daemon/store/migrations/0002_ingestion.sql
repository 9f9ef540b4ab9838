-- 0002_ingestion: what the ingestion pipeline needs beyond the first schema.
--
-- * batches.records_processed: how many importer events (records, errors, warnings) the
--   committed chunks of this batch have consumed. It is written in the same transaction as
--   the chunk, so after a crash the resumed import skips exactly what is already stored.
-- * batch_errors.severity: warnings (tolerated deviations) go in the report too.
-- * credentials.source_document_id / source_pdf: the sender's document id (PESC DocumentID)
--   and, for pdf-manifest inputs, the institution's PDF exactly as given, until it is signed.
-- * A credential may return to an earlier content (A, then B, then A again): each is a new
--   version, so content is no longer unique per credential key. "Unchanged" means equal to
--   the ACTIVE version, which the pipeline checks under the one-active index.

ALTER TABLE batches ADD COLUMN records_processed integer NOT NULL DEFAULT 0
  CHECK (records_processed >= 0);

ALTER TABLE batch_errors ADD COLUMN severity text NOT NULL DEFAULT 'error'
  CHECK (severity IN ('error', 'warning'));

ALTER TABLE credentials ADD COLUMN source_document_id text NOT NULL DEFAULT '';
ALTER TABLE credentials ADD COLUMN source_pdf bytea;
ALTER TABLE credentials DROP CONSTRAINT credentials_student_credential_key_content_sha256_key;

-- The line of the record a credential version came from, so a second row for the same
-- credential in the same file can be reported as "duplicate of line N".
ALTER TABLE credentials ADD COLUMN source_line integer NOT NULL DEFAULT 0 CHECK (source_line >= 0);

-- The error list of a report is in file order.
CREATE INDEX batch_errors_in_file_order ON batch_errors (batch, line, id);

-- Stores one chunk of validated records in ONE round trip: per record, upsert the student
-- and their addresses, then write a new credential version unless the active version has
-- the same content (unchanged) or came from this same batch (a repeated row in one file).
-- Also records the chunk's errors and advances the batch's counters and records_processed,
-- so the caller's COMMIT makes all of it durable at once. Returns one row per record:
-- ordinal (as given), outcome (stored, unchanged, duplicate_in_file) and version.
--
-- p_records: [{ordinal, line, student_id, family_name, given_names, birth_date, email,
--   personal_email, locale, kind, key, title, program, issued_on, data, content_sha256,
--   source_document_id, source_pdf (base64 or absent)}]
-- p_errors: [{line, column, field, message, severity}]
CREATE FUNCTION credd_store_chunk(p_batch bigint, p_actor text, p_records jsonb,
                                  p_errors jsonb, p_records_processed integer,
                                  p_total integer, p_rejected integer)
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
