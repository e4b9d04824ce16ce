// ThreadSanitizer builds only: makes Debian's abseil Mutex visible to TSan.
//
// Debian's libabsl is not compiled with -fsanitize=thread, so TSan never sees
// absl::Mutex being locked or unlocked, and reports every access guarded by
// one (ours and, through grpc_core::Mutex, gRPC's queue hand-offs) as a race.
// This file defines the exported Mutex and CondVar entry points (plain,
// try, conditional and waiting ones) in the test
// executable, which takes precedence over the shared library, forwards each
// call to the real one found with dlsym(RTLD_NEXT), and tells TSan what
// happened with its mutex annotation API. It adds no locking of its own.
#ifndef __SANITIZE_THREAD__
#error "absl_mutex_tsan_shim.cc is only for -fsanitize=thread builds"
#endif

#include <dlfcn.h>
#include <sanitizer/tsan_interface.h>

#include <cstdio>
#include <cstdlib>

#include "absl/synchronization/mutex.h"

namespace {

template <class Fn>
Fn Real(const char* mangled_name) {
  void* symbol = dlsym(RTLD_NEXT, mangled_name);
  if (symbol == nullptr) {
    std::fprintf(stderr, "absl_mutex_tsan_shim: %s not found\n", mangled_name);
    std::abort();
  }
  return reinterpret_cast<Fn>(symbol);
}

// The real functions call each other through the same exported symbols
// (WaitWithTimeout calls WaitWithDeadline, ...); only the outermost call on a
// thread may report to TSan, or one lock would be reported twice.
thread_local int shim_depth = 0;

class ShimCall {
 public:
  ShimCall() : outermost_(shim_depth++ == 0) {}
  ~ShimCall() { --shim_depth; }
  bool outermost() const { return outermost_; }

 private:
  const bool outermost_;
};

// Acquires (via `real`) and reports the acquisition.
template <class RealFn>
auto Acquire(absl::Mutex* mu, unsigned flags, RealFn&& real) {
  ShimCall call;
  if (call.outermost()) __tsan_mutex_pre_lock(mu, flags);
  auto result = real();
  if (call.outermost()) __tsan_mutex_post_lock(mu, flags, 0);
  return result;
}

template <class RealFn>
void Release(absl::Mutex* mu, unsigned flags, RealFn&& real) {
  ShimCall call;
  if (call.outermost()) __tsan_mutex_pre_unlock(mu, flags);
  real();
  if (call.outermost()) __tsan_mutex_post_unlock(mu, flags);
}

// A wait releases the (writer-held) mutex and takes it back before returning.
template <class RealFn>
auto ReleaseAndReacquire(absl::Mutex* mu, RealFn&& real) {
  ShimCall call;
  if (call.outermost()) {
    __tsan_mutex_pre_unlock(mu, 0);
    __tsan_mutex_post_unlock(mu, 0);
  }
  auto result = real();
  if (call.outermost()) {
    __tsan_mutex_pre_lock(mu, 0);
    __tsan_mutex_post_lock(mu, 0, 0);
  }
  return result;
}

constexpr unsigned kRead = __tsan_mutex_read_lock;
constexpr unsigned kTry = __tsan_mutex_try_lock;

#define REAL(type, name) static const auto real = Real<type>(name)

}  // namespace

