// Process exit statuses shared by credd and credctl (sysexits(3), see DESIGN.md).
#pragma once

namespace credd {

inline constexpr int kExitOk = 0;
inline constexpr int kExitUsage = 64;
inline constexpr int kExitDataError = 65;
inline constexpr int kExitNoInput = 66;
inline constexpr int kExitUnavailable = 69;
inline constexpr int kExitSoftware = 70;
inline constexpr int kExitConfig = 78;

}  // namespace credd
