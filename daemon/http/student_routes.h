// The students' pages: activation from the invitation (GET shows, POST consumes; or the
// access code with the address), signing in (email and password, or the institution's SSO
// through the trusted proxy), "Can't sign in?", the profile's addresses, the documents
// (list, history, open and download), and sharing them through links that expire, can be
// cancelled and show when they were opened — with the recipient's page, which needs no
// account.
// A student reaches only their own documents and shares: any other id answers 404.
// Thread contract: the handlers run on the server's handler threads; the limiters are
// thread-safe and the policy immutable.
#pragma once

#include <memory>

#include "daemon/accounts/passwords.h"
#include "daemon/http/account_mail.h"
#include "daemon/http/rate_limiter.h"
#include "daemon/http/router.h"
#include "daemon/http/web.h"

namespace credd::http {

struct StudentRoutes {
  WebDeps web;
  AccountMailer mailer;
  const accounts::PasswordPolicy* passwords = nullptr;
  // Sign-in, activation and reset POSTs per client address (accounts.sign_in_per_client_...).
  RateLimiter* per_client = nullptr;
  // Failed sign-ins and access codes per address typed, known or not, so that the pause
  // after too many looks the same for both (accounts.sign_in_failures per window).
  RateLimiter* per_address = nullptr;
};

void AddStudentRoutes(Router& router, const StudentRoutes& routes);

}  // namespace credd::http
