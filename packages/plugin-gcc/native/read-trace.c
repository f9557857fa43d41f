/*
 * read-trace.so: preloaded into a GCC compile's miss by @reprise/plugin-gcc.
 * In the compiler proper (cc1, cc1plus, cc1obj, cc1objplus) it lists every
 * file opened read-only that opened, one per line, in the file named by
 * REPRISE_READ_TRACE, and "#end" when the process exits normally:
 *  - "#id DEV INO SIZE MTIME_NS CTIME_NS PATH" for a file it could fstat
 *    when cc1 closed it (or at exit, if still open): the identity of the
 *    file cc1 had just read, taken from the same open file. The daemon then
 *    needs no stat of its own to know the file did not change since the
 *    compile started (compile-listing.ts);
 *  - the bare path for one it could not (no room in its table, not a
 *    regular file).
 * A file mapped into memory (mmap) is read through its pages after its
 * descriptor is closed (LLVM maps larger files), so it gets its bare path:
 * an identity taken at close would not follow the read.
 * Anything it could not follow (a relative openat from another directory, an
 * over-long path) is written as "#incomplete", so the plugin falls back to a
 * scan. Lines are buffered and written whole at exit (or when the buffer is
 * full): a process that dies leaves no "#end", and its trace is not used.
 * The compile itself is untouched: no argument, output or message changes.
 * Other processes of the compile (the driver, as) load it and do nothing,
 * unless REPRISE_READ_TRACE_ALL=1: clang runs its compiler inside the driver's
 * own process, so every process of the compile is traced.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static int trace_fd = -1;

/* Lines not yet written: one write at exit for a whole compile (a write per file cost cc1 a syscall each). */
static char pending[1 << 16];
static size_t pending_len;

/* The path each traced descriptor was opened by, until it is closed and its identity taken. */
#define TRACKED_FDS 1024
static char *tracked[TRACKED_FDS];
/* Whether a traced descriptor was mapped into memory: its pages may be read after it is closed. */
static unsigned char mapped[TRACKED_FDS];

static int is_compiler_proper(void) {
  const char *all = getenv("REPRISE_READ_TRACE_ALL");
  if (all && strcmp(all, "1") == 0) return 1;
  const char *name = program_invocation_short_name;
  return name && strncmp(name, "cc1", 3) == 0;
}

static void flush_pending(void) {
  size_t done = 0;
  while (done < pending_len) {
    ssize_t n = write(trace_fd, pending + done, pending_len - done);
    if (n <= 0) break;
    done += (size_t)n;
  }
  pending_len = 0;
}

/* Appends one whole line; a line never spans two writes. */
static void append_line(const char *text, size_t n) {
  if (n + 1 > sizeof pending) return;
  if (pending_len + n + 1 > sizeof pending) flush_pending();
  memcpy(pending + pending_len, text, n);
  pending[pending_len + n] = '\n';
  pending_len += n + 1;
}

static void record_line(const char *text) {
  size_t n = strlen(text);
  if (n > 4096 || memchr(text, '\n', n)) append_line("#incomplete", 11);
  else append_line(text, n);
}

/* Appends `v` in decimal at `out`; returns the end. */
static char *put_decimal(char *out, unsigned long long v) {
  char digits[24];
  int n = 0;
  do digits[n++] = (char)('0' + v % 10); while ((v /= 10) != 0);
  while (n > 0) *out++ = digits[--n];
  return out;
}

static char *put_signed(char *out, long long v) {
  if (v >= 0) return put_decimal(out, (unsigned long long)v);
  *out++ = '-';
  return put_decimal(out, 0ULL - (unsigned long long)v);
}

/* The file open as `fd`, just read by cc1: its identity with its path, or the bare path when there is none to give.
 * Formatted by hand: snprintf cost cc1 a third of the tracer's instructions. */
static void record_identity(int fd, const char *path) {
  struct stat st;
  char line[4200];
  size_t n = strlen(path);
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || n > 4096) {
    record_line(path);
    return;
  }
  char *p = line;
  memcpy(p, "#id ", 4);
  p = put_decimal(p + 4, (unsigned long long)st.st_dev);
  *p++ = ' ';
  p = put_decimal(p, (unsigned long long)st.st_ino);
  *p++ = ' ';
  p = put_signed(p, (long long)st.st_size);
  *p++ = ' ';
  p = put_signed(p, (long long)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec);
  *p++ = ' ';
  p = put_signed(p, (long long)st.st_ctim.tv_sec * 1000000000LL + st.st_ctim.tv_nsec);
  *p++ = ' ';
  memcpy(p, path, n + 1);
  record_line(line);
}

