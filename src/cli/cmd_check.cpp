#include <CLI/CLI.hpp>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "app/maintenance.hpp"
#include "platform/retention/notices.hpp"
#include "cli/context.hpp"
#include "common/error.hpp"
#include "repo/repository.hpp"

namespace strata {
namespace {

double parse_fraction(const std::string& text, const char* flag) {
  if (text.empty()) return 0.0;
  std::string t = text;
  bool percent = !t.empty() && t.back() == '%';
  if (percent) t.pop_back();
  double v = 0;
  size_t used = 0;
  try {
    v = std::stod(t, &used);
  } catch (...) {
    used = 0;
  }
  if (used == 0 || used != t.size()) fail(ErrorCode::kUsage, std::string("invalid ") + flag + " value '" + text + "': use e.g. 10% or 0.1");
  if (percent) v /= 100.0;
  if (v <= 0 || v > 1) fail(ErrorCode::kUsage, std::string(flag) + " must be more than 0% and at most 100%");
  return v;
}

// restic's n/t: group n (1-based) of t.
void parse_subset(const std::string& text, CheckOptions& co) {
  if (text.find('%') != std::string::npos || text.find('.') != std::string::npos) {
    co.read_fraction = parse_fraction(text, "--read-data-subset");
    return;
  }
  auto slash = text.find('/');
  unsigned long n = 0, t = 0;
  try {
    size_t a = 0, b = 0;
    if (slash == std::string::npos) throw std::invalid_argument("no slash");
    n = std::stoul(text.substr(0, slash), &a);
    t = std::stoul(text.substr(slash + 1), &b);
    if (a != slash || b != text.size() - slash - 1) throw std::invalid_argument("trailing");
  } catch (...) {
    fail(ErrorCode::kUsage, "invalid --read-data-subset value '" + text + "': use n/t (e.g. 2/7) or a share (10%)");
  }
  if (t == 0 || n == 0 || n > t || t > 1000000) {
    fail(ErrorCode::kUsage, "--read-data-subset=" + text + ": n must be between 1 and t (e.g. 1/7 ... 7/7)");
  }
  co.subset_n = static_cast<uint32_t>(n);
  co.subset_t = static_cast<uint32_t>(t);
}

std::string plural(size_t n, const char* one, const char* many) { return std::to_string(n) + " " + (n == 1 ? one : many); }

// One sentence of what was verified — and only that (a plain `check` reads no frame and must not say so).
std::string verified_line(const CheckReport& r, bool encrypted, bool read_any, const std::string& how) {
  std::string s = "verified: manifests ";
  s += r.keys_used ? (encrypted ? "(authenticated with the key)" : "(unencrypted)") : "(public part only, no key)";
  s += ", objects present with their recorded sizes";
  if (!read_any) return s + "; no data read (--read-data reads and verifies it)";
  s += "; " + std::to_string(r.objects_read) + " of " + plural(r.objects, "object", "objects") + " read" + how + ": ";
  if (r.keys_used) {
    s += "stored digests match and every frame authenticated";
    s += ", SHA-256 of " + plural(r.backups_verified, "whole backup", "whole backups") + " recomputed";
  } else {
    s += "stored digests match (frames not authenticated without the key)";
  }
  return s;
}

}  // namespace

void register_check(CLI::App& app, CliContext& ctx) {
  auto* cmd = app.add_subcommand("check", "Verify manifests, object presence, and optionally the data itself");
  struct Opts {
    std::string read_data, subset;
    bool json = false, no_key = false;
  };
  auto o = std::make_shared<Opts>();
  auto* rd = cmd->add_flag("--read-data{100%}", o->read_data, "Read and verify stored bytes: all, or a random share (--read-data=10%)");
  auto* sub = cmd->add_option("--read-data-subset", o->subset,
                              "Read the objects of group n of t (e.g. 1/7: the same on every run, so t runs cover all), or a share (10%)");
  rd->excludes(sub);
  cmd->add_flag("--no-key", o->no_key, "Check without the passphrase: stored-byte digests only");
  cmd->add_flag("--json", o->json, "JSON report");
  cmd->footer(
      "Without --read-data only manifests and object sizes are checked. With the passphrase every frame read is\n"
      "authenticated; without it (--no-key) stored bytes are compared with the digests in the manifests.\n"
      "A share reads that many objects chosen at random (at least one); --read-data-subset=n/t reads a fixed group,\n"
      "so a weekly cron with n = week % t + 1 covers every object over t weeks.\n"
      "Exit status: 0 clean, 5 damage found (ERROR lines), 13 leftovers found (LEFTOVER lines; 'strata cleanup').\n"
      "Examples:\n  strata check --repo /backups/main\n  strata check --repo /backups/main --read-data=10%\n"
      "  strata check --repo /backups/main --read-data-subset=3/7");
  cmd->callback([&ctx, o] {
    ctx.finalize();
    CheckOptions co;  // the flags' parsers fill the share or the subset
    co.read_fraction = parse_fraction(o->read_data, "--read-data");
    std::string how;
    if (!o->subset.empty()) {
      parse_subset(o->subset, co);
      how = co.subset_t ? " (subset " + o->subset + ")" : " (random " + o->subset + ")";
    } else if (co.read_fraction > 0 && co.read_fraction < 1) {
      how = " (random " + o->read_data + ")";
    }
    app::CheckRequest req{!o->no_key, co.read_fraction, co.subset_n, co.subset_t};
    app::Services services = ctx.services();
    ProgressObserver progress(!ctx.quiet && !o->json);
    services.observer = &progress;
    app::CheckResult res = app::check_repository(services, req);
    const CheckReport& r = res.report;
    if (o->json) {
      nlohmann::json j = {{"backups", r.backups},
                          {"objects", r.objects},
                          {"objects_read", r.objects_read},
                          {"bytes_read", r.bytes_read},
                          {"keys_used", r.keys_used},
                          {"verified",
                           {{"manifests_authenticated", r.keys_used && res.encrypted},
                            {"object_sizes", true},
                            {"stored_digests", res.read_any},
                            {"frames_authenticated", res.read_any && r.keys_used},
                            {"backups_sha256", r.backups_verified}}},
                          {"errors", r.errors},
                          {"leftovers", r.leftovers},
                          {"notes", r.notes},
                          {"ok", r.errors.empty() && r.leftovers.empty()}};
      if (co.subset_t) j["subset"] = o->subset;
      std::printf("%s\n", j.dump(2).c_str());
    } else {
      for (const auto& e : r.errors) std::printf("ERROR   %s\n", e.c_str());
      for (const auto& l : r.leftovers) std::printf("LEFTOVER %s (from a backup that never committed; 'strata cleanup' removes it)\n", l.c_str());
      for (const auto& n : r.notes) std::printf("NOTE    %s\n", n.c_str());
      std::string problems;
      if (!r.errors.empty()) problems = plural(r.errors.size(), "error", "errors");
      if (!r.leftovers.empty()) problems += (problems.empty() ? "" : ", ") + plural(r.leftovers.size(), "leftover", "leftovers");
      std::printf("checked %zu backups, %zu objects (%zu read, %s): %s\n", r.backups, r.objects, r.objects_read,
                  format_size(r.bytes_read).c_str(), problems.empty() ? "no errors" : problems.c_str());
      std::printf("%s\n", verified_line(r, res.encrypted, res.read_any, how).c_str());
    }
    std::fflush(stdout);  // the report first, then the notices' lines
    retention::announce_damage(ctx.settings.catalog, res.repository_id, res.location, r.damaged);
    app::raise(res.problem);
  });
}

}  // namespace strata
