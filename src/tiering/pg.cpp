#include "tiering/pg.hpp"

namespace strata::tiering {
namespace {

PgTarget target(const std::string& conninfo) {
  PgTarget t;
  t.conninfo = conninfo;
  t.application_name = "strata-tier";
  t.hint = "check the entity's database setting and PGPASSWORD/.pgpass";
  return t;
}

}  // namespace

PgConn::PgConn(const std::string& conninfo) : PgClient(target(conninfo)) {
  // Stable text forms: what COPY reads back must be exactly what we archived, whatever the server defaults are.
  exec("SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD'; SET IntervalStyle = 'postgres'; "
       "SET extra_float_digits = 3; SET bytea_output = 'hex'; SET client_encoding = 'UTF8'; "
       "SET standard_conforming_strings = on");
}

void copy_escape(std::string& out, const PgValue& v) {
  if (!v) {
    out += "\\N";
    return;
  }
  for (char ch : *v) {
    switch (ch) {
      case '\\': out += "\\\\"; break;
      case '\t': out += "\\t"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      default: out += ch;
    }
  }
}

void sql_literal(std::string& out, const PgValue& v) {
  if (!v) {
    out += "NULL";
    return;
  }
  out += '\'';
  for (char ch : *v) {
    if (ch == '\'') out += '\'';
    out += ch;
  }
  out += '\'';
}

}  // namespace strata::tiering
