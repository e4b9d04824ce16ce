#include "metrics/process_collector.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <ctime>
#include <map>
#include <string>
#include <vector>

namespace metrics {
namespace {

std::map<std::string, double> Values() {
  std::map<std::string, double> values;
  for (const prometheus::MetricFamily& family : ProcessCollector().Collect()) {
    REQUIRE(family.metric.size() == 1);
    values[family.name] = family.type == prometheus::MetricType::Counter
                              ? family.metric[0].counter.value
                              : family.metric[0].gauge.value;
  }
  return values;
}

TEST_CASE("process metrics are client_golang's names, with this process's values") {
  std::map<std::string, double> before = Values();
  for (const char* name : {"process_cpu_seconds_total", "process_resident_memory_bytes",
                           "process_virtual_memory_bytes", "process_open_fds", "process_max_fds",
                           "process_start_time_seconds"}) {
    CAPTURE(name);
    CHECK(before.count(name) == 1);
  }
  // Started within the last day, and not in the future.
  const double now = static_cast<double>(std::time(nullptr));
  CHECK(before["process_start_time_seconds"] <= now + 1);
  CHECK(before["process_start_time_seconds"] > now - 86400);
  CHECK(before["process_resident_memory_bytes"] > 0);
  CHECK(before["process_virtual_memory_bytes"] >= before["process_resident_memory_bytes"]);
  rlimit limit;
  REQUIRE(getrlimit(RLIMIT_NOFILE, &limit) == 0);
  CHECK(before["process_max_fds"] == static_cast<double>(limit.rlim_cur));

  // Ten more open files are ten more descriptors.
  std::vector<int> fds;
  for (int i = 0; i < 10; ++i) fds.push_back(open("/dev/null", O_RDONLY));
  std::map<std::string, double> opened = Values();
  CHECK(opened["process_open_fds"] == before["process_open_fds"] + 10);
  for (int fd : fds) close(fd);

  // CPU time only grows, and grows with work.
  volatile double sink = 0;
  const std::clock_t start = std::clock();
  while (std::clock() - start < CLOCKS_PER_SEC / 5) sink = sink + std::sqrt(sink + 1.0);
  CHECK(Values()["process_cpu_seconds_total"] >= before["process_cpu_seconds_total"] + 0.1);
}

}  // namespace
}  // namespace metrics
