// Helpers shared by the fuzz targets: a reusable scratch file for importers that read a
// path, a byte splitter for targets that need several fields, and a loud check that aborts
// (so libFuzzer and the replay test both see a broken invariant as a crash).
// Thread contract: one fuzzing thread per process, as libFuzzer runs by default.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace credd::fuzz {

// Writes `bytes` to this process's scratch file named `name` (created once under $TMPDIR,
// truncated on every call, removed at exit) and returns its path.
const std::string& WriteScratchFile(std::string_view name, const std::uint8_t* data,
                                    std::size_t size);

// Splits `data` on the byte sequence "\n--\n" into at most `parts` pieces; missing pieces
// are empty. Lets a fuzzer grow several independent fields from one input.
std::vector<std::string> SplitFields(const std::uint8_t* data, std::size_t size, std::size_t parts);

// Aborts with `message` on stderr when `condition` is false.
void Check(bool condition, std::string_view message);

}  // namespace credd::fuzz
