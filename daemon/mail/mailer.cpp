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
#include "daemon/store/account_store.h"
#include "daemon/store/conditions.h"
#include "records/validate.h"

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
                                            const std::string& templates_dir,
                                            CreddMetrics* metrics) {
  auto templates = MailTemplates::Load(templates_dir);
  if (!templates) return templates.error();
  auto transport = MakeTransport(config, log);
  if (!transport) return transport.error();
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  MailerOptions options;
  options.owner = std::string(host) + ":" + std::to_string(getpid());
  options.lease_seconds = config.mail.lease_seconds;
  options.metrics = metrics;
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

std::string NewAccessCode() {
  static const char kAlphabet[] = "ABCDEFGHJKMNPQRSTVWXYZ23456789";  // 30 symbols.
  constexpr int kSymbols = sizeof kAlphabet - 1;
  std::string code;
  while (code.size() < 10) {
    unsigned char byte = 0;
    if (RAND_bytes(&byte, 1) != 1) return {};
    if (byte >= 240) continue;  // 240 = 8 * 30: no symbol more likely than another.
    code += kAlphabet[byte % kSymbols];
  }
  return code.substr(0, 5) + "-" + code.substr(5);
}

Mailer::Mailer(Database& database, Logger& log, std::unique_ptr<MailTransport> transport,
               std::unique_ptr<MailTemplates> templates, MailerOptions options)
    : database_(database),
      log_(log),
      transport_(std::move(transport)),
      templates_(std::move(templates)),
      options_(std::move(options)),
      clock_(*options_.clock) {}

void Mailer::Close() { transport_->Close(); }

Result<int> Mailer::RunOnce(const Config& config) {
  // Every institution with invitations on, in turn; one's trouble does not starve the rest.
  auto conn = database_.Connect();
  if (!conn) return conn.error();
  auto direct = SendAccountMailOn(**conn, config);
  if (!direct) return direct.error();
  int handled = *direct;
  for (const InstitutionConfig& institution : config.institutions) {
    if (!institution.invitations.enabled) continue;
    if (Stopping()) break;
    auto sent = RunInstitution(**conn, config, institution);
    if (!sent) {
      // A time zone PostgreSQL lacks, say, is one institution's; a database outage shows up
      // for all of them and ends the round.
      log_.Error("mail.institution_failed",
                 {{"institution", institution.id}, {"error", sent.error().ToString()}});
      if (sent.error().code == ErrorCode::kUnavailable) return sent.error();
      continue;
    }
    handled += *sent;
  }
  return handled;
}

Result<int> Mailer::SendAccountMail(const Config& config) {
  auto conn = database_.Connect();
  if (!conn) return conn.error();
  return SendAccountMailOn(**conn, config);
}

Result<int> Mailer::SendAccountMailOn(Store& conn, const Config& config) {
  // Claimed a chunk at a time, each recorded before the next leaves, like invitations.
  int sent = 0;
  for (bool more = true; more && !Stopping();) {
    auto claimed = ClaimAccountMail(conn, Iso8601UtcMicros(clock_.Now()), options_.owner,
                                    options_.lease_seconds, Windows(config.mail.rate_limits),
                                    options_.claim_size);
    if (!claimed) return claimed.error();
    for (const AccountMail& mail : *claimed) {
      if (options_.heartbeat != nullptr) options_.heartbeat->Beat();
      SendOutcome outcome = transport_->Send(mail.envelope_from, mail.recipient, mail.mime);
      ++sent;
      if (Status recorded = RecordAccountMail(conn, config, mail, std::move(outcome)); !recorded) {
        return recorded.error();
      }
    }
    more = claimed->size() == static_cast<size_t>(options_.claim_size);
  }
  return sent;
}

Status Mailer::RecordAccountMail(Store& conn, const Config& config, const AccountMail& mail,
                                 SendOutcome outcome) {
  Count(outcome);
  OutboxState state = OutboxState::kSent;
  int delay = 0;
  if (outcome.kind == SendOutcome::Kind::kSent) {
    state = OutboxState::kSent;
  } else if (outcome.kind == SendOutcome::Kind::kFailed || mail.attempts >= options_.max_attempts) {
    state = OutboxState::kFailed;  // Refused, or days of 4xx: not tried for ever.
  } else {
    state = OutboxState::kDeferred;
    const int exponent = std::min(mail.attempts - 1, 20);
    delay = static_cast<int>(
        std::min<long long>(static_cast<long long>(config.mail.retry_initial_seconds) << exponent,
                            config.mail.retry_max_seconds));
  }
  auto ok = FinishAccountMail(conn, mail, options_.owner, Iso8601UtcMicros(clock_.Now()), state,
                              outcome.reply, delay);
  if (!ok) return ok.error();
  const bool sent = state == OutboxState::kSent;
  const bool deferred = state == OutboxState::kDeferred;
  log_.Write(sent       ? LogLevel::kInfo
             : deferred ? LogLevel::kWarn
                        : LogLevel::kError,
             sent       ? "mail.sent"
             : deferred ? "mail.deferred"
                        : "mail.failed",
             {{"message_id", mail.message_id},
              {"kind", std::string(kMailKinds.Name(mail.kind))},
              {"attempt", std::to_string(mail.attempts)},
              {"reply", outcome.reply},
              {"late", *ok ? "false" : "true (lease lost; not recorded)"}});
  return Status::Ok();
}

Result<int> Mailer::RunInstitution(Store& conn, const Config& config,
                                   const InstitutionConfig& institution) {
  // Queue what is due; then, inside the window and unless paused, send chunk after chunk.
  const InvitationConfig& inv = institution.invitations;
  const std::string now_iso = Iso8601UtcMicros(clock_.Now());
  auto queued = QueueDueMail(conn, institution.id, now_iso, DomainOf(inv.from_address),
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
  int sent = 0;
  // A chunk smaller than asked for means the limits or the queue ran out.
  for (bool more = true; more && !Stopping();) {
    auto chunk = SendChunk(conn, config, institution);
    if (!chunk) return chunk.error();
    sent += chunk->sent;
    more = !chunk->paused && chunk->claimed == static_cast<size_t>(options_.claim_size);
  }
  return sent;
}

Result<Mailer::ChunkResult> Mailer::SendChunk(Store& conn, const Config& config,
                                              const InstitutionConfig& institution) {
  // Claim what the limits allow, set its tokens, then send each email while its lease holds.
  const InvitationConfig& inv = institution.invitations;
  Chunk chunk;
  chunk.renewed = clock_.Steady();  // No later than the claim's own time.
  const auto at = clock_.Now();
  auto claimed =
      ClaimMail(conn, institution.id, Iso8601UtcMicros(at), options_.owner, options_.lease_seconds,
                Windows(inv.rate_limits), Windows(config.mail.rate_limits), options_.claim_size);
  if (!claimed) return claimed.error();
  ChunkResult result;
  result.claimed = claimed->size();
  if (claimed->empty()) return result;
  chunk.mail = std::move(claimed).value();
  if (Status s = PrepareChunk(conn, institution, chunk); !s) {
    ReleaseFrom(conn, chunk, 0);
    return s.error();
  }
  for (size_t i = 0; i < chunk.mail.size(); ++i) {
    const ClaimedMail& mail = chunk.mail[i];
    if (options_.heartbeat != nullptr) options_.heartbeat->Beat();
    paused_now_ = false;
    Status s = Stopping() ? Status(MakeError(ErrorCode::kUnavailable, "stopping"))
                          : KeepLeases(conn, chunk, i);
    if (s && !chunk.ours.count(mail.outbox_id)) {
      log_.Warn("mail.lease_lost", {{"message_id", mail.message_id}});
      pending_tokens_.erase(mail.outbox_id);
      continue;
    }
    if (s) s = SendOne(conn, config, institution, mail, chunk);
    if (!s) {
      // Give back what was claimed but not attempted, rather than hold it until the leases
      // run out.
      ReleaseFrom(conn, chunk, i);
      if (Stopping() && s.error().code == ErrorCode::kUnavailable) return result;
      return s.error();
    }
    ++result.sent;
    if (paused_now_) {
      ReleaseFrom(conn, chunk, i + 1);
      result.paused = true;
      return result;
    }
  }
  return result;
}

Status Mailer::PrepareChunk(Store& conn, const InstitutionConfig& institution, Chunk& chunk) {
  // One query for every student's documents; one statement for every token's hash, stored
  // before any email leaves so that each link works the moment it arrives.
  std::vector<int64_t> students;
  std::vector<TokenHash> tokens;
  for (const ClaimedMail& mail : chunk.mail) {
    students.push_back(mail.student);
    if (mail.kind == MailKind::kNotice) {
      chunk.ours.insert(mail.outbox_id);  // No token: the fresh claim is ours.
      continue;
    }
    // A retry from this process carries the very same link and code.
    Secrets& secrets = pending_tokens_[mail.outbox_id];
    if (secrets.token.empty()) {
      secrets.token = NewToken();
      if (!institution.invitations.access_code_url.empty()) secrets.code = NewAccessCode();
    }
    if (secrets.token.empty() ||
        (!institution.invitations.access_code_url.empty() && secrets.code.empty())) {
      pending_tokens_.erase(mail.outbox_id);
      return MakeError(ErrorCode::kInternal, "the system's random source failed", mail.message_id);
    }
    tokens.push_back({mail.outbox_id, Sha256Hex(secrets.token),
                      secrets.code.empty()
                          ? std::string()
                          : AccessCodeHash(mail.invitation, NormalizeAccessCode(secrets.code))});
  }
  auto documents = StudentDocuments(conn, students);
  if (!documents) return documents.error();
  chunk.documents = std::move(documents).value();
  chunk.expires = clock_.Now() + std::chrono::hours(24 * institution.invitations.expiry_days);
  if (tokens.empty()) return Status::Ok();
  auto stored = SetTokens(conn, tokens, options_.owner, Iso8601UtcMicros(clock_.Now()),
                          Iso8601UtcMicros(chunk.expires));
  if (!stored) return stored.error();
  chunk.ours.insert(stored->begin(), stored->end());
  return Status::Ok();
}

Status Mailer::KeepLeases(Store& conn, Chunk& chunk, size_t from) {
  // Before each email at least three quarters of its lease remain: a slow relay earlier in
  // the chunk, or a process stopped and resumed, must not let another worker reclaim (and
  // also send) a row we are about to send. Renewing refuses a lease that has run out.
  const auto term = std::chrono::seconds(options_.lease_seconds);
  const auto started = clock_.Steady();
  if (started - chunk.renewed < term / 4) return Status::Ok();
  std::vector<int64_t> ids;
  for (size_t i = from; i < chunk.mail.size(); ++i) {
    if (chunk.ours.count(chunk.mail[i].outbox_id)) ids.push_back(chunk.mail[i].outbox_id);
  }
  const auto at = clock_.Now();
  auto renewed =
      RenewLeases(conn, ids, options_.owner, Iso8601UtcMicros(at), Iso8601UtcMicros(at + term));
  if (!renewed) return renewed.error();
  chunk.ours = std::move(renewed).value();
  chunk.renewed = started;
  return Status::Ok();
}

void Mailer::ReleaseFrom(Store& conn, const Chunk& chunk, size_t from) {
  for (size_t j = from; j < chunk.mail.size(); ++j) {
    (void)ReleaseClaim(conn, chunk.mail[j], options_.owner);
  }
}

Status Mailer::SendOne(Store& conn, const Config& config, const InstitutionConfig& institution,
                       const ClaimedMail& mail, const Chunk& chunk) {
  // Render the email from its templates and values, send it, and record the outcome.
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
      {"reminder_number", mail.kind == MailKind::kReminder ? mail.reminders_sent + 1 : 0},
      {"documents", nlohmann::json::array()},
  };
  if (auto it = chunk.documents.find(mail.student); it != chunk.documents.end()) {
    for (const DocumentLine& d : it->second) {
      values["documents"].push_back({{"title", TitleOnOneLine(d.title)},
                                     {"kind", CredentialTypeWord(d.kind, mail.locale)},
                                     {"id", d.public_id}});
    }
  }
  if (mail.kind != MailKind::kNotice) {
    const Secrets& secrets = pending_tokens_[mail.outbox_id];
    values["activation_url"] = Replace(inv.activation_url, "{token}", secrets.token);
    if (!secrets.code.empty()) {
      values["access_code"] = secrets.code;
      values["code_url"] = inv.access_code_url;
    }
    values["expires_on"] = Iso8601UtcMicros(chunk.expires).substr(0, 10);  // YYYY-MM-DD.
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

  // A resend is a first email again.
  const std::string template_name(
      kMailKinds.Name(mail.kind == MailKind::kResend ? MailKind::kInvitation : mail.kind));
  auto rendered = templates_->Render(template_name, french ? "fr" : "en", values);
  OutgoingMessage message;
  message.from = {inv.from_name, inv.from_address};
  message.to = {values["student_name"].get<std::string>(), mail.recipient};
  if (!inv.reply_to.empty()) message.reply_to = MailAddress{inv.from_name, inv.reply_to};
  message.message_id = mail.message_id;
  message.date = clock_.Now();
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
  // A value that cannot be put in an email is nothing the transport could do differently.
  const Clock::SteadyTime send_started = clock_.Steady();
  SendOutcome outcome =
      mime ? transport_->Send(inv.from_address, mail.recipient, *mime)
           : SendOutcome{SendOutcome::Kind::kFailed, 0, "local: " + mime.error().ToString()};
  if (options_.metrics != nullptr && mime) {
    options_.metrics->smtp_send.With({}).Observe(
        std::chrono::duration<double>(clock_.Steady() - send_started).count());
  }
  return Record(conn, config, institution, mail, std::move(outcome));
}

Status Mailer::Record(Store& conn, const Config& config, const InstitutionConfig& institution,
                      const ClaimedMail& mail, SendOutcome outcome) {
  // Store what the relay said (sent, deferred with backoff, failed) and log it.
  const InvitationConfig& inv = institution.invitations;
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
  const std::string done_iso = Iso8601UtcMicros(clock_.Now());
  Count(outcome);
  switch (outcome.kind) {
    case SendOutcome::Kind::kSent: {
      auto ok = MarkSent(conn, mail, options_.owner, done_iso, outcome.reply, inv.reminder_days);
      if (!ok) return ok.error();
      refusals_in_a_row_[institution.id] = 0;
      pending_tokens_.erase(mail.outbox_id);
      log_.Info("mail.sent", {{"message_id", mail.message_id},
                              {"kind", std::string(kMailKinds.Name(mail.kind))},
                              {"student", where},
                              {"attempt", std::to_string(mail.attempts)},
                              {"late", *ok ? "false" : "true (lease lost; not recorded)"}});
      return Status::Ok();
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
      return Status::Ok();
    }
    case SendOutcome::Kind::kFailed:
      break;
  }
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
  return PauseIfRelayRefuses(conn, institution, outcome);
}

void Mailer::Count(const SendOutcome& outcome) {
  if (options_.metrics == nullptr) return;
  const char* name = "failed";
  switch (outcome.kind) {
    case SendOutcome::Kind::kSent:
      name = "sent";
      break;
    case SendOutcome::Kind::kDeferred:
    case SendOutcome::Kind::kUnknown:
      name = "deferred";
      break;
    case SendOutcome::Kind::kFailed:
      name = outcome.recipient_refused ? "bounced" : "failed";
      break;
  }
  options_.metrics->emails.With({name}).Add();
}

Status Mailer::PauseIfRelayRefuses(Store& conn, const InstitutionConfig& institution,
                                   const SendOutcome& outcome) {
  // Permanent refusals that are not about the address, enough of them in a row, mean the
  // relay is misconfigured: pause the institution's sending rather than fail every email.
  if (outcome.recipient_refused || outcome.smtp_code < 500) {
    if (outcome.recipient_refused) refusals_in_a_row_[institution.id] = 0;
    return Status::Ok();
  }
  if (++refusals_in_a_row_[institution.id] < options_.pause_after_refusals) return Status::Ok();
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
  return Status::Ok();
}

}  // namespace credd::mail
