#include "daemon/pipeline/record_identity.h"

#include <openssl/evp.h>

#include <algorithm>
#include <cctype>

#include "common/sha256.h"
#include "records/validate.h"

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

std::string CredentialKey(const CredentialRecord& record) {
  std::string type = FoldAscii(record.credential_type);
  if (type == "transcript") return type;
  // A title's line break is where the export wrapped it, not part of which credential it is.
  return type + ":" + FoldAscii(TitleOnOneLine(record.credential_title)) + ":" +
         FoldAscii(record.program);
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

namespace {

std::string Text(const nlohmann::json& object, const char* key) {
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

GpaSummary GpaFromJson(const nlohmann::json& gpa) {
  return GpaSummary{Text(gpa, "credits_attempted"), Text(gpa, "credits_earned"),
                    Text(gpa, "quality_points"), Text(gpa, "gpa")};
}

}  // namespace

CredentialRecord RecordFromData(const nlohmann::json& data) {
  CredentialRecord r;
  r.family_name = Text(data, "family_name");
  r.given_names = Text(data, "given_names");
  r.birth_date = Text(data, "birth_date");
  r.preferred_locale = Text(data, "preferred_locale");
  r.credential_type = Text(data, "credential_type");
  r.credential_title = Text(data, "credential_title");
  r.program = Text(data, "program");
  r.issued_on = Text(data, "issued_on");
  r.source_document_id = Text(data, "source_document_id");
  r.pdf_file = Text(data, "pdf_file");
  auto transcript = data.find("transcript");
  if (transcript == data.end() || !transcript->is_object()) return r;
  r.transcript.institution_name = Text(*transcript, "institution_name");
  for (const auto& s : transcript->value("sessions", nlohmann::json::array())) {
    AcademicSession session;
    session.name = Text(s, "name");
    session.start_date = Text(s, "start_date");
    session.end_date = Text(s, "end_date");
    for (const auto& c : s.value("courses", nlohmann::json::array())) {
      session.courses.push_back(Course{Text(c, "subject"), Text(c, "number"), Text(c, "title"),
                                       Text(c, "credits"), Text(c, "grade"), Text(c, "remark")});
    }
    session.gpa = GpaFromJson(s.value("gpa", nlohmann::json::object()));
    r.transcript.sessions.push_back(std::move(session));
  }
  for (const auto& a : transcript->value("awards", nlohmann::json::array())) {
    r.transcript.awards.push_back(
        Award{Text(a, "title"), Text(a, "program"), Text(a, "date"), Text(a, "honors")});
  }
  r.transcript.cumulative = GpaFromJson(transcript->value("cumulative", nlohmann::json::object()));
  return r;
}

std::string ContentSha256(const CredentialRecord& record) {
  return Sha256Hex(CredentialData(record).dump());
}

}  // namespace credd
