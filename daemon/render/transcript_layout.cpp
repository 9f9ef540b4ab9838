// Transcript layout in two passes: build blocks (measured Pango layouts), paginate them,
// then draw each page with its running header and footer.
#include "daemon/render/transcript_layout.h"

#include <algorithm>
#include <string_view>
#include <utility>

namespace credd::render {
namespace {

const Rgb kInk{0.10, 0.10, 0.12};
const Rgb kMuted{0.38, 0.38, 0.42};
const Rgb kHairline{0.78, 0.80, 0.84};
const Rgb kBand{0.92, 0.94, 0.97};

constexpr double kGap = 8;     // Between table columns.
constexpr double kRowPad = 2;  // Above and below each table row.

// Text with some spans in bold, built piece by piece: "Student ID: 123".
class Spans {
 public:
  Spans& Bold(std::string_view text) {
    ranges_.emplace_back(text_.size(), text_.size() + text.size());
    text_ += text;
    return *this;
  }
  Spans& Plain(std::string_view text) {
    text_ += text;
    return *this;
  }
  const std::string& text() const { return text_; }
  const PdfCanvas::BoldRanges& ranges() const { return ranges_; }
  bool empty() const { return text_.empty(); }

 private:
  std::string text_;
  PdfCanvas::BoldRanges ranges_;
};

// A laid-out paragraph at an offset inside its block.
struct Piece {
  GObjectPtr<PangoLayout> layout;
  double x = 0;
  double dy = 0;
  Rgb color = kInk;
};

struct Rule {
  double x0 = 0, x1 = 0, dy = 0, width = 0.5;
  Rgb color = kHairline;
};

// The unit of pagination: never split across pages.
struct Block {
  std::vector<Piece> pieces;
  std::vector<Rule> rules;
  bool band = false;  // Shaded background (the column header).
  double height = 0;
  int keep_with_next = 0;   // How many following blocks must share its page.
  int row_of_session = -1;  // Course rows: their session, to repeat its header on a new page.
};

class TranscriptBuilder {
 public:
  TranscriptBuilder(const LayoutTemplate& layout, const DocumentContent& content, PdfCanvas& canvas)
      : layout_(layout),
        content_(content),
        canvas_(canvas),
        left_(layout.margin),
        right_(layout.page_width - layout.margin) {}

  Result<std::string> Run() {
    BuildFooterTemplate();
    BuildRunningHeader();
    BuildBody();
    Paginate();
    for (std::size_t page = 0; page < pages_.size(); ++page) {
      if (page > 0) canvas_.ShowPage();
      DrawPage(page);
    }
    return canvas_.Finish();
  }

 private:
  const std::string& L(std::string_view key) const { return layout_.Label(content_.locale, key); }
  TextStyle Style(std::string_view role, bool bold = false) const {
    return TextStyle{layout_.FontSize(role), bold};
  }
  double Width() const { return right_ - left_; }
  std::string LabelText(std::string_view key) const { return L(key) + L("separator"); }
  std::string StudentName() const {
    const auto& r = content_.record;
    if (r.given_names.empty()) return r.family_name;
    return r.given_names + " " + r.family_name;
  }

  Piece Text(const Spans& spans, std::string_view role, double x, double dy, double width = 0,
             PangoAlignment align = PANGO_ALIGN_LEFT, Rgb color = kInk) {
    return Piece{canvas_.Layout(spans.text(), Style(role), width, align, spans.ranges()), x, dy,
                 color};
  }
  Piece Text(std::string_view text, std::string_view role, bool bold, double x, double dy,
             double width = 0, PangoAlignment align = PANGO_ALIGN_LEFT, Rgb color = kInk) {
    return Piece{canvas_.Layout(text, Style(role, bold), width, align), x, dy, color};
  }
  static double Bottom(const Piece& piece) {
    return piece.dy + PdfCanvas::Height(piece.layout.get());
  }

