// The admin API, for registrar scripts: JSON equal to `credctl --json` (status, batches,
// student find) and the desk's actions (invitation resend, document revoke and reissue),
// behind bearer tokens. Every action is audited with the token's label as the actor
// ("api:<label>"). A missing, malformed or wrong token gets the same 401, never a hint.
// Thread contract: the handlers run on the server's handler threads; AdminTokens is
// immutable after Parse.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/log.h"
#include "common/result.h"
#include "daemon/config/config.h"
#include "daemon/http/router.h"
#include "daemon/store/store_pool.h"

namespace credd::http {

class AdminTokens {
 public:
  // One "label:token" per line; blank lines and lines starting with # are skipped. Labels
  // are [a-z0-9._-]+ and unique; tokens at least 32 characters. kConfig naming the line.
  static Result<AdminTokens> Parse(const std::string& text, const std::string& where);

  // The label of the token in an "Authorization: Bearer <token>" value; empty when it
  // matches none. Every stored token is compared (SHA-256 digests, in constant time), so
  // the time taken says nothing about which, or how much, matched.
  std::string Check(const std::string& authorization) const;
  std::size_t size() const { return tokens_.size(); }

 private:
  struct Token {
    std::string label;
    std::string digest;  // SHA-256 of the token, hex.
  };
  std::vector<Token> tokens_;
};

struct AdminRoutes {
  StorePool* pool = nullptr;
  std::shared_ptr<const AdminTokens> tokens;
  std::function<std::shared_ptr<const Config>()> config;
  // Issues a new document for a document's credential (it supersedes the old one); returns
  // the new document's public id. The daemon's, which holds the signing key.
  std::function<Result<std::string>(Store&, const std::string& document_id,
                                    const std::string& actor)>
      reissue;
  Logger* log = nullptr;
};

void AddAdminRoutes(Router& router, const AdminRoutes& routes);

}  // namespace credd::http
