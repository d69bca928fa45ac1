#include "tiering/failpoint.hpp"

#include <atomic>

namespace strata::tiering {
namespace {
std::atomic<FailpointHandler> g_handler{nullptr};
}  // namespace

void set_failpoint_handler(FailpointHandler handler) { g_handler.store(handler, std::memory_order_release); }

void failpoint(const char* name) {
  if (FailpointHandler h = g_handler.load(std::memory_order_acquire)) h(name);
}

}  // namespace strata::tiering
