// Default options of the sanitizer runtimes, compiled into every executable of a
// -DACTORVOL_SANITIZE build (see CMakeLists.txt). The runtime reads these first and then the
// *SAN_OPTIONS environment variables, so a local run can still override any of them.
// Every report must fail: the process stops at the first one with a non-zero status, and the
// integration tests also look for "Sanitizer" in the plugin's log (tests/support/plugin.cpp),
// since a plugin they kill with SIGKILL never gets to exit with that status.

extern "C" {

// ASan (and LeakSanitizer, which it includes).
const char* __asan_default_options() {
  return "halt_on_error=1:abort_on_error=0:exitcode=86:detect_leaks=1:"
         "detect_stack_use_after_return=1:strict_string_checks=1:"
         "check_initialization_order=1:strict_init_order=1";
}

// UBSan: with -fno-sanitize-recover=undefined the first report already ends the process;
// print_stacktrace makes the report name the whole path to it.
const char* __ubsan_default_options() {
  return "halt_on_error=1:print_stacktrace=1:exitcode=86";
}

// TSan: stop at the first race, not at exit (a killed plugin never exits).
const char* __tsan_default_options() {
  return "halt_on_error=1:exitcode=66:second_deadlock_stack=1:history_size=4";
}

// LeakSanitizer suppressions. Each names a leak that is there on purpose.
const char* __lsan_default_suppressions() {
  // adaptors/failpoint.cpp configure(): a new failpoint table replaces the old one, which is
  // leaked on purpose ("a worker may still be reading it"), so readers need no lock. Only
  // tests configure more than once (the plugin configures once, from the environment).
  return "leak:actorvol::failpoint::configure\n";
}

} // extern "C"
