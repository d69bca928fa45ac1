// Decorators forward what they do not change: every Storage operation reaches the wrapped driver with its
// arguments and comes back with the driver's answer, through StorageWrapper itself and through each decorator in a
// configuration that changes nothing (FaultStorage used to answer list_incomplete/remove_incomplete itself, so a
// decorated repository reported no leftovers and cleanup removed none).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "../common/test_helpers.hpp"
#include "storage/fault/fault_storage.hpp"
#include "storage/local/local_storage.hpp"
#include "storage/storage.hpp"
#include "storage/throttle/throttle_storage.hpp"

namespace strata {
namespace {

// Records every call with its arguments and answers with values no driver would give by default.
class RecordingStorage final : public Storage {
 public:
  explicit RecordingStorage(std::vector<std::string>* calls) : calls_(calls) {}
  uint32_t capabilities() const override {
    calls_->push_back("capabilities");
    return StorageCapability::kRangeRead | StorageCapability::kDurable;
  }
  uint64_t object_size_hint() const override {
    calls_->push_back("object_size_hint");
    return 3u << 20;
  }
  std::string describe() const override {
    calls_->push_back("describe");
    return "recording://here";
  }
  std::unique_ptr<ObjectWriter> open_write(const std::string& key, PutMode mode) override {
    calls_->push_back("open_write " + key + (mode == PutMode::kCreateOnly ? " create-only" : ""));
    return std::make_unique<Writer>(calls_, key);
  }
  Bytes get(const std::string& key, uint64_t offset, uint64_t length) override {
    calls_->push_back("get " + key + " " + std::to_string(offset) + " " + std::to_string(length));
    return testing::bytes_of("abc");
  }
  std::optional<ObjectInfo> stat(const std::string& key) override {
    calls_->push_back("stat " + key);
    return ObjectInfo{key, 5};
  }
  std::vector<ObjectInfo> list(const std::string& prefix) override {
    calls_->push_back("list " + prefix);
    return {{prefix + "one", 1}};
  }
  void remove(const std::string& key) override { calls_->push_back("remove " + key); }
  void remove_many(const std::vector<std::string>& keys) override {
    std::string line = "remove_many";
    for (const auto& k : keys) line += " " + k;
    calls_->push_back(line);
  }
  std::vector<ObjectInfo> list_incomplete(const std::string& prefix) override {
    calls_->push_back("list_incomplete " + prefix);
    return {{prefix + "half-written", 7}};
  }
  void remove_incomplete(const ObjectInfo& info) override { calls_->push_back("remove_incomplete " + info.key); }

 private:
  class Writer final : public ObjectWriter {
   public:
    Writer(std::vector<std::string>* calls, std::string key) : calls_(calls), key_(std::move(key)) {}
    void write(ByteView data) override { calls_->push_back("write " + key_ + " " + std::to_string(data.size())); }
    void commit() override { calls_->push_back("commit " + key_); }
    void abort() noexcept override {}

   private:
    std::vector<std::string>* calls_;
    std::string key_;
  };
  std::vector<std::string>* calls_;
};

using Decorate = std::function<std::unique_ptr<Storage>(std::unique_ptr<Storage>)>;

struct Decorator {
  std::string name;
  Decorate wrap;
};
void PrintTo(const Decorator& d, std::ostream* os) { *os << d.name; }

class Forwarding : public ::testing::TestWithParam<Decorator> {};

TEST_P(Forwarding, EveryOperationReachesTheDriverAndItsAnswerComesBack) {
  std::vector<std::string> calls;
  auto s = GetParam().wrap(std::make_unique<RecordingStorage>(&calls));

  EXPECT_EQ(s->capabilities(), StorageCapability::kRangeRead | StorageCapability::kDurable);
  EXPECT_EQ(s->object_size_hint(), 3u << 20);
  EXPECT_EQ(s->describe(), "recording://here");
  auto w = s->open_write("data/a", PutMode::kCreateOnly);
  w->write(as_bytes("12345"));
  w->commit();
  EXPECT_EQ(to_string(s->get("data/a", 2, 9)), "abc");
  auto st = s->stat("data/a");
  ASSERT_TRUE(st.has_value());
  EXPECT_EQ(st->size, 5u);
  auto listed = s->list("data/");
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].key, "data/one");
  s->remove("data/a");
  s->remove_many({"data/b", "data/c"});
  auto incomplete = s->list_incomplete("data/");
  ASSERT_EQ(incomplete.size(), 1u) << "the driver's incomplete writes must not be hidden by " << GetParam().name;
  EXPECT_EQ(incomplete[0].key, "data/half-written");
  EXPECT_EQ(incomplete[0].size, 7u);
  s->remove_incomplete(incomplete[0]);