  // A section heading ("Awards") with a hairline under it.
  Block Heading(std::string_view text, double space_before, int keep_with_next) {
    Block block;
    block.pieces.push_back(
        Text(text, "heading", true, left_, space_before, 0, PANGO_ALIGN_LEFT, content_.primary));
    double bottom = Bottom(block.pieces.back()) + 2;
    block.rules.push_back(Rule{left_, right_, bottom, 0.6, content_.primary});
    block.height = bottom + 4;
    block.keep_with_next = keep_with_next;
    return block;
  }

  // Column x positions: Course | Title | Credits | Grade.
  double CodeX() const { return left_ + 4; }
  double CodeW() const { return Width() * 0.15; }
  double TitleX() const { return CodeX() + CodeW() + kGap; }
  double GradeW() const { return Width() * 0.09; }
  double GradeX() const { return right_ - 4 - GradeW(); }
  double CreditsW() const { return Width() * 0.10; }
  double CreditsX() const { return GradeX() - kGap * 2 - CreditsW(); }
  double TitleW() const { return CreditsX() - kGap - TitleX(); }

  Block ColumnHeader() {
    Block block;
    block.band = true;
    block.pieces.push_back(Text(L("col_course"), "small", true, CodeX(), kRowPad + 1));
    block.pieces.push_back(Text(L("col_title"), "small", true, TitleX(), kRowPad + 1));
    block.pieces.push_back(Text(L("col_credits"), "small", true, CreditsX(), kRowPad + 1,
                                CreditsW(), PANGO_ALIGN_RIGHT));
    block.pieces.push_back(Text(L("col_grade"), "small", true, GradeX(), kRowPad + 1));
    double height = 0;
    for (const auto& piece : block.pieces) height = std::max(height, Bottom(piece));
    block.height = height + kRowPad + 1;
    block.keep_with_next = 1;
    return block;
  }

  Block CourseRow(const Course& course, int session) {
    Block block;
    std::string code = course.subject.empty()  ? course.number
                       : course.number.empty() ? course.subject
                                               : course.subject + " " + course.number;
    std::string title = course.title;
    if (!course.remark.empty()) title += title.empty() ? course.remark : " (" + course.remark + ")";
    block.pieces.push_back(Text(code, "body", false, CodeX(), kRowPad, CodeW()));
    block.pieces.push_back(Text(title, "body", false, TitleX(), kRowPad, TitleW()));
    block.pieces.push_back(
        Text(course.credits, "body", false, CreditsX(), kRowPad, CreditsW(), PANGO_ALIGN_RIGHT));
    block.pieces.push_back(Text(course.grade, "body", true, GradeX(), kRowPad, GradeW()));
    double height = 0;
    for (const auto& piece : block.pieces) height = std::max(height, Bottom(piece));
    block.height = height + kRowPad;
    block.rules.push_back(Rule{left_, right_, block.height, 0.3, kHairline});
    block.row_of_session = session;
    return block;
  }

  // "Credits earned: 15.00 · GPA: 3.50"; empty parts left out.
  Spans Summary(const GpaSummary& gpa, std::string_view gpa_key) const {
    Spans spans;
    auto add = [&](std::string_view key, const std::string& value, bool bold_value) {
      if (value.empty()) return;
      if (!spans.empty()) spans.Plain("   ·   ");
      spans.Bold(LabelText(key));
      if (bold_value) {
        spans.Bold(value);
      } else {
        spans.Plain(value);
      }
    };
    add("credits_attempted", gpa.credits_attempted, false);
    add("credits_earned", gpa.credits_earned, false);
    add("quality_points", gpa.quality_points, false);
    add(gpa_key, gpa.gpa, true);
    return spans;
  }

  std::string SessionTitle(const AcademicSession& session) const {
    return session.name.empty() ? L("unnamed_session") : session.name;
  }

  std::string SessionDates(const AcademicSession& session) const {
    std::string start = layout_.FormatDate(content_.locale, session.start_date);
    std::string end = layout_.FormatDate(content_.locale, session.end_date);
    if (start.empty() && end.empty()) return {};
    if (start.empty() || end.empty()) return start.empty() ? end : start;
    return Fill(L("session_dates"), {{"start", start}, {"end", end}});
  }

