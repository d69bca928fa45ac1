#pragma once
// The repository backends the end-to-end suite runs against: one parameterized suite, every backend.
// A backend turns a test's temp dir into a repository location plus the environment strata needs for it.
#include <functional>
#include <string>
#include <vector>

#include "support/cli_harness.hpp"

namespace strata::test {

struct BackendRepo {
  std::string location;  // --repo value
  Env env;               // e.g. endpoint and credentials for S3
  // Where data objects can be tampered with directly, if the backend is a local directory; empty otherwise.
  std::string local_root;
};

struct Backend {
  std::string name;
  // `unique` is distinct per test; `tmp` is the test's temp dir.
  std::function<BackendRepo(const std::string& unique, const std::string& tmp)> make;
  // Direct object access for corruption tests, independent of strata.
  std::function<std::string(const BackendRepo&, const std::string& key)> read_object;
  std::function<void(const BackendRepo&, const std::string& key, const std::string& data)> write_object;
  std::function<void(const BackendRepo&, const std::string& key)> delete_object;
  std::function<std::vector<std::string>(const BackendRepo&, const std::string& prefix)> list_objects;
};

const std::vector<Backend>& test_backends();
std::vector<std::string> backend_names();
const Backend& backend(const std::string& name);

}  // namespace strata::test
