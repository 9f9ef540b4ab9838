// What makes two records the same credential, and the same content: the credential key
// (the natural key of a credential within one student) and the content hash (what the
// signed document would show). Thread contract: pure functions.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "records/record.h"

namespace credd {

// "transcript" for transcripts (a student has one transcript, re-issued as new versions);
// "<type>:<title>:<program>" for the others, case-folded, so a corrected diploma supersedes
// the one it corrects while a second, different diploma stands beside it.
std::string CredentialKey(const CredentialRecord& record);

// Everything the document shows (names, birth date, credential, transcript detail, and the
// SHA-256 of a supplied PDF), as JSON with a fixed key order. Emails are not content.
nlohmann::json CredentialData(const CredentialRecord& record);

// The inverse of CredentialData: a record carrying what the document shows, for rendering
// a stored credential. Emails and the source line are not in the data and stay empty.
CredentialRecord RecordFromData(const nlohmann::json& data);

// Hex SHA-256 of CredentialData's compact text: equal content gives an equal hash.
std::string ContentSha256(const CredentialRecord& record);

}  // namespace credd