  EXPECT_EQ(calls, (std::vector<std::string>{"capabilities", "object_size_hint", "describe", "open_write data/a create-only",
                                             "write data/a 5", "commit data/a", "get data/a 2 9", "stat data/a",
                                             "list data/", "remove data/a", "remove_many data/b data/c", "list_incomplete data/",
                                             "remove_incomplete data/half-written"}));
}

INSTANTIATE_TEST_SUITE_P(
    Decorators, Forwarding,
    ::testing::Values(
        Decorator{"StorageWrapper", [](std::unique_ptr<Storage> s) -> std::unique_ptr<Storage> {
                    return std::make_unique<StorageWrapper>(std::move(s));
                  }},
        Decorator{"FaultStorage", [](std::unique_ptr<Storage> s) -> std::unique_ptr<Storage> {
                    return std::make_unique<FaultStorage>(std::move(s), FaultPlan{});
                  }},
        Decorator{"ThrottledStorage", [](std::unique_ptr<Storage> s) -> std::unique_ptr<Storage> {
                    StorageLimits limits;
                    limits.max_requests = 64;  // a gate that never closes here: only forwarding is under test
                    return std::make_unique<ThrottledStorage>(std::move(s), limits);
                  }}),
    [](const ::testing::TestParamInfo<Decorator>& info) { return info.param.name; });

// A fault on the third of five keys: the two before it are removed (as a driver that stops there would), the rest
// are not, and the caller gets the fault.
TEST(FaultStorage, RemoveManyStopsAtTheFailingKey) {
  testing::TempDir dir;
  FaultPlan plan;
  plan.fail_nth = 3;
  plan.ops = {StorageOp::kRemove};
  FaultStorage faulty(std::make_unique<LocalStorage>(dir.path()), plan);
  for (const char* k : {"k1", "k2", "k3", "k4", "k5"}) faulty.put(k, as_bytes("x"));
  EXPECT_THROW(faulty.remove_many({"k1", "k2", "k3", "k4", "k5"}), StrataError);
  std::vector<std::string> left;
  for (const auto& o : faulty.list("")) left.push_back(o.key);
  EXPECT_EQ(left, (std::vector<std::string>{"k3", "k4", "k5"}));
  faulty.remove_many({"k3", "k4", "k5", "absent"});
  EXPECT_TRUE(faulty.list("").empty());
}

// The same through a real driver: a crashed writer's temp file on disk is seen and removed through a decorator.
TEST(FaultStorage, ShowsAndRemovesTheDriversIncompleteWrites) {
  testing::TempDir dir;
  LocalStorage local(dir.path());
  local.put("data/b1/000000", as_bytes("committed"));
  const std::string leftover = dir.path() + "/data/b1/.strata-tmp-000001.x7Yz";
  std::ofstream(leftover) << "half an object";

  FaultStorage faulty(std::make_unique<LocalStorage>(dir.path()), FaultPlan{});
  auto incomplete = faulty.list_incomplete("");
  ASSERT_EQ(incomplete.size(), 1u);
  EXPECT_EQ(incomplete[0].key, "data/b1/.strata-tmp-000001.x7Yz");
  faulty.remove_incomplete(incomplete[0]);
  EXPECT_FALSE(std::filesystem::exists(leftover));
  EXPECT_TRUE(faulty.list_incomplete("").empty());
  EXPECT_EQ(to_string(faulty.get("data/b1/000000", 0, Storage::kToEnd)), "committed");
}

}  // namespace
}  // namespace strata
