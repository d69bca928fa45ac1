#include "common/pg_client.hpp"

#include <libpq-fe.h>

#include <algorithm>

#include "common/error.hpp"

namespace strata {
namespace {

std::string first_line(const char* msg) {
  std::string s = msg ? msg : "";
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  auto nl = s.find('\n');
  return nl == std::string::npos ? s : s.substr(0, nl);
}

using ResultPtr = std::unique_ptr<PGresult, decltype(&PQclear)>;

PGresult* run(PGconn* c, const std::string& sql, const std::vector<PgValue>& params, const std::string& where) {
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const auto& p : params) values.push_back(p ? p->c_str() : nullptr);
  ResultPtr res(params.empty() ? PQexec(c, sql.c_str())
                               : PQexecParams(c, sql.c_str(), static_cast<int>(params.size()), nullptr, values.data(),
                                              nullptr, nullptr, 0),
                &PQclear);
  auto st = res ? PQresultStatus(res.get()) : PGRES_FATAL_ERROR;
  if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
    fail(ErrorCode::kSourceFailed, "PostgreSQL at " + where + " rejected a statement: " + first_line(PQerrorMessage(c)));
  }
  return res.release();
}

}  // namespace

void PgClient::Deleter::operator()(void* c) const { PQfinish(static_cast<PGconn*>(c)); }

PgClient::PgClient(const PgTarget& t) {
  std::vector<const char*> keys, values;
  auto add = [&](const char* k, const std::string& v) {
    if (v.empty()) return;
    keys.push_back(k);
    values.push_back(v.c_str());
  };
  // A conninfo goes first as an expanded dbname, so the fields given one by one override what it says; without one,
  // dbname stays a plain name.
  add("dbname", t.conninfo);
  int expand = keys.empty() ? 0 : 1;
  add("host", t.host);
  add("port", t.port);
  add("user", t.user);
  add("dbname", t.dbname);
  add("password", t.password);
  add("passfile", t.passfile);
  add("application_name", t.application_name);
  keys.push_back(nullptr);
  values.push_back(nullptr);
  // A conninfo may hold secrets, so it is never echoed: its host, port and database are read back from libpq below.
  if (t.conninfo.empty()) where_ = (t.host.empty() ? std::string("local socket") : t.host) + (t.port.empty() ? "" : ":" + t.port);
  PGconn* c = PQconnectdbParams(keys.data(), values.data(), expand);
  conn_.reset(c);
  std::string at = where_.empty() ? "" : " at " + where_;
  if (!c) fail(ErrorCode::kSourceFailed, "cannot connect to PostgreSQL" + at + ": out of memory");
  if (!t.conninfo.empty()) {
    const char* host = PQhost(c);
    const char* port = PQport(c);
    const char* db = PQdb(c);
    where_ = std::string(host && *host ? host : "local socket") + (port && *port ? std::string(":") + port : "") + "/" +
             (db ? db : "");
  }
  if (PQstatus(c) != CONNECTION_OK) {
    fail(ErrorCode::kSourceFailed, "cannot connect to PostgreSQL at " + where_ + ": " + first_line(PQerrorMessage(c)) +
                                       (t.hint.empty() ? "" : "; " + t.hint));
  }
}

PgClient::~PgClient() = default;

void PgRows::Deleter::operator()(void* r) const { PQclear(static_cast<PGresult*>(r)); }

bool PgRows::null(size_t row, int col) const {
  return PQgetisnull(static_cast<PGresult*>(res_.get()), static_cast<int>(row), col) != 0;
}

std::string_view PgRows::get(size_t row, int col) const {
  auto* r = static_cast<PGresult*>(res_.get());
  return std::string_view(PQgetvalue(r, static_cast<int>(row), col),
                          static_cast<size_t>(PQgetlength(r, static_cast<int>(row), col)));
}

