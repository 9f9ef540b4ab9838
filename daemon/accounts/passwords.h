// Student and staff passwords: the NIST SP 800-63B-4 acceptance rules, and argon2id hashing
// (libargon2) of the NFKC-normalised text for storage and sign-in.
// Thread contract: a PasswordPolicy is immutable after Load, so Check may run on any thread;
// the free functions are reentrant (SpendVerifyTime's fixed hash is made once, safely).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "common/result.h"

namespace credd::accounts {

// NIST SP 800-63B-4 rules for passwords used as a single factor: at least 15 characters (code
// points after NFKC normalisation), at most 256; no composition rules; refused when on the
// common-password list (case-insensitive, also when padded with spaces, repeated characters or
// sequences, or repeated whole), made of one repeated character or a simple ascending or
// descending sequence ("aaaaaaaaaaaaaaa", "123456789012345", "abcdefghijklmnop"), or when it
// contains (case-insensitive) one of the context words given (the email address's local part,
// the institution id, "credd") of 4+ characters.
enum class PasswordProblem { kNone, kTooShort, kTooLong, kNotText, kCommon, kRepetitive, kContext };

class PasswordPolicy {
 public:
  // Reads the list (one password per line, "#!" lines skipped, trailing \r stripped, stored
  // case-folded and NFKC); kConfig naming the file when unreadable. An empty path gives a
  // policy with no list.
  static Result<PasswordPolicy> Load(const std::string& common_list_path);

  // The first problem found, in the order of the enum (kNotText: not valid UTF-8, or has
  // control characters); kNone when the password is acceptable.
  PasswordProblem Check(std::string_view password,
                        const std::vector<std::string>& context_words) const;

  std::size_t min_length() const;
  std::size_t max_length() const;

 private:
  PasswordPolicy() = default;
  bool IsCommon(const std::u32string& folded) const;
  bool IsListed(std::u32string_view core) const;

  std::unordered_set<std::u32string> common_;  // Case-folded NFKC code points.
};

// What the page tells the user, in "en" or "fr" (Canadian French), e.g. "Use at least 15
// characters." / "Utilisez au moins 15 caractères."; other languages get English; kNone
// gives "".
std::string PasswordProblemText(PasswordProblem problem, const std::string& lang);

// The password as stored and compared: NFKC-normalised UTF-8 (utf8proc). Invalid UTF-8 ->
// empty optional.
std::optional<std::string> NormalizePassword(std::string_view password);

// argon2id via libargon2, OWASP's minimum parameters m=19456 KiB, t=2, p=1, a 16-byte salt
// from OpenSSL's RAND_bytes and a 32-byte hash; returns the PHC string
// ("$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>"). Normalises first: kUsage for invalid
// UTF-8, kInternal when the salt or the hash cannot be made.
Result<std::string> HashPassword(std::string_view password);

// Constant-time check through argon2id_verify; false for invalid UTF-8, a malformed encoding
// or any other error (never throws).
bool VerifyPassword(std::string_view password, const std::string& encoded);

// Spends the time of one VerifyPassword against a fixed hash (computed once from the current
// parameters), so that an unknown account costs what a known one does.
void SpendVerifyTime(std::string_view password);

// True when the encoding is not argon2id v19 or its parameters (m, t, p, salt or hash
// length) are below the current ones, so the caller rehashes at the next sign-in.
bool NeedsRehash(const std::string& encoded);

}  // namespace credd::accounts
