#include "core/metrics.hpp"

#include <cmath>
#include <cstdio>

namespace actorvol::metrics {

histogram::histogram(std::vector<uint64_t> bounds)
  : bounds_(std::move(bounds)), buckets_(bounds_.size() + 1) {
}

histogram::histogram() : histogram(latency_bounds()) {
}

void histogram::observe(uint64_t value) {
  size_t i = 0;
  while (i < bounds_.size() && value > bounds_[i])
    ++i;
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(value, std::memory_order_relaxed);
}

uint64_t histogram::count() const {
  uint64_t n = 0;
  for (auto& b : buckets_)
    n += b.load(std::memory_order_relaxed);
  return n;
}

std::string number(double v) {
  if (std::isinf(v))
    return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  if (v == std::floor(v) && std::fabs(v) < 1e15)
    std::snprintf(buf, sizeof buf, "%.0f", v);
  else
    std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

void histogram::render(std::string& out, const std::string& name, const std::string& labels,
                       double scale) const {
  auto sep = labels.empty() ? "" : ",";
  uint64_t cumulative = 0;
  for (size_t i = 0; i < buckets_.size(); ++i) {
    cumulative += buckets_[i].load(std::memory_order_relaxed);
    auto le = i < bounds_.size() ? number(static_cast<double>(bounds_[i]) / scale) : "+Inf";
    out += name + "_bucket{" + labels + sep + "le=\"" + le + "\"} " + std::to_string(cumulative)
           + "\n";
  }
  auto braces = labels.empty() ? std::string{} : "{" + labels + "}";
  out += name + "_sum" + braces + " "
         + number(static_cast<double>(sum_.load(std::memory_order_relaxed)) / scale) + "\n";
  out += name + "_count" + braces + " " + std::to_string(cumulative) + "\n";
}

std::vector<uint64_t> latency_bounds() {
  std::vector<uint64_t> out;
  for (double s : {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                   0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0})
    out.push_back(static_cast<uint64_t>(s * 1e9));
  return out;
}

void describe(std::string& out, const std::string& name, const std::string& type,
              const std::string& help) {
  out += "# HELP " + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
}

service_metrics& service() {
  static service_metrics instance;
  return instance;
}

void render_service(std::string& out) {
  auto& m = service();
  describe(out, "actorvol_state_commit_duration_seconds", "histogram",
           "Time of one state journal commit (one fsync covers the whole batch).");
  m.commit_seconds.render(out, "actorvol_state_commit_duration_seconds", "", 1e9);
  describe(out, "actorvol_state_commit_batch_size", "histogram",
           "Volume changes made durable by one state journal commit.");
  m.commit_batch.render(out, "actorvol_state_commit_batch_size", "", 1);
  describe(out, "actorvol_reconcile_dropped_uses_total", "counter",
           "Mount uses dropped because no live container explained them.");
  out += "actorvol_reconcile_dropped_uses_total " + std::to_string(m.reconcile_dropped.value())
         + "\n";
  describe(out, "actorvol_blocking_jobs_in_flight", "gauge",
           "Blocking jobs (backend calls, state writes) running on worker threads now.");
  out += "actorvol_blocking_jobs_in_flight " + std::to_string(m.blocking_jobs.value()) + "\n";
}

} // namespace actorvol::metrics