/* Descriptor `fd` is about to be closed (or the process ends): the identity of what was read through it. */
static void untrack(int fd) {
  if (fd < 0 || fd >= TRACKED_FDS || !tracked[fd]) return;
  if (mapped[fd]) record_line(tracked[fd]);
  else record_identity(fd, tracked[fd]);
  free(tracked[fd]);
  tracked[fd] = NULL;
  mapped[fd] = 0;
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
  for (int fd = 0; fd < TRACKED_FDS; fd++) untrack(fd);
  append_line("#end", 4);
  flush_pending();
  errno = saved;
}

static void record(int dirfd, const char *path, int flags, int fd) {
  if (trace_fd < 0 || fd < 0 || !path) return;
  int saved = errno;
  /* A descriptor number reused without a close seen here (closed some other way): its earlier file keeps only its path. */
  if (fd < TRACKED_FDS && tracked[fd]) {
    record_line(tracked[fd]);
    free(tracked[fd]);
    tracked[fd] = NULL;
  }
  if (fd < TRACKED_FDS) mapped[fd] = 0;
  if ((flags & O_ACCMODE) != O_RDONLY || (flags & O_DIRECTORY)) {
    errno = saved;
    return;
  }
  if (path[0] != '/' && dirfd != AT_FDCWD) record_line("#incomplete");
  else if (fd >= TRACKED_FDS || !(tracked[fd] = strdup(path))) record_line(path);
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
  record(AT_FDCWD, path, flags, fd);
  return fd;
}

int open64(const char *path, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  mode_t mode = mode_arg(flags, ap);
  va_end(ap);
  REAL(open64);
  int fd = real_open64(path, flags, mode);
  record(AT_FDCWD, path, flags, fd);
  return fd;
}

int openat(int dirfd, const char *path, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  mode_t mode = mode_arg(flags, ap);
  va_end(ap);
  REAL(openat);
  int fd = real_openat(dirfd, path, flags, mode);
  record(dirfd, path, flags, fd);
  return fd;
}

int openat64(int dirfd, const char *path, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  mode_t mode = mode_arg(flags, ap);
  va_end(ap);
  REAL(openat64);
  int fd = real_openat64(dirfd, path, flags, mode);
  record(dirfd, path, flags, fd);
  return fd;
}

FILE *fopen(const char *path, const char *mode) {
  REAL(fopen);
  FILE *f = real_fopen(path, mode);
  record(AT_FDCWD, path, fopen_flags(mode), f ? fileno(f) : -1);
  return f;
}

FILE *fopen64(const char *path, const char *mode) {
  REAL(fopen64);
  FILE *f = real_fopen64(path, mode);
  record(AT_FDCWD, path, fopen_flags(mode), f ? fileno(f) : -1);
  return f;
}

int close(int fd) {
  REAL(close);
  if (trace_fd >= 0 && fd != trace_fd) {
    int saved = errno;
    untrack(fd);
    errno = saved;
  }
  return real_close(fd);
}

int fclose(FILE *f) {
  REAL(fclose);
  if (trace_fd >= 0 && f) {
    int saved = errno;
    untrack(fileno(f));
    errno = saved;
  }
  return real_fclose(f);
}

void *mmap(void *addr, size_t length, int prot, int flags, int fd, off_t offset) {
  REAL(mmap);
  if (trace_fd >= 0 && fd >= 0 && fd < TRACKED_FDS && tracked[fd]) mapped[fd] = 1;
  return real_mmap(addr, length, prot, flags, fd, offset);
}

void *mmap64(void *addr, size_t length, int prot, int flags, int fd, off64_t offset) {
  REAL(mmap64);
  if (trace_fd >= 0 && fd >= 0 && fd < TRACKED_FDS && tracked[fd]) mapped[fd] = 1;
  return real_mmap64(addr, length, prot, flags, fd, offset);
}
