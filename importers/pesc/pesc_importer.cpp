// Streaming PESC reader on expat: a state machine finds transcripts (root or batch
// content), builds a tree per CollegeTranscript and hands it to TranscriptReader.
#include "importers/pesc/pesc_importer.h"

#include <expat.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/posix_error.h"
#include "importers/input_file.h"
#include "importers/pesc/transcript_reader.h"
#include "importers/pesc/xml_element.h"

namespace credd {
namespace {

using pesc::XmlElement;

// expat rescans an unfinished token from its start whenever more bytes arrive, so the
// chunk size bounds that rework: 1 MiB chunks rescan a 16 MiB token 16 times, not 256.
constexpr std::size_t kChunkBytes = 1 << 20;
constexpr std::string_view kUnsupportedSuffix =
    " is not supported: credd imports College Transcripts (PESC CollegeTranscript 1.3-1.9)";

std::string_view LocalName(std::string_view name) {
  std::size_t colon = name.rfind(':');
  return colon == std::string_view::npos ? name : name.substr(colon + 1);
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if ((a[i] | 0x20) != (b[i] | 0x20)) return false;
  }
  return true;
}

bool IsXmlSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

void Trim(std::string& text) {
  std::size_t end = text.size();
  while (end > 0 && IsXmlSpace(text[end - 1])) --end;
  std::size_t begin = 0;
  while (begin < end && IsXmlSpace(text[begin])) ++begin;
  text = text.substr(begin, end - begin);
}

// The encoding a byte order mark declares, and its length; expat is told the encoding
// because a BOM overrides a wrong declaration (a UTF-16BE file declaring UTF-8 is real).
struct Bom {
  const char* encoding = nullptr;
  std::size_t length = 0;
};

Bom DetectBom(std::string_view head) {
  if (head.substr(0, 3) == "\xEF\xBB\xBF") return {"UTF-8", 3};
  if (head.substr(0, 2) == "\xFF\xFE") return {"UTF-16LE", 2};
  if (head.substr(0, 2) == "\xFE\xFF") return {"UTF-16BE", 2};
  return {};
}

// One parse of one file. Expat calls the static handlers with `this` as user data.
class PescParse {
 public:
  PescParse(XML_Parser parser, const ImportInput& input, const PescLimits& limits, RecordSink& sink)
      : parser_(parser), input_(input), limits_(limits), sink_(sink) {
    XML_SetUserData(parser_, this);
    XML_SetElementHandler(parser_, &PescParse::OnStart, &PescParse::OnEnd);
    XML_SetCharacterDataHandler(parser_, &PescParse::OnText);
    XML_SetStartDoctypeDeclHandler(parser_, &PescParse::OnDoctype);
    XML_SetEntityDeclHandler(parser_, &PescParse::OnEntityDecl);
    XML_SetExternalEntityRefHandler(parser_, &PescParse::OnExternalEntity);
    // Never read the external DTD subset or parameter entities: no file or network access.
    XML_SetParamEntityParsing(parser_, XML_PARAM_ENTITY_PARSING_NEVER);
  }

  bool failed() const { return !error_.message.empty(); }
  bool stopped_by_sink() const { return stopped_by_sink_; }
  const Error& error() const { return error_; }

  void Warn(int line, std::string message) {
    sink_.OnWarning(RecordError{line, 0, "", std::move(message)});
  }

  std::string Where(int line, int column) const {
    return input_.display_name + ":" + std::to_string(line) + ":" + std::to_string(column);
  }
  int Line() const { return static_cast<int>(XML_GetCurrentLineNumber(parser_)); }
  // expat counts columns from 0; messages count from 1 like editors do.
  int Column() const { return static_cast<int>(XML_GetCurrentColumnNumber(parser_)) + 1; }

