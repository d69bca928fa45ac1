#pragma once
#include <string>

#include "storage/storage.hpp"

namespace strata {

// Plain directory tree. Writes go to a temp name in the target directory, are fsynced, then renamed (or linked,
// for create-only) into place and the directory is fsynced: a crash leaves either the old state or the new one.
class LocalStorage final : public Storage {
 public:
  explicit LocalStorage(std::string root);
  uint32_t capabilities() const override;
  std::string describe() const override { return root_; }
  std::unique_ptr<ObjectWriter> open_write(const std::string& key, PutMode mode) override;
  Bytes get(const std::string& key, uint64_t offset, uint64_t length) override;
  std::optional<ObjectInfo> stat(const std::string& key) override;
  std::vector<ObjectInfo> list(const std::string& prefix) override;
  void remove(const std::string& key) override;
  std::vector<ObjectInfo> list_incomplete(const std::string& prefix) override;
  void remove_incomplete(const ObjectInfo& info) override;

  const std::string& root() const { return root_; }
  static bool is_temp_name(const std::string& name);

 private:
  std::string path_of(const std::string& key) const;
  std::vector<ObjectInfo> walk(const std::string& prefix, bool temp_files);
  std::string root_;
};

}  // namespace strata
