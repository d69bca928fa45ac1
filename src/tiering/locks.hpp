#pragma once
// Tiering's PostgreSQL advisory locks, all named here (docs/TIERING.md "Garbage collection", "Erase"). Names are
// hashed with hashtextextended, so they are per database; each carries the entity.
//   freeze   session, exclusive, try:  one freeze run per entity at a time
//   gc       session: a freeze batch holds it shared from before it stores a pack until its deleting transaction
//            has committed (or given up); gc and erase hold it exclusively (no pack is stored but uncommitted)
//   rewrite  transaction: every index rewrite holds it shared; sweeping a crashed rewrite's leftovers exclusively
//   pack     transaction, exclusive: index rewrites of one pack never interleave (a lost update would resurrect a
//            destroyed key)
#include <string>

namespace strata::tiering {

class PgConn;

std::string freeze_lock_name(const std::string& entity);
std::string gc_lock_name(const std::string& entity);
std::string rewrite_lock_name(const std::string& entity);
std::string pack_lock_name(const std::string& entity, const std::string& pack_id);

// Inside a transaction, before rewriting the index of `pack_id`: the entity's rewrite lock shared and the pack's
// lock exclusively, both until the transaction ends.
void lock_pack_rewrite(PgConn& c, const std::string& entity, const std::string& pack_id);

// Inside a transaction: the entity's rewrite lock exclusively until it ends (no index rewrite is in flight).
void lock_all_rewrites(PgConn& c, const std::string& entity);

// Holds a session-level advisory lock for a scope, shared or exclusive. Released on scope exit; a killed process
// releases it with its connection.
class AdvisoryLock {
 public:
  enum Mode { kShared, kExclusive };
  AdvisoryLock(PgConn& c, std::string name, Mode mode);
  ~AdvisoryLock();
  AdvisoryLock(const AdvisoryLock&) = delete;
  AdvisoryLock& operator=(const AdvisoryLock&) = delete;

 private:
  PgConn& c_;
  std::string name_;
  Mode mode_;
};

// Takes the session-level lock `name` if it is free; false if another session holds it.
bool try_session_lock(PgConn& c, const std::string& name);
void session_unlock(PgConn& c, const std::string& name);

}  // namespace strata::tiering
