// Mirrors configured institutions into the database; see institutions.h.
#include "daemon/store/institutions.h"

#include "daemon/store/database.h"
#include "daemon/store/internal/pq.h"

namespace credd {
namespace {

// The WHERE keeps an unchanged row untouched (updated_at stays), so a reload that changes
// nothing writes nothing.
constexpr const char* kUpsertInstitutionQuery =
    "INSERT INTO institutions (id, name_en, name_fr) VALUES ($1, $2, $3) "
    "ON CONFLICT (id) DO UPDATE SET name_en = EXCLUDED.name_en, name_fr = EXCLUDED.name_fr, "
    "updated_at = now() "
    "WHERE (institutions.name_en, institutions.name_fr) IS DISTINCT FROM "
    "(EXCLUDED.name_en, EXCLUDED.name_fr)";

}  // namespace

Status SyncInstitutions(Store& store, const std::vector<InstitutionConfig>& institutions) {
  pqxx::connection& conn = Pq(store);
  std::string where;
  try {
    pqxx::work txn(conn);
    for (size_t i = 0; i < institutions.size(); ++i) {
      const InstitutionConfig& institution = institutions[i];
      where = "institutions[" + std::to_string(i) + "]";
      txn.exec_params0(kUpsertInstitutionQuery, institution.id, institution.name_en,
                       institution.name_fr);
    }
    txn.commit();
    return Status::Ok();
  } catch (const std::exception& e) {
    Error error = PqError("synchronising institutions", e);
    error.where = where;
    return error;
  }
}

}  // namespace credd
