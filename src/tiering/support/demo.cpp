#include "tiering/support/demo.hpp"

#include <algorithm>

#include "tiering/pg.hpp"

namespace strata::tiering {

std::string demo_schema_sql() {
  return R"SQL(
CREATE TABLE IF NOT EXISTS players (
  id uuid PRIMARY KEY,
  name text NOT NULL,
  email text,
  level integer NOT NULL DEFAULT 1,
  gold numeric(20,4) NOT NULL DEFAULT 0,
  created_at timestamptz NOT NULL DEFAULT now(),
  last_active timestamptz NOT NULL DEFAULT now(),
  settings jsonb,
  avatar bytea,
  tags text[],
  session_token text
);
CREATE TABLE IF NOT EXISTS player_stats (
  player_id uuid PRIMARY KEY REFERENCES players (id),
  kills bigint NOT NULL DEFAULT 0,
  deaths bigint NOT NULL DEFAULT 0,
  playtime interval,
  ratio double precision,
  extra json
);
CREATE TABLE IF NOT EXISTS equipment (
  id bigserial PRIMARY KEY,
  player_id uuid NOT NULL REFERENCES players (id),
  slot smallint NOT NULL,
  item_code text NOT NULL,
  durability real,
  enchant_ids integer[],
  acquired_at timestamptz
);
CREATE TABLE IF NOT EXISTS equipment_mods (
  id bigserial PRIMARY KEY,
  equipment_id bigint NOT NULL REFERENCES equipment (id),
  mod text NOT NULL,
  power numeric
);
CREATE TABLE IF NOT EXISTS bank_items (
  id bigserial PRIMARY KEY,
  player_id uuid NOT NULL REFERENCES players (id),
  item_code text NOT NULL,
  qty integer NOT NULL,
  note text,
  props jsonb,
  stored_on date
);
CREATE TABLE IF NOT EXISTS friends (
  player_id uuid NOT NULL REFERENCES players (id),
  friend_id uuid NOT NULL,
  since timestamptz NOT NULL,
  nickname varchar(64),
  PRIMARY KEY (player_id, friend_id)
);
)SQL";
}

std::string demo_entity_toml(const std::string& conninfo) {
  return "[entity.players]\n"
         "database = \"" + conninfo + "\"\n"
         "root = \"players\"\n"
         "key = \"id\"\n"
         "activity = \"last_active\"\n"
         "exclude = [\"session_token\"]\n"
         "warm_after = \"3d\"\n"
         "freeze_after = \"14d\"\n"
         "batch = 500\n"
         "pack_size = 500\n"
         "\n"
         "[[entity.players.child]]\ntable = \"player_stats\"\nfk = \"player_id\"\n\n"
         "[[entity.players.child]]\ntable = \"equipment\"\nfk = \"player_id\"\n\n"
         "[[entity.players.child]]\ntable = \"equipment_mods\"\nfk = \"equipment_id\"\nparent = \"equipment\"\nparent_key = \"id\"\n\n"
         "[[entity.players.child]]\ntable = \"bank_items\"\nfk = \"player_id\"\n\n"
         "[[entity.players.child]]\ntable = \"friends\"\nfk = \"player_id\"\n";
}

