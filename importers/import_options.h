// What an institution's configuration tells the importers. The daemon's config embeds these
// (InstitutionConfig::csv), so importers never see the daemon's config.
#pragma once

#include <map>
#include <string>

namespace credd {

// The CSV dialect and column mapping of one institution's SIS extracts.
struct CsvOptions {
  std::map<std::string, std::string> columns;  // credd field -> header in the file.
  std::string encoding = "utf-8";              // "utf-8", "windows-1252" or "iso-8859-1".
  std::string delimiter = ",";                 // One character.
};

// Everything an importer may be told; each importer reads its own part.
struct ImportOptions {
  CsvOptions csv;
};

}  // namespace credd
