#pragma once
// Watches a tar stream as it flows into the pipeline and keeps the few members the manifest needs (backup_label,
// the tail of backup_manifest, tablespace_map), so the base backup never touches local disk.
#include <map>
#include <memory>
#include <string>

#include "engines/postgres/tar_stream.hpp"
#include "io/stream.hpp"

namespace strata::pg {

class TarObserver final : public ByteSource, private TarVisitor {
 public:
  // `keep`: member name -> how many bytes to keep (the last N of a larger member).
  TarObserver(ByteSource& inner, std::map<std::string, size_t> keep);
  size_t read(uint8_t* buf, size_t n) override;
  void finish() override { inner_.finish(); }
  void abort() noexcept override { inner_.abort(); }
  std::string describe() const override { return inner_.describe(); }

  // Kept members seen so far (name -> bytes kept).
  const std::map<std::string, std::string>& members() const { return members_; }
  size_t member_count() const { return count_; }

 private:
  void member_start(const TarMember& m) override;
  void member_data(ByteView data) override;

  ByteSource& inner_;
  std::map<std::string, size_t> keep_;
  std::map<std::string, std::string> members_;
  TarStreamParser parser_{*this};
  std::string current_;
  size_t count_ = 0;
};

}  // namespace strata::pg
