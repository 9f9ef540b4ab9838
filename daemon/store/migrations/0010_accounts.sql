-- 0010_accounts: people. Students activate an account from their invitation, sign in, see
-- their documents and share them; registrar staff answer their questions from a desk.
--
-- An account is a person: it holds the students rows (one per institution) whose addresses
-- it has proved. Secrets are stored only as hashes (argon2id for passwords, SHA-256 for the
-- 256-bit tokens in links and cookies), so a copy of the database opens no account.

CREATE TABLE accounts (
  id                  bigserial PRIMARY KEY,
  password_hash       text,  -- argon2id, PHC string; NULL until set (and for SSO-only people).
  password_changed_at timestamptz,
  preferred_locale    text NOT NULL DEFAULT 'en' CHECK (preferred_locale IN ('en', 'fr')),
  failed_logins       integer NOT NULL DEFAULT 0 CHECK (failed_logins >= 0),
  failed_since        timestamptz,  -- Start of the current run of failed sign-ins.
  created_at          timestamptz NOT NULL DEFAULT now(),
  updated_at          timestamptz NOT NULL DEFAULT now(),
  CHECK (password_hash IS NULL OR password_hash LIKE '$argon2id$%')
);

ALTER TABLE students ADD COLUMN account bigint REFERENCES accounts (id);
CREATE INDEX students_by_account ON students (account) WHERE account IS NOT NULL;

-- Addresses from the SIS count as they come (confirmed when inserted); one a student adds
-- counts only once its confirmation link is used.
ALTER TABLE student_emails ADD COLUMN confirmed_at timestamptz DEFAULT now();
ALTER TABLE student_emails ADD COLUMN added_by text NOT NULL DEFAULT 'sis'
  CHECK (added_by IN ('sis', 'student', 'staff'));
ALTER TABLE student_emails ADD CHECK (added_by <> 'sis' OR confirmed_at IS NOT NULL);

-- The short access code printed in the invitation beside its link: typed with the email
-- address, it activates like the link, a few tries and then it is void.
ALTER TABLE invitations ADD COLUMN access_code_sha256 bytea
  CHECK (octet_length(access_code_sha256) = 32);
ALTER TABLE invitations ADD COLUMN access_code_tries integer NOT NULL DEFAULT 0
  CHECK (access_code_tries >= 0);

CREATE TABLE staff (
  id            bigserial PRIMARY KEY,
  username      text NOT NULL UNIQUE CHECK (username <> ''),  -- SSO: the header's value.
  display_name  text NOT NULL DEFAULT '',
  kind          text NOT NULL CHECK (kind IN ('sso', 'local')),
  password_hash text CHECK (password_hash IS NULL OR password_hash LIKE '$argon2id$%'),
  role          text NOT NULL CHECK (role IN ('viewer', 'support', 'registrar')),
  institutions  text[] NOT NULL CHECK (cardinality(institutions) > 0),
  failed_logins integer NOT NULL DEFAULT 0 CHECK (failed_logins >= 0),
  failed_since  timestamptz,
  disabled_at   timestamptz,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  CHECK (kind = 'sso' OR password_hash IS NOT NULL)
);

-- Sign-in compares usernames without case (an SSO header may change it), so two staff
-- may not differ only in case.
CREATE UNIQUE INDEX staff_username_folded ON staff (lower(username));

-- Server-side sessions: the cookie holds a 256-bit token, the table its SHA-256.
CREATE TABLE sessions (
  id           bigserial PRIMARY KEY,
  token_sha256 bytea NOT NULL UNIQUE CHECK (octet_length(token_sha256) = 32),
  account      bigint REFERENCES accounts (id),
  staff        bigint REFERENCES staff (id),
  csrf_token   text NOT NULL CHECK (length(csrf_token) >= 32),
  client       text NOT NULL DEFAULT '',
  via          text NOT NULL CHECK (via IN ('password', 'sso', 'activation', 'reset')),
  created_at   timestamptz NOT NULL DEFAULT now(),
  last_seen_at timestamptz NOT NULL DEFAULT now(),
  expires_at   timestamptz NOT NULL,  -- The absolute timeout.
  ended_at     timestamptz,           -- Signed out, reset, or idle past its limit.
  CHECK ((account IS NULL) <> (staff IS NULL))
);
CREATE INDEX sessions_by_account ON sessions (account) WHERE ended_at IS NULL;
CREATE INDEX sessions_by_staff ON sessions (staff) WHERE ended_at IS NULL;

