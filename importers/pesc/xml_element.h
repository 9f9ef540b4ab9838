// A small in-memory element tree for one PESC transcript: the SAX parser builds it while
// the transcript is open and drops it when the transcript has been handed on, so memory
// is bounded by one transcript, never by the file. Internal to importers/pesc.
#pragma once

#include <memory>
#include <string>
#include <vector>

namespace credd::pesc {

struct XmlElement {
  std::string name;  // Local name: any namespace prefix removed ("ColTrn:Foo" -> "Foo").
  int line = 0;      // 1-based line of the start tag.
  int column = 0;    // 1-based column of the start tag.
  std::string text;  // Character data, entities decoded, UTF-8, trimmed when closed.
  std::vector<std::unique_ptr<XmlElement>> children;
};

}  // namespace credd::pesc
