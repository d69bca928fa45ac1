#include "platform/scheduler/scheduler.hpp"

#include <algorithm>
#include <map>
#include <string_view>
#include <tuple>

namespace strata {
namespace {

void add_missed(std::vector<MissedFires>& out, size_t row, MissReason reason, int64_t at, uint64_t count = 1,
                bool exact = true) {
  for (auto it = out.rbegin(); it != out.rend() && it->row == row; ++it) {
    if (it->reason != reason) continue;
    it->first = std::min(it->first, at);
    it->last = std::max(it->last, at);
    it->count += count;
    it->count_exact = it->count_exact && exact;
    return;
  }
  out.push_back(MissedFires{row, reason, at, at, count, exact});
}

// One due row: every fire from its stored next fire up to now, sorted into run / missed.
void due_row(const ScheduleRow& r, size_t row, int64_t now, PassResult& out) {
  const Schedule& s = *r.schedule;
  const ScheduleSpec& spec = s.spec();
  // Fires older than `recent` can neither run (older than catch_up and kOnTime) nor have an open window (a window
  // ends less than a day and a DST shift after its fire): they are only counted, not looked at one by one.
  const int64_t recent = now - std::max({spec.catch_up, kOnTime, s.window() ? int64_t{2 * 86400} : int64_t{0}});
  struct Bulk {
    uint64_t count = 0;
    int64_t first = 0;
    int64_t last = 0;
    bool exact = true;
  } old;
  std::vector<Fire> fires;  // the recent ones
  // From the stored instant on (not "after" it): a stored value that is not a fire of the current spec (edited
  // config) still means "nothing before this instant".
  Fire f = s.next_fire(*r.next_fire - 1);
  while (f.at <= now) {
    if (f.at < recent) {
      if (old.count == 0) old.first = f.at;
      old.last = f.at;
      ++old.count;
      if (old.count >= kMaxCounted) {  // a year of '* * * * *': stop counting one by one, jump to the recent tail
        old.exact = false;
        Fire tail = s.next_fire(recent - 1);
        if (tail.at > f.at) {
          f = tail;
          continue;
        }
      }
    } else {
      fires.push_back(f);
    }
    f = s.next_fire(f.at);
  }
  out.next_fires.emplace_back(row, f.at);

  std::vector<Occurrence> occ;
  occ.reserve(fires.size());
  for (const Fire& fire : fires) occ.push_back(s.occurrence(fire));
  std::vector<char> run(occ.size(), 0);
  bool any_on_time = false;
  for (size_t i = 0; i < occ.size(); ++i) {
    if (now - occ[i].fire < kOnTime && !occ[i].expired(now)) {
      run[i] = 1;
      any_on_time = true;
    }
  }
  std::optional<size_t> catch_up;
  if (spec.missed == MissedPolicy::kOnce && !any_on_time) {
    for (size_t i = occ.size(); i-- > 0;) {
      if (now - occ[i].fire <= spec.catch_up && !occ[i].expired(now)) {
        catch_up = i;
        run[i] = 1;
        break;
      }
    }
  }
  const bool any_run = any_on_time || catch_up.has_value();
  auto reason_for = [&](bool expired) {
    if (expired) return MissReason::kWindowClosed;
    if (spec.missed == MissedPolicy::kSkip) return MissReason::kSkipped;
    return any_run ? MissReason::kCoalesced : MissReason::kTooOld;
  };
  if (old.count) {
    add_missed(out.missed, row, reason_for(s.window().has_value()), old.first, old.count, old.exact);
    out.missed.back().last = std::max(out.missed.back().last, old.last);
  }
  for (size_t i = 0; i < occ.size(); ++i) {
    if (run[i]) {
      out.due.push_back(DueOccurrence{row, occ[i], catch_up && *catch_up == i});
      continue;
    }
    add_missed(out.missed, row, reason_for(occ[i].expired(now)), occ[i].fire);
  }
}

}  // namespace

const char* miss_reason_name(MissReason r) {
  switch (r) {
    case MissReason::kSkipped: return "skipped";
    case MissReason::kCoalesced: return "coalesced";
    case MissReason::kTooOld: return "too_old";
    case MissReason::kWindowClosed: return "window_closed";
    case MissReason::kSuperseded: return "superseded";
  }
  return "unknown";
}

std::vector<ScheduleRow> rows_from_store(const std::vector<Schedule>& schedules,
                                         const std::vector<StoredSchedule>& stored, std::vector<std::string>* removed) {
  std::map<std::string_view, const StoredSchedule*> by_key;
  for (const auto& s : stored) by_key[s.key] = &s;
  std::vector<ScheduleRow> rows;
  rows.reserve(schedules.size());
  std::map<std::string, bool> live;
  for (const auto& s : schedules) {
    std::string key = s.key();
    ScheduleRow row{&s, std::nullopt};
    if (auto it = by_key.find(key); it != by_key.end() && it->second->fingerprint == s.fingerprint()) {
      row.next_fire = it->second->next_fire;
    }
    live[key] = true;
    rows.push_back(row);
  }
  if (removed) {
    for (const auto& s : stored) {
      if (!live.count(s.key)) removed->push_back(s.key);
    }
  }
  return rows;
}

PassResult scheduler_pass(std::span<const ScheduleRow> rows, int64_t now) {
  PassResult out;
  for (size_t i = 0; i < rows.size(); ++i) {
    const ScheduleRow& r = rows[i];
    if (!r.next_fire) {
      out.next_fires.emplace_back(i, r.schedule->next_fire(now).at);
    } else if (*r.next_fire <= now) {
      due_row(r, i, now, out);
    }
  }
  // Two schedules of one source firing at the same instant (a weekly full and a daily incremental, both at 03:00
  // on Sunday) are one job: the full, which covers what the other would back up.
  if (out.due.size() > 1) {
    std::map<std::tuple<std::string_view, int64_t>, size_t> first;
    std::vector<char> drop(out.due.size(), 0);
    for (size_t i = 0; i < out.due.size(); ++i) {
      const ScheduleSpec& spec = rows[out.due[i].row].schedule->spec();
      auto [it, fresh] = first.try_emplace({spec.source, out.due[i].occurrence.fire}, i);
      if (fresh) continue;
      size_t& kept = it->second;
      bool kept_full = rows[out.due[kept].row].schedule->spec().type == "full";
      size_t loser = (!kept_full && spec.type == "full") ? kept : i;
      if (loser == kept) kept = i;
      drop[loser] = 1;
      add_missed(out.missed, out.due[loser].row, MissReason::kSuperseded, out.due[loser].occurrence.fire);
    }
    std::vector<DueOccurrence> kept;
    for (size_t i = 0; i < out.due.size(); ++i) {
      if (!drop[i]) kept.push_back(out.due[i]);
    }
    out.due = std::move(kept);
  }
  std::sort(out.due.begin(), out.due.end(), [](const DueOccurrence& a, const DueOccurrence& b) {
    return std::tie(a.occurrence.not_before, a.row) < std::tie(b.occurrence.not_before, b.row);
  });
  return out;
}

}  // namespace strata
