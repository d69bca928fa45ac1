#include "platform/retention/notices.hpp"

#include <nlohmann/json.hpp>

#include "common/error.hpp"
#include "common/log.hpp"
#include "platform/catalog/catalog.hpp"
#include "platform/catalog/outbox.hpp"
#include "repo/repository.hpp"

namespace strata::retention {

size_t publish_invalidations(Catalog& catalog, const std::string& repo_id, const std::string& repo_location,
                             const std::vector<Invalidation>& items) {
  if (items.empty()) return 0;
  size_t added = 0;
  catalog.write([&] {
    for (const auto& n : items) {
      nlohmann::json data = {{"repository", repo_location}, {"repository_id", repo_id}, {"source", n.source},
                             {"backup", n.backup_id},       {"type", n.type},           {"started", n.started},
                             {"finished", n.finished}};
      if (n.kind == "backup.expired") {
        data["reasons"] = n.reasons;
        data["policy"] = n.policy;
        data["expired"] = n.expired;
        data["delete_after"] = n.delete_after;
      }
      if (outbox_append_once(catalog, n.kind, n.kind + ":" + repo_id + ":" + n.backup_id, data.dump())) ++added;
    }
  });
  return added;
}

size_t announce_damage(const std::string& catalog_url, const std::string& repo_id, const std::string& repo_location,
                       const std::vector<DamagedBackup>& damaged) {
  for (const auto& d : damaged) {
    log::warn("backup_corrupt", {{"backup", d.id}, {"source", d.source}, {"error", d.error}});
  }
  if (catalog_url.empty() || damaged.empty()) return 0;
  size_t added = 0;
  try {
    auto catalog = Catalog::open(catalog_url);
    catalog->write([&] {
      for (const auto& d : damaged) {
        nlohmann::json data = {{"repository", repo_location}, {"repository_id", repo_id}, {"source", d.source},
                               {"backup", d.id},              {"type", d.type},           {"started", d.started},
                               {"finished", d.finished},      {"error", d.error},         {"backup_state", "invalid"}};
        if (outbox_append_once(*catalog, "backup.corrupt", "backup.corrupt:" + repo_id + ":" + d.id, data.dump())) ++added;
      }
    });
  } catch (const StrataError& e) {
    log::warn("corrupt_notice_not_queued", {{"backups", uint64_t(damaged.size())}, {"error", e.what()}});
    return 0;
  }
  if (added) log::info("invalidations_recorded", {{"events", uint64_t(added)}});
  return added;
}

}  // namespace strata::retention