  // Called between chunks: the bytes expat holds for a token it has not finished (a
  // comment, a tag with its attributes) are everything fed since the token began.
  void CheckPendingToken(std::uint64_t bytes_fed) {
    const XML_Index token_start = XML_GetCurrentByteIndex(parser_);
    if (failed() || token_start < 0) return;
    if (bytes_fed - static_cast<std::uint64_t>(token_start) > limits_.max_token_bytes) {
      error_ = MakeError(ErrorCode::kData,
                         "a single markup token (comment, tag or attribute) is longer than " +
                             std::to_string(limits_.max_token_bytes) + " bytes",
                         Where(Line(), Column()));
    }
  }

 private:
  static void XMLCALL OnStart(void* data, const XML_Char* name, const XML_Char** /*atts*/) {
    static_cast<PescParse*>(data)->Start(LocalName(name));
  }
  static void XMLCALL OnEnd(void* data, const XML_Char* /*name*/) {
    static_cast<PescParse*>(data)->End();
  }
  static void XMLCALL OnText(void* data, const XML_Char* text, int length) {
    static_cast<PescParse*>(data)->Text(std::string_view(text, static_cast<std::size_t>(length)));
  }
  static void XMLCALL OnDoctype(void* data, const XML_Char* /*name*/, const XML_Char* /*sysid*/,
                                const XML_Char* /*pubid*/, int /*has_internal_subset*/) {
    // A DTD is how entity bombs and external entities get in; PESC never needs one.
    static_cast<PescParse*>(data)->Fail("DTDs are not allowed");
  }
  static void XMLCALL OnEntityDecl(void* data, const XML_Char* /*name*/, int /*is_param*/,
                                   const XML_Char* /*value*/, int /*value_length*/,
                                   const XML_Char* /*base*/, const XML_Char* /*sysid*/,
                                   const XML_Char* /*pubid*/, const XML_Char* /*notation*/) {
    static_cast<PescParse*>(data)->Fail("entity declarations are not allowed");
  }
  static int XMLCALL OnExternalEntity(XML_Parser parser, const XML_Char* /*context*/,
                                      const XML_Char* /*base*/, const XML_Char* /*sysid*/,
                                      const XML_Char* /*pubid*/) {
    // Expat passes the parser, whose user data is still `this`; nothing is ever loaded.
    static_cast<PescParse*>(XML_GetUserData(parser))->Fail("external entities are not allowed");
    return XML_STATUS_ERROR;
  }

  void Fail(std::string message) {
    if (failed()) return;
    error_ = MakeError(ErrorCode::kData, std::move(message), Where(Line(), Column()));
    XML_StopParser(parser_, XML_FALSE);
  }

  void StopForSink() {
    stopped_by_sink_ = true;
    XML_StopParser(parser_, XML_FALSE);
  }

  // Each supported-or-not document is classified when its start tag is seen.
  void Start(std::string_view name) {
    if (failed() || stopped_by_sink_) return;
    if (++depth_ > limits_.max_depth) {
      return Fail("elements are nested more than " + std::to_string(limits_.max_depth) + " deep");
    }
    if (skip_until_depth_ > 0) return;
    if (transcript_ != nullptr) {
      StartInTranscript(name);
      return;
    }
    if (depth_ == 1) {
      if (Matches(name, "CollegeTranscript")) return StartTranscript(name);
      if (Matches(name, "AcademicRecordBatch")) {
        in_batch_ = true;
        return;
      }
      if (Matches(name, "HighSchoolTranscript")) return Unsupported(name);
      return Fail("root element <" + std::string(name) +
                  "> is not a PESC CollegeTranscript or AcademicRecordBatch");
    }
    if (!in_batch_) return;
    // Batch 1.0 lists documents under the root; 2.x under BatchContent.
    if (depth_ == 2 && Matches(name, "BatchContent")) {
      batch_content_depth_ = depth_;
      return;
    }
    bool document_level = depth_ == 2 || (batch_content_depth_ == 2 && depth_ == 3);
    if (!document_level) return;
    if (Matches(name, "CollegeTranscript")) return StartTranscript(name);
    if (depth_ == 2 && Matches(name, "BatchEnvelope")) return;
    Unsupported(name);
  }

