// The project's own benchmark: five scenarios against the real build/actorvol, a table on
// stdout and, with --out, one JSON line per row of that table (bench/chart.py draws them).
//
//   bench_scenarios [--scenario all|get|mix|latency|slowmount|scale] [--volumes N]
//                   [--seconds S] [--out FILE]
//
// Timing goals are for people to read (bench/README.md); nothing here compares a time with a
// limit. The exit status is 1 only when something was incorrect: a request that failed (not
// 200, or a non-empty Err), a List that came back short, a plugin that did not start or did
// not exit 0 on SIGTERM. That holds at any speed, so the ctest smoke can check it.

#include "client.hpp"
#include "support/plugin.hpp"

#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

using namespace actorvol;
using namespace actorvol::bench;

namespace {

/// One row of the table and one line of --out.
struct row {
  std::string name;    // short and stable, for charts and scripts: "get", "scale.create"...
  std::string scenario;
  std::string metric;  // what `value` is, for people
  double value = 0;
  std::string unit;
  uint64_t requests = 0;
  uint64_t errors = 0;
  double p50_us = 0, p99_us = 0, max_us = 0;
  nlohmann::json extra = nlohmann::json::object();  // scenario detail, only in the file
};

struct settings {
  std::string scenario = "all";
  long volumes = 100000;
  double seconds = 5;
  std::string out;
};

// The throughput scenarios spread their requests over this many volumes (as the shared
// instruments do), so that per-volume serialization is not what they measure.
constexpr size_t load_volumes = 100;

const std::vector<std::string> quiet{"--log-level", "warn"};

/// Failures outside any row (setup, teardown, short Lists); any makes the exit status 1.
uint64_t failures = 0;

void fail(const std::string& what) {
  ++failures;
  std::fprintf(stderr, "bench_scenarios: %s\n", what.c_str());
}

/// Setup traffic is not measured but must still be correct.
void check(const char* what, const outcome& o) {
  if (o.errors > 0)
    fail(std::string(what) + ": " + std::to_string(o.errors) + " errors, first: " +
         o.first_error);
}

/// Every name here is plain ASCII letters and digits, so the JSON can be written directly.
std::string name_body(const std::string& name) {
  return "{\"Name\":\"" + name + "\"}";
}

std::string use_body(const std::string& name, const std::string& id) {
  return "{\"Name\":\"" + name + "\",\"ID\":\"" + id + "\"}";
}

double warmup(const settings& s) {
  return std::min(1.0, s.seconds / 5);
}

row measured(std::string name, std::string scenario, std::string metric, double value,
             std::string unit, outcome& o) {
  row r{std::move(name), std::move(scenario), std::move(metric), value, std::move(unit)};
  r.requests = o.requests;
  r.errors = o.errors;
  r.p50_us = o.all.quantile(0.5);
  r.p99_us = o.all.quantile(0.99);
  r.max_us = o.all.quantile(1.0);
  if (o.errors > 0)
    std::fprintf(stderr, "bench_scenarios: %s: %llu errors, first: %s\n", r.name.c_str(),
                 static_cast<unsigned long long>(o.errors), o.first_error.c_str());
  return r;
}

row plain(std::string name, std::string scenario, std::string metric, double value,
          std::string unit) {
  return row{std::move(name), std::move(scenario), std::move(metric), value, std::move(unit)};
}

/// Creates PREFIX0 .. PREFIX(n-1) through the API on `conns` connections.
outcome create_volumes(const std::string& socket, size_t n, const std::string& prefix,
                       size_t conns) {
  size_t next_index = 0;
  return drive(socket, {conns}, [&](size_t, bool, request& r) {
    if (next_index >= n)
      return false;
    r = {op::create, name_body(prefix + std::to_string(next_index++))};
    return true;
  });
}

std::vector<std::string> name_bodies(size_t n, const std::string& prefix) {
  std::vector<std::string> bodies;
  for (size_t i = 0; i < n; ++i)
    bodies.push_back(name_body(prefix + std::to_string(i)));
  return bodies;
}

/// A clean stop is part of correctness: SIGTERM must end the plugin with status 0.
void stop_cleanly(test::plugin& p) {
  if (int status = p.stop(SIGTERM); status != 0)
    fail("actorvol exited with " + std::to_string(status) + " on SIGTERM");
}

/// VmRSS from /proc/PID/status, in KiB; 0 when unreadable.
long rss_kib(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0)
      return std::atol(line.c_str() + 6);
  return 0;
}

/// Volumes in a List answer. Counting the key is enough (every entry has one Name) and
/// costs a scan, where parsing 100,000 entries would add its own time to a measured wait.
size_t listed(const std::string& body) {
  size_t n = 0;
  for (auto at = body.find("\"Name\":"); at != std::string::npos;
       at = body.find("\"Name\":", at + 7))
    ++n;
  return n;
}

