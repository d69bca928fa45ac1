// The two encoders of an entity's content digest agree byte for byte, without a database: rows_digest (thaw, over
// rows read back from a document) and spans_digest over rows appended with add_row (freeze, read in place from
// libpq's result). A freeze records the second, a thaw checks the first: if they disagreed, every archive would be
// refused as damaged.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "tiering/rows.hpp"

using namespace strata;
using namespace strata::tiering;

namespace {

// The shape of PgRows (width, null, get) over rows held in memory.
struct Rows {
  std::vector<PgRow> rows;
  int cols = 0;
  int width() const { return cols; }
  bool null(size_t r, int c) const { return !rows[r][static_cast<size_t>(c)]; }
  std::string_view get(size_t r, int c) const {
    const PgValue& v = rows[r][static_cast<size_t>(c)];
    return v ? std::string_view(*v) : std::string_view();
  }
};

// Values that stress the encoding: NULL vs '', separators of the encoding itself (0x00, 0xff are not valid UTF-8,
// so the text forms here are what PostgreSQL can hold), multi-byte UTF-8, quotes, backslashes, control characters.
PgValue value(std::mt19937& rng) {
  static const std::vector<PgValue> pool = {
      std::nullopt, PgValue(""), PgValue("0"), PgValue("a"), PgValue("a\tb\nc\\d\"e'"), PgValue("\x01\x1f\x7f"),
      PgValue("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x8e\xae"), PgValue("{1,NULL,\"x y\"}"), PgValue("NaN"), PgValue("-Infinity"),
      PgValue(std::string(300, 'x')), PgValue("\\x00ff"), PgValue("{\"k\": [1, 2]}")};
  return pool[rng() % pool.size()];
}

struct Entity {
  std::vector<std::string> names;
  std::vector<std::vector<PgRow>> rows;  // per table
};

Entity random_entity(std::mt19937& rng) {
  Entity e;
  e.names = {"players", "player_stats", "equipment", "equipment_mods"};
  for (size_t t = 0; t < e.names.size(); ++t) {
    int cols = 1 + static_cast<int>(rng() % 5);
    size_t n = t == 0 ? 1 : rng() % 8;
    std::vector<PgRow> rows;
    for (size_t r = 0; r < n; ++r) {
      PgRow row;
      for (int c = 0; c < cols; ++c) row.push_back(value(rng));
      rows.push_back(row);
    }
    e.rows.push_back(rows);
  }
  return e;
}

// spans_digest over the rows appended in `order` (a permutation per table), as a freeze reads them.
Digest32 freeze_digest(const Entity& e, bool shuffle, std::mt19937& rng) {
  std::vector<TableRows> trs(e.names.size());
  for (size_t t = 0; t < e.names.size(); ++t) {
    Rows res;
    res.rows = e.rows[t];
    if (shuffle) std::shuffle(res.rows.begin(), res.rows.end(), rng);
    res.cols = res.rows.empty() ? 0 : static_cast<int>(res.rows[0].size());
    for (size_t r = 0; r < res.rows.size(); ++r) EXPECT_TRUE(add_row(trs[t], res, r, 0));
  }
  return spans_digest(e.names, trs);
}

TEST(TierRowsDigest, FreezeAndThawEncodersAgreeOnRandomRowsInAnyOrder) {
  std::mt19937 rng(12);
  for (int i = 0; i < 300; ++i) {
    Entity e = random_entity(rng);
    Digest32 thaw = rows_digest(e.names, e.rows);
    EXPECT_EQ(freeze_digest(e, false, rng), thaw) << "entity " << i;
    EXPECT_EQ(freeze_digest(e, true, rng), thaw) << "entity " << i << ", rows in another order";
    auto shuffled = e;
    for (auto& rows : shuffled.rows) std::shuffle(rows.begin(), rows.end(), rng);
    EXPECT_EQ(rows_digest(shuffled.names, shuffled.rows), thaw) << "entity " << i;
  }
}

TEST(TierRowsDigest, EveryChangeOfAValueOrItsPlaceChangesTheDigest) {
  Entity e;
  e.names = {"players", "bank_items"};
  e.rows = {{{PgValue("p1"), PgValue("")}}, {{PgValue("ab"), PgValue("c")}, {std::nullopt, PgValue("d")}}};
  Digest32 d = rows_digest(e.names, e.rows);
  std::mt19937 rng(1);
  EXPECT_EQ(freeze_digest(e, false, rng), d);
  auto changed = [&](auto edit) {
    Entity x = e;
    edit(x);
    Digest32 a = rows_digest(x.names, x.rows);
    EXPECT_EQ(freeze_digest(x, false, rng), a);  // the encoders agree on the changed rows too
    return a != d;
  };
  EXPECT_TRUE(changed([](Entity& x) { x.rows[0][0][1] = std::nullopt; }));               // '' -> NULL
  EXPECT_TRUE(changed([](Entity& x) { x.rows[1][0] = {PgValue("a"), PgValue("bc")}; }));  // a boundary moves
  EXPECT_TRUE(changed([](Entity& x) { x.rows[1].pop_back(); }));                        // a row less
  EXPECT_TRUE(changed([](Entity& x) { x.rows[1].push_back(x.rows[1][0]); }));           // a duplicate row
  EXPECT_TRUE(changed([](Entity& x) { x.names[1] = "bank_item"; }));                    // another table
  EXPECT_TRUE(changed([](Entity& x) { std::swap(x.rows[0], x.rows[1]); }));             // rows in another table
}

TEST(TierRowsDigest, AddRowWritesTheDocumentsJsonAndRefusesTextThatIsNotUtf8) {
  Rows res;
  res.cols = 3;
  res.rows = {{PgValue("a\"b"), std::nullopt, PgValue("")}, {PgValue("\xc3\x28"), PgValue("x"), PgValue("y")}};
  TableRows tr;
  ASSERT_TRUE(add_row(tr, res, 0, 0));
  EXPECT_EQ(tr.json, R"(["a\"b",null,""])");
  EXPECT_FALSE(add_row(tr, res, 1, 0));  // 0xc3 0x28 is not UTF-8
  TableRows from1;
  ASSERT_TRUE(add_row(from1, res, 0, 1));  // columns before `from` (the key a query selects first) are left out
  EXPECT_EQ(from1.json, R"([null,""])");
}

TEST(TierRowsDigest, RowVersionsParseFromTheirTextForms) {
  RowVersion v = parse_version("(4294967,65535)", "4000000000");
  EXPECT_EQ(v.tid, (uint64_t{4294967} << 16) | 65535);
  EXPECT_EQ(v.xmin, 4000000000u);
  EXPECT_TRUE(parse_version("(0,1)", "7") < parse_version("(0,2)", "7"));
  EXPECT_FALSE(parse_version("(0,1)", "7") == parse_version("(0,1)", "8"));
}

}  // namespace
