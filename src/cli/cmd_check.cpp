#include <CLI/CLI.hpp>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli/context.hpp"
#include "common/error.hpp"
#include "repo/repository.hpp"

namespace strata {

static double parse_fraction(const std::string& text) {
  if (text.empty()) return 0.0;
  std::string t = text;
  bool percent = !t.empty() && t.back() == '%';
  if (percent) t.pop_back();
  double v = 0;
  try {
    v = std::stod(t);
  } catch (...) {
    fail(ErrorCode::kUsage, "invalid --read-data value '" + text + "': use e.g. 10% or 0.1");
  }
  if (percent) v /= 100.0;
  if (v <= 0 || v > 1) fail(ErrorCode::kUsage, "--read-data must be between 0% and 100%");
  return v;
}

void register_check(CLI::App& app, CliContext& ctx) {
  auto* cmd = app.add_subcommand("check", "Verify manifests, object presence, and optionally the data itself");
  struct Opts {
    std::string read_data;
    bool json = false, no_key = false;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_flag("--read-data{100%}", o->read_data, "Read and verify stored bytes: all, or a random share (--read-data=10%)");
  cmd->add_flag("--no-key", o->no_key, "Check without the passphrase: stored-byte digests only");
  cmd->add_flag("--json", o->json, "JSON report");
  cmd->footer(
      "Without --read-data only manifests and object sizes are checked. With the passphrase every frame read is\n"
      "authenticated; without it (--no-key) stored bytes are compared with the SHA-256 digests in the manifests.\n"
      "Examples:\n  strata check --repo /backups/main\n  strata check --repo /backups/main --read-data=10%");
  cmd->callback([&ctx, o] {
    ctx.finalize();
    auto repo = ctx.open_repo(!o->no_key);
    CheckOptions co;
    co.read_fraction = parse_fraction(o->read_data);
    CheckReport r = repo->check(co);
    if (o->json) {
      nlohmann::json j = {{"backups", r.backups},     {"objects", r.objects},     {"objects_read", r.objects_read},
                          {"bytes_read", r.bytes_read}, {"keys_used", r.keys_used}, {"errors", r.errors},
                          {"leftovers", r.leftovers},  {"notes", r.notes},         {"ok", r.errors.empty()}};
      std::printf("%s\n", j.dump(2).c_str());
    } else {
      for (const auto& e : r.errors) std::printf("ERROR   %s\n", e.c_str());
      for (const auto& l : r.leftovers) std::printf("LEFTOVER %s (from a backup that never committed; 'strata cleanup' removes it)\n", l.c_str());
      for (const auto& n : r.notes) std::printf("NOTE    %s\n", n.c_str());
      std::printf("checked %zu backups, %zu objects (%zu read, %s)%s: %s\n", r.backups, r.objects, r.objects_read,
                  format_size(r.bytes_read).c_str(), r.keys_used ? ", frames authenticated" : "",
                  r.errors.empty() ? "no errors" : (std::to_string(r.errors.size()) + " errors").c_str());
    }
    if (!r.errors.empty()) {
      fail(ErrorCode::kCorrupt, "check found " + std::to_string(r.errors.size()) + " damaged backups or objects in " +
                                    repo->location() + "; see the ERROR lines above");
    }
  });
}

}  // namespace strata
