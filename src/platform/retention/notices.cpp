#include "platform/retention/notices.hpp"

#include <nlohmann/json.hpp>

#include "platform/catalog/catalog.hpp"
#include "platform/catalog/outbox.hpp"

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

}  // namespace strata::retention