  void BuildMasthead() {
    Block block;
    double x = left_;
    double logo_h = 0;
    if (content_.logo) {
      logo_h = 46;
      double w = cairo_image_surface_get_width(content_.logo.get());
      double h = cairo_image_surface_get_height(content_.logo.get());
      logo_w_ = h > 0 ? std::min(120.0, logo_h * w / h) : 0;
      x += logo_w_ + 12;
    }
    block.pieces.push_back(Text(content_.institution, "institution", true, x, 0, right_ - x,
                                PANGO_ALIGN_LEFT, content_.primary));
    std::string title = L("title");
    if (content_.record.credential_title.find("Unofficial") != std::string::npos) {
      title = L("title_unofficial");
    }
    block.pieces.push_back(Text(title, "title", false, x, Bottom(block.pieces.back()) + 2));
    double bottom = std::max(logo_h, Bottom(block.pieces.back())) + 6;
    block.rules.push_back(Rule{left_, right_, bottom, 1.5, content_.primary});
    block.height = bottom + 8;
    body_.push_back(std::move(block));
  }

  void BuildStudent() {
    const auto& r = content_.record;
    Block block;
    double half = Width() / 2;
    std::vector<Spans> left_column, right_column;
    left_column.push_back(Spans().Bold(LabelText("student")).Plain(StudentName()));
    left_column.push_back(Spans().Bold(LabelText("student_id")).Plain(r.student_id));
    if (!r.birth_date.empty()) {
      right_column.push_back(Spans()
                                 .Bold(LabelText("birth_date"))
                                 .Plain(layout_.FormatDate(content_.locale, r.birth_date)));
    }
    if (!r.program.empty()) {
      right_column.push_back(Spans().Bold(LabelText("program")).Plain(r.program));
    }
    double bottom = 0;
    for (auto* column : {&left_column, &right_column}) {
      double x = column == &left_column ? left_ : left_ + half;
      double y = 0;
      for (const auto& spans : *column) {
        block.pieces.push_back(Text(spans, "body_large", x, y, half - kGap));
        y = Bottom(block.pieces.back()) + 3;
      }
      bottom = std::max(bottom, y);
    }
    block.height = bottom + 6;
    body_.push_back(std::move(block));
  }

  void BuildSessions() {
    const auto& sessions = content_.record.transcript.sessions;
    for (std::size_t s = 0; s < sessions.size(); ++s) {
      const AcademicSession& session = sessions[s];
      int index = static_cast<int>(s);
      std::string title = SessionTitle(session);
      std::string dates = SessionDates(session);

      Block heading = Heading(title, 10, session.courses.empty() ? 1 : 2);
      if (!dates.empty()) {
        heading.pieces.push_back(Text(dates, "small", false, left_, heading.pieces[0].dy + 2,
                                      Width(), PANGO_ALIGN_RIGHT, kMuted));
      }
      body_.push_back(std::move(heading));

      std::vector<Block> continuation;
      continuation.push_back(Heading(Fill(L("continued"), {{"session", title}}), 0, 2));
      continuation.push_back(ColumnHeader());
      continuation_.push_back(std::move(continuation));

      if (!session.courses.empty()) body_.push_back(ColumnHeader());
      for (const auto& course : session.courses) body_.push_back(CourseRow(course, index));
      Spans summary = Summary(session.gpa, "session_gpa");
      if (!summary.empty()) {
        if (!session.courses.empty()) body_.back().keep_with_next = 1;
        Block block;
        block.pieces.push_back(Text(summary, "body", left_, 4, Width(), PANGO_ALIGN_RIGHT));
        block.height = Bottom(block.pieces.back()) + 2;
        body_.push_back(std::move(block));
      }
    }
  }

