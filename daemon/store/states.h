// The states the database keeps as words (CHECK constraints on text columns, so SQL readers
// and `credctl status` see words) and the enums the code uses for them, each with its one
// table of names. states_pgtest checks every table against its column's CHECK constraint,
// so a row read back always parses and a word the code writes is always accepted.
// Thread contract: constant data.
#pragma once

#include "common/enum_table.h"

namespace credd {

// batches.status. A report says done, rejected or duplicate; processing is in flight.
enum class BatchStatus { kProcessing, kDone, kRejected, kDuplicate };
inline constexpr EnumTable<BatchStatus, 4> kBatchStatuses{{{
    {BatchStatus::kProcessing, "processing"},
    {BatchStatus::kDone, "done"},
    {BatchStatus::kRejected, "rejected"},
    {BatchStatus::kDuplicate, "duplicate"},
}}};

// documents.status and credentials.status: never altered, only superseded or revoked.
enum class DocumentStatus { kActive, kSuperseded, kRevoked };
inline constexpr EnumTable<DocumentStatus, 3> kDocumentStatuses{{{
    {DocumentStatus::kActive, "active"},
    {DocumentStatus::kSuperseded, "superseded"},
    {DocumentStatus::kRevoked, "revoked"},
}}};

// invitations.state: an invitation's life, from queued for its first email to its end.
enum class InvitationState {
  kPending,    // Waiting for its documents and its first send window.
  kSent,       // The first email went out.
  kReminded,   // At least one reminder went out.
  kActivated,  // The student activated: no more reminders.
  kExpired,    // Its last token expired unanswered.
  kBounced,    // Its address bounced, with no personal address to send it to instead.
  kCancelled,  // Withdrawn: no more emails (the schema allows it; nothing sets it yet).
};
inline constexpr EnumTable<InvitationState, 7> kInvitationStates{{{
    {InvitationState::kPending, "pending"},
    {InvitationState::kSent, "sent"},
    {InvitationState::kReminded, "reminded"},
    {InvitationState::kActivated, "activated"},
    {InvitationState::kExpired, "expired"},
    {InvitationState::kBounced, "bounced"},
    {InvitationState::kCancelled, "cancelled"},
}}};

// mail_outbox.status: one email's delivery.
enum class OutboxState { kQueued, kSending, kSent, kDeferred, kFailed };
inline constexpr EnumTable<OutboxState, 5> kOutboxStates{{{
    {OutboxState::kQueued, "queued"},
    {OutboxState::kSending, "sending"},  // Claimed under a lease.
    {OutboxState::kSent, "sent"},
    {OutboxState::kDeferred, "deferred"},  // A temporary failure: tried again after a backoff.
    {OutboxState::kFailed, "failed"},      // Permanently refused, or out of attempts.
}}};

// mail_outbox.kind: the names are the database's and the logs'.
// The last three are account mail: rendered when asked for, queued whole, sent at once.
enum class MailKind {
  kInvitation,
  kReminder,
  kNotice,
  kResend,
  kShare,
  kEmailConfirm,
  kPasswordReset
};
inline constexpr EnumTable<MailKind, 7> kMailKinds{{{
    {MailKind::kInvitation, "invitation"},
    {MailKind::kReminder, "reminder"},
    {MailKind::kNotice, "notice"},  // New documents for a student who already activated.
    {MailKind::kResend, "resend"},  // credctl invite resend: a first email again.
    {MailKind::kShare, "share"},    // A student's share, to its recipient.
    {MailKind::kEmailConfirm, "email_confirm"},    // An address the student added.
    {MailKind::kPasswordReset, "password_reset"},  // "Can't sign in?"
}}};

// student_emails.status: whether mail may go to an address and it may sign in.
enum class EmailStatus { kActive, kBounced, kClosed };
inline constexpr EnumTable<EmailStatus, 3> kEmailStatuses{{{
    {EmailStatus::kActive, "active"},
    {EmailStatus::kBounced, "bounced"},  // The relay said the mailbox does not exist.
    {EmailStatus::kClosed, "closed"},    // Marked by staff (the institution closed it).
}}};

// staff.role: what a member of staff may do, each including the one before.
enum class StaffRole { kViewer, kSupport, kRegistrar };
inline constexpr EnumTable<StaffRole, 3> kStaffRoles{{{
    {StaffRole::kViewer, "viewer"},        // Reads batches, students and documents.
    {StaffRole::kSupport, "support"},      // Resends invitations, adds and closes addresses.
    {StaffRole::kRegistrar, "registrar"},  // Revokes and reissues documents.
}}};

// staff.kind: how a member of staff signs in.
enum class StaffKind { kSso, kLocal };
inline constexpr EnumTable<StaffKind, 2> kStaffKinds{{{
    {StaffKind::kSso, "sso"},      // The trusted proxy's header names them.
    {StaffKind::kLocal, "local"},  // A username and password kept here.
}}};

// sessions.via: how a session began (the desk and the audit trail show it).
enum class SessionVia { kPassword, kSso, kActivation, kReset };
inline constexpr EnumTable<SessionVia, 4> kSessionVias{{{
    {SessionVia::kPassword, "password"},
    {SessionVia::kSso, "sso"},
    {SessionVia::kActivation, "activation"},
    {SessionVia::kReset, "reset"},
}}};

}  // namespace credd
