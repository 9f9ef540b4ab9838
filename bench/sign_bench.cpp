// sign_bench: rendered and signed documents per second. Builds one synthetic record (a
// diploma, or a transcript of 8 sessions x 8 courses), then runs N threads, each with its
// own Renderer and SigningKey, rendering and signing documents for S seconds. Prints one
// line of key=value figures (bench/sign_bench_all makes a table of them); asserts nothing.
#include <openssl/evp.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <barrier>
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/exit_codes.h"
#include "common/result.h"
#include "daemon/render/renderer.h"
#include "daemon/sign/pades_signer.h"
#include "daemon/sign/signing_key.h"
#include "records/record.h"

namespace {

using Clock = std::chrono::steady_clock;

constexpr const char* kIssuedAt = "2026-11-28T14:03:00Z";

struct Options {
  std::string templates_dir;
  std::string key_path;
  std::string certificate_path;
  std::string kind = "diploma";
  int threads = 1;
  double seconds = 3.0;
  std::string save_path;           // When set, the first signed PDF is written there.
  std::string save_unsigned_path;  // When set, the first rendered PDF, before signing.
  // What each loop does: render and sign (the product's work), render only, or sign only
  // (the first rendered PDF, again and again): the stage ceilings on the same PDFs.
  std::string stage = "both";
};

// The same branding the render tests use: two signatories and a two-line grading legend.
credd::Branding BenchBranding() {
  credd::Branding branding;
  branding.name_en = "Université Example University";
  branding.name_fr = "Université Example University";
  branding.signatories = {{"Marie-Ève Tremblay", "Registrar", "Registraire"},
                          {"Jonathan Okafor", "President", "Recteur"}};
  branding.grading_legend_en = {"A+ 4.3 · A 4.0 · A- 3.7 · B+ 3.3 · B 3.0 · C 2.0 · D 1.0 · F 0",
                                "P Pass · W Withdrawn · TR Transfer credit"};
  branding.grading_legend_fr = {"A+ 4,3 · A 4,0 · A- 3,7 · B+ 3,3 · B 3,0 · C 2,0 · D 1,0 · F 0",
                                "P Réussite · W Abandon · TR Crédit de transfert"};
  return branding;
}

credd::CredentialRecord DiplomaRecord() {
  credd::CredentialRecord record;
  record.line = 2;
  record.student_id = "00123456";
  record.given_names = "Zoë";
  record.family_name = "Lévesque-O'Brien";
  record.email = "zoe.levesque@college.example";
  record.preferred_locale = "en";
  record.credential_type = "diploma";
  record.credential_title = "Bachelor of Science";
  record.program = "Computer Science";
  record.issued_on = "2026-06-01";
  return record;
}

// Four years of two terms with eight courses each (one title long enough to wrap), then the
// cumulative summary, an award and the grading legend: three pages with the current
// templates (the printed pages= shows when that changes; more rows make it four).
credd::CredentialRecord TranscriptRecord() {
  credd::CredentialRecord record = DiplomaRecord();
  record.credential_type = "transcript";
  record.credential_title = "Official Transcript";
  record.birth_date = "2001-03-14";
  record.transcript.institution_name = "Université Example University";
  const char* subjects[] = {"MATH", "PHYS", "CHEM", "HIST", "FREN"};
  const char* grades[] = {"A+", "A", "A-", "B+", "B", "C", "P", "W"};
  for (int s = 0; s < 8; ++s) {
    credd::AcademicSession session;
    const std::string year = std::to_string(2019 + (s + 1) / 2);
    session.name = (s % 2 == 0 ? "Fall " : "Winter ") + year;
    session.start_date = year + (s % 2 == 0 ? "-09-03" : "-01-06");
    session.end_date = year + (s % 2 == 0 ? "-12-20" : "-04-28");
    for (int c = 0; c < 8; ++c) {
      credd::Course course;
      course.subject = subjects[c % 5];
      course.number = std::to_string(100 + s * 100 + c);
      course.title = c == 0 && s == 0
                         ? "Advanced Topics in Something With a Rather Long Course Title "
                           "That Wraps Onto a Second Line"
                         : "Introduction to Course " + std::to_string(c);
      course.credits = "3.00";
      course.grade = grades[(s + c) % 8];
      session.courses.push_back(course);
    }
    session.gpa = {"24.00", "24.00", "82.80", "3.45"};
    record.transcript.sessions.push_back(session);
  }
  record.transcript.cumulative = {"192.00", "186.00", "641.70", "3.45"};
  record.transcript.awards.push_back(
      {"Bachelor of Science", "Physics", "2023-05-30", "With Distinction"});
  return record;
}

// "ECDSA-P-256", "RSA-2048": what the key is, read from the key itself.
std::string KeyType(const credd::sign::SigningKey& key) {
  EVP_PKEY* pkey = key.private_key();
  if (EVP_PKEY_is_a(pkey, "EC")) {
    char group[64] = {};
    if (EVP_PKEY_get_group_name(pkey, group, sizeof group, nullptr) == 1 &&
        std::string_view(group) == "prime256v1") {
      return "ECDSA-P-256";
    }
    return std::string("ECDSA-") + group;
  }
  if (EVP_PKEY_is_a(pkey, "RSA")) return "RSA-" + std::to_string(EVP_PKEY_get_bits(pkey));
  return EVP_PKEY_get0_type_name(pkey) != nullptr ? EVP_PKEY_get0_type_name(pkey) : "unknown";
}

// Pages in a PDF from cairo: its page objects are plain dictionaries ("/Type /Page"), never
// inside compressed object streams, so counting them is enough for a figure.
int CountPages(std::string_view pdf) {
  int pages = 0;
  constexpr std::string_view kPage = "/Type /Page";
  for (std::size_t at = pdf.find(kPage); at != std::string_view::npos;
       at = pdf.find(kPage, at + kPage.size())) {
    const std::size_t next = at + kPage.size();
    if (next >= pdf.size() || pdf[next] != 's') ++pages;
  }
  return pages;
}

// One thread's tools and tallies. Renderer and key are made before the clock starts.
struct Worker {
  std::unique_ptr<credd::Renderer> renderer;
  std::optional<credd::sign::SigningKey> key;
  long documents = 0;
  std::size_t pdf_bytes = 0;
  int pages = 0;               // Of the first signed document.
  std::string first_pdf;       // Thread 0 only, when --save asks for it.
  std::string first_unsigned;  // Thread 0 only, when --save-unsigned asks for it.
};

// First error from any thread; the others stop at their next document.
class FirstError {
 public:
  void Set(const credd::Error& error) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!error_) error_ = error;
    failed_.store(true);
  }
  bool failed() const { return failed_.load(); }
  std::optional<credd::Error> error() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return error_;
  }

 private:
  mutable std::mutex mutex_;
  std::optional<credd::Error> error_;
  std::atomic<bool> failed_{false};
};

