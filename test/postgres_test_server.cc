#include "test/postgres_test_server.h"

#include <libpq-fe.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"

namespace testing_util {
namespace {

constexpr char kBin[] = "/usr/lib/postgresql/15/bin/";
constexpr char kUser[] = "nobody";

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

PostgresTestServer::PostgresTestServer() {
  if (geteuid() == 0) {
    REQUIRE(std::system(absl::StrCat("chown ", kUser, " '", dir_.path(), "'").c_str()) == 0);
  }
  RunAsOwner(absl::StrCat(kBin, "initdb -D '", dir_.Path("data"),
                          "' -U postgres --auth=trust --no-locale -E UTF8 --no-sync > '",
                          dir_.Path("initdb.log"), "' 2>&1"),
             dir_.Path("initdb.log"));
  Start();
}

PostgresTestServer::~PostgresTestServer() {
  if (frozen_) {
    std::system(absl::StrCat("pid=$(head -n 1 '", dir_.Path("data/postmaster.pid"),
                             "') && kill -CONT $pid; pkill -CONT -P $pid")
                    .c_str());
  }
  if (running_) {
    std::system(absl::StrCat(geteuid() == 0 ? absl::StrCat("runuser -u ", kUser, " -- ") : "", kBin,
                             "pg_ctl -D '", dir_.Path("data"),
                             "' -m immediate -w stop > /dev/null 2>&1")
                    .c_str());
  }
}

void PostgresTestServer::RunAsOwner(const std::string& command, const std::string& log) const {
  const std::string prefix = geteuid() == 0 ? absl::StrCat("runuser -u ", kUser, " -- ") : "";
  const std::string line = absl::StrCat("cd '", dir_.path(), "' && ", prefix, command);
  const int status = std::system(line.c_str());
  INFO(line << "\n" << Slurp(log));
  REQUIRE(status == 0);
}

void PostgresTestServer::Start() {
  // No TCP: the server listens only on its socket in the test's directory.
  RunAsOwner(absl::StrCat(kBin, "pg_ctl -D '", dir_.Path("data"), "' -l '", dir_.Path("server.log"),
                          "' -w -t 60 -o \"-c listen_addresses='' -k '", dir_.path(),
                          "' -p 5432 -c max_connections=100\" start > '", dir_.Path("pg_ctl.log"),
                          "' 2>&1"),
             dir_.Path("server.log"));
  running_ = true;
}

void PostgresTestServer::Stop() {
  RunAsOwner(absl::StrCat(kBin, "pg_ctl -D '", dir_.Path("data"), "' -m fast -w -t 60 stop > '",
                          dir_.Path("pg_ctl.log"), "' 2>&1"),
             dir_.Path("pg_ctl.log"));
  running_ = false;
}

void PostgresTestServer::Freeze(bool frozen) {
  // The postmaster's pid is the first line of postmaster.pid; the
  // backends are its children.
  const std::string signal = frozen ? "STOP" : "CONT";
  const std::string command =
      absl::StrCat("pid=$(head -n 1 '", dir_.Path("data/postmaster.pid"), "') && kill -", signal,
                   " $pid && pkill -", signal, " -P $pid");
  REQUIRE(std::system(command.c_str()) == 0);
  frozen_ = frozen;
}

std::string PostgresTestServer::uri() const {
  return absl::StrCat("host=", dir_.path(), " port=5432 user=postgres dbname=postgres");
}

std::string PostgresTestServer::Query(const std::string& sql) const {
  PGconn* conn = PQconnectdb(uri().c_str());
  INFO(PQerrorMessage(conn));
  REQUIRE(PQstatus(conn) == CONNECTION_OK);
  PGresult* result = PQexec(conn, sql.c_str());
  const ExecStatusType status = PQresultStatus(result);
  INFO(sql << ": " << PQresultErrorMessage(result));
  const bool ok = status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK;
  std::string value;
  if (ok && PQntuples(result) > 0 && PQnfields(result) > 0) value = PQgetvalue(result, 0, 0);
  PQclear(result);
  PQfinish(conn);
  REQUIRE(ok);
  return value;
}

}  // namespace testing_util
