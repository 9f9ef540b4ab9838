// The emails the people's pages send (a share to its recipient, an address's confirmation,
// a password reset): rendered from templates/email at once, queued whole in the outbox, and
// handed to the mail thread, which sends them outside the invitation windows, under the
// global limits (daemon/mail/mailer.h).
// Thread contract: AccountMailer is shared by the handler threads (the templates are
// immutable; wake is thread-safe).
#pragma once

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "common/clock.h"
#include "common/result.h"
#include "daemon/config/config.h"
#include "daemon/mail/mail_templates.h"
#include "daemon/store/states.h"
#include "daemon/store/store.h"

namespace credd::http {

struct AccountMailer {
  std::shared_ptr<const mail::MailTemplates> templates;
  std::function<void()> wake;  // Tells the mail thread to send now.
  const Clock* clock = &SystemClock();
};

struct AccountEmail {
  MailKind kind = MailKind::kShare;
  std::string institution_id;  // Whose From address it goes out under.
  std::string lang;            // "en" or "fr".
  std::string to_name;
  std::string to;
  nlohmann::json values;  // The template's; "institution" and "reply_to" are added.
};

// Renders and queues the email, then wakes the mail thread. kConfig when the institution
// has no From address; kData when a value cannot go into an email.
Status QueueAccountEmail(const AccountMailer& mailer, Store& store, const Config& config,
                         const AccountEmail& email);

}  // namespace credd::http
