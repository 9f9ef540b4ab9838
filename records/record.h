// What importers produce: one CredentialRecord per credential found in an input file, or
// one RecordError naming the file position and field that made a record unusable.
// Plain values; no behaviour beyond small helpers.
#pragma once

#include <string>
#include <vector>

namespace credd {

// A course line on a transcript. Credits stay decimal text ("3.00"): never a float, so a
// transcript shows exactly what the SIS sent.
struct Course {
  std::string subject;  // "MATH" (PESC CourseSubjectAbbreviation).
  std::string number;   // "101" (PESC CourseNumber).
  std::string title;    // "Calculus I".
  std::string credits;  // Credits earned or attempted, as decimal text.
  std::string grade;    // "A-", "85", "P", "W": a string, never a number.
  std::string remark;   // Optional qualifier (repeat, transfer, ...).
};

// GPA figures, as decimal text exactly as imported.
struct GpaSummary {
  std::string credits_attempted;
  std::string credits_earned;
  std::string quality_points;
  std::string gpa;
  bool empty() const {
    return credits_attempted.empty() && credits_earned.empty() && quality_points.empty() &&
           gpa.empty();
  }
};

// One academic session (term) with its courses and its own GPA summary.
struct AcademicSession {
  std::string name;        // "Fall 2019" (SessionName or designator).
  std::string start_date;  // ISO date or empty.
  std::string end_date;    // ISO date or empty.
  std::vector<Course> courses;
  GpaSummary gpa;
};

// A degree, diploma or other award listed on a transcript, with honours.
struct Award {
  std::string title;    // "Bachelor of Science".
  std::string program;  // Major/program where known.
  std::string date;     // Conferral date, ISO or empty.
  std::string honors;   // "With Distinction", empty when none.
};

// Transcript detail: only PESC records carry it.
struct TranscriptData {
  std::string institution_name;  // As named by the sender.
  std::vector<AcademicSession> sessions;
  std::vector<Award> awards;
  GpaSummary cumulative;
  bool empty() const { return sessions.empty() && awards.empty() && cumulative.empty(); }
};

// One credential for one student, as read from the file: not validated yet (see
// records/validate.h), so any field may be empty or malformed.
struct CredentialRecord {
  int line = 0;            // 1-based physical line where the record starts.
  std::string student_id;  // SIS identifier, always a string ("00123").
  std::string family_name;
  std::string given_names;
  std::string birth_date;        // ISO date or empty.
  std::string email;             // Institutional address.
  std::string personal_email;    // Optional.
  std::string preferred_locale;  // "en", "fr" or empty (institution default).
  std::string credential_type;   // transcript, diploma, certificate, attestation.
  std::string credential_title;
  std::string program;
  std::string issued_on;           // ISO date.
  std::string source_document_id;  // PESC DocumentID or manifest reference, if any.
  TranscriptData transcript;       // PESC only.
  std::string pdf_file;            // pdf-manifest only: the PDF's name inside the input.
  std::string pdf_bytes;           // pdf-manifest only: the PDF as given (never altered).
};

// Why one record (or, with line 0, the whole file) was rejected. Reports print
// "<file>:<line>[:<column>]: <field>: <message>".
struct RecordError {
  int line = 0;       // 1-based physical line; 0 when about the whole file.
  int column = 0;     // 1-based column or byte offset within the line; 0 when unknown.
  std::string field;  // The credd field name ("issued_on"), or "" for structure errors.
  std::string message;

  std::string ToString(const std::string& file) const;
};

}  // namespace credd