  void End() {
    if (failed() || stopped_by_sink_) return;
    if (skip_until_depth_ == depth_) skip_until_depth_ = 0;
    if (batch_content_depth_ == depth_) batch_content_depth_ = 0;
    --depth_;
    if (transcript_ == nullptr || skip_until_depth_ > 0) return;
    Trim(open_.back()->text);
    open_.pop_back();
    if (open_.empty()) FinishTranscript();
  }

  void Text(std::string_view text) {
    if (failed() || stopped_by_sink_ || open_.empty() || skip_until_depth_ > 0) return;
    std::string& into = open_.back()->text;
    if (into.size() + text.size() > limits_.max_text_bytes) {
      return Fail("text of <" + open_.back()->name + "> is longer than " +
                  std::to_string(limits_.max_text_bytes) + " bytes");
    }
    into += text;
  }

  // True for an exact match, and for a case-only difference with a warning.
  bool Matches(std::string_view name, std::string_view expected) {
    if (name == expected) return true;
    if (!EqualsIgnoreCase(name, expected)) return false;
    Warn(Line(), "element <" + std::string(name) + "> should be spelled <" + std::string(expected) +
                     ">; read it anyway");
    return true;
  }

  void Unsupported(std::string_view name) {
    skip_until_depth_ = depth_;
    if (!sink_.OnError(
            RecordError{Line(), 0, "", std::string(name) + std::string(kUnsupportedSuffix)})) {
      StopForSink();
    }
  }

  void StartTranscript(std::string_view name) {
    transcript_ = std::make_unique<XmlElement>();
    transcript_->name = std::string(name);
    transcript_->line = Line();
    transcript_->column = Column();
    open_.push_back(transcript_.get());
    elements_ = 1;
  }

  void StartInTranscript(std::string_view name) {
    if (++elements_ > limits_.max_elements_per_transcript) {
      return Fail("transcript starting at line " + std::to_string(transcript_->line) +
                  " has more than " + std::to_string(limits_.max_elements_per_transcript) +
                  " elements");
    }
    XmlElement* parent = open_.back();
    // Indentation between child elements is not content; dropping it keeps memory small.
    if (parent->text.find_first_not_of(" \t\r\n") == std::string::npos) parent->text.clear();
    auto child = std::make_unique<XmlElement>();
    child->name = std::string(name);
    child->line = Line();
    child->column = Column();
    open_.push_back(child.get());
    parent->children.push_back(std::move(child));
  }

  void FinishTranscript() {
    std::unique_ptr<XmlElement> transcript = std::move(transcript_);
    pesc::TranscriptReader reader(
        [this](RecordError warning) { sink_.OnWarning(std::move(warning)); });
    CredentialRecord record;
    RecordError problem;
    bool go_on = reader.Read(*transcript, record, problem) ? sink_.OnRecord(std::move(record))
                                                           : sink_.OnError(std::move(problem));
    if (!go_on) StopForSink();
  }

  XML_Parser parser_;
  const ImportInput& input_;
  const PescLimits& limits_;
  RecordSink& sink_;
  Error error_;
  bool stopped_by_sink_ = false;
  int depth_ = 0;                           // Depth of the innermost open element; the root is 1.
  bool in_batch_ = false;                   // The root is an AcademicRecordBatch.
  int batch_content_depth_ = 0;             // Depth of the open BatchContent, 0 when none.
  int skip_until_depth_ = 0;                // Depth of an unsupported document being skipped, or 0.
  std::unique_ptr<XmlElement> transcript_;  // The CollegeTranscript being read, if any.
  std::vector<XmlElement*> open_;           // Open elements inside transcript_, innermost last.
  std::size_t elements_ = 0;                // Elements in transcript_ so far.
};

Error FileTooLarge(std::uint64_t limit, const std::string& display_name) {
  return MakeError(ErrorCode::kData,
                   "the file is larger than the limit of " + std::to_string(limit) + " bytes",
                   display_name);
}

struct ParserFree {
  void operator()(XML_Parser parser) const { XML_ParserFree(parser); }
};
struct FileClose {
  void operator()(std::FILE* file) const { std::fclose(file); }
};

}  // namespace

