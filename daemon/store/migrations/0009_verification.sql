-- 0009_verification: what public verification asks of a document, answered by index.
--
-- Verifying a superseded document names the document that replaced it: the one whose
-- `supersedes` points at it. Without an index that is a scan of every document for each
-- such request, which the HTTP verify endpoint must not cost.
CREATE INDEX documents_supersedes ON documents (supersedes) WHERE supersedes IS NOT NULL;
