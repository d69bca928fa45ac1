#pragma once
// The scheduler pass: given every schedule with its stored next fire (UTC, the catalog's schedules table) and the
// time, which occurrences are due now, which fires were missed, and the new next fires to store. A pure function of
// (rows, now) — one active scheduler calls it in a loop on its Clock; the catalog persists what it returns, in the
// same transaction as the jobs it enqueues (docs/SCHEDULING.md).
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/clock.hpp"
#include "platform/scheduler/schedule.hpp"

namespace strata {

struct ScheduleRow {
  const Schedule* schedule = nullptr;
  // The stored next fire; none for a schedule the scheduler has not seen yet (it starts from now, it does not fire
  // what came before it existed). After a change of the schedule's spec the catalog stores none again.
  std::optional<int64_t> next_fire;
};

// What the catalog keeps per schedule (the schedules table): its key, its fingerprint and the next fire (UTC).
struct StoredSchedule {
  std::string key;
  std::string fingerprint;
  int64_t next_fire = 0;
};

// The rows of a pass for the compiled schedules: a stored next fire is used when key and fingerprint match; a new or
// changed schedule starts from now. `removed` (if given) receives the stored keys no schedule has any more, for the
// catalog to delete.
std::vector<ScheduleRow> rows_from_store(const std::vector<Schedule>& schedules,
                                         const std::vector<StoredSchedule>& stored,
                                         std::vector<std::string>* removed = nullptr);

struct DueOccurrence {
  size_t row = 0;  // index into the pass's rows
  Occurrence occurrence;
  bool late = false;  // run after downtime under policy `once`, not at its time
};

enum class MissReason {
  kSkipped,       // policy skip: the fire passed while no scheduler ran
  kCoalesced,     // policy once: a newer fire of the same schedule runs instead
  kTooOld,        // policy once: even the newest missed fire is older than catch_up
  kWindowClosed,  // the window ended before the job could be queued
  kSuperseded,    // another schedule of the same source runs a full backup at the same instant
};
const char* miss_reason_name(MissReason r);

// Missed fires of one schedule for one reason, in one record (a week of `* * * * *` downtime is one line, not 10k).
struct MissedFires {
  size_t row = 0;
  MissReason reason = MissReason::kSkipped;
  int64_t first = 0;  // UTC instants of the first and last missed fire
  int64_t last = 0;
  uint64_t count = 0;
  bool count_exact = true;  // false: more fires than were counted one by one (see kMaxCounted)
};

struct PassResult {
  std::vector<DueOccurrence> due;  // by not_before, then row
  std::vector<MissedFires> missed;
  std::vector<std::pair<size_t, int64_t>> next_fires;  // (row, new stored next fire) for every row that changes
};

// A fire found due within this many seconds of its time is on time (a slow pass, a short restart), under either
// policy.
constexpr int64_t kOnTime = 300;
// Beyond this many missed fires of one schedule the pass stops counting them one by one.
constexpr uint64_t kMaxCounted = 100000;

PassResult scheduler_pass(std::span<const ScheduleRow> rows, int64_t now);

class Scheduler {
 public:
  explicit Scheduler(const Clock& clock) : clock_(clock) {}
  PassResult pass(std::span<const ScheduleRow> rows) const { return scheduler_pass(rows, clock_.now()); }

 private:
  const Clock& clock_;
};

}  // namespace strata
