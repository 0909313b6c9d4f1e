#pragma once

// Prometheus-style metrics: counters, gauges and histograms that any thread may update
// (relaxed atomics: a scrape sees each value whole, not all of them at one instant), and
// their text exposition format (version 0.0.4). The metrics of the actors layer live in one
// process-wide set, service(); the request metrics live with the server (net/metrics).

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

namespace actorvol::metrics {

/// A count that only goes up.
class counter {
public:
  void add(uint64_t n = 1) {
    value_.fetch_add(n, std::memory_order_relaxed);
  }
  uint64_t value() const {
    return value_.load(std::memory_order_relaxed);
  }

private:
  std::atomic<uint64_t> value_{0};
};

/// A value that goes up and down.
class gauge {
public:
  void add(int64_t n) {
    value_.fetch_add(n, std::memory_order_relaxed);
  }
  int64_t value() const {
    return value_.load(std::memory_order_relaxed);
  }

private:
  std::atomic<int64_t> value_{0};
};

/// Observations counted into buckets by upper bound, with their sum and count. Values are
/// whole numbers in the histogram's own unit (nanoseconds, items); render() scales them.
class histogram {
public:
  /// `bounds`: the buckets' upper bounds, ascending (+Inf is added).
  explicit histogram(std::vector<uint64_t> bounds);

  /// A latency histogram: latency_bounds(), in nanoseconds.
  histogram();

  void observe(uint64_t value);

  /// Appends NAME_bucket{LABELS,le="..."}, NAME_sum{LABELS} and NAME_count{LABELS}, each
  /// value divided by `scale` (1e9 shows nanoseconds as seconds). LABELS may be empty.
  void render(std::string& out, const std::string& name, const std::string& labels,
              double scale) const;

  uint64_t count() const;

private:
  std::vector<uint64_t> bounds_;
  std::vector<std::atomic<uint64_t>> buckets_;  // one more than bounds_: +Inf
  std::atomic<uint64_t> sum_{0};
};

/// Bucket bounds for latencies, in nanoseconds: 100 us to 120 s.
std::vector<uint64_t> latency_bounds();

/// Appends a metric's # HELP and # TYPE lines.
void describe(std::string& out, const std::string& name, const std::string& type,
              const std::string& help);

/// A number in the exposition format (integers without a fraction).
std::string number(double v);

/// The metrics of the actors layer and the store, one set per process.
struct service_metrics {
  histogram commit_seconds;                    // one journal transaction, fsync included
  histogram commit_batch{{1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024}};  // changes per commit
  counter reconcile_dropped;                   // mount uses dropped by reconcile
  gauge blocking_jobs;                         // jobs a WORKER runs now
};

service_metrics& service();

/// Appends the service metrics in the exposition format.
void render_service(std::string& out);

} // namespace actorvol::metrics
