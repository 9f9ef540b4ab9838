// Password rules and hashing; see passwords.h. utf8proc does the Unicode work, libargon2 the
// hashing and OpenSSL the salt, so only the rules themselves are written here.
#include "daemon/accounts/passwords.h"

#include <argon2.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <utf8proc.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>

#include "common/posix_error.h"

namespace credd::accounts {
namespace {

constexpr std::size_t kMinLength = 15;
constexpr std::size_t kMaxLength = 256;
// No NFKC composition turns more than a few bytes of input into one code point (Hangul LVT
// and Greek with three marks take 9), so past 16 bytes per allowed code point the answer is
// already kTooLong; refusing early bounds the work a hostile request can cause.
constexpr std::size_t kMaxInputBytes = 16 * kMaxLength;
// Words shorter than this match too many good passwords by chance.
constexpr std::size_t kMinContextWord = 4;

// OWASP Password Storage Cheat Sheet, argon2id minimum configuration.
constexpr std::uint32_t kMemoryKib = 19456;
constexpr std::uint32_t kIterations = 2;
constexpr std::uint32_t kLanes = 1;
constexpr std::size_t kSaltBytes = 16;
constexpr std::size_t kHashBytes = 32;

constexpr auto kNfkc =
    static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_COMPAT);
// For comparisons only: case folding makes the list and context words case-insensitive, and
// dropping default-ignorable characters (soft hyphens, zero-width joiners) keeps them from
// hiding a listed word, as Unicode's NFKC_Casefold does.
constexpr auto kFold = static_cast<utf8proc_option_t>(kNfkc | UTF8PROC_CASEFOLD | UTF8PROC_IGNORE);

// The bytes are scrubbed before they are freed: they may be a password.
void Scrub(std::string& text) { OPENSSL_cleanse(text.data(), text.size()); }

std::optional<std::string> MapUtf8(std::string_view text, utf8proc_option_t options) {
  utf8proc_uint8_t* mapped = nullptr;
  utf8proc_ssize_t length =
      utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(text.data()),
                   static_cast<utf8proc_ssize_t>(text.size()), &mapped, options);
  if (length < 0) return std::nullopt;
  std::string out(reinterpret_cast<const char*>(mapped), static_cast<std::size_t>(length));
  OPENSSL_cleanse(mapped, static_cast<std::size_t>(length));
  std::free(mapped);
  return out;
}

// Valid UTF-8 only: every caller passes utf8proc's output.
std::u32string CodePoints(std::string_view utf8) {
  std::u32string out;
  const auto* bytes = reinterpret_cast<const utf8proc_uint8_t*>(utf8.data());
  utf8proc_ssize_t left = static_cast<utf8proc_ssize_t>(utf8.size());
  while (left > 0) {
    utf8proc_int32_t code_point = 0;
    utf8proc_ssize_t used = utf8proc_iterate(bytes, left, &code_point);
    if (used <= 0) break;
    out.push_back(static_cast<char32_t>(code_point));
    bytes += used;
    left -= used;
  }
  return out;
}

std::optional<std::u32string> Fold(std::string_view text) {
  std::optional<std::string> folded = MapUtf8(text, kFold);
  if (!folded) return std::nullopt;
  return CodePoints(*folded);
}

bool HasControl(const std::u32string& text) {
  return std::any_of(text.begin(), text.end(), [](char32_t c) {
    return utf8proc_category(static_cast<utf8proc_int32_t>(c)) == UTF8PROC_CATEGORY_CC;
  });
}

// +1 when `next` follows `c` going up (digits and letters wrap: "890", "yza"), -1 going
// down, 0 when equal, 2 otherwise.
int Step(char32_t c, char32_t next) {
  if (next == c) return 0;
  if (next == c + 1 || (c == U'9' && next == U'0') || (c == U'z' && next == U'a')) return 1;
  if (c == next + 1 || (c == U'0' && next == U'9') || (c == U'a' && next == U'z')) return -1;
  return 2;
}

// How many code points at the start of `text` are one character repeated or one simple
// sequence; any part of such a run is itself one.
std::size_t SimpleRunLength(std::u32string_view text) {
  if (text.empty()) return 0;
  std::size_t length = 1;
  int direction = 2;
  for (; length < text.size(); ++length) {
    int step = Step(text[length - 1], text[length]);
    if (step == 2 || (length > 1 && step != direction)) break;
    direction = step;
  }
  return length;
}

std::u32string_view TrimSpaces(std::u32string_view text) {
  auto is_space = [](char32_t c) {
    return utf8proc_category(static_cast<utf8proc_int32_t>(c)) == UTF8PROC_CATEGORY_ZS;
  };
  while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
  return text;
}