void RunWorker(int index, Worker& worker, const credd::CredentialRecord& record,
               const credd::Branding& branding, std::barrier<>& start, const Clock::time_point& end,
               bool keep_first, const std::string& stage, FirstError& first_error) {
  start.arrive_and_wait();
  credd::sign::SignOptions sign_options;
  sign_options.reason = "Official credential";
  sign_options.location = "Registrar's office";
  sign_options.rendered_here = true;  // As DocumentIssuer signs what its renderer made.
  const bool render_each = stage != "sign";
  const bool sign_each = stage != "render";
  std::string rendered;  // Under --stage sign, the one PDF signed again and again.
  while (!first_error.failed() && Clock::now() < end) {
    // Unique across threads: "BENCH-T01-00000042".
    char document_id[48];
    std::snprintf(document_id, sizeof document_id, "BENCH-T%02d-%08ld", index,
                  worker.documents + 1);
    if (render_each || rendered.empty()) {
      auto pdf = worker.renderer->Render(
          credd::RenderRequest{&record, "en", document_id, kIssuedAt, &branding, "bench:2"});
      if (!pdf) {
        first_error.Set(pdf.error());
        return;
      }
      rendered = std::move(pdf).value();
    }
    std::string signed_pdf;
    if (sign_each) {
      sign_options.signing_time = credd::sign::PdfDateUtc(std::chrono::system_clock::now());
      sign_options.where = document_id;
      auto signed_result = credd::sign::SignPdf(rendered, *worker.key, sign_options);
      if (!signed_result) {
        first_error.Set(signed_result.error());
        return;
      }
      signed_pdf = std::move(signed_result).value();
    }
    if (worker.documents == 0) {
      // Counted before signing: the signature's incremental update repeats the page object.
      worker.pages = CountPages(rendered);
      if (index == 0 && keep_first) {
        worker.first_pdf = signed_pdf;
        worker.first_unsigned = rendered;
      }
    }
    ++worker.documents;
    worker.pdf_bytes += sign_each ? signed_pdf.size() : rendered.size();
  }
}

