#include "daemon/pipeline/record_identity.h"

#include <openssl/evp.h>

#include <algorithm>
#include <cctype>

namespace credd {
namespace {

// Case-folds ASCII only: enough to make "Diploma in Nursing" and "DIPLOMA IN NURSING" one
// credential, without a locale-dependent fold that could merge distinct non-ASCII titles.
std::string FoldAscii(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

nlohmann::json GpaJson(const GpaSummary& gpa) {
  return nlohmann::json{{"credits_attempted", gpa.credits_attempted},
                        {"credits_earned", gpa.credits_earned},
                        {"quality_points", gpa.quality_points},
                        {"gpa", gpa.gpa}};
}

}  // namespace

std::string Sha256Hex(std::string_view bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(bytes.data(), bytes.size(), digest, &length, EVP_sha256(), nullptr);
  static const char kHex[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(length * 2);
  for (unsigned int i = 0; i < length; ++i) {
    hex += kHex[digest[i] >> 4];
    hex += kHex[digest[i] & 0xf];
  }
  return hex;
}

std::string CredentialKey(const CredentialRecord& record) {
  std::string type = FoldAscii(record.credential_type);
  if (type == "transcript") return type;
  return type + ":" + FoldAscii(record.credential_title) + ":" + FoldAscii(record.program);
}

nlohmann::json CredentialData(const CredentialRecord& record) {
  // nlohmann::json objects keep keys sorted, so the text form is canonical.
  nlohmann::json data = {
      {"family_name", record.family_name},
      {"given_names", record.given_names},
      {"birth_date", record.birth_date},
      {"preferred_locale", record.preferred_locale},
      {"credential_type", record.credential_type},
      {"credential_title", record.credential_title},
      {"program", record.program},
      {"issued_on", record.issued_on},
      {"source_document_id", record.source_document_id},
  };
  if (!record.pdf_bytes.empty()) {
    data["pdf_file"] = record.pdf_file;
    data["pdf_sha256"] = Sha256Hex(record.pdf_bytes);
  }
  if (!record.transcript.empty()) {
    nlohmann::json sessions = nlohmann::json::array();
    for (const AcademicSession& session : record.transcript.sessions) {
      nlohmann::json courses = nlohmann::json::array();
      for (const Course& c : session.courses) {
        courses.push_back({{"subject", c.subject},
                           {"number", c.number},
                           {"title", c.title},
                           {"credits", c.credits},
                           {"grade", c.grade},
                           {"remark", c.remark}});
      }
      sessions.push_back({{"name", session.name},
                          {"start_date", session.start_date},
                          {"end_date", session.end_date},
                          {"courses", courses},
                          {"gpa", GpaJson(session.gpa)}});
    }
    nlohmann::json awards = nlohmann::json::array();
    for (const Award& a : record.transcript.awards) {
      awards.push_back(
          {{"title", a.title}, {"program", a.program}, {"date", a.date}, {"honors", a.honors}});
    }
    data["transcript"] = {{"institution_name", record.transcript.institution_name},
                          {"sessions", sessions},
                          {"awards", awards},
                          {"cumulative", GpaJson(record.transcript.cumulative)}};
  }
  return data;
}

std::string ContentSha256(const CredentialRecord& record) {
  return Sha256Hex(CredentialData(record).dump());
}

}  // namespace credd
