#include "support/backends.hpp"

#include "support/moto_server.hpp"

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

// S3 on moto_server (loopback, one server per test process), one prefix per test; objects are read and damaged
// with a raw S3 client, not through strata's storage driver.
Backend s3_backend() {
  constexpr const char* kBucket = "strata-e2e";
  Backend b;
  b.name = "s3";
  b.make = [](const std::string& unique, const std::string&) {
    MotoServer& moto = MotoServer::shared();
    moto.create_bucket(kBucket);
    BackendRepo r;
    r.location = std::string("s3://") + kBucket + "/" + unique;
    for (const auto& [k, v] : moto.env()) r.env[k] = v;
    return r;
  };
  auto full = [](const BackendRepo& r, const std::string& key) { return r.location.substr(5 + std::string(kBucket).size() + 1) + "/" + key; };
  b.read_object = [full](const BackendRepo& r, const std::string& key) {
    Bytes data;
    s3::Call c;
    c.key = full(r, key);
    c.sink = &data;
    MotoServer::shared().client(kBucket)->execute(c);
    return to_string(data);
  };
  b.write_object = [full](const BackendRepo& r, const std::string& key, const std::string& data) {
    s3::Call c;
    c.method = "PUT";
    c.key = full(r, key);
    c.body = as_bytes(data);
    MotoServer::shared().client(kBucket)->execute(c);
  };
  b.delete_object = [full](const BackendRepo& r, const std::string& key) {
    s3::Call c;
    c.method = "DELETE";
    c.key = full(r, key);
    MotoServer::shared().client(kBucket)->execute(c);
  };
  b.list_objects = [full](const BackendRepo& r, const std::string& prefix) {
    std::string root = full(r, "");
    std::vector<std::string> out;
    std::string token;
    do {
      s3::Call c;
      c.query = {{"list-type", "2"}, {"prefix", root + prefix}};
      if (!token.empty()) c.query.emplace_back("continuation-token", token);
      std::string xml = MotoServer::shared().client(kBucket)->execute(c).body;
      size_t pos = 0;
      for (std::string k; !(k = s3::xml_value(xml, "Key", &pos)).empty();) out.push_back(k.substr(root.size()));
      token = s3::xml_value(xml, "NextContinuationToken");
    } while (!token.empty());
    return out;
  };
  return b;
}

}  // namespace

// Backends are added here, one line each.
const std::vector<Backend>& test_backends() {
  static const std::vector<Backend> all = {local_backend(), s3_backend()};
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
