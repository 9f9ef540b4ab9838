// Turns one PESC CollegeTranscript element tree into a CredentialRecord, or explains why
// the transcript cannot be used. Lenient: elements are matched by local name, and
// case-insensitively with a warning. Internal to importers/pesc.
// Thread contract: one TranscriptReader per transcript, used by one thread.
#pragma once

#include <functional>
#include <initializer_list>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "importers/pesc/xml_element.h"
#include "records/record.h"

namespace credd::pesc {

// Receives tolerated deviations (line of the element, credd field or "", message).
using WarningFn = std::function<void(RecordError)>;

class TranscriptReader {
 public:
  explicit TranscriptReader(WarningFn warn) : warn_(std::move(warn)) {}

  // Fills `record` from `transcript` (a CollegeTranscript element). Returns false and sets
  // `error` (line = the transcript's line) when something a transcript needs is missing.
  bool Read(const XmlElement& transcript, CredentialRecord& record, RecordError& error);

 private:
  // The first child named `name`; an exact match wins over a case-insensitive one, which
  // is accepted with a warning because real senders misspell case (Birthdate, GeoCode).
  const XmlElement* Child(const XmlElement* parent, std::string_view name);
  // Every child named `name`, in file order, under the same matching rule.
  std::vector<const XmlElement*> Children(const XmlElement* parent, std::string_view name);
  // Text of the element at `path` below `parent`, or "" when any step is missing.
  std::string Text(const XmlElement* parent, std::initializer_list<std::string_view> path);
  // An ISO date (YYYY-MM-DD) from an xs:date or xs:dateTime value; "" with a warning
  // naming `field` when the value is not a full date.
  std::string Date(const XmlElement* element, std::string_view field);
  GpaSummary Gpa(const XmlElement* summary);
  Course ReadCourse(const XmlElement& course);
  void ReadAcademicRecord(const XmlElement& academic_record, CredentialRecord& record,
                          std::vector<const XmlElement*>& record_summaries);
  void Warn(const XmlElement& element, std::string field, std::string message);

  WarningFn warn_;
  std::set<const XmlElement*> misspelled_;  // Elements already warned about.
  GpaSummary last_session_cumulative_;      // Latest session-level cumulative summary.
};

}  // namespace credd::pesc
