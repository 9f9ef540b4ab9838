// Fuzz target: the config loader (daemon/config) over arbitrary YAML text. Parsing only:
// nothing is validated against the file system.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "daemon/config/config.h"
#include "fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace credd;
  const std::string yaml(reinterpret_cast<const char*>(data), size);
  std::vector<ConfigProblem> problems;
  Result<Config> config = ParseConfig(yaml, "/nonexistent-fuzz-base", &problems);
  // The contract: an error exactly when problems were found, each one saying what.
  fuzz::Check(config.ok() == problems.empty(), "ParseConfig's result and problems disagree");
  for (const ConfigProblem& problem : problems) {
    fuzz::Check(!problem.message.empty(), "a config problem without a message");
    fuzz::Check(problem.line >= 0, "a config problem with a negative line");
  }
  return 0;
}
