#include "daemon/http/account_mail.h"

#include "common/time_format.h"
#include "daemon/mail/mailer.h"
#include "daemon/mail/message.h"
#include "daemon/store/invitation_store.h"

namespace credd::http {

Status QueueAccountEmail(const AccountMailer& mailer, Store& store, const Config& config,
                         const AccountEmail& email) {
  const InstitutionConfig* institution = config.FindInstitution(email.institution_id);
  if (institution == nullptr || institution->invitations.from_address.empty()) {
    return MakeError(ErrorCode::kConfig, "no invitations.from_address to send from",
                     "institutions." + email.institution_id);
  }
  const InvitationConfig& inv = institution->invitations;
  const bool french = email.lang == "fr";
  nlohmann::json values = email.values;
  values["institution"] =
      french && !institution->name_fr.empty() ? institution->name_fr : institution->name_en;
  values["reply_to"] = inv.reply_to.empty() ? inv.from_address : inv.reply_to;
  const std::string template_name(kMailKinds.Name(email.kind));
  auto rendered = mailer.templates->Render(template_name, french ? "fr" : "en", values);
  if (!rendered) return rendered.error();
  const std::string unique = mail::NewToken();
  if (unique.empty()) return MakeError(ErrorCode::kInternal, "the system's random source failed");
  mail::OutgoingMessage message;
  message.from = {inv.from_name, inv.from_address};
  message.to = {email.to_name, email.to};
  if (!inv.reply_to.empty()) message.reply_to = mail::MailAddress{inv.from_name, inv.reply_to};
  message.subject = rendered->subject;
  message.text_body = rendered->text;
  message.html_body = rendered->html;
  message.message_id =
      template_name + "-" + unique.substr(0, 22) + "@" + mail::DomainOf(inv.from_address);
  message.date = mailer.clock->Now();
  auto mime = mail::RenderMime(message);
  if (!mime) return mime.error();
  AccountMail queued;
  queued.kind = email.kind;
  queued.institution_id = email.institution_id;
  queued.recipient = email.to;
  queued.envelope_from = inv.from_address;
  queued.message_id = message.message_id;
  queued.mime = std::move(mime).value();
  auto id = QueueAccountMail(store, queued, Iso8601UtcMicros(mailer.clock->Now()));
  if (!id) return id.error();
  if (mailer.wake) mailer.wake();
  return Status::Ok();
}

}  // namespace credd::http
