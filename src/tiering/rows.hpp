#pragma once
// An entity's rows as tiering encodes them: the content digest (order-independent, over PostgreSQL's text form of
// every value) in its two encoders — over rows read back from a document (thaw) and over rows read in place from
// libpq's result into one buffer (freeze), which must agree byte for byte (tests/tiering/rows_unit_test.cpp) — and
// the physical row versions a freeze compares. No database here: the functions take rows, not connections.
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/bytes.hpp"
#include "common/json_text.hpp"
#include "common/pg_client.hpp"
#include "io/crypto.hpp"

namespace strata::tiering {

// Appends row's values from column `from` on in the digest encoding: 0xff for NULL, else 0x00, u32 length, bytes.
void encode_row(std::string& out, const PgRow& row, size_t from);

// Order-independent digest of an entity's rows: SHA-256 over, per table, "T" name 0 and the byte-sorted row
// encodings, each with its u32 length. The same rows give the same digest however they were read.
// rows[t] are the archived columns of table names[t].
Digest32 rows_digest(const std::vector<std::string>& names, const std::vector<std::vector<PgRow>>& rows);

// The physical version of a row: (ctid, xmin). See Tierer::Impl::commit_batch for why it stands for the contents.
struct RowVersion {
  uint64_t tid = 0;  // block << 16 | line pointer
  uint32_t xmin = 0;
  bool operator<(const RowVersion& o) const { return tid != o.tid ? tid < o.tid : xmin < o.xmin; }
  bool operator==(const RowVersion& o) const { return tid == o.tid && xmin == o.xmin; }
};

// From ctid's text form "(block,offset)" and xmin's decimal text.
RowVersion parse_version(std::string_view ctid, std::string_view xmin);

// One table's rows of one entity as the snapshot read them: already as JSON (for the document) and in the digest's
// encoding (one buffer, a span per row), so no value is copied into a string of its own.
struct TableRows {
  std::string json;  // "[..],[..]"
  std::string enc;
  std::vector<std::pair<uint32_t, uint32_t>> spans;  // offset, length in enc
  std::vector<RowVersion> versions;
};

// Appends row `r` of `res` (columns from `from` on) to `tr`. Returns false on text that is not valid UTF-8.
// `Result` is anything with width(), null(row, col) and get(row, col) -> string_view (PgRows; a table in tests).
template <class Result>
bool add_row(TableRows& tr, const Result& res, size_t r, int from) {
  if (!tr.spans.empty()) tr.json += ',';
  tr.json += '[';
  auto start = static_cast<uint32_t>(tr.enc.size());
  for (int c = from; c < res.width(); ++c) {
    if (c > from) tr.json += ',';
    if (res.null(r, c)) {
      tr.json += "null";
      tr.enc += '\xff';
      continue;
    }
    std::string_view v = res.get(r, c);
    if (!append_json_string(tr.json, v)) return false;
    tr.enc += '\0';
    auto n = static_cast<uint32_t>(v.size());
    tr.enc.append(reinterpret_cast<const char*>(&n), 4);
    tr.enc.append(v);
  }
  tr.json += ']';
  tr.spans.emplace_back(start, static_cast<uint32_t>(tr.enc.size()) - start);
  return true;
}

// rows_digest over rows held as TableRows: the same bytes hashed in the same order. Sorts each table's spans.
Digest32 spans_digest(const std::vector<std::string>& names, std::vector<TableRows>& rows);

}  // namespace strata::tiering
