// Where the shared sample corpus is, for the tests that read it (README: "The corpus").
// The folder is CREDD_CORPUS_DIR from the environment when set, else the one the build was
// configured with (../shared/corpus beside the repository). A test that needs it starts with
// CREDD_REQUIRE_CORPUS(): without the corpus it is skipped, which ctest lists as not run,
// never as passed; under CI (CI=true) a missing corpus is a failure.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>

namespace credd::test_corpus {

inline std::string CorpusDir() {
  const char* from_env = std::getenv("CREDD_CORPUS_DIR");
  return from_env != nullptr && *from_env != '\0' ? std::string(from_env)
                                                  : std::string(CREDD_CORPUS_DIR);
}

inline bool CorpusPresent() { return std::filesystem::is_directory(CorpusDir()); }

inline bool UnderCi() {
  const char* ci = std::getenv("CI");
  return ci != nullptr && std::string(ci) == "true";
}

}  // namespace credd::test_corpus

#define CREDD_REQUIRE_CORPUS()                                                    \
  do {                                                                            \
    if (!::credd::test_corpus::CorpusPresent()) {                                 \
      if (::credd::test_corpus::UnderCi()) {                                      \
        FAIL() << "corpus not found at " << ::credd::test_corpus::CorpusDir()     \
               << " (CI=true: it must be there)";                                 \
      }                                                                           \
      GTEST_SKIP() << "corpus not found at " << ::credd::test_corpus::CorpusDir() \
                   << ": not run (set CREDD_CORPUS_DIR)";                         \
    }                                                                             \
  } while (false)
