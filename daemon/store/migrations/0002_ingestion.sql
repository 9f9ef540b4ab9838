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
