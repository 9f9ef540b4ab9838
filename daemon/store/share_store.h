// What a student sees of their documents, and their shares: the documents of an account
// (grouped by institution by the caller), each one's history read from the audit chain,
// and shares — links that show chosen documents to one recipient until they expire or are
// cancelled, each open and download recorded for the student to see.
// A student reaches only their own documents and shares: every function takes the
// account, and another account's id is simply not found.
// Thread contract: functions use the caller's Store.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "daemon/store/states.h"
#include "daemon/store/store.h"

namespace credd {

struct AccountDocument {
  int64_t id = 0;
  std::string public_id;
  std::string institution_id;
  std::string kind;
  std::string title;
  DocumentStatus status = DocumentStatus::kActive;
  std::string issued_at;       // ISO 8601 UTC.
  std::string revoked_reason;  // When revoked.
  std::string revoked_at;
  std::string superseded_by;  // Public id of the newer version, when superseded.
};

// Every document of the account's students, by institution then newest first.
Result<std::vector<AccountDocument>> AccountDocuments(Store& store, int64_t account);
// One of them (by public id); nothing when it is not the account's.
Result<std::optional<AccountDocument>> AccountDocumentById(Store& store, int64_t account,
                                                           const std::string& public_id);
// The stored signed PDF of one of the account's documents; nothing when not the account's.
Result<std::optional<std::string>> AccountDocumentPdf(Store& store, int64_t account,
                                                      const std::string& public_id);

// One line of a document's history, from the audit chain.
struct HistoryEntry {
  std::string at;     // ISO 8601 UTC.
  std::string event;  // document.issued, document.revoked, share.created, share.opened, ...
  std::string actor;
  std::string detail;    // The reason of a revocation; a share's recipient; ...
  std::string share_id;  // The share's public id, for share events.
};
// Issued, superseded, revoked (with the reason), and each share of it with every open,
// download, cancellation and change of expiry, oldest first.
Result<std::vector<HistoryEntry>> DocumentHistory(Store& store, int64_t document_id);

enum class ShareState { kActive, kExpired, kCancelled };

struct ShareDocument {
  int64_t id = 0;
  std::string public_id;
  std::string institution_id;
  std::string kind;
  std::string title;
  DocumentStatus status = DocumentStatus::kActive;
  std::string issued_at;
  std::string revoked_reason;
};

struct ShareRow {
  int64_t id = 0;
  std::string public_id;
  int64_t account = 0;
  std::string recipient;
  std::string note;
  std::string locale;
  std::string created_at;
  std::string expires_at;
  std::string cancelled_at;
  ShareState state = ShareState::kActive;
  int opens = 0;
  int downloads = 0;
  std::string last_opened_at;
  std::string student_name;  // Who shared it (the account's first student's name).
  std::vector<ShareDocument> documents;
  std::vector<HistoryEntry> events;  // Opens, downloads, changes: the receipts.
};

struct NewShare {
  int64_t account = 0;
  std::vector<std::string> document_ids;  // Public ids; each must be the account's.
  std::string recipient;
  std::string note;
  std::string locale;
  std::string token_sha256;  // Hex of the link's 256-bit capability.
  std::string expires_at;
};
// Makes the share with a "share.created" audit event per document's institution. kNoInput
// when a document is not the account's (nothing is made).
Result<ShareRow> CreateShare(Store& store, const NewShare& share, const std::string& now,
                             const std::string& actor);

// The account's shares, newest first, with counts (no events).
Result<std::vector<ShareRow>> AccountShares(Store& store, int64_t account, const std::string& now);
// One of them with its documents and events; nothing when not the account's.
Result<std::optional<ShareRow>> AccountShare(Store& store, int64_t account,
                                             const std::string& public_id, const std::string& now);

// Cancels (the link answers 410 at once) or changes the expiry of one of the account's
// shares, audited. False when it is not the account's, or already cancelled.
Result<bool> CancelShare(Store& store, int64_t account, const std::string& public_id,
                         const std::string& now, const std::string& actor);
Result<bool> ChangeShareExpiry(Store& store, int64_t account, const std::string& public_id,
                               const std::string& expires_at, const std::string& now,
                               const std::string& actor);

// The recipient's side, by the link's capability. Opening records "share.opened" (when the
// share is live); the documents come with their live status.
Result<std::optional<ShareRow>> OpenShare(Store& store, const std::string& token_sha256,
                                          const std::string& now, const std::string& actor);
// A document's PDF through a live share, recording "share.downloaded". Nothing when the
// share is not live or does not hold that document.
Result<std::optional<std::string>> ShareDownload(Store& store, const std::string& token_sha256,
                                                 const std::string& document_public_id,
                                                 const std::string& now, const std::string& actor);

}  // namespace credd