PgRows PgClient::query(const std::string& sql, const std::vector<PgValue>& params) {
  PgRows out;
  out.res_.reset(run(static_cast<PGconn*>(conn_.get()), sql, params, where_));
  out.rows_ = static_cast<size_t>(PQntuples(static_cast<PGresult*>(out.res_.get())));
  out.cols_ = PQnfields(static_cast<PGresult*>(out.res_.get()));
  return out;
}

std::string PgClient::scalar(const std::string& sql, const std::vector<PgValue>& params) {
  PgRows r = query(sql, params);
  return r.size() == 0 || r.width() == 0 ? "" : std::string(r.get(0, 0));
}

PgResult PgClient::exec(const std::string& sql, const std::vector<PgValue>& params) {
  auto* c = static_cast<PGconn*>(conn_.get());
  ResultPtr res(run(c, sql, params, where_), &PQclear);
  PgResult out;
  int n = PQntuples(res.get()), f = PQnfields(res.get());
  out.columns.reserve(f);
  for (int j = 0; j < f; ++j) out.columns.emplace_back(PQfname(res.get(), j));
  out.rows.reserve(n);
  for (int i = 0; i < n; ++i) {
    PgRow r;
    r.reserve(f);
    for (int j = 0; j < f; ++j) {
      if (PQgetisnull(res.get(), i, j)) r.emplace_back(std::nullopt);
      else r.emplace_back(std::string(PQgetvalue(res.get(), i, j), PQgetlength(res.get(), i, j)));
    }
    out.rows.push_back(std::move(r));
  }
  const char* tuples = PQcmdTuples(res.get());
  if (tuples && *tuples) out.affected = std::stoull(tuples);
  return out;
}

void PgClient::copy_in(const std::string& copy_sql, const std::string& data) {
  auto* c = static_cast<PGconn*>(conn_.get());
  ResultPtr res(PQexec(c, copy_sql.c_str()), &PQclear);
  if (!res || PQresultStatus(res.get()) != PGRES_COPY_IN) {
    fail(ErrorCode::kSourceFailed, "PostgreSQL at " + where_ + " rejected COPY: " + first_line(PQerrorMessage(c)));
  }
  constexpr size_t kChunk = 1 << 20;
  for (size_t off = 0; off < data.size(); off += kChunk) {
    size_t n = std::min(kChunk, data.size() - off);
    if (PQputCopyData(c, data.data() + off, static_cast<int>(n)) != 1) {
      fail(ErrorCode::kSourceFailed, "PostgreSQL at " + where_ + ": COPY failed: " + first_line(PQerrorMessage(c)));
    }
  }
  if (PQputCopyEnd(c, nullptr) != 1) {
    fail(ErrorCode::kSourceFailed, "PostgreSQL at " + where_ + ": COPY failed: " + first_line(PQerrorMessage(c)));
  }
  std::string err;
  while (PGresult* r = PQgetResult(c)) {
    if (PQresultStatus(r) != PGRES_COMMAND_OK && err.empty()) err = first_line(PQresultErrorMessage(r));
    PQclear(r);
  }
  if (!err.empty()) fail(ErrorCode::kSourceFailed, "PostgreSQL at " + where_ + " rejected rows: " + err);
}

void PgClient::rollback() noexcept {
  auto* c = static_cast<PGconn*>(conn_.get());
  if (!c || PQstatus(c) != CONNECTION_OK) return;
  PGresult* r = PQexec(c, "ROLLBACK");
  if (r) PQclear(r);
}

std::string quote_ident(const std::string& name) {
  std::string out = "\"";
  for (char ch : name) {
    if (ch == '"') out += '"';
    out += ch;
  }
  return out + "\"";
}

std::string text_array(const std::vector<std::string>& values) {
  std::string out = "{";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i) out += ',';
    out += '"';
    for (char ch : values[i]) {
      if (ch == '"' || ch == '\\') out += '\\';
      out += ch;
    }
    out += '"';
  }
  return out + "}";
}

}  // namespace strata
