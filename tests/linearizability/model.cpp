#include "linearizability/model.hpp"

#include <algorithm>
#include <sstream>

namespace actorvol::lin {

const char* to_string(op_kind k) {
  switch (k) {
    case op_kind::create:
      return "Create";
    case op_kind::mount:
      return "Mount";
    case op_kind::unmount:
      return "Unmount";
    case op_kind::remove:
      return "Remove";
    case op_kind::get:
      return "Get";
    case op_kind::path:
      return "Path";
    case op_kind::list:
      return "List";
  }
  return "?";
}

const char* to_string(err_kind e) {
  switch (e) {
    case err_kind::none:
      return "ok";
    case err_kind::not_found:
      return "not-found";
    case err_kind::conflict:
      return "conflict";
    case err_kind::in_use:
      return "in-use";
    case err_kind::unknown_id:
      return "unknown-id";
    case err_kind::backend:
      return "backend";
    case err_kind::unknown:
      return "no-answer";
    case err_kind::other:
      return "other";
  }
  return "?";
}

err_kind classify_err(const std::string& err) {
  auto has = [&](const char* s) { return err.find(s) != std::string::npos; };
  if (err.empty())
    return err_kind::none;
  if (has(" not found"))
    return err_kind::not_found;
  if (has("already exists with different options"))
    return err_kind::conflict;
  if (has(" is in use: "))
    return err_kind::in_use;
  if (has(" has no mount with id "))
    return err_kind::unknown_id;
  if (has("shutting down") || has("receiver down") || has("timed out"))
    return err_kind::unknown;
  if (has(" failed: "))
    return err_kind::backend;
  return err_kind::other;
}

std::string describe(const operation& op) {
  std::ostringstream os;
  os << "c" << op.client << " " << to_string(op.kind);
  if (op.kind != op_kind::list)
    os << "(" << op.volume;
  else
    os << "(";
  if (!op.id.empty())
    os << ", " << op.id;
  if (op.kind == op_kind::create) {
    os << ", {";
    bool first = true;
    for (auto& [k, v] : op.opts) {
      os << (first ? "" : ",") << k << "=" << v;
      first = false;
    }
    os << "}";
  }
  os << ") [" << op.call << ", " << (op.ret == never ? std::string("inf") : std::to_string(op.ret))
     << "] -> " << to_string(op.err);
  if (op.err == err_kind::none) {
    if (!op.mountpoint.empty())
      os << " mp=" << op.mountpoint;
    if (op.mounts >= 0)
      os << " mounts=" << op.mounts;
    if (op.kind == op_kind::list) {
      os << " [";
      for (size_t i = 0; i < op.listed.size(); ++i)
        os << (i ? "," : "") << op.listed[i];
      os << "]";
    }
  } else if (!op.err_text.empty()) {
    os << " \"" << op.err_text << "\"";
  }
  return os.str();
}

size_t vstate::hash() const {
  size_t h = exists ? 1469598103934665603ull : 1099511628211ull;
  auto mix = [&h](size_t x) { h ^= x + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2); };
  for (auto& [k, v] : opts) {
    mix(std::hash<std::string>{}(k));
    mix(std::hash<std::string>{}(v));
  }
  for (auto& [id, c] : uses) {
    mix(std::hash<std::string>{}(id));
    mix(c);
  }
  return h;
}

std::vector<vstate> model::step(const vstate& s, const operation& op,
                                const std::string& volume) const {
  std::vector<vstate> out;
  auto mp_ok = [&](const std::string& mp) {
    if (mp.empty())
      return false;
    return !mountpoint_of || mountpoint_of(volume) == mp;
  };
  // The successful outcome of a mutating op, if one is possible in `s` (for `unknown`).
  auto success = [&](vstate& next) -> bool {
    next = s;
    switch (op.kind) {
      case op_kind::create:
        if (!s.exists) {
          next.exists = true;
          next.opts = op.opts;
          next.uses.clear();
          return true;
        }
        return s.opts == op.opts;
      case op_kind::mount:
        if (!s.exists)
          return false;
        ++next.uses[op.id];
        return true;
      case op_kind::unmount: {
        auto i = next.uses.find(op.id);
        if (!s.exists || i == next.uses.end())
          return false;
        if (--i->second == 0)
          next.uses.erase(i);
        return true;
      }
      case op_kind::remove:
        if (!s.exists || s.total() > 0)
          return false;
        next = vstate{};
        return true;
      default:
        return s.exists;
    }
  };
  vstate next;
  switch (op.err) {
    case err_kind::unknown:
      out.push_back(s);  // it never happened (or failed) ...
      if (success(next) && !(next == s))
        out.push_back(next);  // ... or it did
      return out;
    case err_kind::not_found:
      if (op.kind == op_kind::list || op.kind == op_kind::create)
        return out;  // Create makes the volume; List never fails for a missing one
      if (!s.exists)
        out.push_back(s);
      return out;
    case err_kind::conflict:
      if (op.kind == op_kind::create && s.exists && s.opts != op.opts)
        out.push_back(s);
      return out;
    case err_kind::in_use:
      if (op.kind == op_kind::remove && s.exists && s.total() > 0)
        out.push_back(s);
      return out;
    case err_kind::unknown_id:
      if (op.kind == op_kind::unmount && s.exists && s.uses.count(op.id) == 0)
        out.push_back(s);
      return out;
    case err_kind::backend: {
      if (!allow_backend_failures)
        return out;
      bool could = false;
      switch (op.kind) {
        case op_kind::create:
          could = !s.exists;  // an existing volume is answered without the backend
          break;
        case op_kind::mount:
          could = s.exists;
          break;
        case op_kind::unmount:
          could = s.exists && s.uses.count(op.id) > 0;
          break;
        case op_kind::remove:
          could = s.exists && s.total() == 0;
          break;
        default:
          could = false;
      }
      if (could)
        out.push_back(s);
      return out;
    }
    case err_kind::other:
      return out;
    case err_kind::none:
      break;
  }
  switch (op.kind) {
    case op_kind::create:
    case op_kind::unmount:
    case op_kind::remove:
      if (success(next))
        out.push_back(next);
      return out;
    case op_kind::mount:
      if (success(next) && mp_ok(op.mountpoint))
        out.push_back(next);
      return out;
    case op_kind::get:
      if (!s.exists)
        return out;
      if (op.mounts >= 0 && static_cast<uint64_t>(op.mounts) != s.total())
        return out;
      if (s.total() > 0 ? !mp_ok(op.mountpoint) : !op.mountpoint.empty())
        return out;
      out.push_back(s);
      return out;
    case op_kind::path:
      if (!s.exists)
        return out;
      if (s.total() > 0 ? !mp_ok(op.mountpoint) : !op.mountpoint.empty())
        return out;
      out.push_back(s);
      return out;
    case op_kind::list: {
      // List spans volumes: each volume checks its projection (listed or not, and the
      // count when reported). See checker.hpp for why this is a necessary condition only.
      auto i = std::find(op.listed.begin(), op.listed.end(), volume);
      bool listed = i != op.listed.end();
      if (listed != s.exists)
        return out;
      if (listed && !op.listed_mounts.empty()) {
        auto m = op.listed_mounts[static_cast<size_t>(i - op.listed.begin())];
        if (m >= 0 && static_cast<uint64_t>(m) != s.total())
          return out;
      }
      out.push_back(s);
      return out;
    }
  }
  return out;
}

} // namespace actorvol::lin
