/*
 * read-trace.so: preloaded into a GCC compile by @reprise/plugin-gcc when the
 * call's own dependency file (-MMD) leaves system headers out. In the
 * compiler proper (cc1, cc1plus, cc1obj, cc1objplus) it appends every path
 * opened read-only that opened, one per line, to the file named by
 * REPRISE_READ_TRACE, and "#end" when the process exits normally. Anything
 * it could not follow (a relative openat from another directory, an over-long
 * path) is written as "#incomplete", so the plugin falls back to a scan.
 * The compile itself is untouched: no argument, output or message changes.
 * Other processes of the compile (the driver, as) load it and do nothing.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static int trace_fd = -1;

static int is_compiler_proper(void) {
  const char *name = program_invocation_short_name;
  return name && strncmp(name, "cc1", 3) == 0;
}

__attribute__((constructor)) static void trace_start(void) {
  const char *path = getenv("REPRISE_READ_TRACE");
  if (!path || !*path || !is_compiler_proper()) return;
  int saved = errno;
  trace_fd = (int)syscall(SYS_openat, AT_FDCWD, path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (trace_fd < 0) trace_fd = -1;
  errno = saved;
}

__attribute__((destructor)) static void trace_end(void) {
  if (trace_fd < 0) return;
  int saved = errno;
  (void)!write(trace_fd, "#end\n", 5);
  errno = saved;
}

static void record_line(const char *text) {
  char line[4200];
  size_t n = strlen(text);
  if (n + 1 > sizeof line || memchr(text, '\n', n)) {
    (void)!write(trace_fd, "#incomplete\n", 12);
    return;
  }
  memcpy(line, text, n);
  line[n] = '\n';
  /* One write per path: with O_APPEND a line is never split. */
  (void)!write(trace_fd, line, n + 1);
}

static void record(int dirfd, const char *path, int flags, int ok) {
  if (trace_fd < 0 || !ok || !path) return;
  if ((flags & O_ACCMODE) != O_RDONLY || (flags & O_DIRECTORY)) return;
  int saved = errno;
  if (path[0] != '/' && dirfd != AT_FDCWD) record_line("#incomplete");
  else record_line(path);
  errno = saved;
}

static int fopen_flags(const char *mode) {
  if (!mode || mode[0] != 'r' || strchr(mode, '+')) return O_WRONLY;
  return O_RDONLY;
}

#define REAL(name) \
  static __typeof__(name) *real_##name; \
  if (!real_##name) real_##name = (__typeof__(name) *)dlsym(RTLD_NEXT, #name)

static mode_t mode_arg(int flags, va_list ap) {
  return (flags & O_CREAT) || (flags & __O_TMPFILE) == __O_TMPFILE ? (mode_t)va_arg(ap, int) : 0;
}

int open(const char *path, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  mode_t mode = mode_arg(flags, ap);
  va_end(ap);
  REAL(open);
  int fd = real_open(path, flags, mode);
  record(AT_FDCWD, path, flags, fd >= 0);
  return fd;
}

int open64(const char *path, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  mode_t mode = mode_arg(flags, ap);
  va_end(ap);
  REAL(open64);
  int fd = real_open64(path, flags, mode);
  record(AT_FDCWD, path, flags, fd >= 0);
  return fd;
}

int openat(int dirfd, const char *path, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  mode_t mode = mode_arg(flags, ap);
  va_end(ap);
  REAL(openat);
  int fd = real_openat(dirfd, path, flags, mode);
  record(dirfd, path, flags, fd >= 0);
  return fd;
}

int openat64(int dirfd, const char *path, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  mode_t mode = mode_arg(flags, ap);
  va_end(ap);
  REAL(openat64);
  int fd = real_openat64(dirfd, path, flags, mode);
  record(dirfd, path, flags, fd >= 0);
  return fd;
}

FILE *fopen(const char *path, const char *mode) {
  REAL(fopen);
  FILE *f = real_fopen(path, mode);
  record(AT_FDCWD, path, fopen_flags(mode), f != NULL);
  return f;
}

FILE *fopen64(const char *path, const char *mode) {
  REAL(fopen64);
  FILE *f = real_fopen64(path, mode);
  record(AT_FDCWD, path, fopen_flags(mode), f != NULL);
  return f;
}
