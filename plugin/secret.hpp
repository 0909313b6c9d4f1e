#pragma once

// `actorvol secret set|ls|rm`: the operator's commands for the credentials of network volumes
// (adaptors/secrets.hpp). They work on the secrets directory directly, with or without a
// running actorvol, which reads a secret at each attach: a new one takes effect at the next
// attach of each volume that names it.
//
//   actorvol secret set NAME [--password-stdin] < file   store a key (or a password)
//   actorvol secret ls                                    list the names
//   actorvol secret rm [--force] NAME                     delete (refused while in use)
//
// The directory is --secrets-dir, else ACTORVOL_SECRETS_DIR, else ROOT/secrets with ROOT
// from --root, ACTORVOL_ROOT or /var/lib/actorvol (the daemon's defaults).

#include <string>
#include <vector>

namespace actorvol {

/// Runs `actorvol secret` with the arguments after "secret". Exit codes: 0 done, 1 refused
/// (in use, not set, not a key), 2 bad usage or the directory cannot be used.
int run_secret(const std::vector<std::string>& args);

} // namespace actorvol
