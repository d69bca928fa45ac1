#include "tiering/rows.hpp"

#include <algorithm>

namespace strata::tiering {

void encode_row(std::string& out, const PgRow& row, size_t from) {
  for (size_t i = from; i < row.size(); ++i) {
    if (!row[i]) {
      out += '\xff';
      continue;
    }
    out += '\0';
    uint32_t n = static_cast<uint32_t>(row[i]->size());
    out.append(reinterpret_cast<const char*>(&n), 4);
    out += *row[i];
  }
}

Digest32 rows_digest(const std::vector<std::string>& names, const std::vector<std::vector<PgRow>>& rows) {
  Sha256 h;
  std::vector<std::string> enc;
  for (size_t t = 0; t < names.size(); ++t) {
    std::string head = "T" + names[t];
    head += '\0';
    h.update(as_bytes(head));
    enc.clear();
    for (const auto& r : rows[t]) {
      enc.emplace_back();
      encode_row(enc.back(), r, 0);
    }
    std::sort(enc.begin(), enc.end());
    for (const auto& e : enc) {
      uint32_t n = static_cast<uint32_t>(e.size());
      h.update(ByteView(reinterpret_cast<const uint8_t*>(&n), 4));
      h.update(as_bytes(e));
    }
  }
  return h.finish();
}

RowVersion parse_version(std::string_view ctid, std::string_view xmin) {
  RowVersion v;
  uint64_t block = 0, off = 0;
  size_t i = 1;
  for (; i < ctid.size() && ctid[i] != ','; ++i) block = block * 10 + static_cast<uint64_t>(ctid[i] - '0');
  for (++i; i < ctid.size() && ctid[i] != ')'; ++i) off = off * 10 + static_cast<uint64_t>(ctid[i] - '0');
  v.tid = block << 16 | off;
  for (char ch : xmin) v.xmin = v.xmin * 10 + static_cast<uint32_t>(ch - '0');
  return v;
}

Digest32 spans_digest(const std::vector<std::string>& names, std::vector<TableRows>& rows) {
  Sha256 h;
  for (size_t t = 0; t < names.size(); ++t) {
    std::string head = "T" + names[t];
    head += '\0';
    h.update(as_bytes(head));
    TableRows& tr = rows[t];
    auto view = [&](const std::pair<uint32_t, uint32_t>& s) { return std::string_view(tr.enc.data() + s.first, s.second); };
    // Byte order, as std::string compares: the same order rows_digest sorts in.
    std::sort(tr.spans.begin(), tr.spans.end(), [&](const auto& a, const auto& b) { return view(a) < view(b); });
    for (const auto& s : tr.spans) {
      uint32_t n = s.second;
      h.update(ByteView(reinterpret_cast<const uint8_t*>(&n), 4));
      h.update(ByteView(reinterpret_cast<const uint8_t*>(tr.enc.data() + s.first), s.second));
    }
  }
  return h.finish();
}

}  // namespace strata::tiering
