#pragma once
// `forget` as one use case (docs/RETENTION.md): which sources, which policy each gets (the command line's rules for
// one source, or the config's [retention.default] / [source.NAME.retention] tables for every source), every source
// planned before any is changed (one above the max share stops them all), then rotated. The CLI's `strata forget`
// and a scheduled rotation job both call it; the caller prints the results and raises the problem.
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "app/problem.hpp"
#include "common/config.hpp"
#include "platform/retention/rotation.hpp"

namespace strata {
class Repository;
}

namespace strata::retention {

struct ForgetRequest {
  // --policy: the config's tables for `source`, or for every source of the repository when it is empty. Otherwise
  // the rules of `flags` for `source`.
  bool from_config = false;
  std::string source;
  // The command line as a config table (keep_last, ..., grace, max_share, min_good, time_zone): the rules when not
  // from_config, and the knobs applied on top of the config's tables when it is.
  std::map<std::string, std::string> flags;
  const Settings* settings = nullptr;  // retention tables, sources' time zones, the config's path
  bool dry_run = false, confirm = false, delete_now = false;
  int64_t now = 0;
  std::map<std::string, BackupState> states;  // what drills found (platform/drill latest_drills)
  std::function<void(const std::vector<Invalidation>&)> publish;  // see RotationRequest
};

struct ForgetResult {
  std::vector<RotationResult> results;  // plans only, when dry_run or stopped
  bool stopped = false;                 // a source is above the max share and confirm was not given
  // Stopped runs: kUsage saying which sources and what to do. Dry runs above the share: `warning` instead.
  std::optional<app::Problem> problem;
  std::string warning;
};

ForgetResult forget(Repository& repo, const ForgetRequest& request);

// Every source with backups (expired ones included) or with tombstones left from a delete cut short.
std::vector<std::string> repository_sources(Repository& repo);

}  // namespace strata::retention
