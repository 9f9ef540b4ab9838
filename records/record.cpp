// RecordError's one behaviour, kept apart from the importer table so that each importer
// library can link it without the other importers.
#include "records/record.h"

namespace credd {

std::string RecordError::ToString(const std::string& file) const {
  std::string out = file;
  if (line > 0) {
    out += ":" + std::to_string(line);
    if (column > 0) out += ":" + std::to_string(column);
  }
  out += ": ";
  if (!field.empty()) out += field + ": ";
  out += message;
  return out;
}

}  // namespace credd
