-- 0003_documents: signing keys, and what issuing documents needs.
--
-- * signing_keys: every key this installation has signed with. The active one signs; a
--   retired one stays so that documents it signed still verify. Only certificates are
--   stored (what verification trusts), never key material: key_reference says where the
--   private key lives (a file path or a pkcs11: URI).
-- * documents.key_id now names a known key.
-- * documents.locale: the language the document was rendered in.

CREATE TABLE signing_keys (
  key_id           text PRIMARY KEY CHECK (key_id ~ '^[0-9a-f]{64}$'),  -- SHA-256 of the leaf DER.
  certificates_pem text NOT NULL,  -- Leaf first, then its chain.
  subject          text NOT NULL,
  key_reference    text NOT NULL DEFAULT '',
  not_before       timestamptz NOT NULL,
  not_after        timestamptz NOT NULL,
  status           text NOT NULL DEFAULT 'retired' CHECK (status IN ('active', 'retired')),
  added_at         timestamptz NOT NULL DEFAULT now(),
  retired_at       timestamptz,
  CHECK (not_before < not_after)
);
-- One key signs at a time.
CREATE UNIQUE INDEX signing_keys_one_active ON signing_keys ((true)) WHERE status = 'active';

ALTER TABLE documents ADD CONSTRAINT documents_key_id_fkey
  FOREIGN KEY (key_id) REFERENCES signing_keys (key_id);
ALTER TABLE documents ADD COLUMN locale text NOT NULL DEFAULT 'en'
  CHECK (locale IN ('en', 'fr'));
-- The issuer's scan: active credentials without a document.
CREATE INDEX documents_by_credential ON documents (credential);
