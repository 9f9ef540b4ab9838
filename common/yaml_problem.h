// One problem found in a YAML file (credd.yaml, a layout template): the key's path, what is
// wrong and the line. Apart from yaml_reader.h so that config.h need not include yaml-cpp.
// Thread contract: a plain value.
#pragma once

#include <string>

namespace credd {

struct YamlProblem {
  std::string path;     // Key path, e.g. "mail.smtp.port" or "institutions[0].csv.delimiter".
  std::string message;  // What is wrong, in one sentence without a trailing period.
  int line = 0;         // 1-based line in the YAML file, 0 when unknown.

  // "path: message" (with " (line N)" when known; just the message when path is empty).
  std::string ToString() const;
};

}  // namespace credd