  void BuildTotals() {
    const auto& transcript = content_.record.transcript;
    Spans summary = Summary(transcript.cumulative, "cumulative_gpa");
    if (!summary.empty()) {
      body_.push_back(Heading(L("cumulative_summary"), 14, 1));
      Block block;
      block.pieces.push_back(Text(summary, "body_large", left_, 0, Width()));
      block.height = Bottom(block.pieces.back()) + 2;
      body_.push_back(std::move(block));
    }
    if (!transcript.awards.empty()) {
      body_.push_back(Heading(L("awards"), 14, 1));
      for (const auto& award : transcript.awards) {
        Block block;
        block.pieces.push_back(Text(award.title, "body_large", true, left_, 0, Width()));
        Spans details;
        auto add = [&](std::string_view key, const std::string& value) {
          if (value.empty()) return;
          if (!details.empty()) details.Plain("   ·   ");
          details.Bold(LabelText(key)).Plain(value);
        };
        add("program", award.program);
        add("conferred", layout_.FormatDate(content_.locale, award.date));
        add("honors", award.honors);
        if (!details.empty()) {
          block.pieces.push_back(
              Text(details, "body", left_ + 10, Bottom(block.pieces.back()) + 1, Width() - 10));
        }
        block.height = Bottom(block.pieces.back()) + 5;
        body_.push_back(std::move(block));
      }
    }
    if (!content_.grading_legend.empty()) {
      body_.push_back(Heading(L("grading_legend"), 14, 1));
      for (const auto& line : content_.grading_legend) {
        Block block;
        block.pieces.push_back(Text(line, "small", false, left_, 0, Width()));
        block.height = Bottom(block.pieces.back()) + 1.5;
        body_.push_back(std::move(block));
      }
    }
    Block end;
    end.pieces.push_back(Text("— " + L("end") + " —", "small", false, left_, 12, Width(),
                              PANGO_ALIGN_CENTER, kMuted));
    end.height = Bottom(end.pieces.back());
    body_.push_back(std::move(end));
  }

  void BuildBody() {
    BuildMasthead();
    BuildStudent();
    BuildSessions();
    BuildTotals();
  }

  // Pages after the first: who and what this page belongs to.
  void BuildRunningHeader() {
    running_header_.pieces.push_back(Text(content_.institution + " — " + L("title"), "small", true,
                                          left_, 0, Width() * 0.55, PANGO_ALIGN_LEFT,
                                          content_.primary));
    Spans who = Spans().Plain(StudentName() + "   ·   ").Bold(LabelText("student_id"));
    who.Plain(content_.record.student_id);
    running_header_.pieces.push_back(
        Text(who, "small", left_ + Width() * 0.55, 0, Width() * 0.45, PANGO_ALIGN_RIGHT));
    double bottom = 0;
    for (const auto& piece : running_header_.pieces) bottom = std::max(bottom, Bottom(piece));
    running_header_.rules.push_back(Rule{left_, right_, bottom + 3, 0.8, content_.primary});
    running_header_.height = bottom + 12;
  }

  // Everything in the footer but the page number, which needs the page count.
  void BuildFooterTemplate() {
    Spans issued = Spans().Bold(LabelText("issued_on")).Plain(content_.issued_on);
    issued.Plain("   ·   ").Bold(LabelText("document_id")).Plain(content_.document_id);
    footer_.pieces.push_back(Text(issued, "small", left_, 4, Width() * 0.8));
    Spans verify = Spans().Bold(LabelText("verify_at")).Plain(content_.verification_url);
    footer_.pieces.push_back(
        Text(verify, "small", left_, Bottom(footer_.pieces.back()) + 1, Width() * 0.8));
    footer_.rules.push_back(Rule{left_, right_, 0, 0.8, content_.primary});
    footer_.height = Bottom(footer_.pieces.back());
  }

  double PageTop(std::size_t page) const {
    return layout_.margin + (page == 0 ? 0 : running_header_.height);
  }
  double PageBottom() const { return layout_.page_height - layout_.margin - footer_.height - 10; }