double ms_since(clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(clock::now() - t0).count();
}

// 1. Get only: the cheapest request, so this is the ceiling of the request path.
std::vector<row> scenario_get(const settings& s) {
  constexpr size_t conns = 16;
  test::plugin p(quiet);
  check("get: create", create_volumes(p.socket(), load_volumes, "v", 16));
  auto bodies = name_bodies(load_volumes, "v");
  std::vector<std::minstd_rand> rng;
  for (size_t c = 0; c < conns; ++c)
    rng.emplace_back(static_cast<unsigned>(c + 1));
  auto o = drive(p.socket(), {conns, warmup(s), s.seconds},
                 [&](size_t c, bool closing, request& r) {
                   if (closing)
                     return false;
                   r = {op::get, bodies[rng[c]() % bodies.size()]};
                   return true;
                 });
  stop_cleanly(p);
  return {measured("get", "get", "Get only, 16 connections", o.rps(), "req/s", o)};
}

// 2. Docker's shape: mostly Get, some List, and Mount+Unmount cycles that change state (a
// first Mount attaches, the last Unmount detaches, each one written to the journal).
std::vector<row> scenario_mix(const settings& s) {
  constexpr size_t conns = 64;
  test::plugin p(quiet);
  check("mix: create", create_volumes(p.socket(), load_volumes, "v", 16));
  auto bodies = name_bodies(load_volumes, "v");
  struct cycle {
    std::minstd_rand rng;
    std::string unmount;  // the Unmount owed for this connection's last Mount
    uint64_t ids = 0;
  };
  std::vector<cycle> state;
  for (size_t c = 0; c < conns; ++c)
    state.push_back({std::minstd_rand(static_cast<unsigned>(c + 1)), "", 0});
  auto o = drive(p.socket(), {conns, warmup(s), s.seconds},
                 [&](size_t c, bool closing, request& r) {
                   auto& st = state[c];
                   // Even after the window, an owed Unmount goes out: the plugin must end
                   // with no use left, and a cycle counts as its two requests.
                   if (!st.unmount.empty()) {
                     r = {op::unmount, std::move(st.unmount)};
                     st.unmount.clear();
                     return true;
                   }
                   if (closing)
                     return false;
                   auto w = st.rng() % 100;
                   auto v = st.rng() % load_volumes;
                   if (w < 90) {
                     r = {op::get, bodies[v]};
                   } else if (w < 91) {
                     r = {op::list, "{}"};
                   } else {
                     auto body = use_body("v" + std::to_string(v),
                                          "c" + std::to_string(c) + "-" +
                                            std::to_string(st.ids++));
                     st.unmount = body;
                     r = {op::mount, std::move(body)};
                   }
                   return true;
                 });
  stop_cleanly(p);
  auto out = measured("mix", "mix", "get 90/list 1/mount+unmount 9, 64 conns", o.rps(),
                      "req/s", o);
  for (auto k : {op::get, op::list, op::mount, op::unmount}) {
    auto& lat = o.by_op[static_cast<size_t>(k)];
    out.extra[op_name(k)] = {{"requests", lat.size()},
                             {"p50_us", lat.quantile(0.5)},
                             {"p99_us", lat.quantile(0.99)}};
  }
  return {out};
}

// 3. One keep-alive connection, one Get at a time: the latency of the request path with no
// queueing in front of it.
std::vector<row> scenario_latency(const settings& s) {
  test::plugin p(quiet);
  check("latency: create", create_volumes(p.socket(), load_volumes, "v", 16));
  auto bodies = name_bodies(load_volumes, "v");
  std::minstd_rand rng(1);
  auto o = drive(p.socket(), {1, warmup(s), s.seconds}, [&](size_t, bool closing, request& r) {
    if (closing)
      return false;
    r = {op::get, bodies[rng() % bodies.size()]};
    return true;
  });
  stop_cleanly(p);
  return {measured("latency", "latency", "Get p50, 1 keep-alive connection", o.all.quantile(0.5),
                   "us", o)};
}

