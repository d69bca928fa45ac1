#include "support/backends.hpp"

#include <stdexcept>
#include <unistd.h>

namespace strata::test {
namespace {

Backend local_backend() {
  Backend b;
  b.name = "local";
  b.make = [](const std::string& unique, const std::string& tmp) {
    BackendRepo r;
    r.location = tmp + "/repo-" + unique;
    r.local_root = r.location;
    return r;
  };
  b.read_object = [](const BackendRepo& r, const std::string& key) { return read_file(r.local_root + "/" + key); };
  b.write_object = [](const BackendRepo& r, const std::string& key, const std::string& data) {
    write_file(r.local_root + "/" + key, data);
  };
  b.delete_object = [](const BackendRepo& r, const std::string& key) { ::unlink((r.local_root + "/" + key).c_str()); };
  b.list_objects = [](const BackendRepo& r, const std::string& prefix) {
    std::vector<std::string> out;
    for (const auto& f : list_files(r.local_root)) {
      if (f.compare(0, prefix.size(), prefix) == 0) out.push_back(f);
    }
    return out;
  };
  return b;
}

}  // namespace

// Backends are added here, one line each.
const std::vector<Backend>& test_backends() {
  static const std::vector<Backend> all = {local_backend()};
  return all;
}

std::vector<std::string> backend_names() {
  std::vector<std::string> out;
  for (const auto& b : test_backends()) out.push_back(b.name);
  return out;
}

const Backend& backend(const std::string& name) {
  for (const auto& b : test_backends()) {
    if (b.name == name) return b;
  }
  throw std::runtime_error("unknown test backend " + name);
}

}  // namespace strata::test
