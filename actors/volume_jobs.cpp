#include "actors/volume_jobs.hpp"

#include "core/log.hpp"
#include "core/failpoint.hpp"
#include "adaptors/safe_fs.hpp"

#include <functional>

namespace actorvol::jobs {

namespace {

volume_spec spec_of(const volume_record& r) {
  return {r.name, r.opts};
}

// Runs one adaptor step behind its failpoint ("adaptor.mount", ...).
caf::error guarded(const char* point, const std::string& vol, const std::string& what,
                   const std::function<caf::error()>& step) {
  auto fault = failpoint::hit(point);
  if (!fault.empty())
    return make_error(ec::backend_failed, vol, what + " failed: " + fault);
  return step();
}

caf::error attach(adaptor& a, const volume_spec& spec, std::string& path) {
  return guarded("adaptor.mount", spec.name, "mount", [&] {
    auto mp = a.mount(spec);
    if (!mp)
      return std::move(mp.error());
    path = std::move(*mp);
    return caf::error{};
  });
}

caf::error detach(adaptor& a, const volume_spec& spec) {
  return guarded("adaptor.unmount", spec.name, "unmount", [&] { return a.unmount(spec); });
}

// Notes a rollback that failed: logged now, shown in Get's Status.Problem.
void rollback_failed(job_result& r, const std::string& vol, const std::string& what,
                     const caf::error& err) {
  r.problem = "rollback of " + what + " failed: " + render(err);
  log::write(log::level::error, {{"event", "rollback"}, {"volume", vol}, {"result", r.problem}});
}

} // namespace

caf::error abandoned(const std::string& vol) {
  return make_error(ec::timed_out, vol, "abandoned at its deadline; rolled back");
}

job_result create_step(adaptor& a, const vault& v,
                       const std::vector<std::filesystem::path>& leftovers,
                       const volume_record& next) {
  job_result r;
  if (!v.root.empty() && safe_fs::any_exists(leftovers)) {
    // A crash between erasing a record and deleting its data left these: never adopt them.
    int err = 0;
    auto where = safe_fs::quarantine(*v.sys, v.root, leftovers, err);
    if (err != 0) {
      r.error = make_error(ec::backend_failed, next.name,
                           "quarantine of data left by an earlier volume failed: "
                             + os_reason(err));
      return r;
    }
    log::write(log::level::warn, {{"event", "quarantine"},
                                  {"volume", next.name},
                                  {"reason", "data left by an earlier volume of this name"},
                                  {"path", where}});
  }
  auto spec = spec_of(next);
  if (!(r.error = guarded("adaptor.create", next.name, "create", [&] { return a.create(spec); })))
    r.status = a.status(spec);
  return r;
}

void create_undo(adaptor& a, const volume_record& next, job_result& r) {
  // Leave nothing half-made behind.
  auto spec = spec_of(next);
  if (auto e = guarded("adaptor.remove", next.name, "remove", [&] { return a.remove(spec); }))
    rollback_failed(r, next.name, "create", e);
  r.status.clear();
}

job_result create(adaptor& a, state_store& store, const vault& v,
                  const std::vector<std::filesystem::path>& leftovers,
                  const volume_record& next, ticket& t) {
  auto r = create_step(a, v, leftovers, next);
  if (r.error)
    return r;
  if ((r.error = t.commit() ? store.write(next, nullptr) : abandoned(next.name)))
    create_undo(a, next, r);
  return r;
}

job_result uses_step(adaptor& a, const volume_record& next, bool attach_first,
                     bool detach_first) {
  auto spec = spec_of(next);
  job_result r;
  if (attach_first)
    r.error = attach(a, spec, r.path);
  else if (detach_first)
    r.error = detach(a, spec);
  if (!r.error)
    r.status = a.status(spec);
  return r;
}

bool uses_need_step(const adaptor& a, bool attach_first, bool detach_first) {
  return attach_first
         || (detach_first && (a.detaches() || failpoint::set("adaptor.unmount")));
}

void uses_undo(adaptor& a, const volume_record& next, bool attach_first, bool detach_first,
               job_result& r) {
  auto spec = spec_of(next);
  std::string ignored;
  if (attach_first)
    if (auto e = detach(a, spec))
      rollback_failed(r, next.name, "attach", e);
  if (detach_first)
    if (auto e = attach(a, spec, ignored))
      rollback_failed(r, next.name, "detach", e);
  r.status = a.status(spec);
}

namespace {

// The last Unmount of a volume whose data goes with its mount (tmpfs): the record first, so
// a failed write has detached nothing; should the detach then fail, the uses are written back.
job_result record_then_detach(adaptor& a, state_store& store, const volume_record& current,
                              const volume_record& next, ticket& t) {
  auto spec = spec_of(next);
  job_result r;
  if (!t.commit()) {
    r.error = abandoned(next.name);
    return r;
  }
  if ((r.error = store.write(next, &current)))
    return r;
  if ((r.error = detach(a, spec)))
    if (auto e = store.write(current, &next))
      rollback_failed(r, next.name, "the uses after a failed detach", e);
  r.status = a.status(spec);
  return r;
}

} // namespace

job_result change_uses(adaptor& a, state_store& store, const volume_record& current,
                       const volume_record& next, bool attach_first, bool detach_first,
                       ticket& t) {
  if (detach_first && a.data_lost_on_detach())
    return record_then_detach(a, store, current, next, t);
  auto r = uses_step(a, next, attach_first, detach_first);
  if (r.error)
    return r;
  if ((r.error = t.commit() ? store.write(next, &current) : abandoned(next.name)))
    uses_undo(a, next, attach_first, detach_first, r);
  return r;
}

job_result remove(adaptor& a, state_store& store, const volume_record& current, ticket& t) {
  auto spec = spec_of(current);
  job_result r;
  // Detach first (the step most likely to hang on a sick backend) while the request can
  // still be abandoned: with no use left, detached is the right state either way.
  if ((r.error = detach(a, spec)))
    return r;
  if (!t.commit()) {
    r.error = abandoned(current.name);
    return r;
  }
  if ((r.error = store.erase(current.name)))
    return r;
  r.error = guarded("adaptor.remove", current.name, "remove", [&] { return a.remove(spec); });
  if (r.error) {
    // The record comes back; the volume stays.
    if (auto e = store.write(current, nullptr))
      rollback_failed(r, current.name, "the record after a failed remove", e);
    r.status = a.status(spec);
  }
  return r;
}

job_result remove_corrupt(state_store& store, const vault& v,
                          const std::vector<std::filesystem::path>& data,
                          const std::string& name, ticket& t) {
  job_result r;
  if (!v.root.empty()) {
    int err = 0;
    auto where = safe_fs::quarantine(*v.sys, v.root, data, err);
    if (err != 0) {
      r.error = make_error(ec::backend_failed, name,
                           "its record is unreadable, so its data is kept; moving it to "
                           "quarantine failed"
                             + std::string{err == EBUSY ? " (still mounted: unmount it first)"
                                                        : ""}
                             + ": " + os_reason(err));
      return r;
    }
    log::write(log::level::warn, {{"event", "quarantine"},
                                  {"volume", name},
                                  {"reason", "removed with an unreadable record"},
                                  {"path", where.empty() ? "(no data found)" : where}});
  }
  if (!t.commit()) {
    r.error = abandoned(name);
    return r;
  }
  // A failed erase puts the unreadable record back: the volume stays, its data in quarantine.
  r.error = store.erase(name);
  return r;
}

job_result reattach(adaptor& a, const volume_record& rec) {
  auto spec = spec_of(rec);
  job_result r;
  r.error = attach(a, spec, r.path);
  r.status = a.status(spec);
  return r;
}

job_result refresh(adaptor& a, const volume_record& rec) {
  job_result r;
  r.status = a.status(spec_of(rec));
  return r;
}

} // namespace actorvol::jobs
