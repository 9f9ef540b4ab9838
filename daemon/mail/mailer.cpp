#include "daemon/mail/mailer.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>

#include "common/sha256.h"
#include "common/time_format.h"
#include "daemon/mail/message.h"
#include "daemon/store/conditions.h"

namespace credd::mail {
namespace {

std::string Replace(std::string text, const std::string& from, const std::string& to) {
  for (auto at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
  return text;
}

bool InWindow(const InvitationConfig& inv, const LocalTime& local) {
  static const char* kDays[] = {"", "mon", "tue", "wed", "thu", "fri", "sat", "sun"};
  if (local.iso_weekday < 1 || local.iso_weekday > 7) return false;
  if (std::find(inv.days.begin(), inv.days.end(), kDays[local.iso_weekday]) == inv.days.end()) {
    return false;
  }
  if (std::find(inv.blackout_dates.begin(), inv.blackout_dates.end(), local.date) !=
      inv.blackout_dates.end()) {
    return false;
  }
  return local.hour_minute >= inv.window_start && local.hour_minute < inv.window_end;
}

std::vector<RateWindow> Windows(const std::vector<RateLimit>& limits) {
  std::vector<RateWindow> windows;
  for (const RateLimit& limit : limits) windows.push_back({limit.messages, limit.seconds});
  return windows;
}

}  // namespace

Result<std::unique_ptr<Mailer>> BuildMailer(const Config& config, Database& database, Logger& log,
                                            const std::string& templates_dir) {
  auto templates = MailTemplates::Load(templates_dir);
  if (!templates) return templates.error();
  Result<std::unique_ptr<MailTransport>> transport =
      MakeError(ErrorCode::kConfig, "no transport", "mail.transport");
  if (config.mail.transport == "smtp") {
    auto password = config.mail.smtp.password.Read();
    if (!password) return password.error();
    transport = MakeSmtpTransport(config.mail.smtp, *password, log);
  } else {
    transport = MakeMaildirTransport(config.mail.maildir);
  }
  if (!transport) return transport.error();
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  MailerOptions options;
  options.owner = std::string(host) + ":" + std::to_string(getpid());
  options.lease_seconds = config.mail.lease_seconds;
  return std::make_unique<Mailer>(database, log, std::move(transport).value(),
                                  std::move(templates).value(), options);
}

std::string DomainOf(const std::string& address) {
  auto at = address.rfind('@');
  return at == std::string::npos ? "credd.invalid" : address.substr(at + 1);
}

std::string NewToken() {
  unsigned char bytes[32];
  if (RAND_bytes(bytes, sizeof bytes) != 1) return {};
  static const char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  unsigned int buffer = 0;
  int bits = 0;
  for (unsigned char b : bytes) {
    buffer = (buffer << 8) | b;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out += kAlphabet[(buffer >> bits) & 0x3f];
    }
  }
  if (bits > 0) out += kAlphabet[(buffer << (6 - bits)) & 0x3f];
  return out;
}

Mailer::Mailer(Database& database, Logger& log, std::unique_ptr<MailTransport> transport,
               std::unique_ptr<MailTemplates> templates, MailerOptions options)
    : database_(database),
      log_(log),
      transport_(std::move(transport)),
      templates_(std::move(templates)),
      options_(std::move(options)) {}

void Mailer::Close() { transport_->Close(); }

Result<int> Mailer::RunOnce(const Config& config, std::chrono::system_clock::time_point now) {
  round_started_ = std::chrono::steady_clock::now();
  auto conn = database_.Connect();
  if (!conn) return conn.error();
  const std::string now_iso = Iso8601UtcMicros(now);
  int handled = 0;
  for (const InstitutionConfig& institution : config.institutions) {
    if (!institution.invitations.enabled) continue;
    if (options_.stop != nullptr && options_.stop->load()) break;
    // Each institution claims at the time it gets to, so its leases start now.
    auto at = now + std::chrono::duration_cast<std::chrono::system_clock::duration>(
                        std::chrono::steady_clock::now() - round_started_);
    auto sent = RunInstitution(**conn, config, institution, Iso8601UtcMicros(at), at);
    if (!sent) {
      // One institution's trouble (a time zone PostgreSQL lacks, say) must not starve the
      // others; a database outage shows up for all of them and ends the round.
      log_.Error("mail.institution_failed",
                 {{"institution", institution.id}, {"error", sent.error().ToString()}});
      if (sent.error().code == ErrorCode::kUnavailable) return sent.error();
      continue;
    }
    handled += *sent;
  }
  return handled;
}

Result<int> Mailer::RunInstitution(Store& conn, const Config& config,
                                   const InstitutionConfig& institution, const std::string& now_iso,
                                   std::chrono::system_clock::time_point now) {
  const InvitationConfig& inv = institution.invitations;
  const std::string domain = DomainOf(inv.from_address);
  auto queued = QueueDueMail(conn, institution.id, now_iso, domain,
                             static_cast<int>(inv.reminder_days.size()));
  if (!queued) return queued.error();
  auto local = LocalTimeIn(conn, now_iso, inv.time_zone);
  if (!local) return local.error();
  if (!InWindow(inv, *local)) {
    log_.Debug("mail.outside_window",
               {{"institution", institution.id}, {"local_time", local->hour_minute}});
    return 0;
  }
  auto paused = HasCondition(conn, institution.id, ConditionKind::kMailPaused);
  if (!paused) return paused.error();
  if (*paused) {
    log_.Debug("mail.paused", {{"institution", institution.id}});
    return 0;
  }
  auto claimed =
      ClaimMail(conn, institution.id, now_iso, options_.owner, options_.lease_seconds,
                Windows(inv.rate_limits), Windows(config.mail.rate_limits), options_.max_per_round);
  if (!claimed) return claimed.error();
  int sent = 0;
  for (size_t i = 0; i < claimed->size(); ++i) {
    const ClaimedMail& mail = (*claimed)[i];
    if (options_.heartbeat != nullptr) options_.heartbeat->Beat();
    paused_now_ = false;
    Status s = (options_.stop != nullptr && options_.stop->load())
                   ? MakeError(ErrorCode::kUnavailable, "stopping")
                   : SendOne(conn, config, institution, mail, now);
    if (s && paused_now_) {
      for (size_t j = i + 1; j < claimed->size(); ++j) {
        (void)ReleaseClaim(conn, (*claimed)[j], options_.owner);
      }
      return sent;
    }
    if (!s) {
      // Give back what this round claimed but did not attempt, so it is not held until the
      // leases run out.
      for (size_t j = i; j < claimed->size(); ++j) {
        (void)ReleaseClaim(conn, (*claimed)[j], options_.owner);
      }
      return s.error().code == ErrorCode::kUnavailable && options_.stop != nullptr &&
                     options_.stop->load()
                 ? Result<int>(sent)
                 : Result<int>(s.error());
    }
    ++sent;
  }
  return sent;
}

Status Mailer::SendOne(Store& conn, const Config& config, const InstitutionConfig& institution,
                       const ClaimedMail& mail, std::chrono::system_clock::time_point now) {
  const InvitationConfig& inv = institution.invitations;
  const bool french = mail.locale == "fr";
  nlohmann::json values = {
      {"given_names", mail.given_names},
      {"family_name", mail.family_name},
      {"student_name",
       mail.given_names.empty() ? mail.family_name : mail.given_names + " " + mail.family_name},
      {"institution",
       french && !institution.name_fr.empty() ? institution.name_fr : institution.name_en},
      {"reply_to", inv.reply_to.empty() ? inv.from_address : inv.reply_to},
      {"portfolio_url", inv.portfolio_url},
      {"reminder_number", mail.kind == "reminder" ? mail.reminders_sent + 1 : 0},
  };
  auto documents = StudentDocuments(conn, mail.student);
  if (!documents) return documents.error();
  values["documents"] = nlohmann::json::array();
  for (const DocumentLine& d : *documents) {
    values["documents"].push_back({{"title", d.title}, {"kind", d.kind}, {"id", d.public_id}});
  }

  // Renew the lease right before sending: a slow relay earlier in the round must not let
  // another worker reclaim (and also send) this row.
  auto at = now + std::chrono::duration_cast<std::chrono::system_clock::duration>(
                      std::chrono::steady_clock::now() - round_started_);
  auto still_ours = RenewLease(conn, mail, options_.owner, Iso8601UtcMicros(at),
                               Iso8601UtcMicros(at + std::chrono::seconds(options_.lease_seconds)));
  if (!still_ours) return still_ours.error();
  if (!*still_ours) {
    log_.Warn("mail.lease_lost", {{"message_id", mail.message_id}});
    pending_tokens_.erase(mail.outbox_id);
    return Status::Ok();
  }
  if (!mail.taken_over_from.empty()) {
    // RFC 5321 cannot say whether the earlier attempt got through: say so before sending.
    log_.Warn("mail.possible_duplicate",
              {{"message_id", mail.message_id},
               {"student", institution.id + "/" + mail.student_id},
               {"reason", "taken over from " + mail.taken_over_from +
                              ", whose lease ran out during its attempt"},
               {"action", "sending again with the same Message-ID"}});
  }
  if (mail.kind != "notice") {
    // A token per email, kept for retries of the same email from this process. Its hash is
    // stored before the email leaves, so the link works the moment it arrives.
    std::string& token = pending_tokens_[mail.outbox_id];
    if (token.empty()) token = NewToken();
    if (token.empty()) {
      pending_tokens_.erase(mail.outbox_id);
      return MakeError(ErrorCode::kInternal, "the system's random source failed", mail.message_id);
    }
    auto expires = now + std::chrono::hours(24 * inv.expiry_days);
    auto owned = SetToken(conn, mail, options_.owner, Sha256Hex(token), Iso8601UtcMicros(expires));
    if (!owned) return owned.error();
    if (!*owned) {
      log_.Warn("mail.lease_lost", {{"message_id", mail.message_id}});
      pending_tokens_.erase(mail.outbox_id);
      return Status::Ok();
    }
    values["activation_url"] = Replace(inv.activation_url, "{token}", token);
    values["expires_on"] = Iso8601UtcMicros(expires).substr(0, 10);  // YYYY-MM-DD.
  }

  const std::string template_name = mail.kind == "resend" ? "invitation" : mail.kind;
  auto rendered = templates_->Render(template_name, french ? "fr" : "en", values);
  OutgoingMessage message;
  message.from = {inv.from_name, inv.from_address};
  message.to = {values["student_name"].get<std::string>(), mail.recipient};
  if (!inv.reply_to.empty()) message.reply_to = MailAddress{inv.from_name, inv.reply_to};
  message.message_id = mail.message_id;
  message.date = now;
  message.extra_headers = {{"X-Credd-Invitation", std::to_string(mail.invitation)}};
  Result<std::string> mime = MakeError(ErrorCode::kInternal, "not rendered");
  if (rendered) {
    message.subject = rendered->subject;
    message.text_body = rendered->text;
    message.html_body = rendered->html;
    mime = RenderMime(message);
  } else {
    mime = rendered.error();
  }
  SendOutcome outcome;
  if (!mime) {
    // Nothing the transport could do differently: a value that cannot be put in an email.
    outcome = {SendOutcome::Kind::kFailed, 0, "local: " + mime.error().ToString()};
  } else {
    outcome = transport_->Send(inv.from_address, mail.recipient, *mime);
  }

  const std::string where = institution.id + "/" + mail.student_id;
  if ((outcome.kind == SendOutcome::Kind::kDeferred ||
       outcome.kind == SendOutcome::Kind::kUnknown) &&
      mail.attempts >= options_.max_attempts) {
    // Days of 4xx: report it as failed rather than retry for ever. The address is not known
    // to be bad, so it is left alone.
    outcome.kind = SendOutcome::Kind::kFailed;
    outcome.recipient_refused = false;
    outcome.reply = "gave up after " + std::to_string(mail.attempts) +
                    " attempts; last reply: " + outcome.reply;
  }
  const std::string done_iso =
      Iso8601UtcMicros(now + std::chrono::duration_cast<std::chrono::system_clock::duration>(
                                 std::chrono::steady_clock::now() - round_started_));
  switch (outcome.kind) {
    case SendOutcome::Kind::kSent: {
      auto ok = MarkSent(conn, mail, options_.owner, done_iso, outcome.reply, inv.reminder_days);
      if (!ok) return ok.error();
      refusals_in_a_row_[institution.id] = 0;
      pending_tokens_.erase(mail.outbox_id);
      log_.Info("mail.sent", {{"message_id", mail.message_id},
                              {"kind", mail.kind},
                              {"student", where},
                              {"attempt", std::to_string(mail.attempts)},
                              {"late", *ok ? "false" : "true (lease lost; not recorded)"}});
      break;
    }
    case SendOutcome::Kind::kDeferred:
    case SendOutcome::Kind::kUnknown: {
      int exponent = std::min(mail.attempts - 1, 20);
      long long delay = static_cast<long long>(config.mail.retry_initial_seconds) << exponent;
      delay = std::min<long long>(delay, config.mail.retry_max_seconds);
      auto ok = MarkDeferred(conn, mail, options_.owner, done_iso, static_cast<int>(delay),
                             outcome.reply);
      if (!ok) return ok.error();
      if (!*ok) pending_tokens_.erase(mail.outbox_id);  // Another worker owns it now.
      if (outcome.kind == SendOutcome::Kind::kUnknown) {
        log_.Warn("mail.possible_duplicate", {{"message_id", mail.message_id},
                                              {"student", where},
                                              {"reason", outcome.reply},
                                              {"action", "retrying with the same Message-ID in " +
                                                             std::to_string(delay) + " s"}});
      } else {
        log_.Warn("mail.deferred", {{"message_id", mail.message_id},
                                    {"student", where},
                                    {"reply", outcome.reply},
                                    {"retry_in_seconds", std::to_string(delay)}});
      }
      break;
    }
    case SendOutcome::Kind::kFailed: {
      std::string rerouted;
      auto ok = MarkFailed(conn, mail, options_.owner, done_iso, outcome.reply,
                           outcome.recipient_refused, &rerouted);
      if (!ok) return ok.error();
      pending_tokens_.erase(mail.outbox_id);
      log_.Error("mail.failed",
                 {{"message_id", mail.message_id},
                  {"student", where},
                  {"reply", outcome.reply},
                  {"action", !outcome.recipient_refused ? "kept the address; see invite resend"
                             : rerouted.empty()         ? "invitation bounced"
                                                        : "re-sent to the personal address"}});
      if (outcome.recipient_refused || outcome.smtp_code < 500) {
        if (outcome.recipient_refused) refusals_in_a_row_[institution.id] = 0;
        break;
      }
      if (++refusals_in_a_row_[institution.id] >= options_.pause_after_refusals) {
        refusals_in_a_row_[institution.id] = 0;
        const std::string detail =
            "the relay refused " + std::to_string(options_.pause_after_refusals) +
            " messages in a row for reasons that are not about the address (last reply: " +
            outcome.reply + "); sending resumes after SIGHUP or credctl mail resume";
        if (Status paused = SetCondition(conn, institution.id, ConditionKind::kMailPaused, detail);
            !paused) {
          return paused.error();
        }
        log_.Error("mail.paused", {{"institution", institution.id}, {"reason", detail}});
        paused_now_ = true;
      }
      break;
    }
  }
  return Status::Ok();
}

}  // namespace credd::mail
