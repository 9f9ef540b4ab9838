-- 0007_pdf_storage: PDFs are stored out of line and not compressed again.
--
-- A signed PDF is already compressed (its streams are deflated), so PostgreSQL's TOAST
-- compression (pglz) spent a tenth of all CPU while documents were issued and saved
-- nothing. EXTERNAL keeps them out of line, as before, without compressing. It applies to
-- rows written from now on; rows already stored stay as they are (both read the same).
ALTER TABLE documents ALTER COLUMN pdf SET STORAGE EXTERNAL;
ALTER TABLE credentials ALTER COLUMN source_pdf SET STORAGE EXTERNAL;
