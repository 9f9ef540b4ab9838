-- 0001_initial: the first credd schema.
--
-- Conventions:
--   * Internal keys are bigserial `id`; a foreign key column is named after the entity it
--     points at (`student`, `batch`, `credential`, ...), because `students.student_id` is
--     already the institution's own (SIS) identifier and must not be confused with it.
--   * States are text with CHECK constraints, so `credctl status` and SQL readers see words.
--   * Hex digests are lower-case text; token digests are raw bytea (never shown to people).
--   * Uniqueness constraints, not application checks, make re-runs idempotent: a retried
--     chunk hits ON CONFLICT instead of storing twice.
-- This file is embedded into credd and checksummed: once released, never edit it; add
-- 0002_*.sql instead.

-- Institutions mirror the configuration (SyncInstitutions). Never deleted: documents keep
-- pointing at an institution after it leaves the config.
CREATE TABLE institutions (
  id         text PRIMARY KEY CHECK (id <> ''),
  name_en    text NOT NULL DEFAULT '',
  name_fr    text NOT NULL DEFAULT '',
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- A student as known to one institution; the SIS identifier is unique per institution only.
CREATE TABLE students (
  id               bigserial PRIMARY KEY,
  institution_id   text NOT NULL REFERENCES institutions (id),
  student_id       text NOT NULL CHECK (student_id <> ''),
  family_name      text NOT NULL,
  given_names      text NOT NULL DEFAULT '',
  birth_date       date,
  preferred_locale text NOT NULL DEFAULT 'en' CHECK (preferred_locale IN ('en', 'fr')),
  activated_at     timestamptz,  -- Set when the student redeems an activation token.
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  UNIQUE (institution_id, student_id)
);

-- A student may have an institutional and a personal address; invitations go to the
-- primary one, and move to another when it bounces or is closed.
CREATE TABLE student_emails (
  id         bigserial PRIMARY KEY,
  student    bigint NOT NULL REFERENCES students (id),
  kind       text NOT NULL CHECK (kind IN ('institutional', 'personal')),
  address    text NOT NULL CHECK (position('@' IN address) > 1),
  is_primary boolean NOT NULL DEFAULT false,
  status     text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'bounced', 'closed')),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (student, address)
);
-- At most one primary address per student.
CREATE UNIQUE INDEX student_emails_one_primary ON student_emails (student) WHERE is_primary;
-- `credctl student find --email` matches addresses case-insensitively.
CREATE INDEX student_emails_address ON student_emails (lower(address));

-- One dropped file. A file is identified by the SHA-256 of its content: the same content
-- dropped again becomes a 'duplicate' row pointing at the first (real) batch, and the
-- partial unique index below allows only one real batch per content and institution.
CREATE TABLE batches (
  id             bigserial PRIMARY KEY,
  institution_id text NOT NULL REFERENCES institutions (id),
  sha256         text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
  file_name      text NOT NULL,
  format         text NOT NULL,  -- An importer name (csv, pesc, pdf-manifest); listed in code.
  status         text NOT NULL DEFAULT 'processing'
                 CHECK (status IN ('processing', 'done', 'rejected', 'duplicate')),
  duplicate_of   bigint REFERENCES batches (id),
  total          integer NOT NULL DEFAULT 0 CHECK (total >= 0),
  accepted       integer NOT NULL DEFAULT 0 CHECK (accepted >= 0),
  rejected       integer NOT NULL DEFAULT 0 CHECK (rejected >= 0),
  duplicates     integer NOT NULL DEFAULT 0 CHECK (duplicates >= 0),
  unchanged      integer NOT NULL DEFAULT 0 CHECK (unchanged >= 0),
  error_policy   text NOT NULL DEFAULT 'accept_valid'
                 CHECK (error_policy IN ('accept_valid', 'reject_file')),
  error_message  text,  -- Why a whole file was rejected (record errors are in batch_errors).
  received_at    timestamptz NOT NULL DEFAULT now(),
  finished_at    timestamptz,
  -- A duplicate always names its original, and only duplicates do.
  CHECK ((status = 'duplicate') = (duplicate_of IS NOT NULL))
);
CREATE UNIQUE INDEX batches_one_per_content ON batches (institution_id, sha256)
  WHERE duplicate_of IS NULL;
CREATE INDEX batches_by_status ON batches (status);

-- One rejected record (or file-level problem: line 0) of a batch, as shown in its report.
-- `col` rather than `column`, which is a reserved word.
CREATE TABLE batch_errors (
  id      bigserial PRIMARY KEY,
  batch   bigint NOT NULL REFERENCES batches (id),
  line    integer NOT NULL DEFAULT 0 CHECK (line >= 0),
  col     integer CHECK (col > 0),
  field   text NOT NULL DEFAULT '',
  message text NOT NULL
);
CREATE INDEX batch_errors_by_batch ON batch_errors (batch, line);