void generate_demo(PgConn& conn, size_t first, size_t count, int inactive_percent) {
  constexpr size_t kChunk = 20000;
  for (size_t a = first; a < first + count; a += kChunk) {
    size_t b = std::min(first + count, a + kChunk);
    std::vector<PgValue> p{std::to_string(a), std::to_string(b - 1), std::to_string(inactive_percent)};
    conn.exec("BEGIN");
    // Values exercise the awkward cases on purpose: NULLs, non-ASCII text, tabs/newlines/backslashes, bytea,
    // numeric with scale, NaN and infinities, json vs jsonb, arrays with NULL elements.
    conn.exec(R"SQL(
INSERT INTO players (id, name, email, level, gold, created_at, last_active, settings, avatar, tags, session_token)
SELECT md5('p' || g)::uuid,
       'player_' || g || CASE WHEN g % 7 = 0 THEN ' Ñandú 日本語 🎮' ELSE '' END,
       CASE WHEN g % 5 = 0 THEN NULL ELSE 'p' || g || '@example.com' END,
       1 + g % 80,
       round(((g * 37) % 100000)::numeric / 7, 4),
       timestamptz '2024-01-01 00:00:00+00' + make_interval(mins => (g % 500000)::int),
       CASE WHEN g % 100 < $3::int THEN now() - make_interval(days => (20 + g % 20)::int, secs => g % 86400)
            ELSE now() - make_interval(secs => g % 86400) END,
       jsonb_build_object('lang', CASE WHEN g % 2 = 0 THEN 'en' ELSE 'de' END, 'volume', g % 10, 'keys', jsonb_build_array(1, 'x', null)),
       CASE WHEN g % 3 = 0 THEN NULL ELSE decode(md5(g::text), 'hex') END,
       CASE WHEN g % 4 = 0 THEN NULL ELSE ARRAY['t' || (g % 4), 'with "quote", comma', NULL] END,
       'secret-' || g
FROM generate_series($1::bigint, $2::bigint) g)SQL",
              p);
    std::vector<PgValue> p2{p[0], p[1]};
    conn.exec(R"SQL(
INSERT INTO player_stats (player_id, kills, deaths, playtime, ratio, extra)
SELECT md5('p' || g)::uuid, g * 13 % 10007, g % 101, make_interval(hours => (g % 1000)::int, secs => (g % 60)::double precision / 3),
       CASE WHEN g % 11 = 0 THEN 'Infinity'::float8 WHEN g % 13 = 0 THEN NULL ELSE (g % 1000)::float8 / 7 END,
       json_build_object('best', g % 50, 'note', E'tab\there\nnewline \\ backslash')
FROM generate_series($1::bigint, $2::bigint) g)SQL",
              p2);
    conn.exec(R"SQL(
WITH ins AS (
  INSERT INTO equipment (player_id, slot, item_code, durability, enchant_ids, acquired_at)
  SELECT md5('p' || g)::uuid, s, 'item-' || ((g * s) % 500), (s * 0.125)::real,
         CASE WHEN s = 8 THEN '{}'::int[] ELSE ARRAY[s, (g % 100)::int, NULL] END,
         CASE WHEN s = 7 THEN NULL ELSE timestamptz '2025-06-01 12:00:00.123456+00' - make_interval(hours => ((s * g) % 1000)::int) END
  FROM generate_series($1::bigint, $2::bigint) g, generate_series(1, 8) s
  RETURNING id, slot)
INSERT INTO equipment_mods (equipment_id, mod, power)
SELECT id, 'mod-' || (id % 9), CASE WHEN id % 17 = 0 THEN 'NaN'::numeric ELSE (id % 1000)::numeric / 3 END
FROM ins WHERE slot % 2 = 0)SQL",
              p2);
    conn.exec(R"SQL(
INSERT INTO bank_items (player_id, item_code, qty, note, props, stored_on)
SELECT md5('p' || g)::uuid, 'bank-' || ((g + k) % 300), k * 10,
       CASE WHEN k = 1 THEN NULL WHEN k = 2 THEN '' ELSE 'note ' || k || E' \\x00 ' || 'ü' END,
       CASE WHEN k % 2 = 0 THEN jsonb_build_object('k', k, 'nested', jsonb_build_object('a', array[1,2])) ELSE NULL END,
       date '2025-01-01' + ((g + k) % 365)::int
FROM generate_series($1::bigint, $2::bigint) g, generate_series(1, 5) k)SQL",
              p2);
    conn.exec(R"SQL(
INSERT INTO friends (player_id, friend_id, since, nickname)
SELECT md5('p' || g)::uuid, md5('f' || g || '-' || k)::uuid, timestamptz '2025-03-01 00:00:00+00' + make_interval(days => k),
       CASE WHEN k = 4 THEN NULL ELSE 'buddy ' || k END
FROM generate_series($1::bigint, $2::bigint) g, generate_series(1, 4) k)SQL",
              p2);
    conn.exec("COMMIT");
  }
}

}  // namespace strata::tiering
