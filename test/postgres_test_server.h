// A real PostgreSQL 15 server for one test: initdb and pg_ctl (Debian's
// postgresql-15) in a temporary directory, run as the unprivileged user
// "nobody" when the test runs as root (initdb refuses root), listening on a
// unix socket in that directory only (no TCP port at all), stopped and
// removed afterwards. A server that cannot be created or started FAILS the
// test (REQUIRE): PostgreSQL tests never skip.
#ifndef TEST_POSTGRES_TEST_SERVER_H_
#define TEST_POSTGRES_TEST_SERVER_H_

#include <string>

#include "test/temp_dir.h"

namespace testing_util {

class PostgresTestServer {
 public:
  // initdb, then Start.
  PostgresTestServer();
  // Stop (if running); the directory goes with the TempDir.
  ~PostgresTestServer();
  PostgresTestServer(const PostgresTestServer&) = delete;
  PostgresTestServer& operator=(const PostgresTestServer&) = delete;

  // pg_ctl start (waits until it accepts connections) / stop -m fast
  // (waits until it is down). REQUIRE success.
  void Start();
  void Stop();
  bool running() const { return running_; }
  // SIGSTOP (true) or SIGCONT (false) to the postmaster and every backend:
  // a server that hangs with its connections open. The destructor thaws
  // a frozen server before stopping it.
  void Freeze(bool frozen);

  // libpq connection string of the server's "postgres" database.
  std::string uri() const;
  // Runs `sql` on a new connection (REQUIREs success) and returns the first
  // column of the first row ("" without rows).
  std::string Query(const std::string& sql) const;

 private:
  // Runs a shell command as the server's user; REQUIREs exit status 0 and
  // shows `log` on failure.
  void RunAsOwner(const std::string& command, const std::string& log) const;

  TempDir dir_{"pg_test"};
  bool running_ = false;
  bool frozen_ = false;
};

}  // namespace testing_util

#endif  // TEST_POSTGRES_TEST_SERVER_H_
