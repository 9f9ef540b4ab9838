#include "daemon/admin/admin_views.h"

#include "daemon/pipeline/report.h"
#include "daemon/store/states.h"

namespace credd {

nlohmann::json StatusJson(const StatusCounts& counts, const std::vector<ConditionRow>& conditions) {
  nlohmann::json listed = nlohmann::json::array();
  for (const ConditionRow& c : conditions) {
    listed.push_back({{"institution", c.institution_id},
                      {"kind", std::string(ConditionName(c.kind))},
                      {"detail", c.detail},
                      {"since", c.since}});
  }
  return {{"schema_version", counts.schema_version},
          {"batches", counts.batches},
          {"documents", counts.documents},
          {"invitations", counts.invitations},
          {"outbox", counts.outbox},
          {"conditions", listed}};
}

nlohmann::json StudentJson(const StudentRow& s) {
  nlohmann::json student = {
      {"institution", s.institution_id},        {"student_id", s.student_id},
      {"family_name", s.family_name},           {"given_names", s.given_names},
      {"preferred_locale", s.preferred_locale}, {"activated_at", s.activated_at},
      {"emails", nlohmann::json::array()},      {"documents", nlohmann::json::array()},
      {"invitations", nlohmann::json::array()}};
  for (const StudentEmailRow& e : s.emails) {
    student["emails"].push_back(
        {{"address", e.address}, {"kind", e.kind}, {"primary", e.primary}, {"status", e.status}});
  }
  for (const StudentDocumentRow& d : s.documents) {
    student["documents"].push_back({{"id", d.id},
                                    {"public_id", d.public_id},
                                    {"kind", d.kind},
                                    {"title", d.title},
                                    {"status", kDocumentStatuses.Name(d.status)},
                                    {"sha256", d.sha256}});
  }
  for (const StudentInvitationRow& i : s.invitations) {
    student["invitations"].push_back({{"id", i.id},
                                      {"kind", i.kind},
                                      {"state", kInvitationStates.Name(i.state)},
                                      {"reminders_sent", i.reminders_sent},
                                      {"expires_at", i.expires_at},
                                      {"last_error", i.last_error},
                                      {"to", i.to}});
  }
  return student;
}

nlohmann::json StudentsJson(const std::vector<StudentRow>& students) {
  nlohmann::json list = nlohmann::json::array();
  for (const StudentRow& s : students) list.push_back(StudentJson(s));
  return list.size() == 1 ? list[0] : nlohmann::json{{"students", list}};
}

nlohmann::json BatchSummaryJson(const BatchRow& b) {
  nlohmann::json j = {{"id", b.id},
                      {"institution", b.institution_id},
                      {"file", b.file_name},
                      {"format", b.format},
                      {"status", kBatchStatuses.Name(b.status)},
                      {"received_at", b.received_at},
                      {"records",
                       {{"total", b.counts.total},
                        {"accepted", b.counts.accepted},
                        {"rejected", b.counts.rejected},
                        {"duplicates", b.counts.duplicates}}}};
  if (b.duplicate_of != 0) j["duplicate_of"] = b.duplicate_of;
  return j;
}

nlohmann::json BatchReportJson(const BatchRow& b, const std::vector<StoredRecordError>& errors) {
  BatchReport report;
  report.file = b.file_name;
  report.institution_id = b.institution_id;
  report.sha256 = b.sha256;
  report.format = b.format;
  report.status = b.status;
  report.counts = b.counts;
  report.reason = b.error_message;
  report.received_at = b.received_at;
  report.batch_id = b.id;
  report.duplicate_of = b.duplicate_of;
  for (const StoredRecordError& e : errors) {
    (e.warning ? report.warnings : report.errors).push_back(e.error);
  }
  nlohmann::json j = ReportJson(report);
  j.erase("finished_at");  // Not kept in the database; the report file has it.
  j.erase("dry_run");
  return j;
}

}  // namespace credd