// The shortest block that `text` repeats whole ("abc" for "abcabc"), by the KMP failure
// function; `text` itself when it repeats nothing.
std::u32string_view RepeatedBlock(std::u32string_view text) {
  std::vector<std::size_t> border(text.size() + 1, 0);
  for (std::size_t i = 1; i < text.size(); ++i) {
    std::size_t k = border[i];
    while (k > 0 && text[i] != text[k]) k = border[k];
    border[i + 1] = text[i] == text[k] ? k + 1 : 0;
  }
  std::size_t period = text.size() - border[text.size()];
  return text.size() % period == 0 ? text.substr(0, period) : text;
}

bool ContainsContextWord(const std::u32string& folded, const std::vector<std::string>& words) {
  return std::any_of(words.begin(), words.end(), [&](const std::string& word) {
    std::optional<std::u32string> folded_word = Fold(word);
    return folded_word && folded_word->size() >= kMinContextWord &&
           folded.find(*folded_word) != std::u32string::npos;
  });
}

struct PhcParameters {
  std::uint32_t version = 0, memory_kib = 0, iterations = 0, lanes = 0;
  std::size_t salt_bytes = 0, hash_bytes = 0;
};

bool Literal(std::string_view& text, std::string_view literal) {
  if (text.substr(0, literal.size()) != literal) return false;
  text.remove_prefix(literal.size());
  return true;
}

bool Number(std::string_view& text, std::uint32_t& value) {
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end == text.data()) return false;
  text.remove_prefix(static_cast<std::size_t>(end - text.data()));
  return true;
}

// Unpadded base64, as the PHC format writes the salt and the hash.
std::size_t Base64Bytes(std::string_view text) { return text.size() * 3 / 4; }

// "$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>"; nothing for any other shape.
std::optional<PhcParameters> ParsePhc(std::string_view text) {
  PhcParameters p;
  if (!Literal(text, "$argon2id$v=") || !Number(text, p.version) || !Literal(text, "$m=") ||
      !Number(text, p.memory_kib) || !Literal(text, ",t=") || !Number(text, p.iterations) ||
      !Literal(text, ",p=") || !Number(text, p.lanes) || !Literal(text, "$")) {
    return std::nullopt;
  }
  std::size_t dollar = text.find('$');
  if (dollar == std::string_view::npos) return std::nullopt;
  p.salt_bytes = Base64Bytes(text.substr(0, dollar));
  p.hash_bytes = Base64Bytes(text.substr(dollar + 1));
  return p;
}

struct ProblemText {
  PasswordProblem problem;
  const char* en;
  const char* fr;
};

// One row per problem; the page shows the text as is. The numbers are kMinLength and
// kMaxLength.
constexpr std::array<ProblemText, 7> kProblemTexts{{
    {PasswordProblem::kNone, "", ""},
    {PasswordProblem::kTooShort, "Use at least 15 characters.", "Utilisez au moins 15 caractères."},
    {PasswordProblem::kTooLong, "Use at most 256 characters.", "Utilisez au plus 256 caractères."},
    {PasswordProblem::kNotText, "Use only letters, numbers, spaces and symbols.",
     "Utilisez seulement des lettres, des chiffres, des espaces et des symboles."},
    {PasswordProblem::kCommon, "This password is too common. Choose another one.",
     "Ce mot de passe est trop courant. Choisissez-en un autre."},
    {PasswordProblem::kRepetitive,
     "Avoid a character repeated over and over, or a sequence such as \"abcd\" or \"1234\".",
     "Évitez de répéter un même caractère ou d’utiliser une suite comme « abcd » ou « 1234 »."},
    {PasswordProblem::kContext,
     "Do not use your email address, your student or employee number, or the name of this "
     "service.",
     "N’utilisez pas votre adresse courriel, votre numéro d’étudiant ou d’employé, ni le nom de "
     "ce service."},
}};

}  // namespace

Result<PasswordPolicy> PasswordPolicy::Load(const std::string& common_list_path) {
  PasswordPolicy policy;
  if (common_list_path.empty()) return policy;
  std::ifstream in(common_list_path, std::ios::binary);
  if (!in) {
    return PosixError(ErrorCode::kConfig, "cannot open the common-password list", errno,
                      common_list_path);
  }
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line.starts_with("#!")) continue;
    // A line that is not UTF-8 could never equal a password, which always is.
    if (std::optional<std::u32string> folded = Fold(line)) policy.common_.insert(*folded);
  }
  if (in.bad()) {
    return MakeError(ErrorCode::kConfig, "cannot read the common-password list", common_list_path);
  }
  return policy;
}