-- The imported record as data, before rendering. credential_key is the credential's natural
-- key within the student (e.g. "diploma:BSc-CS"); a changed record gets a new version that
-- supersedes the old, and the same content imported again hits the content uniqueness.
CREATE TABLE credentials (
  id             bigserial PRIMARY KEY,
  student        bigint NOT NULL REFERENCES students (id),
  batch          bigint NOT NULL REFERENCES batches (id),
  kind           text NOT NULL
                 CHECK (kind IN ('transcript', 'diploma', 'certificate', 'attestation')),
  credential_key text NOT NULL CHECK (credential_key <> ''),
  title          text NOT NULL,
  program        text NOT NULL DEFAULT '',
  issued_on      date,
  locale         text NOT NULL DEFAULT 'en' CHECK (locale IN ('en', 'fr')),
  data           jsonb NOT NULL DEFAULT '{}'::jsonb,  -- Courses, grades, GPA, ... as imported.
  content_sha256 text NOT NULL CHECK (content_sha256 ~ '^[0-9a-f]{64}$'),
  version        integer NOT NULL DEFAULT 1 CHECK (version >= 1),
  supersedes     bigint REFERENCES credentials (id),
  status         text NOT NULL DEFAULT 'active'
                 CHECK (status IN ('active', 'superseded', 'revoked')),
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now(),
  CHECK (supersedes IS NULL OR version > 1),
  UNIQUE (student, credential_key, version),
  UNIQUE (student, credential_key, content_sha256)
);
-- Superseding marks the old version first, then inserts the new one.
CREATE UNIQUE INDEX credentials_one_active ON credentials (student, credential_key)
  WHERE status = 'active';
CREATE INDEX credentials_by_batch ON credentials (batch);

-- A signed PDF. Never altered once stored (the signature covers it): only its status
-- changes, when it is superseded by a newer version or revoked.
CREATE TABLE documents (
  id             bigserial PRIMARY KEY,
  public_id      uuid NOT NULL UNIQUE DEFAULT gen_random_uuid(),  -- In URLs and on the PDF.
  credential     bigint NOT NULL REFERENCES credentials (id),
  version        integer NOT NULL DEFAULT 1 CHECK (version >= 1),
  supersedes     bigint REFERENCES documents (id),
  status         text NOT NULL DEFAULT 'active'
                 CHECK (status IN ('active', 'superseded', 'revoked')),
  revoked_reason text,
  revoked_at     timestamptz,
  sha256         text NOT NULL UNIQUE CHECK (sha256 ~ '^[0-9a-f]{64}$'),  -- Of the signed PDF.
  pdf            bytea NOT NULL,
  key_id         text NOT NULL,  -- The signing key, so retired keys stay verifiable.
  issued_at      timestamptz NOT NULL DEFAULT now(),
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now(),
  CHECK (status <> 'revoked' OR revoked_reason IS NOT NULL),
  UNIQUE (credential, version)
);
CREATE UNIQUE INDEX documents_one_active ON documents (credential) WHERE status = 'active';

-- One email per student per batch (however many documents), plus reminders. Only the
-- SHA-256 of the activation token is stored; a notice (new documents for an already active
-- student) carries no token. Manual resends have no batch, so the NULL batch is not
-- constrained by the UNIQUE below (NULLs are distinct).
CREATE TABLE invitations (
  id               bigserial PRIMARY KEY,
  student          bigint NOT NULL REFERENCES students (id),
  batch            bigint REFERENCES batches (id),
  email            bigint NOT NULL REFERENCES student_emails (id),
  kind             text NOT NULL DEFAULT 'invitation' CHECK (kind IN ('invitation', 'notice')),
  token_sha256     bytea UNIQUE CHECK (octet_length(token_sha256) = 32),
  state            text NOT NULL DEFAULT 'pending'
                   CHECK (state IN ('pending', 'sent', 'reminded', 'activated', 'expired',
                                    'bounced', 'cancelled')),
  send_after       timestamptz NOT NULL DEFAULT now(),
  attempts         integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  reminders_sent   integer NOT NULL DEFAULT 0 CHECK (reminders_sent >= 0),
  next_reminder_at timestamptz,
  expires_at       timestamptz,
  lease_owner      text,  -- The daemon that claimed the row (FOR UPDATE SKIP LOCKED) ...
  lease_until      timestamptz,  -- ... until when; an expired lease may be claimed again.
  last_error       text,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  UNIQUE (student, batch, kind)
);
-- The scheduler's two scans: due first sends, and due reminders.
CREATE INDEX invitations_due ON invitations (state, send_after);
CREATE INDEX invitations_reminders_due ON invitations (next_reminder_at)
  WHERE state IN ('sent', 'reminded');
CREATE INDEX invitations_by_student ON invitations (student);

