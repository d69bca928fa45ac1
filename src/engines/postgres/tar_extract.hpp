#pragma once
// Extracts pg_basebackup's tar stream straight into a data directory, in-process: each file's writeback is started
// as soon as it is complete (sync_file_range), so the final per-file fsync finds little left to do and never
// flushes other processes' dirty data the way syncfs would.
#include <memory>
#include <string>
#include <vector>

#include "engines/postgres/tar_stream.hpp"
#include "io/stream.hpp"

namespace strata::pg {

class TarExtractSink final : public ByteSink, private TarVisitor {
 public:
  explicit TarExtractSink(std::string dir);
  ~TarExtractSink() override;
  void write(ByteView data) override;
  // Checks the archive ended cleanly, then fsyncs every file and directory written.
  void finish() override;
  void abort() noexcept override;
  std::string describe() const override { return "data directory " + dir_; }
  size_t files() const { return files_.size(); }

 private:
  void member_start(const TarMember& m) override;
  void member_data(ByteView data) override;
  void member_end() override;

  std::string dir_;
  TarStreamParser parser_{*this};
  int fd_ = -1;
  std::string current_;
  std::vector<std::string> files_, dirs_;
};

}  // namespace strata::pg
