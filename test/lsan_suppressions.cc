// LeakSanitizer suppressions, compiled into every executable of an
// INVENTORY_ASAN build (CMakeLists.txt), so that they apply however a test
// binary is run.
//
// Debian 12's c-ares (1.18.1) leaks a few bytes inside libcares for each
// lookup of "localhost" (seen: 10 bytes, allocated in libcares.so.2, when
// health_probe resolves --addr=:PORT). That is the library's, not ours: only
// leaks allocated inside libcares are suppressed.
extern "C" const char* __lsan_default_suppressions() { return "leak:libcares.so\n"; }