// 4. 32 Mounts at once on 32 volumes, each attach taking 50 ms: about 50 ms of wall time when
// volumes attach in parallel, 1.6 s when something serializes them. Three rounds (each ends
// with the 32 Unmounts, so the next Mount attaches again); the median is the value.
std::vector<row> scenario_slowmount(const settings&) {
  constexpr size_t conns = 32;
  constexpr int rounds = 3;
  test::plugin p(quiet, {"ACTORVOL_FAILPOINTS=adaptor.mount=delay(50)"});
  check("slowmount: create", create_volumes(p.socket(), conns, "s", conns));
  outcome all;
  std::vector<double> walls;
  for (int round = 0; round < rounds; ++round) {
    auto id = "r" + std::to_string(round);
    auto send_once = [&](op kind) {
      std::vector<bool> sent(conns, false);
      return drive(p.socket(), {conns}, [&, kind](size_t c, bool, request& r) {
        if (sent[c])
          return false;
        sent[c] = true;
        r = {kind, use_body("s" + std::to_string(c), id)};
        return true;
      });
    };
    auto mounts = send_once(op::mount);
    walls.push_back(mounts.seconds * 1000);
    all.requests += mounts.requests;
    all.errors += mounts.errors;
    all.all.merge(mounts.all);
    if (all.first_error.empty())
      all.first_error = mounts.first_error;
    check("slowmount: unmount", send_once(op::unmount));
  }
  stop_cleanly(p);
  auto sorted = walls;
  std::sort(sorted.begin(), sorted.end());
  auto out = measured("slowmount", "slowmount", "32 Mounts at once, 50 ms attach: wall",
                      sorted[sorted.size() / 2], "ms", all);
  out.extra["walls_ms"] = walls;
  return {out};
}

// 5. Scale: N volumes created through the API, then what holding them costs: List latency,
// memory, and a restart after kill -9 (recovery from the journal).
std::vector<row> scenario_scale(const settings& s) {
  auto n = static_cast<size_t>(s.volumes);
  auto count = std::to_string(n);
  std::vector<row> rows;
  test::temp_dir tmp;  // the root outlives both processes
  auto root = (tmp / "root").string();
  std::optional<test::plugin> p;
  p.emplace(root, quiet, std::vector<std::string>{});

  auto created = create_volumes(p->socket(), n, "n", 64);
  auto create_row = measured("scale.create", "scale", "create " + count + " volumes, 64 conns",
                             created.seconds, "s", created);
  create_row.extra["creates_per_s"] = created.rps();
  rows.push_back(create_row);

  rows.push_back(plain("scale.rss_idle", "scale", "RSS idle, " + count + " volumes",
                       static_cast<double>(rss_kib(p->pid())) / 1024, "MiB"));

  // Lists one after another on one connection: at least 5, and for about --seconds.
  size_t issued = 0;
  auto until = clock::now() + std::chrono::duration_cast<clock::duration>(
                                std::chrono::duration<double>(s.seconds));
  auto lists = drive(p->socket(), {1}, [&](size_t, bool, request& r) {
    if (issued >= 5 && clock::now() >= until)
      return false;
    ++issued;
    r = {op::list, "{}"};
    return true;
  });
  rows.push_back(measured("scale.list", "scale", "List p50, " + count + " volumes",
                          lists.all.quantile(0.5) / 1000, "ms", lists));
  if (auto got = listed(p->call("/VolumeDriver.List").body); got != n)
    fail("scale: List returned " + std::to_string(got) + " of " + count + " volumes");
  rows.push_back(plain("scale.rss_list", "scale", "RSS after List, " + count + " volumes",
                       static_cast<double>(rss_kib(p->pid())) / 1024, "MiB"));

  // kill -9, then a watcher polls the new socket from the moment of the start: test::plugin
  // polls every 10 ms only, too coarse for the time to Activate.
  p->stop(SIGKILL);
  p.reset();
  auto socket = (tmp / "restart.sock").string();
  std::atomic<bool> give_up{false};
  double activate_ms = -1, full_list_ms = -1;
  size_t last_count = 0;
  auto t0 = clock::now();
  std::thread watcher([&] {
    auto deadline = t0 + std::chrono::minutes(5);
    while (activate_ms < 0 && !give_up && clock::now() < deadline) {
      test::connection c(socket);
      if (c.ok() && c.post("/Plugin.Activate", "").status == 200)
        activate_ms = ms_since(t0);
      else
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    while (activate_ms >= 0 && full_list_ms < 0 && !give_up && clock::now() < deadline) {
      test::connection c(socket);
      auto answer = c.post("/VolumeDriver.List", "{}");
      if (answer.status == 200 && (last_count = listed(answer.body)) >= n)
        full_list_ms = ms_since(t0);
    }
  });
  try {
    p.emplace(root, std::vector<std::string>{"--log-level", "warn", "--socket", socket},
              std::vector<std::string>{});
  } catch (const std::exception& e) {
    give_up = true;
    fail(std::string("scale: restart failed: ") + e.what());
  }
  watcher.join();
  if (full_list_ms < 0)
    fail("scale: no full List after the restart (last one had " + std::to_string(last_count) +
         " of " + count + ")");
  rows.push_back(plain("scale.restart_activate", "scale", "kill -9, restart: until Activate",
                       activate_ms, "ms"));
  rows.push_back(plain("scale.restart_list", "scale", "kill -9, restart: until a full List",
                       full_list_ms, "ms"));
  if (p) {
    rows.push_back(plain("scale.rss_restart", "scale", "RSS after restart and a List",
                         static_cast<double>(rss_kib(p->pid())) / 1024, "MiB"));
    stop_cleanly(*p);
  }
  for (auto& r : rows)
    r.extra["volumes"] = n;
  return rows;
}

void print_table(const std::vector<row>& rows) {
  std::printf("%-24s %-44s %12s %-6s %10s %10s %10s %9s %6s\n", "name", "metric", "value", "unit",
              "p50 us", "p99 us", "max us", "requests", "errors");
  for (auto& r : rows) {
    auto us = [&](double v) {
      char b[32];
      if (r.requests == 0)
        std::snprintf(b, sizeof b, "-");
      else
        std::snprintf(b, sizeof b, "%.0f", v);
      return std::string(b);
    };
    std::printf("%-24s %-44s %12.*f %-6s %10s %10s %10s %9llu %6llu\n", r.name.c_str(),
                r.metric.c_str(), r.value < 100 ? 2 : 0, r.value, r.unit.c_str(),
                us(r.p50_us).c_str(), us(r.p99_us).c_str(), us(r.max_us).c_str(),
                static_cast<unsigned long long>(r.requests),
                static_cast<unsigned long long>(r.errors));
  }
}

nlohmann::json to_json(const row& r, const settings& s) {
  nlohmann::json j = {{"name", r.name},         {"scenario", r.scenario}, {"metric", r.metric},
                      {"value", r.value},       {"unit", r.unit},         {"requests", r.requests},
                      {"errors", r.errors},     {"p50_us", r.p50_us},     {"p99_us", r.p99_us},
                      {"max_us", r.max_us},     {"seconds", s.seconds}};
  j.update(r.extra);
  return j;
}

std::string loadavg() {
  std::ifstream in("/proc/loadavg");
  std::string one, five, fifteen;
  in >> one >> five >> fifteen;
  return one + " " + five + " " + fifteen;
}

int usage() {
  std::fprintf(stderr, "usage: bench_scenarios [--scenario all|get|mix|latency|slowmount|scale] "
                       "[--volumes N] [--seconds S] [--out FILE]\n");
  return 2;
}

} // namespace

