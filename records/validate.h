// Business rules every record must pass, whatever format it came in: required fields,
// email syntax, real calendar dates, locale, credential types, length limits, and no
// CR/LF/NUL in any value (values reach email headers). Also normalises accepted text to
// Unicode NFC, so visually equal names are equal bytes.
// Thread contract: pure functions.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "records/record.h"

namespace credd {

// Credential types credd issues.
inline constexpr std::string_view kCredentialTypes[] = {"transcript", "diploma", "certificate",
                                                        "attestation"};

// A credential type as a reader sees it, in "en" or "fr" (any other locale is English):
// emails and pages say "relevé de notes", never the English word. An unknown type is
// shown as it is.
std::string CredentialTypeWord(std::string_view type, std::string_view locale);

// A credential title on one line: its kept line breaks become spaces, where a line break
// has no place (an email's list of documents, the PDF's metadata, a credential's key).
std::string TitleOnOneLine(std::string_view title);

struct ValidationOptions {
  std::string today;  // ISO date of "today" in the institution's zone: issued_on may not be later.
  // PESC transcripts often carry no email; their students may already be known, or get an
  // address later (credctl student add-email). CSV and manifests must name one.
  bool require_email = true;
  std::string default_locale = "en";  // The institution's, for records that name none.
};

// Checks `record` and normalises it in place (trims surrounding white space, NFC, fills
// preferred_locale from options.default_locale, lower-cases email domains). Returns every
// problem found, each with the record's line and the credd field name; empty = valid.
std::vector<RecordError> ValidateRecord(CredentialRecord& record, const ValidationOptions& options);

// True when `text` is a real calendar date written YYYY-MM-DD.
bool IsIsoDate(std::string_view text);

// True when `address` is an addr-spec credd will put in an envelope: one '@', a dot-atom
// or quoted local part, a domain of LDH labels with a dot, at most 254 bytes, no
// white space or control characters.
bool IsValidEmail(std::string_view address);

}  // namespace credd
