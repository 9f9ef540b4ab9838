// The registrar staff's support desk: sign-in (SSO through the trusted proxy's header, or a
// local account), the batches with their reports, finding a student by institutional
// email, personal email or student id, a student's addresses, invitations, documents and
// their history, and the actions of each role, audited with the member of staff's name:
// support resends invitations and adds or closes addresses; registrar revokes and reissues.
// Each member of staff sees only their own institutions: anything else answers 404, and
// every read of a student's record is audited.
// Thread contract: the handlers run on the server's handler threads.
#pragma once

#include <functional>
#include <string>

#include "daemon/http/rate_limiter.h"
#include "daemon/http/router.h"
#include "daemon/http/web.h"

namespace credd::http {

struct DeskRoutes {
  WebDeps web;
  RateLimiter* per_client = nullptr;   // Sign-in POSTs per client address.
  RateLimiter* per_address = nullptr;  // Failed sign-ins per username typed.
  // The daemon's reissue (it holds the signing key), as for the admin API.
  std::function<Result<std::string>(Store&, const std::string& document_id,
                                    const std::string& actor)>
      reissue;
  std::function<void()> wake_mail;  // A resend goes out at once when the window allows.
};

void AddDeskRoutes(Router& router, const DeskRoutes& routes);

}  // namespace credd::http