-- One message to hand to SMTP (or the maildir). message_id is derived from the invitation,
-- so a retry is recognisable as the same message.
CREATE TABLE mail_outbox (
  id              bigserial PRIMARY KEY,
  invitation      bigint NOT NULL REFERENCES invitations (id),
  message_id      text NOT NULL UNIQUE,
  recipient       text NOT NULL,
  status          text NOT NULL DEFAULT 'queued'
                  CHECK (status IN ('queued', 'sending', 'sent', 'deferred', 'failed')),
  attempts        integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  last_reply      text,  -- The server's last reply line (4xx/5xx), for reports.
  lease_owner     text,
  lease_until     timestamptz,
  sent_at         timestamptz,
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX mail_outbox_due ON mail_outbox (status, next_attempt_at);
CREATE INDEX mail_outbox_by_invitation ON mail_outbox (invitation);

-- Tamper-evident history. Append-only (the triggers below refuse UPDATE, DELETE and
-- TRUNCATE) and hash-chained: each row's hash covers the previous row's hash and a canonical
-- text of the row, so editing or removing a row (e.g. with triggers disabled by a superuser)
-- breaks the chain, which `credctl audit verify` recomputes with audit_event_hash().
CREATE TABLE audit_events (
  seq            bigserial PRIMARY KEY,  -- Chain order; assigned by the trigger, see below.
  occurred_at    timestamptz NOT NULL DEFAULT now(),
  actor          text NOT NULL,  -- "credd@host", "credctl:alice", ...
  institution_id text,  -- No foreign key: history may name what no longer exists.
  event          text NOT NULL,  -- "batch.done", "document.revoked", ...
  subject        text NOT NULL DEFAULT '',  -- What it is about: a batch, document, student.
  details        jsonb NOT NULL DEFAULT '{}'::jsonb,
  prev_hash      bytea,  -- NULL only for the first row.
  hash           bytea NOT NULL
);
CREATE INDEX audit_events_by_subject ON audit_events (subject);

-- The hash of one row. The canonical text is a JSON array, so field boundaries are
-- unambiguous; the time is rendered in UTC with to_char, so neither TimeZone nor DateStyle
-- of the session changes it; jsonb's text form is normalised (key order, spacing).
CREATE FUNCTION audit_event_hash(prev_hash bytea, seq bigint, occurred_at timestamptz,
                                 actor text, institution_id text, event text, subject text,
                                 details jsonb)
RETURNS bytea
LANGUAGE sql STABLE
AS $fn$
  SELECT sha256(coalesce(prev_hash, ''::bytea) || convert_to(
    jsonb_build_array(seq,
                      to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
                      actor, institution_id, event, subject, details)::text,
    'UTF8'))
$fn$;

-- Links a new row into the chain. The transaction-level advisory lock serialises writers
-- until they commit, so "the last row" cannot change under us. seq is drawn AFTER taking
-- the lock (overriding the column default, which was evaluated before this trigger ran):
-- otherwise two writers could commit in the opposite order of their seq and the chain would
-- not follow seq. The last row is only visible after the lock when each statement takes a
-- fresh snapshot, i.e. under READ COMMITTED; under REPEATABLE READ or SERIALIZABLE the read
-- could be stale and fork the chain, so those are refused.
CREATE FUNCTION audit_events_chain() RETURNS trigger
LANGUAGE plpgsql
AS $fn$
DECLARE
  last_hash bytea;
BEGIN
  IF current_setting('transaction_isolation') <> 'read committed' THEN
    RAISE EXCEPTION 'audit_events: insert under READ COMMITTED only (isolation is %)',
      current_setting('transaction_isolation')
      USING ERRCODE = 'object_not_in_prerequisite_state';
  END IF;
  -- 0x63726564 = 'cred': an arbitrary key reserved for the audit chain.
  PERFORM pg_advisory_xact_lock(1668441444, 1);
  NEW.seq := nextval(pg_get_serial_sequence('audit_events', 'seq'));
  SELECT a.hash INTO last_hash FROM audit_events a ORDER BY a.seq DESC LIMIT 1;
  NEW.prev_hash := last_hash;
  NEW.hash := audit_event_hash(NEW.prev_hash, NEW.seq, NEW.occurred_at, NEW.actor,
                               NEW.institution_id, NEW.event, NEW.subject, NEW.details);
  RETURN NEW;
END
$fn$;

CREATE TRIGGER audit_events_chain BEFORE INSERT ON audit_events
  FOR EACH ROW EXECUTE FUNCTION audit_events_chain();

CREATE FUNCTION audit_events_refuse_change() RETURNS trigger
LANGUAGE plpgsql
AS $fn$
BEGIN
  RAISE EXCEPTION 'audit_events is append-only: % refused', TG_OP
    USING ERRCODE = 'insufficient_privilege';
END
$fn$;

CREATE TRIGGER audit_events_no_update_delete BEFORE UPDATE OR DELETE ON audit_events
  FOR EACH ROW EXECUTE FUNCTION audit_events_refuse_change();
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
  FOR EACH STATEMENT EXECUTE FUNCTION audit_events_refuse_change();

-- The owner (credd's role) keeps its privileges, and the triggers are the real guard; this
-- makes sure no broader grant given later lets other roles rewrite history.
REVOKE UPDATE, DELETE, TRUNCATE ON audit_events FROM PUBLIC;
