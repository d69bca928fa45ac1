#include "engines/postgres/pg_conn.hpp"

#include <libpq-fe.h>

#include "common/error.hpp"

namespace strata::pg {
namespace {

std::string first_line(const char* msg) {
  std::string s = msg ? msg : "";
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  auto nl = s.find('\n');
  return nl == std::string::npos ? s : s.substr(0, nl);
}

}  // namespace

void Connection::Deleter::operator()(void* c) const { PQfinish(static_cast<PGconn*>(c)); }

Connection::Connection(const ConnParams& p) {
  std::vector<const char*> keys, values;
  auto add = [&](const char* k, const std::string& v) {
    if (v.empty()) return;
    keys.push_back(k);
    values.push_back(v.c_str());
  };
  add("host", p.host);
  add("port", p.port);
  add("user", p.user);
  add("dbname", p.dbname);
  keys.push_back("application_name");
  values.push_back("strata");
  keys.push_back(nullptr);
  values.push_back(nullptr);
  where_ = (p.host.empty() ? std::string("local socket") : p.host) + (p.port.empty() ? "" : ":" + p.port);
  PGconn* c = PQconnectdbParams(keys.data(), values.data(), 0);
  conn_.reset(c);
  if (!c) fail(ErrorCode::kSourceFailed, "cannot connect to PostgreSQL at " + where_ + ": out of memory");
  if (PQstatus(c) != CONNECTION_OK) {
    fail(ErrorCode::kSourceFailed, "cannot connect to PostgreSQL at " + where_ + ": " + first_line(PQerrorMessage(c)) +
                                       "; check host/port/user in the source config and the password (PGPASSWORD, .pgpass or password_file)");
  }
}

Connection::~Connection() = default;

std::vector<Row> Connection::query(const std::string& sql) {
  auto* c = static_cast<PGconn*>(conn_.get());
  std::unique_ptr<PGresult, decltype(&PQclear)> res(PQexec(c, sql.c_str()), &PQclear);
  auto st = res ? PQresultStatus(res.get()) : PGRES_FATAL_ERROR;
  if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
    fail(ErrorCode::kSourceFailed, "PostgreSQL at " + where_ + " rejected a query: " + first_line(PQerrorMessage(c)));
  }
  std::vector<Row> rows;
  int n = PQntuples(res.get()), f = PQnfields(res.get());
  rows.reserve(n);
  for (int i = 0; i < n; ++i) {
    Row r;
    r.reserve(f);
    for (int j = 0; j < f; ++j) r.emplace_back(PQgetisnull(res.get(), i, j) ? "" : PQgetvalue(res.get(), i, j));
    rows.push_back(std::move(r));
  }
  return rows;
}

std::string Connection::scalar(const std::string& sql) {
  auto rows = query(sql);
  return rows.empty() || rows[0].empty() ? "" : rows[0][0];
}

}  // namespace strata::pg
