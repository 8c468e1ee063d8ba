/* A heap-allocation counter for tests/test_run_allocations.py, preloaded
 * (LD_PRELOAD) into a child Python process: malloc, calloc, realloc,
 * posix_memalign, aligned_alloc, memalign and valloc are forwarded to glibc
 * (dlsym(RTLD_NEXT)) and, while counting is on, every call made by a thread
 * that does not hold the GIL is counted. Those are int8rt's C++ calls: a
 * binding releases the GIL around the engine's run (after converting its
 * arguments) and the thread pool's workers never hold it; Python's own
 * allocations all happen under the GIL. operator new and the aligned ones
 * call malloc / aligned_alloc, so C++ allocations are counted too.
 *
 * alloc_counter_start() zeroes the count and turns counting on;
 * alloc_counter_stop() turns it off and returns the count. With
 * ALLOC_COUNTER_TRACE=n in the environment, the first n counted calls print
 * their size and a backtrace to stderr (which call sites allocate). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <execinfo.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static volatile int g_on = 0;
static long g_count = 0;
static long g_trace = 0;
static __thread int t_in_hook = 0;
static int (*g_holds_gil)(void) = 0; /* PyGILState_Check, from the python executable */

static void* (*r_malloc)(size_t);
static void* (*r_calloc)(size_t, size_t);
static void* (*r_realloc)(void*, size_t);
static int (*r_posix_memalign)(void**, size_t, size_t);
static void* (*r_aligned_alloc)(size_t, size_t);
static void* (*r_memalign)(size_t, size_t);
static void* (*r_valloc)(size_t);

static void note(size_t n) {
  if (!g_on || t_in_hook) return;
  t_in_hook = 1;
  if (!g_holds_gil || !g_holds_gil()) {
    long k = __atomic_add_fetch(&g_count, 1, __ATOMIC_RELAXED);
    if (k <= g_trace) {
      char line[64];
      int len = snprintf(line, sizeof line, "== allocation %ld: %zu bytes\n", k, n);
      if (write(2, line, (size_t)len) < 0) { /* nothing to do */ }
      void* frames[32];
      backtrace_symbols_fd(frames, backtrace(frames, 32), 2);
    }
  }
  t_in_hook = 0;
}

void alloc_counter_start(void) {
  if (!g_holds_gil) g_holds_gil = (int (*)(void))dlsym(RTLD_DEFAULT, "PyGILState_Check");
  const char* trace = getenv("ALLOC_COUNTER_TRACE");
  g_trace = trace ? atol(trace) : 0;
  if (g_trace) { void* frames[2]; backtrace(frames, 2); } /* loads libgcc's unwinder now, not inside a hook */
  __atomic_store_n(&g_count, 0, __ATOMIC_RELAXED);
  g_on = 1;
}

long alloc_counter_stop(void) {
  g_on = 0;
  return __atomic_load_n(&g_count, __ATOMIC_RELAXED);
}

/* dlsym may call calloc before r_calloc is known: served from a static arena (never freed: free() of it is
 * not expected, glibc's dlsym keeps what it allocates). */
static char g_arena[4096];
static size_t g_arena_used = 0;

void* malloc(size_t n) {
  if (!r_malloc) r_malloc = (void* (*)(size_t))dlsym(RTLD_NEXT, "malloc");
  note(n);
  return r_malloc(n);
}
void* calloc(size_t a, size_t b) {
  if (!r_calloc) {
    static int resolving = 0;
    if (resolving) {
      void* p = g_arena + g_arena_used;
      g_arena_used += (a * b + 15) & ~(size_t)15;
      return g_arena_used <= sizeof g_arena ? p : NULL;
    }
    resolving = 1;
    r_calloc = (void* (*)(size_t, size_t))dlsym(RTLD_NEXT, "calloc");
    resolving = 0;
  }
  note(a * b);
  return r_calloc(a, b);
}
void* realloc(void* p, size_t n) {
  if (!r_realloc) r_realloc = (void* (*)(void*, size_t))dlsym(RTLD_NEXT, "realloc");
  note(n);
  return r_realloc(p, n);
}
int posix_memalign(void** p, size_t align, size_t n) {
  if (!r_posix_memalign) r_posix_memalign = (int (*)(void**, size_t, size_t))dlsym(RTLD_NEXT, "posix_memalign");
  note(n);
  return r_posix_memalign(p, align, n);
}
void* aligned_alloc(size_t align, size_t n) {
  if (!r_aligned_alloc) r_aligned_alloc = (void* (*)(size_t, size_t))dlsym(RTLD_NEXT, "aligned_alloc");
  note(n);
  return r_aligned_alloc(align, n);
}
void* memalign(size_t align, size_t n) {
  if (!r_memalign) r_memalign = (void* (*)(size_t, size_t))dlsym(RTLD_NEXT, "memalign");
  note(n);
  return r_memalign(align, n);
}
void* valloc(size_t n) {
  if (!r_valloc) r_valloc = (void* (*)(size_t))dlsym(RTLD_NEXT, "valloc");
  note(n);
  return r_valloc(n);
}