namespace absl {
ABSL_NAMESPACE_BEGIN

using Cond = const Condition&;

void Mutex::Lock() {
  REAL(void (*)(Mutex*), "_ZN4absl7debian35Mutex4LockEv");
  Acquire(this, 0, [&] { return real(this), 0; });
}

void Mutex::ReaderLock() {
  REAL(void (*)(Mutex*), "_ZN4absl7debian35Mutex10ReaderLockEv");
  Acquire(this, kRead, [&] { return real(this), 0; });
}

void Mutex::Unlock() {
  REAL(void (*)(Mutex*), "_ZN4absl7debian35Mutex6UnlockEv");
  Release(this, 0, [&] { real(this); });
}

void Mutex::ReaderUnlock() {
  REAL(void (*)(Mutex*), "_ZN4absl7debian35Mutex12ReaderUnlockEv");
  Release(this, kRead, [&] { real(this); });
}

bool Mutex::TryLock() {
  REAL(bool (*)(Mutex*), "_ZN4absl7debian35Mutex7TryLockEv");
  ShimCall call;
  if (call.outermost()) __tsan_mutex_pre_lock(this, kTry);
  bool locked = real(this);
  if (call.outermost()) {
    __tsan_mutex_post_lock(this, kTry | (locked ? 0 : __tsan_mutex_try_lock_failed), 0);
  }
  return locked;
}

bool Mutex::ReaderTryLock() {
  REAL(bool (*)(Mutex*), "_ZN4absl7debian35Mutex13ReaderTryLockEv");
  ShimCall call;
  if (call.outermost()) __tsan_mutex_pre_lock(this, kRead | kTry);
  bool locked = real(this);
  if (call.outermost()) {
    __tsan_mutex_post_lock(this, kRead | kTry | (locked ? 0 : __tsan_mutex_try_lock_failed), 0);
  }
  return locked;
}

// Conditional acquisitions hold the lock on return, whatever they return.
void Mutex::LockWhen(Cond cond) {
  REAL(void (*)(Mutex*, Cond), "_ZN4absl7debian35Mutex8LockWhenERKNS0_9ConditionE");
  Acquire(this, 0, [&] { return real(this, cond), 0; });
}

void Mutex::ReaderLockWhen(Cond cond) {
  REAL(void (*)(Mutex*, Cond), "_ZN4absl7debian35Mutex14ReaderLockWhenERKNS0_9ConditionE");
  Acquire(this, kRead, [&] { return real(this, cond), 0; });
}

bool Mutex::LockWhenWithTimeout(Cond cond, absl::Duration timeout) {
  REAL(bool (*)(Mutex*, Cond, absl::Duration),
       "_ZN4absl7debian35Mutex19LockWhenWithTimeoutERKNS0_9ConditionENS0_8DurationE");
  return Acquire(this, 0, [&] { return real(this, cond, timeout); });
}

bool Mutex::LockWhenWithDeadline(Cond cond, absl::Time deadline) {
  REAL(bool (*)(Mutex*, Cond, absl::Time),
       "_ZN4absl7debian35Mutex20LockWhenWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  return Acquire(this, 0, [&] { return real(this, cond, deadline); });
}

bool Mutex::ReaderLockWhenWithTimeout(Cond cond, absl::Duration timeout) {
  REAL(bool (*)(Mutex*, Cond, absl::Duration),
       "_ZN4absl7debian35Mutex25ReaderLockWhenWithTimeoutERKNS0_9ConditionENS0_8DurationE");
  return Acquire(this, kRead, [&] { return real(this, cond, timeout); });
}

bool Mutex::ReaderLockWhenWithDeadline(Cond cond, absl::Time deadline) {
  REAL(bool (*)(Mutex*, Cond, absl::Time),
       "_ZN4absl7debian35Mutex26ReaderLockWhenWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  return Acquire(this, kRead, [&] { return real(this, cond, deadline); });
}

// Waits release the mutex and take it back; without these annotations TSan
// would miss the hand-over to the thread that made the condition true.
void Mutex::Await(Cond cond) {
  REAL(void (*)(Mutex*, Cond), "_ZN4absl7debian35Mutex5AwaitERKNS0_9ConditionE");
  ReleaseAndReacquire(this, [&] { return real(this, cond), 0; });
}

bool Mutex::AwaitWithTimeout(Cond cond, absl::Duration timeout) {
  REAL(bool (*)(Mutex*, Cond, absl::Duration),
       "_ZN4absl7debian35Mutex16AwaitWithTimeoutERKNS0_9ConditionENS0_8DurationE");
  return ReleaseAndReacquire(this, [&] { return real(this, cond, timeout); });
}

bool Mutex::AwaitWithDeadline(Cond cond, absl::Time deadline) {
  REAL(bool (*)(Mutex*, Cond, absl::Time),
       "_ZN4absl7debian35Mutex17AwaitWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  return ReleaseAndReacquire(this, [&] { return real(this, cond, deadline); });
}

void CondVar::Wait(Mutex* mu) {
  REAL(void (*)(CondVar*, Mutex*), "_ZN4absl7debian37CondVar4WaitEPNS0_5MutexE");
  ReleaseAndReacquire(mu, [&] { return real(this, mu), 0; });
}

bool CondVar::WaitWithDeadline(Mutex* mu, absl::Time deadline) {
  REAL(bool (*)(CondVar*, Mutex*, absl::Time),
       "_ZN4absl7debian37CondVar16WaitWithDeadlineEPNS0_5MutexENS0_4TimeE");
  return ReleaseAndReacquire(mu, [&] { return real(this, mu, deadline); });
}

bool CondVar::WaitWithTimeout(Mutex* mu, absl::Duration timeout) {
  REAL(bool (*)(CondVar*, Mutex*, absl::Duration),
       "_ZN4absl7debian37CondVar15WaitWithTimeoutEPNS0_5MutexENS0_8DurationE");
  return ReleaseAndReacquire(mu, [&] { return real(this, mu, timeout); });
}

ABSL_NAMESPACE_END
}  // namespace absl
