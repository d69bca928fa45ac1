#pragma once
// Extracts pg_basebackup's tar stream straight into a data directory, in-process. The stream is parsed on the
// caller's thread; creating, writing, fsyncing and closing files happens on a few writer threads, one file per
// thread at a time, so none of it sits in series with decryption and hashing. Each written range is handed to
// writeback at once (sync_file_range), so the fsync at the end of a file finds little left to do; fsync per file,
// never syncfs, which would flush other processes' dirty data too.
#include <memory>
#include <string>
#include <vector>

#include "engines/postgres/tar_stream.hpp"
#include "io/stream.hpp"

namespace strata::pg {

class TarExtractSink final : public ByteSink, private TarVisitor {
 public:
  explicit TarExtractSink(std::string dir, unsigned writer_threads = 3);
  ~TarExtractSink() override;
  // Copies `data` (the writers outlive the call); restores use write_shared.
  void write(ByteView data) override;
  void write_shared(SharedView frame) override;
  // Checks the archive ended cleanly, waits until every file is written and synced, then fsyncs the directories.
  void finish() override;
  void abort() noexcept override;
  std::string describe() const override { return "data directory " + dir_; }
  size_t files() const { return files_.size(); }

 private:
  class Writers;
  struct OutFile;

  void member_start(const TarMember& m) override;
  void member_data(ByteView data) override;
  void member_end() override;

  std::string dir_;
  TarStreamParser parser_{*this};
  std::unique_ptr<Writers> writers_;
  std::shared_ptr<const void> owner_;  // keeps the bytes being parsed alive
  std::shared_ptr<OutFile> file_;             // the regular file whose data is arriving
  size_t lane_ = 0;                           // the writer thread it goes to
  std::string current_;
  std::vector<std::string> files_, dirs_;
};

}  // namespace strata::pg
