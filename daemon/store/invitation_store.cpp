#include "daemon/store/invitation_store.h"

#include "daemon/store/database.h"
#include "daemon/store/internal/audit.h"
#include "daemon/store/internal/pq.h"

namespace credd {
namespace {

// A pending invitation is ready when every active credential of its student and batch has
// an active document: the email lists them.
// To the student's best active address now (the invitation's, unless it has bounced since).
// Ready when every active credential of the student has an active document (the email lists
// them all), or a day after it was due: a document that cannot be issued must not hold the
// email back for ever.
constexpr const char* kBestAddress =
    "JOIN LATERAL (SELECT a.id, a.address FROM student_emails a WHERE a.student = i.student "
    "AND a.status = 'active' ORDER BY (a.id = i.email) DESC, a.is_primary DESC, "
    "(a.kind = 'institutional') DESC, a.id LIMIT 1) e ON true ";
const std::string kQueueFirst =
    std::string(
        "INSERT INTO mail_outbox (invitation, message_id, recipient, status, kind, "
        "institution_id, email, next_attempt_at) "
        "SELECT i.id, 'inv' || i.id || '.0@' || $3, e.address, 'queued', "
        "CASE i.kind WHEN 'notice' THEN 'notice' ELSE 'invitation' END, s.institution_id, e.id, "
        "$2::timestamptz "
        "FROM invitations i JOIN students s ON s.id = i.student ") +
    kBestAddress +
    "WHERE s.institution_id = $1 AND i.state = 'pending' AND i.send_after <= $2::timestamptz "
    "AND NOT EXISTS (SELECT 1 FROM mail_outbox o WHERE o.invitation = i.id) "
    "AND (i.send_after < $2::timestamptz - interval '1 day' OR NOT EXISTS ("
    "  SELECT 1 FROM credentials c WHERE c.student = i.student AND c.status = 'active' "
    "  AND NOT EXISTS (SELECT 1 FROM documents d WHERE d.credential = c.id "
    "                  AND d.status = 'active'))) "
    "ON CONFLICT (message_id) DO NOTHING";
const std::string kQueueReminders =
    std::string(
        "INSERT INTO mail_outbox (invitation, message_id, recipient, status, kind, "
        "institution_id, email, next_attempt_at) "
        "SELECT i.id, 'inv' || i.id || '.' || (i.reminders_sent + 1) || '@' || $3, e.address, "
        "'queued', 'reminder', s.institution_id, e.id, $2::timestamptz "
        "FROM invitations i JOIN students s ON s.id = i.student ") +
    kBestAddress +
    "WHERE s.institution_id = $1 AND i.kind = 'invitation' AND i.state IN ('sent', 'reminded') "
    "AND i.next_reminder_at <= $2::timestamptz AND i.reminders_sent < $4 "
    "AND NOT EXISTS (SELECT 1 FROM mail_outbox o WHERE o.invitation = i.id "
    "                AND o.status IN ('queued', 'sending', 'deferred')) "
    "ON CONFLICT (message_id) DO NOTHING";
constexpr const char* kExpire =
    "UPDATE invitations i SET state = 'expired', updated_at = now() FROM students s "
    "WHERE s.id = i.student AND s.institution_id = $1 AND i.state IN ('sent', 'reminded') "
    "AND i.expires_at <= $2::timestamptz "
    "AND (i.next_reminder_at IS NULL OR i.reminders_sent >= $3)";
constexpr const char* kLocalTime =
    "SELECT extract(isodow FROM $1::timestamptz AT TIME ZONE $2)::int, "
    "to_char($1::timestamptz AT TIME ZONE $2, 'HH24:MI'), "
    "to_char($1::timestamptz AT TIME ZONE $2, 'YYYY-MM-DD')";
constexpr const char* kCountInWindow =
    "SELECT count(*) FROM mail_outbox WHERE ($1 = '' OR institution_id = $1) AND "
    "(sent_at > $2::timestamptz - make_interval(secs => $3) "
    " OR (status <> 'sent' AND last_attempt_at > $2::timestamptz - make_interval(secs => $3)) "
    " OR (status = 'sending' AND (lease_until > $2::timestamptz "
    "     OR claimed_at > $2::timestamptz - make_interval(secs => $3))))";
// Finished invitations are filtered before the LIMIT, so they cannot fill it. A row still
// 'sending' past its lease is taken over, and says whose it was.
constexpr const char* kClaim =
    "WITH picked AS (SELECT c.id, CASE WHEN c.status = 'sending' "
    "    THEN coalesce(c.lease_owner, '?') ELSE '' END AS was_sending_by "
    "  FROM mail_outbox c JOIN invitations ci ON ci.id = c.invitation "
    "  WHERE c.institution_id = $1 AND ci.state NOT IN ('activated', 'cancelled', 'expired') AND "
    "  ((c.status IN ('queued', 'deferred') AND c.next_attempt_at <= $2::timestamptz) OR "
    "   (c.status = 'sending' AND c.lease_until < $2::timestamptz)) "
    "  ORDER BY c.next_attempt_at, c.id LIMIT $5 FOR UPDATE OF c SKIP LOCKED) "
    "UPDATE mail_outbox o SET status = 'sending', lease_owner = $3, "
    "lease_until = $2::timestamptz + make_interval(secs => $4), claimed_at = $2::timestamptz, "
    "attempts = o.attempts + 1, "
    "updated_at = now() "
    "FROM picked, invitations i, students s, student_emails e "
    "WHERE o.id = picked.id AND i.id = o.invitation AND s.id = i.student AND e.id = o.email "
    "RETURNING o.id, o.invitation, o.kind, o.message_id, o.recipient, o.email, e.kind, "
    "o.attempts, i.reminders_sent, s.student_id, s.family_name, s.given_names, "
    "s.preferred_locale, s.id, picked.was_sending_by";
constexpr const char* kOwned =
    "SELECT 1 FROM mail_outbox WHERE id = $1 AND lease_owner = $2 AND status = 'sending' "
    "FOR UPDATE";

bool Owned(pqxx::work& txn, const ClaimedMail& mail, const std::string& owner) {
  return !txn.exec_params(kOwned, mail.outbox_id, owner).empty();
}

}  // namespace

Result<int> QueueDueMail(Store& store, const std::string& institution_id, const std::string& now,
                         const std::string& message_id_domain, int reminders_allowed) {
  pqxx::connection& conn = Pq(store);
  try {
    pqxx::work txn(conn);
    int queued = static_cast<int>(
        txn.exec_params(kQueueFirst, institution_id, now, message_id_domain).affected_rows());
    queued += static_cast<int>(
        txn.exec_params(kQueueReminders, institution_id, now, message_id_domain, reminders_allowed)
            .affected_rows());
    txn.exec_params(kExpire, institution_id, now, reminders_allowed);
    txn.commit();
    return queued;
  } catch (const std::exception& e) {
    return PqError("queueing the due mail of " + institution_id, e);
  }
}

Result<LocalTime> LocalTimeIn(Store& store, const std::string& now, const std::string& time_zone) {
  pqxx::connection& conn = Pq(store);
  try {
    pqxx::read_transaction txn(conn);
    pqxx::row row = txn.exec_params1(kLocalTime, now, time_zone);
    return LocalTime{row[0].as<int>(), row[1].as<std::string>(), row[2].as<std::string>()};
  } catch (const std::exception& e) {
    return PqError("reading the local time in " + time_zone, e);
  }
}

Result<std::vector<ClaimedMail>> ClaimMail(Store& store, const std::string& institution_id,
                                           const std::string& now, const std::string& owner,
                                           int lease_seconds,
                                           const std::vector<RateWindow>& institution_limits,
                                           const std::vector<RateWindow>& global_limits,
                                           int max_claim) {
  pqxx::connection& conn = Pq(store);
  try {
    pqxx::work txn(conn);
    // The global lock first, always in the same order, so two daemons cannot deadlock.
    txn.exec("SELECT pg_advisory_xact_lock(hashtext('credd-mail-global'))");
    txn.exec_params("SELECT pg_advisory_xact_lock(hashtext('credd-mail:' || $1))", institution_id);
    int64_t budget = max_claim;
    auto apply = [&](const std::vector<RateWindow>& limits, const std::string& scope) {
      for (const RateWindow& limit : limits) {
        int64_t used = txn.exec_params1(kCountInWindow, scope, now, limit.seconds)[0].as<int64_t>();
        budget = std::min<int64_t>(budget, limit.messages - used);
      }
    };
    apply(institution_limits, institution_id);
    apply(global_limits, "");
    std::vector<ClaimedMail> claimed;
    if (budget <= 0) {
      txn.commit();
      return claimed;
    }
    for (const pqxx::row& row :
         txn.exec_params(kClaim, institution_id, now, owner, lease_seconds, budget)) {
      ClaimedMail m;
      m.outbox_id = row[0].as<int64_t>();
      m.invitation = row[1].as<int64_t>();
      m.kind = ParseStored(kMailKinds, row[2]);
      m.message_id = row[3].as<std::string>();
      m.recipient = row[4].as<std::string>();
      m.email = row[5].as<int64_t>();
      m.email_kind = row[6].as<std::string>();
      m.attempts = row[7].as<int>();
      m.reminders_sent = row[8].as<int>();
      m.student_id = row[9].as<std::string>();
      m.family_name = row[10].as<std::string>();
      m.given_names = row[11].as<std::string>();
      m.locale = row[12].as<std::string>();
      m.student = row[13].as<int64_t>();
      m.taken_over_from = row[14].as<std::string>();
      claimed.push_back(std::move(m));
    }
    txn.commit();
    return claimed;
  } catch (const std::exception& e) {
    return PqError("claiming mail for " + institution_id, e);
  }
}

Result<std::set<int64_t>> RenewLeases(Store& store, const std::vector<int64_t>& outbox_ids,
                                      const std::string& owner, const std::string& now,
                                      const std::string& until) {
  pqxx::connection& conn = Pq(store);
  try {
    pqxx::work txn(conn);
    // Only a lease still running is renewed: once it has run out the row is anybody's, and
    // a worker that was stopped past it must not take it back and send.
    std::set<int64_t> renewed;
    for (const pqxx::row& row : txn.exec_params(
             "UPDATE mail_outbox SET lease_until = $3::timestamptz WHERE id = ANY($1::bigint[]) "
             "AND lease_owner = $2 AND status = 'sending' AND lease_until > $4::timestamptz "
             "RETURNING id",
             BigintArray(outbox_ids), owner, until, now)) {
      renewed.insert(row[0].as<int64_t>());
    }
    txn.commit();
    return renewed;
  } catch (const std::exception& e) {
    return PqError("renewing the leases of " + std::to_string(outbox_ids.size()) + " emails", e);
  }
}

Status ReleaseClaim(Store& store, const ClaimedMail& mail, const std::string& owner) {
  pqxx::connection& conn = Pq(store);
  try {
    pqxx::work txn(conn);
    txn.exec_params(
        "UPDATE mail_outbox SET status = CASE WHEN attempts > 1 THEN 'deferred' ELSE 'queued' "
        "END, attempts = attempts - 1, lease_owner = NULL, lease_until = NULL WHERE id = $1 AND "
        "lease_owner = $2 AND status = 'sending'",
        mail.outbox_id, owner);
    txn.commit();
    return Status::Ok();
  } catch (const std::exception& e) {
    return PqError("releasing " + mail.message_id, e);
  }
}

Result<std::set<int64_t>> SetTokens(Store& store, const std::vector<TokenHash>& tokens,
                                    const std::string& owner, const std::string& now,
                                    const std::string& expires_at) {
  pqxx::connection& conn = Pq(store);
  std::vector<int64_t> ids;
  std::vector<std::string> hashes, codes;
  for (const TokenHash& token : tokens) {
    ids.push_back(token.outbox_id);
    hashes.push_back(token.sha256_hex);
    codes.push_back(token.access_code_sha256_hex);
  }
  try {
    pqxx::work txn(conn);
    std::set<int64_t> stored;
    for (const pqxx::row& row : txn.exec_params(
             "WITH t AS (SELECT * FROM unnest($1::bigint[], $2::text[], $6::text[]) "
             "  AS t(outbox_id, sha, code)), "
             "owned AS (SELECT o.id, o.invitation, t.sha, t.code FROM mail_outbox o "
             "  JOIN t ON t.outbox_id = o.id WHERE o.lease_owner = $3 AND o.status = 'sending' "
             "  AND o.lease_until > $4::timestamptz FOR UPDATE OF o) "
             "UPDATE invitations i SET token_sha256 = decode(owned.sha, 'hex'), "
             "access_code_sha256 = decode(nullif(owned.code, ''), 'hex'), access_code_tries = 0, "
             "expires_at = $5::timestamptz, updated_at = now() FROM owned "
             "WHERE i.id = owned.invitation RETURNING owned.id",
             BigintArray(ids), TextArray(hashes), owner, now, expires_at, TextArray(codes))) {
      stored.insert(row[0].as<int64_t>());
    }
    txn.commit();
    return stored;
  } catch (const std::exception& e) {
    return PqError("storing the tokens of " + std::to_string(tokens.size()) + " invitations", e);
  }
}

Result<std::map<int64_t, std::vector<DocumentLine>>> StudentDocuments(
    Store& store, const std::vector<int64_t>& students) {
  pqxx::connection& conn = Pq(store);
  try {
    pqxx::read_transaction txn(conn);
    std::map<int64_t, std::vector<DocumentLine>> lines;
    for (int64_t student : students) lines[student];  // A student without documents: none.
    for (const pqxx::row& row : txn.exec_params(
             "SELECT c.student, c.kind, c.title, d.public_id::text FROM documents d "
             "JOIN credentials c ON c.id = d.credential "
             "WHERE c.student = ANY($1::bigint[]) AND d.status = 'active' ORDER BY d.id",
             BigintArray(students))) {
      lines[row[0].as<int64_t>()].push_back(
          {row[1].as<std::string>(), row[2].as<std::string>(), row[3].as<std::string>()});
    }
    return lines;
  } catch (const std::exception& e) {
    return PqError("listing the documents of " + std::to_string(students.size()) + " students", e);
  }
}

Result<bool> MarkSent(Store& store, const ClaimedMail& mail, const std::string& owner,
                      const std::string& now, const std::string& reply,
                      const std::vector<int>& reminder_days) {
  pqxx::connection& conn = Pq(store);
  // The next reminder counts from the first email: reminder_days are days after it.
  const int next = mail.kind == MailKind::kReminder ? mail.reminders_sent + 1
                   : mail.kind == MailKind::kResend ? 0
                                                    : mail.reminders_sent;
  const std::string next_reminder =
      mail.kind != MailKind::kNotice && next < static_cast<int>(reminder_days.size())
          ? std::to_string(reminder_days[next])
          : std::string();
  try {
    // One statement (migration 8) in an explicit transaction: BEGIN, it, COMMIT. Outside a
    // transaction block it would be one round trip, but then its commit has no COMMIT of its
    // own, which the soak's fault injection (a lost COMMIT reply) needs to find.
    pqxx::work txn(conn);
    const bool ours =
        txn.exec_params1("SELECT credd_mail_sent($1, $2, $3::timestamptz, $4, NULLIF($5, '')::int)",
                         mail.outbox_id, owner, now, reply, next_reminder)[0]
            .as<bool>();
    txn.commit();
    return ours;
  } catch (const std::exception& e) {
    return PqError("recording the delivery of " + mail.message_id, e);
  }
}

Result<bool> MarkDeferred(Store& store, const ClaimedMail& mail, const std::string& owner,
                          const std::string& now, int delay_seconds, const std::string& reply) {
  pqxx::connection& conn = Pq(store);
  try {
    pqxx::work txn(conn);
    if (!Owned(txn, mail, owner)) return false;
    txn.exec_params(
        "UPDATE mail_outbox SET status = 'deferred', last_reply = $3, "
        "next_attempt_at = $2::timestamptz + make_interval(secs => $4), lease_owner = NULL, "
        "lease_until = NULL, last_attempt_at = $2::timestamptz, updated_at = now() WHERE id = $1",
        mail.outbox_id, now, reply, delay_seconds);
    txn.commit();
    return true;
  } catch (const std::exception& e) {
    return PqError("deferring " + mail.message_id, e);
  }
}

Result<bool> MarkFailed(Store& store, const ClaimedMail& mail, const std::string& owner,
                        const std::string& now, const std::string& reply, bool recipient_refused,
                        std::string* rerouted_to) {
  pqxx::connection& conn = Pq(store);
  try {
    pqxx::work txn(conn);
    if (!Owned(txn, mail, owner)) return false;
    txn.exec_params(
        "UPDATE mail_outbox SET status = 'failed', last_reply = $2, lease_owner = NULL, "
        "lease_until = NULL, last_attempt_at = $3::timestamptz, updated_at = now() WHERE id = $1",
        mail.outbox_id, reply, now);
    if (!recipient_refused) {
      // The relay refused the sender or the message, not the mailbox: the address is not
      // to blame. The invitation waits, with the reason, for someone to act (invite resend).
      txn.exec_params("UPDATE invitations SET last_error = $2, updated_at = now() WHERE id = $1",
                      mail.invitation, reply);
      AppendOutboxAudit(txn,
                        {"credd",
                         "",
                         "mail.failed",
                         "invitation:" + std::to_string(mail.invitation),
                         {{"message_id", mail.message_id}, {"reply", reply}}},
                        mail.outbox_id);
      txn.commit();
      return true;
    }
    txn.exec_params(
        "UPDATE student_emails SET status = 'bounced', updated_at = now() WHERE id = $1",
        mail.email);
    pqxx::result personal;
    if (mail.email_kind == "institutional") {
      personal = txn.exec_params(
          "SELECT id, address FROM student_emails WHERE student = $1 AND kind = 'personal' "
          "AND status = 'active' ORDER BY id LIMIT 1",
          mail.student);
    }
    if (!personal.empty()) {
      int64_t email = personal[0][0].as<int64_t>();
      *rerouted_to = personal[0][1].as<std::string>();
      txn.exec_params("UPDATE invitations SET email = $2, updated_at = now() WHERE id = $1",
                      mail.invitation, email);
      txn.exec_params(
          "INSERT INTO mail_outbox (invitation, message_id, recipient, status, kind, "
          "institution_id, email, next_attempt_at) SELECT invitation, "
          "replace(message_id, '@', '.p@'), $2, 'queued', kind, institution_id, $3, "
          "$4::timestamptz FROM mail_outbox WHERE id = $1 ON CONFLICT (message_id) DO NOTHING",
          mail.outbox_id, *rerouted_to, email, now);
    } else {
      txn.exec_params(
          "UPDATE invitations SET state = 'bounced', last_error = $2, updated_at = now() "
          "WHERE id = $1",
          mail.invitation, reply);
    }
    AppendOutboxAudit(
        txn,
        {"credd",
         "",
         "mail.failed",
         "invitation:" + std::to_string(mail.invitation),
         {{"message_id", mail.message_id}, {"reply", reply}, {"rerouted_to", *rerouted_to}}},
        mail.outbox_id);
    txn.commit();
    return true;
  } catch (const std::exception& e) {
    return PqError("recording the failure of " + mail.message_id, e);
  }
}

Result<int64_t> QueueResend(Store& store, const std::string& institution_id,
                            const std::string& student_id, bool to_personal,
                            const std::string& message_id_domain, const std::string& actor) {
  pqxx::connection& conn = Pq(store);
  try {
    pqxx::work txn(conn);
    pqxx::result inv = txn.exec_params(
        "SELECT i.id, s.id FROM invitations i JOIN students s ON s.id = i.student "
        "WHERE s.institution_id = $1 AND s.student_id = $2 AND i.kind = 'invitation' "
        "ORDER BY i.id DESC LIMIT 1",
        institution_id, student_id);
    if (inv.empty()) {
      return MakeError(ErrorCode::kNoInput, "no invitation for this student",
                       institution_id + "/" + student_id);
    }
    int64_t invitation = inv[0][0].as<int64_t>();
    if (ParseStored(kInvitationStates, txn.exec_params1("SELECT state FROM invitations "
                                                        "WHERE id = $1",
                                                        invitation)[0]) ==
        InvitationState::kActivated) {
      return MakeError(ErrorCode::kData, "the student has already activated their account",
                       institution_id + "/" + student_id);
    }
    pqxx::result email = txn.exec_params(
        "SELECT id, address FROM student_emails WHERE student = $1 AND status = 'active' "
        "AND ($2 = false OR kind = 'personal') ORDER BY is_primary DESC, id LIMIT 1",
        inv[0][1].as<int64_t>(), to_personal);
    if (email.empty()) {
      return MakeError(ErrorCode::kData,
                       to_personal ? "the student has no active personal address"
                                   : "the student has no active address",
                       institution_id + "/" + student_id);
    }
    int64_t resends = txn.exec_params1(
                             "SELECT count(*) FROM mail_outbox WHERE invitation = $1 AND kind = "
                             "'resend'",
                             invitation)[0]
                          .as<int64_t>();
    txn.exec_params(
        "UPDATE invitations SET state = 'pending', email = $2, updated_at = now() WHERE id = "
        "$1 AND state <> 'activated'",
        invitation, email[0][0].as<int64_t>());
    // The first email of a resend goes out as soon as the window and limits allow.
    int64_t id =
        txn.exec_params1(
               "INSERT INTO mail_outbox (invitation, message_id, recipient, status, "
               "kind, institution_id, email, next_attempt_at) VALUES ($1::bigint, 'inv' || "
               "$1::text || '.r' || $2::text || '@' || $3, $4, 'queued', 'resend', $5, "
               "$6, now()) "
               "RETURNING id",
               invitation, resends + 1, message_id_domain, email[0][1].as<std::string>(),
               institution_id, email[0][0].as<int64_t>())[0]
            .as<int64_t>();
    AppendAudit(txn, {actor,
                      institution_id,
                      "invitation.resend",
                      "invitation:" + std::to_string(invitation),
                      {{"to", email[0][1].as<std::string>()}}});
    txn.commit();
    return id;
  } catch (const std::exception& e) {
    return PqError("queueing a resend for " + student_id, e);
  }
}

Result<OutboxSummary> SummariseOutbox(Store& store) {
  pqxx::connection& conn = Pq(store);
  try {
    pqxx::read_transaction txn(conn);
    OutboxSummary summary;
    for (OutboxState state :
         {OutboxState::kQueued, OutboxState::kSending, OutboxState::kDeferred}) {
      summary.waiting[state] = 0;
    }
    // mail_outbox_due (status, next_attempt_at) answers both without reading sent rows.
    for (const auto& row :
         txn.exec("SELECT status, count(*), "
                  "coalesce(extract(epoch FROM now() - min(created_at)), 0)::float8 "
                  "FROM mail_outbox WHERE status IN ('queued', 'sending', 'deferred') GROUP BY "
                  "status")) {
      const OutboxState state = ParseStored(kOutboxStates, row[0]);
      summary.waiting[state] = row[1].as<int64_t>();
      summary.oldest_waiting_seconds =
          std::max(summary.oldest_waiting_seconds, row[2].as<double>());
    }
    return summary;
  } catch (const std::exception& e) {
    return PqError("summarising the outbox", e);
  }
}

Result<int64_t> QueueAccountMail(Store& store, const AccountMail& mail, const std::string& now) {
  try {
    pqxx::work txn(Pq(store));
    pqxx::binarystring mime(mail.mime.data(), mail.mime.size());
    const int64_t id =
        txn.exec_params1(
               "INSERT INTO mail_outbox (kind, institution_id, recipient, envelope_from, "
               "message_id, message, next_attempt_at) VALUES ($1, $2, $3, $4, $5, $6, "
               "$7::timestamptz) RETURNING id",
               std::string(kMailKinds.Name(mail.kind)), mail.institution_id, mail.recipient,
               mail.envelope_from, mail.message_id, mime, now)[0]
            .as<int64_t>();
    txn.commit();
    return id;
  } catch (const std::exception& e) {
    return PqError("queueing " + mail.message_id, e);
  }
}

Result<std::vector<AccountMail>> ClaimAccountMail(Store& store, const std::string& now,
                                                  const std::string& owner, int lease_seconds,
                                                  const std::vector<RateWindow>& global_limits,
                                                  int max_claim) {
  try {
    pqxx::work txn(Pq(store));
    txn.exec("SELECT pg_advisory_xact_lock(hashtext('credd-mail-global'))");
    int64_t budget = max_claim;
    for (const RateWindow& limit : global_limits) {
      const int64_t used =
          txn.exec_params1(kCountInWindow, "", now, limit.seconds)[0].as<int64_t>();
      budget = std::min<int64_t>(budget, limit.messages - used);
    }
    std::vector<AccountMail> claimed;
    if (budget > 0) {
      for (const pqxx::row& r : txn.exec_params(
               "WITH picked AS (SELECT id FROM mail_outbox WHERE invitation IS NULL AND "
               "  ((status IN ('queued', 'deferred') AND next_attempt_at <= $1::timestamptz) OR "
               "   (status = 'sending' AND lease_until < $1::timestamptz)) "
               "  ORDER BY next_attempt_at, id LIMIT $4 FOR UPDATE SKIP LOCKED) "
               "UPDATE mail_outbox o SET status = 'sending', lease_owner = $2, "
               "lease_until = $1::timestamptz + make_interval(secs => $3), "
               "claimed_at = $1::timestamptz, attempts = o.attempts + 1, updated_at = now() "
               "FROM picked WHERE o.id = picked.id RETURNING o.id, o.kind, "
               "coalesce(o.institution_id, ''), o.recipient, coalesce(o.envelope_from, ''), "
               "o.message_id, o.message, o.attempts",
               now, owner, lease_seconds, budget)) {
        pqxx::binarystring mime(r[6]);
        claimed.push_back({r[0].as<int64_t>(), ParseStored(kMailKinds, r[1]),
                           r[2].as<std::string>(), r[3].as<std::string>(), r[4].as<std::string>(),
                           r[5].as<std::string>(), mime.str(), r[7].as<int>()});
      }
    }
    txn.commit();
    return claimed;
  } catch (const std::exception& e) {
    return PqError("claiming account mail", e);
  }
}

Result<bool> FinishAccountMail(Store& store, const AccountMail& mail, const std::string& owner,
                               const std::string& now, OutboxState outcome,
                               const std::string& reply, int delay_seconds) {
  try {
    pqxx::work txn(Pq(store));
    const bool done = outcome != OutboxState::kDeferred;
    pqxx::result rows = txn.exec_params(
        "UPDATE mail_outbox SET status = $3, last_reply = $4, lease_owner = NULL, "
        "lease_until = NULL, last_attempt_at = $5::timestamptz, "
        "sent_at = CASE WHEN $3 = 'sent' THEN $5::timestamptz END, "
        "next_attempt_at = $5::timestamptz + make_interval(secs => $6), "
        "message = CASE WHEN $7 THEN NULL ELSE message END, updated_at = now() "
        "WHERE id = $1 AND lease_owner = $2 AND status = 'sending' RETURNING id",
        mail.outbox_id, owner, std::string(kOutboxStates.Name(outcome)), reply, now, delay_seconds,
        done);
    txn.commit();
    return !rows.empty();
  } catch (const std::exception& e) {
    return PqError("recording the outcome of " + mail.message_id, e);
  }
}

}  // namespace credd