int main(int argc, char** argv) {
  settings s;
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i];
    if (flag == "--help" || flag == "-h" || i + 1 >= argc)
      return usage();
    std::string value = argv[++i];
    if (flag == "--scenario")
      s.scenario = value;
    else if (flag == "--volumes")
      s.volumes = std::atol(value.c_str());
    else if (flag == "--seconds")
      s.seconds = std::atof(value.c_str());
    else if (flag == "--out")
      s.out = value;
    else
      return usage();
  }
  using scenario_fn = std::vector<row> (*)(const settings&);
  const std::vector<std::pair<std::string, scenario_fn>> all{
    {"get", scenario_get},
    {"mix", scenario_mix},
    {"latency", scenario_latency},
    {"slowmount", scenario_slowmount},
    {"scale", scenario_scale}};
  bool known = s.scenario == "all";
  for (auto& [name, fn] : all)
    known = known || name == s.scenario;
  if (!known || s.volumes < 1 || s.seconds <= 0)
    return usage();

  std::ofstream out;
  if (!s.out.empty()) {
    out.open(s.out, std::ios::trunc);
    if (!out)
      return std::fprintf(stderr, "bench_scenarios: cannot write %s\n", s.out.c_str()), 1;
  }
  // The machine is usually shared: the load average says how much the numbers can be trusted.
  std::printf("actorvol scenarios: seconds=%g volumes=%ld cores=%u loadavg=%s\n", s.seconds,
              s.volumes, std::thread::hardware_concurrency(), loadavg().c_str());
  std::vector<row> rows;
  for (auto& [name, fn] : all) {
    if (s.scenario != "all" && s.scenario != name)
      continue;
    try {
      for (auto& r : fn(s)) {
        if (out.is_open())
          out << to_json(r, s).dump() << "\n" << std::flush;
        rows.push_back(std::move(r));
      }
    } catch (const std::exception& e) {
      fail(name + ": " + e.what());
    }
  }
  std::printf("\n");
  print_table(rows);
  uint64_t errors = failures;
  for (auto& r : rows)
    errors += r.errors;
  if (errors > 0)
    std::printf("\nFAILED: %llu errors (see stderr)\n", static_cast<unsigned long long>(errors));
  return errors == 0 ? 0 : 1;
}
