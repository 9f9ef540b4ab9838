-- 0005_conditions: what needs a person, kept where every credd and credctl can see it.
--
-- * conditions: one row per institution and kind while it lasts. 'drop_folder': credd
--   cannot use the institution's drop folders (permissions, a read-only or foreign
--   filesystem); the daemon sets it when a claim or move fails and clears it when one
--   succeeds. 'mail_paused': the relay refused several messages in a row on policy grounds
--   (relaying denied, say); sending stops until SIGHUP or `credctl mail resume`.
-- * signing_keys.key_reference never holds a PKCS#11 PIN: older rows are scrubbed.

CREATE TABLE conditions (
  institution_id text NOT NULL REFERENCES institutions (id),
  kind           text NOT NULL CHECK (kind IN ('drop_folder', 'mail_paused')),
  detail         text NOT NULL,
  since          timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (institution_id, kind)
);

UPDATE signing_keys
   SET key_reference = regexp_replace(
         regexp_replace(key_reference, '([;&])pin-value=[^;?&]*|pin-value=[^;?&]*[;&]?', '', 'g'),
         '\?$', '')
 WHERE key_reference LIKE 'pkcs11:%' AND key_reference LIKE '%pin-value%';
