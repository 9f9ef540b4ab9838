// Field extraction for one PESC CollegeTranscript; the rules are listed in README.md.
#include "importers/pesc/transcript_reader.h"

#include <cctype>

namespace credd::pesc {
namespace {

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

bool IsDigits(std::string_view text) {
  for (char c : text) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

// Ranks a record-level AcademicSummaryType for the cumulative GPA: lower is better, and
// -1 means "never the cumulative figure" (transfer-only or sender-defined subtotals).
int CumulativeRank(std::string_view type) {
  if (EqualsIgnoreCase(type, "All") || EqualsIgnoreCase(type, "Cumulative")) return 0;
  if (EqualsIgnoreCase(type, "SenderOnly")) return 1;
  if (type.empty()) return 2;
  return -1;
}

}  // namespace

void TranscriptReader::Warn(const XmlElement& element, std::string field, std::string message) {
  // Reports name records by line; the column would only add noise for staff.
  warn_(RecordError{element.line, 0, std::move(field), std::move(message)});
}

std::vector<const XmlElement*> TranscriptReader::Children(const XmlElement* parent,
                                                          std::string_view name) {
  std::vector<const XmlElement*> found;
  if (parent == nullptr) return found;
  for (const auto& child : parent->children) {
    if (child->name == name) {
      found.push_back(child.get());
    } else if (EqualsIgnoreCase(child->name, name)) {
      // A lookup may be repeated on the same element; warn about a spelling once.
      if (misspelled_.insert(child.get()).second) {
        Warn(*child, "",
             "element <" + child->name + "> should be spelled <" + std::string(name) +
                 ">; read it anyway");
      }
      found.push_back(child.get());
    }
  }
  return found;
}

const XmlElement* TranscriptReader::Child(const XmlElement* parent, std::string_view name) {
  if (parent == nullptr) return nullptr;
  for (const auto& child : parent->children) {
    if (child->name == name) return child.get();
  }
  std::vector<const XmlElement*> loose = Children(parent, name);
  return loose.empty() ? nullptr : loose.front();
}

std::string TranscriptReader::Text(const XmlElement* parent,
                                   std::initializer_list<std::string_view> path) {
  const XmlElement* at = parent;
  for (std::string_view step : path) {
    at = Child(at, step);
    if (at == nullptr) return {};
  }
  return at->text;
}

std::string TranscriptReader::Date(const XmlElement* element, std::string_view field) {
  if (element == nullptr || element->text.empty()) return {};
  const std::string& value = element->text;
  // xs:date may carry a time zone ("1995-01-01Z") and xs:dateTime a time: both start
  // with a full date, which is all credd keeps.
  if (value.size() >= 10 && IsDigits(std::string_view(value).substr(0, 4)) && value[4] == '-' &&
      IsDigits(std::string_view(value).substr(5, 2)) && value[7] == '-' &&
      IsDigits(std::string_view(value).substr(8, 2)) &&
      (value.size() == 10 || value[10] == 'T' || value[10] == 'Z' || value[10] == '+' ||
       value[10] == '-')) {
    return value.substr(0, 10);
  }
  Warn(*element, std::string(field),
       "<" + element->name + "> '" + value + "' is not a full date (YYYY-MM-DD); left empty");
  return {};
}

GpaSummary TranscriptReader::Gpa(const XmlElement* summary) {
  GpaSummary gpa;
  const XmlElement* element = Child(summary, "GPA");
  if (element == nullptr) return gpa;
  gpa.credits_attempted = Text(element, {"CreditHoursAttempted"});
  gpa.credits_earned = Text(element, {"CreditHoursEarned"});
  gpa.gpa = Text(element, {"GradePointAverage"});
  gpa.quality_points = Text(element, {"TotalQualityPoints"});
  return gpa;
}

Course TranscriptReader::ReadCourse(const XmlElement& element) {
  Course course;
  course.subject = Text(&element, {"CourseSubjectAbbreviation"});
  course.number = Text(&element, {"CourseNumber"});
  course.title = Text(&element, {"CourseTitle"});
  course.credits = Text(&element, {"CourseCreditEarned"});
  if (course.credits.empty()) course.credits = Text(&element, {"CourseCreditValue"});
  course.grade = Text(&element, {"CourseAcademicGrade"});
  course.remark = Text(&element, {"CourseRepeatCode"});
  if (course.remark.empty()) {
    // Transfer and equivalence credits must be told apart from credits earned here.
    std::string basis = Text(&element, {"CourseCreditBasis"});
    if (!EqualsIgnoreCase(basis, "Regular")) course.remark = basis;
  }
  return course;
}

void TranscriptReader::ReadAcademicRecord(const XmlElement& academic_record,
                                          CredentialRecord& record,
                                          std::vector<const XmlElement*>& record_summaries) {
  TranscriptData& data = record.transcript;
  for (const XmlElement* element : Children(&academic_record, "AcademicSession")) {
    AcademicSession session;
    const XmlElement* detail = Child(element, "AcademicSessionDetail");
    session.name = Text(detail, {"SessionName"});
    if (session.name.empty()) session.name = Text(detail, {"SessionDesignator"});
    session.start_date = Date(Child(detail, "SessionBeginDate"), "");
    session.end_date = Date(Child(detail, "SessionEndDate"), "");
    for (const XmlElement* course : Children(element, "Course")) {
      session.courses.push_back(ReadCourse(*course));
    }
    // A session may list its own figures and running totals; the session's own GPA is
    // the first summary that is not the cumulative one.
    for (const XmlElement* summary : Children(element, "AcademicSummary")) {
      GpaSummary gpa = Gpa(summary);
      if (gpa.empty()) continue;
      if (EqualsIgnoreCase(Text(summary, {"AcademicSummaryType"}), "Cumulative")) {
        last_session_cumulative_ = gpa;
      } else if (session.gpa.empty()) {
        session.gpa = gpa;
      }
    }
    data.sessions.push_back(std::move(session));
  }
  // Courses outside any session (transfer credit, in-progress work) are kept in one
  // unnamed session per AcademicRecord, after that record's sessions.
  std::vector<const XmlElement*> loose_courses = Children(&academic_record, "Course");
  if (!loose_courses.empty()) {
    AcademicSession session;
    for (const XmlElement* course : loose_courses) session.courses.push_back(ReadCourse(*course));
    data.sessions.push_back(std::move(session));
  }
  for (const XmlElement* element : Children(&academic_record, "AcademicAward")) {
    Award award;
    award.title = Text(element, {"AcademicAwardTitle"});
    award.date = Date(Child(element, "AcademicAwardDate"), "");
    award.program = Text(element, {"AcademicAwardProgram", "AcademicProgramName"});
    for (const XmlElement* honors : Children(element, "AcademicHonors")) {
      std::string title = Text(honors, {"HonorsTitle"});
      if (title.empty()) continue;
      award.honors += (award.honors.empty() ? "" : "; ") + title;
    }
    if (record.program.empty()) record.program = award.program;
    data.awards.push_back(std::move(award));
  }
  for (const XmlElement* summary : Children(&academic_record, "AcademicSummary")) {
    record_summaries.push_back(summary);
  }
}

bool TranscriptReader::Read(const XmlElement& transcript, CredentialRecord& record,
                            RecordError& error) {
  record.line = transcript.line;
  record.credential_type = "transcript";
  // Each problem is "field: what is missing"; all of them are reported together.
  std::vector<std::pair<std::string, std::string>> problems;

  const XmlElement* transmission = Child(&transcript, "TransmissionData");
  if (transmission == nullptr) {
    problems.emplace_back("source_document_id",
                          "TransmissionData is missing (a transcript needs "
                          "TransmissionData/DocumentID)");
  } else {
    record.source_document_id = Text(transmission, {"DocumentID"});
    if (record.source_document_id.empty()) {
      problems.emplace_back("source_document_id",
                            "TransmissionData/DocumentID is missing or empty");
    }
    const XmlElement* created = Child(transmission, "CreatedDateTime");
    record.issued_on = Date(created, "issued_on");
    if (created == nullptr || created->text.empty()) {
      Warn(*transmission, "issued_on", "TransmissionData/CreatedDateTime is missing");
    }
    record.transcript.institution_name =
        Text(transmission, {"Source", "Organization", "OrganizationName"});
    if (record.transcript.institution_name.empty()) {
      Warn(*transmission, "", "TransmissionData/Source/Organization/OrganizationName is missing");
    }
    record.credential_title =
        EqualsIgnoreCase(Text(transmission, {"DocumentOfficialCode"}), "Unofficial")
            ? "Unofficial Transcript"
            : "Official Transcript";
  }
  if (record.credential_title.empty()) record.credential_title = "Official Transcript";

  const XmlElement* student = Child(&transcript, "Student");
  const XmlElement* person = Child(student, "Person");
  // The SIS's own id first; agency and recipient ids only when the sender has no other.
  // Government numbers (SSN, SIN) are never a student id: they would be stored and printed.
  for (std::string_view id :
       {"SchoolAssignedPersonID", "AgencyAssignedID", "RecipientAssignedID"}) {
    record.student_id = Text(person, {id});
    if (!record.student_id.empty()) break;
  }
  if (record.student_id.empty()) {
    problems.emplace_back("student_id",
                          "no Student/Person/SchoolAssignedPersonID, AgencyAssignedID or "
                          "RecipientAssignedID (SSN and SIN are never used as a student id)");
  }
  const XmlElement* name = Child(person, "Name");
  record.family_name = Text(name, {"LastName"});
  if (record.family_name.empty()) {
    problems.emplace_back("family_name", "Student/Person/Name/LastName is missing or empty");
  }
  record.given_names = Text(name, {"FirstName"});
  for (const XmlElement* middle : Children(name, "MiddleName")) {
    if (middle->text.empty()) continue;
    record.given_names += (record.given_names.empty() ? "" : " ") + middle->text;
  }
  record.birth_date = Date(Child(Child(person, "Birth"), "BirthDate"), "birth_date");

  std::vector<std::string> emails;
  for (const XmlElement* contacts : Children(person, "Contacts")) {
    for (const XmlElement* email : Children(contacts, "Email")) {
      std::string address = Text(email, {"EmailAddress"});
      if (!address.empty()) emails.push_back(address);
    }
  }
  if (!emails.empty()) record.email = emails[0];
  if (emails.size() > 1) record.personal_email = emails[1];

  for (const XmlElement* language : Children(person, "Language")) {
    const XmlElement* code = Child(language, "LanguageCode");
    if (code == nullptr || code->text.empty()) continue;
    std::string lower;
    for (char c : code->text)
      lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (lower == "eng" || lower == "en") {
      record.preferred_locale = "en";
    } else if (lower == "fra" || lower == "fre" || lower == "fr") {
      record.preferred_locale = "fr";
    } else {
      Warn(*code, "preferred_locale",
           "LanguageCode '" + code->text + "' is not en or fr; the institution default applies");
    }
    break;
  }

  std::vector<const XmlElement*> record_summaries;
  for (const XmlElement* academic_record : Children(student, "AcademicRecord")) {
    ReadAcademicRecord(*academic_record, record, record_summaries);
  }
  // The cumulative GPA is the best-ranked record-level summary that has a GPA (see
  // CumulativeRank); on a tie the first in the file wins.
  int best_rank = -1;
  for (const XmlElement* summary : record_summaries) {
    int rank = CumulativeRank(Text(summary, {"AcademicSummaryType"}));
    if (rank < 0 || (best_rank >= 0 && rank >= best_rank)) continue;
    GpaSummary gpa = Gpa(summary);
    if (gpa.empty()) continue;
    record.transcript.cumulative = gpa;
    best_rank = rank;
  }
  if (record.transcript.cumulative.empty() && !last_session_cumulative_.empty()) {
    // Some senders (uOttawa) give running totals only per session: the last one is the
    // cumulative figure for the whole transcript.
    record.transcript.cumulative = last_session_cumulative_;
  }
  if (record.program.empty()) {
    for (const XmlElement* summary : record_summaries) {
      record.program = Text(summary, {"AcademicProgram", "AcademicProgramName"});
      if (!record.program.empty()) break;
    }
  }

  if (problems.empty()) return true;
  error = RecordError{transcript.line, 0, "", ""};
  if (problems.size() == 1) {
    error.field = problems[0].first;
    error.message = problems[0].second;
  } else {
    for (const auto& [field, message] : problems) {
      error.message += (error.message.empty() ? "" : "; ") + field + ": " + message;
    }
  }
  return false;
}

}  // namespace credd::pesc