-- Single-use tokens mailed to a person: a password reset, or the confirmation of an
-- address the student added.
CREATE TABLE account_tokens (
  id           bigserial PRIMARY KEY,
  token_sha256 bytea NOT NULL UNIQUE CHECK (octet_length(token_sha256) = 32),
  account      bigint NOT NULL REFERENCES accounts (id),
  purpose      text NOT NULL CHECK (purpose IN ('password_reset', 'email_confirm')),
  email        bigint REFERENCES student_emails (id),  -- The address to confirm.
  expires_at   timestamptz NOT NULL,
  used_at      timestamptz,
  created_at   timestamptz NOT NULL DEFAULT now(),
  CHECK (purpose <> 'email_confirm' OR email IS NOT NULL)
);
CREATE INDEX account_tokens_by_account ON account_tokens (account, purpose) WHERE used_at IS NULL;

-- A share: a link that shows chosen documents to one recipient until it expires or the
-- student cancels it. The link's capability is stored only as its SHA-256.
CREATE TABLE shares (
  id           bigserial PRIMARY KEY,
  public_id    uuid NOT NULL UNIQUE DEFAULT gen_random_uuid(),  -- In the student's own URLs.
  account      bigint NOT NULL REFERENCES accounts (id),
  token_sha256 bytea NOT NULL UNIQUE CHECK (octet_length(token_sha256) = 32),
  recipient    text NOT NULL CHECK (position('@' IN recipient) > 1),
  note         text NOT NULL DEFAULT '' CHECK (length(note) <= 1000),
  locale       text NOT NULL DEFAULT 'en' CHECK (locale IN ('en', 'fr')),
  expires_at   timestamptz NOT NULL,
  cancelled_at timestamptz,
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX shares_by_account ON shares (account, created_at);

CREATE TABLE share_documents (
  share    bigint NOT NULL REFERENCES shares (id),
  document bigint NOT NULL REFERENCES documents (id),
  PRIMARY KEY (share, document)
);
CREATE INDEX share_documents_by_document ON share_documents (document);

-- Share, confirmation and reset emails are rendered when asked for and queued whole: they
-- have no invitation, go out at once (outside the invitation windows, under the global
-- limits), and their message, which holds a link's token, is wiped once it is sent or fails.
ALTER TABLE mail_outbox ALTER COLUMN invitation DROP NOT NULL;
ALTER TABLE mail_outbox DROP CONSTRAINT mail_outbox_kind_check;
ALTER TABLE mail_outbox ADD CONSTRAINT mail_outbox_kind_check
  CHECK (kind IN ('invitation', 'reminder', 'notice', 'resend', 'share', 'email_confirm',
                  'password_reset'));
ALTER TABLE mail_outbox ADD COLUMN message bytea;
ALTER TABLE mail_outbox ADD COLUMN envelope_from text;
-- Invitation mail has its invitation, and only invitation mail (NOT IN, so that the kind's
-- word list stays in one `kind IN (...)` constraint: states_pgtest reads it).
ALTER TABLE mail_outbox ADD CHECK (invitation IS NOT NULL OR
                                   kind NOT IN ('invitation', 'reminder', 'notice', 'resend'));
ALTER TABLE mail_outbox ADD CHECK (invitation IS NULL OR
                                   kind NOT IN ('share', 'email_confirm', 'password_reset'));
ALTER TABLE mail_outbox ADD CHECK (invitation IS NOT NULL OR message IS NOT NULL OR
                                   status NOT IN ('queued', 'sending', 'deferred'));
CREATE INDEX mail_outbox_direct_due ON mail_outbox (status, next_attempt_at)
  WHERE invitation IS NULL;
