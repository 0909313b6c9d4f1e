#pragma once

// The credentials of network volumes, kept by actorvol instead of Docker (Docker stores every
// -o option and prints it in `docker volume inspect`). A volume names a secret (`secret=NAME`);
// the bytes stay in one root-only directory, by default ROOT/secrets:
//
//   secrets/            0700
//     .lock             flock: writers and use changes take it exclusively
//     NAME.key          0600  a private key (`actorvol secret set NAME < keyfile`)
//     NAME.password     0600  a password (`actorvol secret set NAME --password-stdin`)
//     NAME.hosts        0600  the servers it may be sent to (`--host`), one HOST:PORT a line
//     NAME.uses/VOLUME        one empty file per volume that names the secret
//     known_hosts             host keys the operator manages (optional)
//
// A secret is written to a temporary file, fsynced, renamed over the old one and the
// directory fsynced: a crash leaves the old secret or the new one, never a mix. Nothing here
// ever puts a secret's bytes into an error, a log line or a process's arguments.

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace actorvol {

class secret_store {
public:
  enum class kind { key, password };

  /// A stored secret: its kind and the file that holds it.
  struct entry {
    std::string name;
    kind type = kind::key;
    std::filesystem::path file;
    std::vector<std::string> hosts;  // "HOST:PORT" it may be sent to; empty: any
  };

  explicit secret_store(std::filesystem::path dir) : dir_(std::move(dir)) {
  }

  const std::filesystem::path& dir() const {
    return dir_;
  }

  /// The host keys file the operator manages: DIR/known_hosts.
  std::filesystem::path known_hosts() const {
    return dir_ / "known_hosts";
  }

  /// Whether `name` can name a secret: [A-Za-z0-9][A-Za-z0-9_-]*, at most 64 bytes.
  static bool valid_name(const std::string& name);

  /// Stores `bytes` as secret `name`, replacing the one of that name (of either kind).
  /// A key must be a PEM or OpenSSH private key; a password one line of at most 1024 bytes.
  /// `hosts` ("HOST" or "HOST:PORT"): the only servers it may be sent to (NAME.hosts); empty:
  /// any. Returns an error text, empty on success.
  std::string set(const std::string& name, kind type, std::string bytes,
                  const std::vector<std::string>& hosts = {}) const;

  /// Whether `e` may be sent to `host` port `port`; else `error` says so.
  static bool allows(const entry& e, const std::string& host, const std::string& port,
                     std::string& error);

  /// Every secret, by name.
  std::vector<entry> list(std::string& error) const;

  /// The secret `name`, or nothing with `error` saying why (not set, or its file is
  /// readable by others).
  std::optional<entry> find(const std::string& name, std::string& error) const;

  /// Deletes secret `name`; refused while a volume uses it, unless `force`. Returns an
  /// error text, empty on success.
  std::string remove(const std::string& name, bool force) const;

  /// The volumes that name secret `name`.
  std::vector<std::string> users(const std::string& name) const;

  /// Records that `volume` uses secret `name`, which must exist (checked under the lock, so
  /// a concurrent remove either sees the use or makes this fail). Returns an error text.
  std::string add_use(const std::string& name, const std::string& volume) const;

  /// Forgets that `volume` uses secret `name` (nothing to do when it was not recorded).
  std::string drop_use(const std::string& name, const std::string& volume) const;

private:
  std::filesystem::path dir_;
};

/// Reads a secret's bytes from `file` (at most 64 KiB). Empty with `error` on failure.
std::string read_secret(const std::filesystem::path& file, std::string& error);

} // namespace actorvol