int Run(const Options& options) {
  const credd::CredentialRecord record =
      options.kind == "transcript" ? TranscriptRecord() : DiplomaRecord();
  const credd::Branding branding = BenchBranding();

  // Made one after another on this thread: the bench measures documents, not start-up.
  std::vector<Worker> workers(static_cast<std::size_t>(options.threads));
  for (Worker& worker : workers) {
    auto renderer = credd::Renderer::Create(options.templates_dir);
    if (!renderer) {
      std::fprintf(stderr, "sign_bench: %s\n", renderer.error().ToString().c_str());
      return renderer.error().ExitCode();
    }
    worker.renderer = std::move(renderer).value();
    auto key = credd::sign::SigningKey::LoadFromFiles(options.key_path, options.certificate_path,
                                                      /*passphrase=*/"");
    if (!key) {
      std::fprintf(stderr, "sign_bench: %s\n", key.error().ToString().c_str());
      return key.error().ExitCode();
    }
    worker.key.emplace(std::move(key).value());
  }

  // Every thread waits at the barrier, so the clock starts when all of them are ready.
  std::barrier<> start(options.threads + 1);
  FirstError first_error;
  const auto duration =
      std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(options.seconds));
  Clock::time_point end;
  std::vector<std::thread> threads;
  for (int i = 0; i < options.threads; ++i) {
    threads.emplace_back(RunWorker, i, std::ref(workers[static_cast<std::size_t>(i)]),
                         std::cref(record), std::cref(branding), std::ref(start), std::cref(end),
                         !options.save_path.empty() || !options.save_unsigned_path.empty(),
                         std::cref(options.stage), std::ref(first_error));
  }
  const Clock::time_point began = Clock::now();
  end = began + duration;
  // The barrier orders the write of `end` before every thread's reads of it.
  start.arrive_and_wait();
  for (std::thread& thread : threads) thread.join();
  // Documents in flight at the deadline are finished and counted, so the time runs to the
  // last join rather than to the deadline.
  const double elapsed = std::chrono::duration<double>(Clock::now() - began).count();

  if (auto error = first_error.error()) {
    std::fprintf(stderr, "sign_bench: %s\n", error->ToString().c_str());
    return error->ExitCode();
  }
  const Worker& first = workers.front();
  for (const auto& [path, pdf] : {std::pair{&options.save_path, &first.first_pdf},
                                  std::pair{&options.save_unsigned_path, &first.first_unsigned}}) {
    if (path->empty()) continue;
    std::FILE* out = std::fopen(path->c_str(), "wb");
    bool written = out != nullptr && std::fwrite(pdf->data(), 1, pdf->size(), out) == pdf->size();
    if (out != nullptr) written = std::fclose(out) == 0 && written;
    if (!written) {
      std::fprintf(stderr, "sign_bench: %s: cannot write the first PDF\n", path->c_str());
      return credd::kExitSoftware;
    }
  }
  long documents = 0;
  std::size_t pdf_bytes = 0;
  for (const Worker& worker : workers) {
    documents += worker.documents;
    pdf_bytes += worker.pdf_bytes;
  }
  const double per_second = elapsed > 0 ? static_cast<double>(documents) / elapsed : 0.0;
  const double average_bytes =
      documents > 0 ? static_cast<double>(pdf_bytes) / static_cast<double>(documents) : 0.0;
  std::printf(
      "stage=%s kind=%s key=%s threads=%d documents=%ld seconds=%.2f documents_per_s=%.1f "
      "avg_pdf_bytes=%.0f pages=%d\n",
      options.stage.c_str(), options.kind.c_str(), KeyType(*workers.front().key).c_str(),
      options.threads, documents, elapsed, per_second, average_bytes, workers.front().pages);
  return credd::kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"sign_bench: rendered and signed documents per second"};
  Options options;
  app.add_option("--templates", options.templates_dir, "templates folder (templates/)")
      ->required()
      ->check(CLI::ExistingDirectory);
  app.add_option("--key", options.key_path, "signing key file (PEM or PKCS#12, mode 600)")
      ->required()
      ->check(CLI::ExistingFile);
  app.add_option("--cert", options.certificate_path, "certificate chain (PEM, leaf first)")
      ->required()
      ->check(CLI::ExistingFile);
  app.add_option("--kind", options.kind, "diploma or transcript (8 sessions x 8 courses)")
      ->check(CLI::IsMember({"diploma", "transcript"}))
      ->capture_default_str();
  app.add_option("--threads", options.threads, "threads, each with its own renderer and key")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  app.add_option("--seconds", options.seconds, "how long to run")
      ->check(CLI::Range(0.1, 3600.0))
      ->capture_default_str();
  app.add_option("--stage", options.stage, "both (render and sign), render or sign")
      ->check(CLI::IsMember({"both", "render", "sign"}))
      ->capture_default_str();
  app.add_option("--save", options.save_path, "write the first signed PDF to this file");
  app.add_option("--save-unsigned", options.save_unsigned_path,
                 "write the first rendered PDF, before signing, to this file (for peers)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? credd::kExitOk : credd::kExitUsage;
  }
  return Run(options);
}
