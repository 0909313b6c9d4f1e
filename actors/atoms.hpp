#pragma once

// The atoms of actorvol's messages. CAF's own atoms are aliased, never redefined.
// Atoms hold at most 10 characters from [A-Za-z0-9_ ].

#include <caf/atom.hpp>

namespace actorvol::atom {

using ok = caf::ok_atom;
using get = caf::get_atom;

using create = caf::atom_constant<caf::atom("create")>;
using mount = caf::atom_constant<caf::atom("mount")>;
using unmount = caf::atom_constant<caf::atom("unmount")>;
using remove = caf::atom_constant<caf::atom("remove")>;
using path = caf::atom_constant<caf::atom("path")>;
using list = caf::atom_constant<caf::atom("list")>;
using caps = caf::atom_constant<caf::atom("caps")>;
using run = caf::atom_constant<caf::atom("run")>;
using summary = caf::atom_constant<caf::atom("summary")>;
using handle = caf::atom_constant<caf::atom("handle")>;
using adopt = caf::atom_constant<caf::atom("adopt")>;
using reconcile = caf::atom_constant<caf::atom("reconcile")>;
using drop = caf::atom_constant<caf::atom("drop")>;
using undo = caf::atom_constant<caf::atom("undo")>;
using timeout = caf::atom_constant<caf::atom("timeout")>;
using refresh = caf::atom_constant<caf::atom("refresh")>;
using committed = caf::atom_constant<caf::atom("committed")>;

} // namespace actorvol::atom