PasswordProblem PasswordPolicy::Check(std::string_view password,
                                      const std::vector<std::string>& context_words) const {
  if (password.size() > kMaxInputBytes) return PasswordProblem::kTooLong;
  std::optional<std::string> normalised = NormalizePassword(password);
  if (!normalised) return PasswordProblem::kNotText;
  std::u32string text = CodePoints(*normalised);
  if (HasControl(text)) return PasswordProblem::kNotText;
  if (text.size() < kMinLength) return PasswordProblem::kTooShort;
  if (text.size() > kMaxLength) return PasswordProblem::kTooLong;
  std::u32string folded = Fold(*normalised).value_or(std::u32string());
  if (SimpleRunLength(folded) == folded.size()) return PasswordProblem::kRepetitive;
  if (IsCommon(folded)) return PasswordProblem::kCommon;
  if (ContainsContextWord(folded, context_words)) return PasswordProblem::kContext;
  return PasswordProblem::kNone;
}

// Every entry of a list is shorter than 15 characters (the john list's longest has 13), so
// a listed password only ever arrives padded: with spaces, with a run of one character or a
// sequence at either end ("password!!!!!!!", "password1234567"), or repeated whole
// ("passwordpassword"). Each way of stripping such padding is tried.
bool PasswordPolicy::IsCommon(const std::u32string& folded) const {
  if (common_.empty()) return false;
  std::u32string_view text = TrimSpaces(folded);
  std::u32string reversed(text.rbegin(), text.rend());
  std::size_t prefix = SimpleRunLength(text);
  std::size_t suffix = SimpleRunLength(reversed);
  for (std::size_t head = 0; head <= prefix; ++head) {
    for (std::size_t tail = 0; tail <= suffix && head + tail < text.size(); ++tail) {
      if (IsListed(text.substr(head, text.size() - head - tail))) return true;
    }
  }
  return false;
}

bool PasswordPolicy::IsListed(std::u32string_view core) const {
  return common_.contains(std::u32string(core)) ||
         common_.contains(std::u32string(RepeatedBlock(core)));
}

std::size_t PasswordPolicy::min_length() const { return kMinLength; }
std::size_t PasswordPolicy::max_length() const { return kMaxLength; }

std::string PasswordProblemText(PasswordProblem problem, const std::string& lang) {
  for (const ProblemText& row : kProblemTexts) {
    if (row.problem == problem) return lang == "fr" ? row.fr : row.en;
  }
  return "";
}

std::optional<std::string> NormalizePassword(std::string_view password) {
  return MapUtf8(password, kNfkc);
}

Result<std::string> HashPassword(std::string_view password) {
  std::optional<std::string> normalised = NormalizePassword(password);
  if (!normalised) return MakeError(ErrorCode::kUsage, "the password is not valid UTF-8");
  std::array<unsigned char, kSaltBytes> salt{};
  if (RAND_bytes(salt.data(), static_cast<int>(salt.size())) != 1) {
    Scrub(*normalised);
    return MakeError(ErrorCode::kInternal,
                     std::string("RAND_bytes: ") + ERR_reason_error_string(ERR_get_error()));
  }
  std::string encoded(
      argon2_encodedlen(kIterations, kMemoryKib, kLanes, kSaltBytes, kHashBytes, Argon2_id), '\0');
  int rc =
      argon2id_hash_encoded(kIterations, kMemoryKib, kLanes, normalised->data(), normalised->size(),
                            salt.data(), salt.size(), kHashBytes, encoded.data(), encoded.size());
  Scrub(*normalised);
  if (rc != ARGON2_OK) {
    return MakeError(ErrorCode::kInternal, std::string("argon2id: ") + argon2_error_message(rc));
  }
  encoded.resize(std::strlen(encoded.c_str()));
  return encoded;
}

bool VerifyPassword(std::string_view password, const std::string& encoded) {
  std::optional<std::string> normalised = NormalizePassword(password);
  if (!normalised) return false;
  int rc = argon2id_verify(encoded.c_str(), normalised->data(), normalised->size());
  Scrub(*normalised);
  return rc == ARGON2_OK;
}

void SpendVerifyTime(std::string_view password) {
  // Made from the current parameters, so it costs what a freshly stored hash costs; a
  // function-local static is initialised once even when first calls race.
  static const std::string kFixedHash = [] {
    Result<std::string> hash = HashPassword("credd: no such account");
    return hash.ok() ? *hash : std::string();
  }();
  VerifyPassword(password, kFixedHash);
}

bool NeedsRehash(const std::string& encoded) {
  std::optional<PhcParameters> p = ParsePhc(encoded);
  return !p || p->version < ARGON2_VERSION_13 || p->memory_kib < kMemoryKib ||
         p->iterations < kIterations || p->lanes < kLanes || p->salt_bytes < kSaltBytes ||
         p->hash_bytes < kHashBytes;
}

}  // namespace credd::accounts
