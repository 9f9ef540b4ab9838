#include <nlohmann/json.hpp>

#include "common/exit_codes.h"
#include "credctl/commands.h"
#include "daemon/config/config.h"

namespace credd::ctl {

int CheckConfigCommand(const GlobalOptions& global, std::ostream& out, std::ostream& err) {
  std::vector<ConfigProblem> problems;
  Result<Config> config = LoadConfigFile(global.config_path, &problems);
  if (config.ok()) CheckEnvironment(*config, &problems);

  if (global.json) {
    nlohmann::json doc;
    doc["file"] = global.config_path;
    doc["ok"] = problems.empty();
    doc["problems"] = nlohmann::json::array();
    for (const ConfigProblem& p : problems) {
      doc["problems"].push_back({{"path", p.path}, {"line", p.line}, {"message", p.message}});
    }
    out << doc.dump(2) << "\n";
  } else if (problems.empty()) {
    out << global.config_path << ": OK (" << config->institutions.size() << " institution"
        << (config->institutions.size() == 1 ? "" : "s") << ")\n";
  } else {
    for (const ConfigProblem& p : problems) {
      err << global.config_path << ": " << p.ToString() << "\n";
    }
    err << global.config_path << ": " << problems.size() << " problem"
        << (problems.size() == 1 ? "" : "s") << "\n";
  }
  return problems.empty() ? kExitOk : kExitConfig;
}

}  // namespace credd::ctl
