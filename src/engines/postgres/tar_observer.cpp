#include "engines/postgres/tar_observer.hpp"

namespace strata::pg {

TarObserver::TarObserver(ByteSource& inner, std::map<std::string, size_t> keep) : inner_(inner), keep_(std::move(keep)) {}

size_t TarObserver::read(uint8_t* buf, size_t n) {
  size_t got = inner_.read(buf, n);
  parser_.feed(ByteView(buf, got));
  return got;
}

void TarObserver::member_start(const TarMember& m) {
  current_ = m.name;
  ++count_;
  if (keep_.count(m.name)) members_[m.name];
}

void TarObserver::member_data(ByteView data) {
  auto k = keep_.find(current_);
  if (k == keep_.end()) return;
  std::string& m = members_[current_];
  m.append(reinterpret_cast<const char*>(data.data()), data.size());
  if (m.size() > k->second) m.erase(0, m.size() - k->second);
}

}  // namespace strata::pg
