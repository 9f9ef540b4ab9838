// A small in-memory element tree for one PESC transcript: the SAX parser builds it while
// the transcript is open and drops it when the transcript has been handed on, so memory
// is bounded by one transcript, never by the file. Internal to importers/pesc.
#pragma once

#include <memory>
#include <string>
#include <vector>

namespace credd::pesc {

struct XmlElement {
  XmlElement() = default;
  XmlElement(const XmlElement&) = delete;
  XmlElement& operator=(const XmlElement&) = delete;
  // Iterative: a deeply nested tree must not recurse once per level on destruction (the
  // stack would run out long before memory does).
  ~XmlElement() {
    std::vector<std::unique_ptr<XmlElement>> pending = std::move(children);
    while (!pending.empty()) {
      std::unique_ptr<XmlElement> last = std::move(pending.back());
      pending.pop_back();
      if (last == nullptr) continue;
      for (auto& child : last->children) pending.push_back(std::move(child));
      last->children.clear();
    }
  }

  std::string name;  // Local name: any namespace prefix removed ("ColTrn:Foo" -> "Foo").
  int line = 0;      // 1-based line of the start tag.
  int column = 0;    // 1-based column of the start tag.
  std::string text;  // Character data, entities decoded, UTF-8, trimmed when closed.
  std::vector<std::unique_ptr<XmlElement>> children;
};

}  // namespace credd::pesc
