// ThreadSanitizer builds only: makes Debian's abseil Mutex visible to TSan.
//
// Debian's libabsl is not compiled with -fsanitize=thread, so TSan never sees
// absl::Mutex being locked or unlocked, and reports every access guarded by
// one (ours and, through grpc_core::Mutex, gRPC's queue hand-offs) as a race.
// This file defines the exported Mutex and CondVar entry points in the test
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

using MutexFn = void (*)(absl::Mutex*);
using MutexTryFn = bool (*)(absl::Mutex*);
using WaitFn = void (*)(absl::CondVar*, absl::Mutex*);
using TimedWaitFn = bool (*)(absl::CondVar*, absl::Mutex*, absl::Time);
using TimeoutWaitFn = bool (*)(absl::CondVar*, absl::Mutex*, absl::Duration);

// The real WaitWithTimeout calls WaitWithDeadline, which this file also
// defines; only the outermost wait may annotate the release and re-acquire.
thread_local int wait_depth = 0;

class AnnotatedWait {
 public:
  explicit AnnotatedWait(absl::Mutex* mu) : mu_(mu), outermost_(wait_depth++ == 0) {
    if (outermost_) {
      __tsan_mutex_pre_unlock(mu_, 0);
      __tsan_mutex_post_unlock(mu_, 0);
    }
  }
  ~AnnotatedWait() {
    --wait_depth;
    if (outermost_) {
      __tsan_mutex_pre_lock(mu_, 0);
      __tsan_mutex_post_lock(mu_, 0, 0);
    }
  }

 private:
  absl::Mutex* const mu_;
  const bool outermost_;
};

}  // namespace

namespace absl {
ABSL_NAMESPACE_BEGIN

void Mutex::Lock() {
  static const MutexFn real = Real<MutexFn>("_ZN4absl7debian35Mutex4LockEv");
  __tsan_mutex_pre_lock(this, 0);
  real(this);
  __tsan_mutex_post_lock(this, 0, 0);
}

void Mutex::Unlock() {
  static const MutexFn real = Real<MutexFn>("_ZN4absl7debian35Mutex6UnlockEv");
  __tsan_mutex_pre_unlock(this, 0);
  real(this);
  __tsan_mutex_post_unlock(this, 0);
}

void Mutex::ReaderLock() {
  static const MutexFn real = Real<MutexFn>("_ZN4absl7debian35Mutex10ReaderLockEv");
  __tsan_mutex_pre_lock(this, __tsan_mutex_read_lock);
  real(this);
  __tsan_mutex_post_lock(this, __tsan_mutex_read_lock, 0);
}

void Mutex::ReaderUnlock() {
  static const MutexFn real = Real<MutexFn>("_ZN4absl7debian35Mutex12ReaderUnlockEv");
  __tsan_mutex_pre_unlock(this, __tsan_mutex_read_lock);
  real(this);
  __tsan_mutex_post_unlock(this, __tsan_mutex_read_lock);
}

bool Mutex::TryLock() {
  static const MutexTryFn real = Real<MutexTryFn>("_ZN4absl7debian35Mutex7TryLockEv");
  __tsan_mutex_pre_lock(this, __tsan_mutex_try_lock);
  bool locked = real(this);
  __tsan_mutex_post_lock(this, __tsan_mutex_try_lock | (locked ? 0 : __tsan_mutex_try_lock_failed),
                         0);
  return locked;
}

bool Mutex::ReaderTryLock() {
  static const MutexTryFn real = Real<MutexTryFn>("_ZN4absl7debian35Mutex13ReaderTryLockEv");
  const unsigned flags = __tsan_mutex_read_lock | __tsan_mutex_try_lock;
  __tsan_mutex_pre_lock(this, flags);
  bool locked = real(this);
  __tsan_mutex_post_lock(this, flags | (locked ? 0 : __tsan_mutex_try_lock_failed), 0);
  return locked;
}

// A condition-variable wait releases the mutex and takes it back; without
// these annotations TSan would miss the hand-over to the notifying thread.
void CondVar::Wait(Mutex* mu) {
  static const WaitFn real = Real<WaitFn>("_ZN4absl7debian37CondVar4WaitEPNS0_5MutexE");
  AnnotatedWait wait(mu);
  real(this, mu);
}

bool CondVar::WaitWithDeadline(Mutex* mu, absl::Time deadline) {
  static const TimedWaitFn real =
      Real<TimedWaitFn>("_ZN4absl7debian37CondVar16WaitWithDeadlineEPNS0_5MutexENS0_4TimeE");
  AnnotatedWait wait(mu);
  bool timed_out = real(this, mu, deadline);
  return timed_out;
}

bool CondVar::WaitWithTimeout(Mutex* mu, absl::Duration timeout) {
  static const TimeoutWaitFn real =
      Real<TimeoutWaitFn>("_ZN4absl7debian37CondVar15WaitWithTimeoutEPNS0_5MutexENS0_8DurationE");
  AnnotatedWait wait(mu);
  bool timed_out = real(this, mu, timeout);
  return timed_out;
}

ABSL_NAMESPACE_END
}  // namespace absl