  void Paginate() {
    pages_.emplace_back();
    double y = PageTop(0);
    for (std::size_t i = 0; i < body_.size(); ++i) {
      const Block& block = body_[i];
      double needed = 0;
      std::size_t last =
          std::min(body_.size() - 1, i + static_cast<std::size_t>(block.keep_with_next));
      for (std::size_t k = i; k <= last; ++k) needed += body_[k].height;
      if (y + needed > PageBottom() && !pages_.back().empty()) {
        pages_.emplace_back();
        y = PageTop(pages_.size() - 1);
        if (block.row_of_session >= 0) {
          for (const Block& repeat :
               continuation_[static_cast<std::size_t>(block.row_of_session)]) {
            pages_.back().push_back({&repeat, y});
            y += repeat.height;
          }
        }
      }
      pages_.back().push_back({&block, y});
      y += block.height;
    }
  }

  void DrawBlock(const Block& block, double y) {
    if (block.band) canvas_.FillRect(left_, y, Width(), block.height, kBand);
    for (const auto& piece : block.pieces) {
      canvas_.DrawText(piece.layout.get(), piece.x, y + piece.dy, piece.color);
    }
    for (const auto& rule : block.rules) {
      canvas_.DrawRule(rule.x0, rule.x1, y + rule.dy, rule.width, rule.color);
    }
  }

  void DrawPage(std::size_t page) {
    if (page == 0 && content_.logo) {
      canvas_.DrawImage(content_.logo.get(), left_, layout_.margin, logo_w_, 46);
    }
    if (page > 0) DrawBlock(running_header_, layout_.margin);
    for (const auto& [block, y] : pages_[page]) DrawBlock(*block, y);
    double footer_y = layout_.page_height - layout_.margin - footer_.height;
    DrawBlock(footer_, footer_y);
    std::string number =
        Fill(L("page"), {{"n", std::to_string(page + 1)}, {"m", std::to_string(pages_.size())}});
    auto layout = canvas_.Layout(number, Style("small", true), Width() * 0.2, PANGO_ALIGN_RIGHT);
    canvas_.DrawText(layout.get(), right_ - Width() * 0.2, footer_y + 4, kInk);
  }

  const LayoutTemplate& layout_;
  const DocumentContent& content_;
  PdfCanvas& canvas_;
  double left_;
  double right_;
  double logo_w_ = 0;
  std::vector<Block> body_;
  std::vector<std::vector<Block>> continuation_;  // Per session: heading "(continued)", columns.
  Block running_header_;
  Block footer_;
  std::vector<std::vector<std::pair<const Block*, double>>> pages_;  // Block and its top y.
};

}  // namespace

const std::vector<std::string>& TranscriptFontRoles() {
  static const std::vector<std::string> kRoles = {"institution", "title", "heading",
                                                  "body_large",  "body",  "small"};
  return kRoles;
}

const std::vector<std::string>& TranscriptLabelKeys() {
  static const std::vector<std::string> kKeys = {"separator",
                                                 "title",
                                                 "title_unofficial",
                                                 "student",
                                                 "student_id",
                                                 "birth_date",
                                                 "program",
                                                 "session_dates",
                                                 "unnamed_session",
                                                 "continued",
                                                 "col_course",
                                                 "col_title",
                                                 "col_credits",
                                                 "col_grade",
                                                 "credits_attempted",
                                                 "credits_earned",
                                                 "quality_points",
                                                 "session_gpa",
                                                 "cumulative_summary",
                                                 "cumulative_gpa",
                                                 "awards",
                                                 "conferred",
                                                 "honors",
                                                 "grading_legend",
                                                 "issued_on",
                                                 "document_id",
                                                 "verify_at",
                                                 "page",
                                                 "end"};
  return kKeys;
}

Result<std::string> RenderTranscript(const LayoutTemplate& layout, const DocumentContent& content,
                                     PdfCanvas& canvas) {
  return TranscriptBuilder(layout, content, canvas).Run();
}

}  // namespace credd::render
