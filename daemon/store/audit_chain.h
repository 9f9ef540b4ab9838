// Checking the audit chain (migration 1 links every audit event to the one before it by
// SHA-256), and its anchors: the chain's head recorded outside the database, so a chain a
// superuser recomputed or cut short after an anchor is caught too.
// Thread contract: functions use the caller's Store.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "daemon/store/store.h"

namespace credd {

// The chain's head at a moment: its last event and that event's hash (hex).
struct AuditAnchor {
  std::string at;  // ISO 8601 UTC, when it was taken.
  int64_t seq = 0;
  std::string hash;
  int64_t events = 0;  // How many events the chain held.
};

// One place the chain does not hold, naming the event.
struct AuditBreak {
  int64_t seq = 0;
  std::string occurred_at;
  std::string institution_id;
  std::string event;
  std::string reason;
};

struct AuditChainReport {
  int64_t events = 0;  // Events walked.
  AuditAnchor head;    // The last event walked (at: now).
  bool anchor_checked = false;
  std::vector<AuditBreak> breaks;  // Oldest first; empty when the chain is whole.
};

// Walks the whole chain, oldest first, recomputing each event's hash and its link to the one
// before. An event whose row was altered, or whose predecessor was removed or replaced, is a
// break. With an anchor, the chain must still hold the anchored event with its hash: a tail
// cut short, or recomputed after an edit, is a break naming the anchored event. With an
// institution, only breaks of that institution's events are kept (the anchor's are kept
// whatever the institution: they are the whole chain's).
Result<AuditChainReport> VerifyAuditChain(Store& store, const std::optional<AuditAnchor>& anchor,
                                          const std::string& institution_id);

// The chain's head now, to record as an anchor.
Result<AuditAnchor> AuditHead(Store& store);

// One audit event, as `credctl audit show` prints it.
struct AuditEntry {
  int64_t seq = 0;
  std::string occurred_at;  // ISO 8601 UTC.
  std::string actor;
  std::string event;
  std::string subject;       // "student:S1", "credential:12", "document:40", "share:<uuid>", ...
  std::string details_json;  // The event's details, as JSON text.
};

// A student's history in their institution, oldest first: the events about the student,
// their credentials, documents and invitations, and the shares that hold their documents.
// kNoInput when the institution has no such student.
Result<std::vector<AuditEntry>> StudentAuditHistory(Store& store, const std::string& institution_id,
                                                    const std::string& student_id);

// Anchor lines ("credd-audit-anchor at=... seq=... hash=... events=..."), one per line in a
// file kept outside the database: the line for an anchor, and the last good line of a file's
// text (nothing when there is none).
std::string AnchorLine(const AuditAnchor& anchor);
std::optional<AuditAnchor> LastAnchor(const std::string& text);

// The anchors file. Reading: its last anchor; nullopt when the file does not exist (none
// taken yet); kNoInput when it cannot be read, kData when it holds no anchor line (an
// emptied file is a finding, not a fresh start). Appending: the anchor's line, the file
// made 0640 when missing, synced to disk before it returns; kIo naming the file otherwise.
Result<std::optional<AuditAnchor>> ReadAnchorsFile(const std::string& path);
Status AppendAnchor(const std::string& path, const AuditAnchor& anchor);

}  // namespace credd
