#include "plugin/secret.hpp"

#include "adaptors/secrets.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <iostream>

namespace actorvol {

namespace {

constexpr const char* usage =
  "usage: actorvol secret set NAME [--password-stdin] [--host HOST[:PORT]]... < FILE\n"
  "                                                             store a private key (or a "
  "password),\n"
  "                                                             only ever sent to these hosts\n"
  "       actorvol secret ls                                    list the names\n"
  "       actorvol secret rm [--force] NAME                     delete it (refused while a "
  "volume uses it)\n"
  "options: --secrets-dir DIR (ACTORVOL_SECRETS_DIR), --root DIR (ACTORVOL_ROOT): the "
  "directory is DIR, or ROOT/secrets\n";

int usage_error(const std::string& why) {
  std::cerr << "actorvol secret: " << why << "\n" << usage;
  return 2;
}

std::string env(const char* name) {
  auto v = std::getenv(name);
  return v == nullptr ? std::string{} : std::string{v};
}

// Standard input, at most 64 KiB and one byte (the store refuses what is larger).
bool read_stdin(std::string& out) {
  char buf[4096];
  for (;;) {
    auto n = ::read(0, buf, sizeof(buf));
    if (n == 0)
      return true;
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return false;
    }
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > 64 * 1024)
      return true;
  }
}

} // namespace

int run_secret(const std::vector<std::string>& args) {
  std::string command;
  std::string name;
  std::string root = env("ACTORVOL_ROOT").empty() ? "/var/lib/actorvol" : env("ACTORVOL_ROOT");
  std::string dir = env("ACTORVOL_SECRETS_DIR");
  bool password = false;
  bool force = false;
  std::vector<std::string> hosts;
  for (size_t i = 0; i < args.size(); ++i) {
    auto& a = args[i];
    if (a == "--password-stdin")
      password = true;
    else if (a == "--force")
      force = true;
    else if (a == "--host" && i + 1 < args.size())
      hosts.push_back(args[++i]);
    else if (a.rfind("--host=", 0) == 0)
      hosts.push_back(a.substr(7));
    else if ((a == "--root" || a == "--secrets-dir") && i + 1 < args.size())
      (a == "--root" ? root : dir) = args[++i];
    else if (a.rfind("--root=", 0) == 0)
      root = a.substr(7);
    else if (a.rfind("--secrets-dir=", 0) == 0)
      dir = a.substr(14);
    else if (a == "--help" || a == "-h") {
      std::cout << usage;
      return 0;
    } else if (!a.empty() && a[0] == '-')
      return usage_error("unknown option " + a);
    else if (command.empty())
      command = a;
    else if (name.empty())
      name = a;
    else
      return usage_error("unexpected argument " + a);
  }
  if (command != "set" && command != "ls" && command != "rm")
    return usage_error(command.empty() ? "a command is required" : "unknown command " + command);
  if ((command == "ls") != name.empty())
    return usage_error(command == "ls" ? "ls takes no name" : command + " needs a NAME");
  if ((password && command != "set") || (force && command != "rm")
      || (!hosts.empty() && command != "set"))
    return usage_error(force ? "--force goes with rm" : "--password-stdin and --host go with set");
  secret_store store{dir.empty() ? std::filesystem::path{root} / "secrets"
                                 : std::filesystem::path{dir}};

  if (command == "ls") {
    std::string error;
    auto all = store.list(error);
    if (!error.empty()) {
      std::cerr << "actorvol secret: " << error << "\n";
      return 2;
    }
    for (auto& e : all)
      std::cout << e.name << "\n";
    return 0;
  }
  if (command == "rm") {
    if (auto error = store.remove(name, force); !error.empty()) {
      std::cerr << "actorvol secret: " << error << "\n";
      return 1;
    }
    return 0;
  }
  // set: the bytes come from standard input only, never from an argument (arguments are
  // in /proc/PID/cmdline and in shell histories).
  if (::isatty(0))
    return usage_error("the secret is read from standard input: actorvol secret set " + name
                       + " < keyfile, or printf '%s' \"$PASSWORD\" | actorvol secret set "
                       + name + " --password-stdin");
  std::string bytes;
  if (!read_stdin(bytes)) {
    std::cerr << "actorvol secret: cannot read standard input\n";
    return 2;
  }
  auto error = store.set(name, password ? secret_store::kind::password : secret_store::kind::key,
                         std::move(bytes), hosts);
  std::fill(bytes.begin(), bytes.end(), '\0');
  if (!error.empty()) {
    std::cerr << "actorvol secret: " << error << "\n";
    return 1;
  }
  return 0;
}

} // namespace actorvol
