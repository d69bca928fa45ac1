#include "tiering/locks.hpp"

#include "common/error.hpp"
#include "tiering/pg.hpp"

namespace strata::tiering {

std::string freeze_lock_name(const std::string& entity) { return "strata-tier-freeze:" + entity; }
std::string gc_lock_name(const std::string& entity) { return "strata-tier-gc:" + entity; }
std::string rewrite_lock_name(const std::string& entity) { return "strata-tier-rewrite:" + entity; }
std::string pack_lock_name(const std::string& entity, const std::string& pack_id) {
  return "strata-tier-pack:" + entity + ":" + pack_id;
}

void lock_pack_rewrite(PgConn& c, const std::string& entity, const std::string& pack_id) {
  c.exec("SELECT pg_advisory_xact_lock_shared(hashtextextended($1, 0))", {rewrite_lock_name(entity)});
  c.exec("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", {pack_lock_name(entity, pack_id)});
}

void lock_all_rewrites(PgConn& c, const std::string& entity) {
  c.exec("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", {rewrite_lock_name(entity)});
}

AdvisoryLock::AdvisoryLock(PgConn& c, std::string name, Mode mode) : c_(c), name_(std::move(name)), mode_(mode) {
  c_.exec(mode_ == kShared ? "SELECT pg_advisory_lock_shared(hashtextextended($1, 0))"
                           : "SELECT pg_advisory_lock(hashtextextended($1, 0))",
          {name_});
}

AdvisoryLock::~AdvisoryLock() {
  try {
    c_.exec(mode_ == kShared ? "SELECT pg_advisory_unlock_shared(hashtextextended($1, 0))"
                             : "SELECT pg_advisory_unlock(hashtextextended($1, 0))",
            {name_});
  } catch (const StrataError&) {
    // The connection is gone, and the lock with it.
  }
}

bool try_session_lock(PgConn& c, const std::string& name) {
  return c.scalar("SELECT pg_try_advisory_lock(hashtextextended($1, 0))", {name}) == "t";
}

void session_unlock(PgConn& c, const std::string& name) {
  c.exec("SELECT pg_advisory_unlock(hashtextextended($1, 0))", {name});
}

}  // namespace strata::tiering
