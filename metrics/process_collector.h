// The process_* metrics of the Prometheus client libraries (client_golang's
// process collector), read from /proc at each scrape, which Debian's
// prometheus-cpp 1.0.1 does not provide itself:
//
//   process_cpu_seconds_total        user + system CPU time (counter)
//   process_resident_memory_bytes    resident set size
//   process_virtual_memory_bytes     virtual memory size
//   process_open_fds                 open file descriptors
//   process_max_fds                  the soft RLIMIT_NOFILE
//   process_start_time_seconds       start time, seconds since the Unix epoch
//
// Linux only. A value /proc cannot give at a scrape is left out of that
// scrape rather than reported as 0.
#ifndef METRICS_PROCESS_COLLECTOR_H_
#define METRICS_PROCESS_COLLECTOR_H_

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include <vector>

namespace metrics {

class ProcessCollector : public prometheus::Collectable {
 public:
  std::vector<prometheus::MetricFamily> Collect() const override;
};

}  // namespace metrics

#endif  // METRICS_PROCESS_COLLECTOR_H_