Status PescImporter::Read(const ImportInput& input, RecordSink& sink) {
  auto opened = OpenImportFile(input.path, input.fd, input.display_name);
  if (!opened) return opened.error();
  UniqueFd fd = std::move(opened).value();
  std::unique_ptr<std::FILE, FileClose> file(::fdopen(fd.get(), "rb"));
  if (file == nullptr) {
    return PosixError(ErrorCode::kNoInput, "cannot open", errno, input.display_name);
  }
  (void)fd.Release();  // The FILE owns the descriptor now.
  // The size on disk refuses an oversized file before any parsing; the count of bytes read
  // below also catches a file that grows, or a pipe.
  struct stat info {};
  std::size_t chunk_bytes = kChunkBytes;
  if (::fstat(::fileno(file.get()), &info) == 0 && S_ISREG(info.st_mode)) {
    const auto size = static_cast<std::uint64_t>(info.st_size);
    if (size > limits_.max_file_bytes)
      return FileTooLarge(limits_.max_file_bytes, input.display_name);
    // A small file needs no 1 MiB buffer; one byte more than its size reads it in one go.
    chunk_bytes = static_cast<std::size_t>(std::clamp<std::uint64_t>(size + 1, 4096, kChunkBytes));
  }
  std::string chunk(chunk_bytes, '\0');
  std::size_t got = std::fread(chunk.data(), 1, chunk.size(), file.get());
  std::uint64_t bytes_read = got;
  if (got == 0 && std::ferror(file.get()) == 0) {
    return MakeError(ErrorCode::kData, "the file is empty", input.display_name);
  }
  std::string_view head(chunk.data(), got);
  Bom bom = DetectBom(head);
  std::unique_ptr<XML_ParserStruct, ParserFree> parser(XML_ParserCreate(bom.encoding));
  if (parser == nullptr) {
    return MakeError(ErrorCode::kInternal, "cannot create an XML parser", input.display_name);
  }
  PescParse parse(parser.get(), input, limits_, sink);
  if (bom.encoding == nullptr && (head.substr(0, 2) == std::string_view("\0<", 2) ||
                                  head.substr(0, 2) == std::string_view("<\0", 2))) {
    // Expat detects UTF-16 from "<" alone (XML 1.0 appendix F), but the XML spec wants
    // a BOM; other tools may refuse the file, so staff should hear of it.
    parse.Warn(1, "UTF-16 without a byte order mark; encoding detected from the first bytes");
  }
  std::size_t skip = bom.length;
  for (;;) {
    if (std::ferror(file.get()) != 0) {
      return PosixError(ErrorCode::kIo, "read failed", errno, input.display_name);
    }
    bool last = got < chunk.size();
    XML_Status status = XML_Parse(parser.get(), chunk.data() + skip, static_cast<int>(got - skip),
                                  last ? XML_TRUE : XML_FALSE);
    skip = 0;
    if (parse.failed()) return parse.error();
    if (parse.stopped_by_sink()) return Status::Ok();
    if (status != XML_STATUS_OK) {
      XML_Error code = XML_GetErrorCode(parser.get());
      return MakeError(ErrorCode::kData, XML_ErrorString(code),
                       parse.Where(parse.Line(), parse.Column()));
    }
    if (last) return Status::Ok();
    parse.CheckPendingToken(bytes_read - bom.length);
    if (parse.failed()) return parse.error();
    got = std::fread(chunk.data(), 1, chunk.size(), file.get());
    bytes_read += got;
    if (bytes_read > limits_.max_file_bytes) {
      return FileTooLarge(limits_.max_file_bytes, input.display_name);
    }
  }
}

}  // namespace credd
