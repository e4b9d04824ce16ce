#include "metrics/process_collector.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <fstream>
#include <optional>
#include <sstream>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"

namespace metrics {
namespace {

prometheus::MetricFamily Family(const char* name, const char* help, prometheus::MetricType type,
                                double value) {
  prometheus::ClientMetric metric;
  if (type == prometheus::MetricType::Counter) {
    metric.counter.value = value;
  } else {
    metric.gauge.value = value;
  }
  return prometheus::MetricFamily{name, help, type, {metric}};
}

std::optional<std::string> ReadFile(const char* path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::stringstream contents;
  contents << in.rdbuf();
  return contents.str();
}

// The fields of /proc/self/stat after "(comm)": fields()[0] is field 3
// (state) of proc(5). comm may hold spaces and parentheses, so the split
// starts after its last ')'.
std::vector<std::string> StatFields() {
  std::optional<std::string> stat = ReadFile("/proc/self/stat");
  if (!stat) return {};
  const std::size_t end_of_comm = stat->rfind(')');
  if (end_of_comm == std::string::npos) return {};
  return absl::StrSplit(absl::string_view(*stat).substr(end_of_comm + 1), ' ', absl::SkipEmpty());
}

// Field `number` of proc(5)'s /proc/[pid]/stat (1-based, as the man page
// counts), if present and numeric.
std::optional<double> StatField(const std::vector<std::string>& fields, int number) {
  const int index = number - 3;
  double value;
  if (index < 0 || index >= static_cast<int>(fields.size()) ||
      !absl::SimpleAtod(fields[index], &value)) {
    return std::nullopt;
  }
  return value;
}

// System boot time, seconds since the epoch (the btime line of /proc/stat).
std::optional<double> BootTime() {
  std::optional<std::string> stat = ReadFile("/proc/stat");
  if (!stat) return std::nullopt;
  for (absl::string_view line : absl::StrSplit(*stat, '\n')) {
    double value;
    if (absl::ConsumePrefix(&line, "btime ") && absl::SimpleAtod(line, &value)) return value;
  }
  return std::nullopt;
}

std::optional<double> OpenFds() {
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return std::nullopt;
  double count = 0;
  while (const dirent* entry = readdir(dir)) {
    if (entry->d_name[0] != '.') ++count;
  }
  closedir(dir);
  return count - 1;  // the directory's own descriptor, open while counting
}

}  // namespace

std::vector<prometheus::MetricFamily> ProcessCollector::Collect() const {
  using prometheus::MetricType;
  std::vector<prometheus::MetricFamily> families;
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  const double page = static_cast<double>(sysconf(_SC_PAGESIZE));
  const std::vector<std::string> fields = StatFields();
  const std::optional<double> utime = StatField(fields, 14);
  const std::optional<double> stime = StatField(fields, 15);
  if (utime && stime && ticks > 0) {
    families.push_back(Family("process_cpu_seconds_total",
                              "Total user and system CPU time spent in seconds.",
                              MetricType::Counter, (*utime + *stime) / ticks));
  }
  if (const std::optional<double> rss = StatField(fields, 24); rss && page > 0) {
    families.push_back(Family("process_resident_memory_bytes", "Resident memory size in bytes.",
                              MetricType::Gauge, *rss * page));
  }
  if (const std::optional<double> vsize = StatField(fields, 23)) {
    families.push_back(Family("process_virtual_memory_bytes", "Virtual memory size in bytes.",
                              MetricType::Gauge, *vsize));
  }
  if (const std::optional<double> fds = OpenFds()) {
    families.push_back(
        Family("process_open_fds", "Number of open file descriptors.", MetricType::Gauge, *fds));
  }
  if (rlimit limit; getrlimit(RLIMIT_NOFILE, &limit) == 0) {
    families.push_back(Family("process_max_fds", "Maximum number of open file descriptors.",
                              MetricType::Gauge, static_cast<double>(limit.rlim_cur)));
  }
  const std::optional<double> start_ticks = StatField(fields, 22);
  const std::optional<double> boot = BootTime();
  if (start_ticks && boot && ticks > 0) {
    families.push_back(Family("process_start_time_seconds",
                              "Start time of the process since unix epoch in seconds.",
                              MetricType::Gauge, *boot + *start_ticks / ticks));
  }
  return families;
}

}  // namespace metrics
