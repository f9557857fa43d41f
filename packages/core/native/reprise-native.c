/*
 * reprise-native: the compiler-call path of the `reprise` client in C, so a
 * cache hit does not pay for starting Node. It speaks the protocol of
 * docs/protocol.md and hands everything else to the Node client
 * (dist/bin/reprise.js): administrative commands, starting or replacing the
 * daemon. A build never fails because of it: when neither the daemon nor the
 * Node client can be used, the real compiler runs.
 *
 * Built by scripts/build-native.mjs, which passes REPRISE_VERSION,
 * REPRISE_PROTOCOL and REPRISE_NODE (the node that ran the build).
 */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#ifndef REPRISE_VERSION
#error "REPRISE_VERSION must be defined (build with scripts/build-native.mjs)"
#endif
#ifndef REPRISE_PROTOCOL
#error "REPRISE_PROTOCOL must be defined (build with scripts/build-native.mjs)"
#endif
#ifndef REPRISE_NODE
#define REPRISE_NODE ""
#endif

#define MAX_FRAME_BYTES (256u * 1024u * 1024u)
/* The daemon refuses larger requests (protocol/frames.ts MAX_REQUEST_FRAME_BYTES). */
#define MAX_REQUEST_FRAME_BYTES (16u * 1024u * 1024u)
/* A RunLocally payload is a reason and a notice: anything larger is not a daemon of ours. */
#define MAX_RUN_LOCALLY_BYTES (64u * 1024u)
#define CONNECT_TIMEOUT_SEC 2
/* As client/terminal-notice.ts NOTICE_WINDOW_MS. */
#define NOTICE_WINDOW_SEC 60

enum {
  FRAME_COMPILE = 0x01,
  FRAME_STDOUT = 0x10,
  FRAME_STDERR = 0x11,
  FRAME_EXIT = 0x12,
  FRAME_RUN_LOCALLY = 0x13,
  FRAME_VERSION_MISMATCH = 0x14,
  FRAME_ERROR = 0x16,
};

enum outcome { OUT_EXIT, OUT_RUN_LOCALLY, OUT_VERSION_MISMATCH, OUT_UNREACHABLE, OUT_BROKEN };

extern char **environ;

/* ---- small helpers ------------------------------------------------------ */

static void *xmalloc(size_t n) {
  void *p = malloc(n ? n : 1);
  if (!p) {
    static const char msg[] = "reprise: out of memory\n";
    (void)!write(2, msg, sizeof msg - 1);
    _exit(127);
  }
  return p;
}

static char *concat3(const char *a, const char *b, const char *c) {
  size_t la = strlen(a), lb = strlen(b), lc = strlen(c);
  char *s = xmalloc(la + lb + lc + 1);
  memcpy(s, a, la);
  memcpy(s + la, b, lb);
  memcpy(s + la + lb, c, lc + 1);
  return s;
}

static const char *base_name(const char *p) {
  const char *s = strrchr(p, '/');
  return s ? s + 1 : p;
}

/* A copy of `p` without its last component ("/a/b" -> "/a", "b" -> "."). */
static char *dir_name(const char *p) {
  const char *s = strrchr(p, '/');
  if (!s) return concat3(".", "", "");
  size_t n = s == p ? 1 : (size_t)(s - p);
  char *d = xmalloc(n + 1);
  memcpy(d, p, n);
  d[n] = '\0';
  return d;
}

static char *current_dir(void) {
  for (size_t n = 4096;; n *= 2) {
    char *buf = xmalloc(n);
    if (getcwd(buf, n)) return buf;
    free(buf);
    if (errno != ERANGE) return NULL;
  }
}

/*
 * POSIX path normalisation as Node's path.normalize does it: no empty or "."
 * segments, ".." resolved (kept at the front of a relative path).
 */
static char *normalize(const char *path) {
  size_t len = strlen(path);
  int absolute = path[0] == '/';
  char *out = xmalloc(len + 2);
  size_t o = 0;
  size_t leading_up = 0; /* bytes of "../" kept at the front of a relative path */
  const char *p = path;
  while (*p) {
    while (*p == '/') p++;
    if (!*p) break;
    const char *seg = p;
    while (*p && *p != '/') p++;
    size_t n = (size_t)(p - seg);
    if (n == 1 && seg[0] == '.') continue;
    if (n == 2 && seg[0] == '.' && seg[1] == '.') {
      if (o > leading_up) {
        while (o > leading_up && out[o - 1] != '/') o--;
        if (o > leading_up) o--; /* the separator before the removed segment */
        continue;
      }
      if (absolute) continue;
      if (o) out[o++] = '/';
      memcpy(out + o, "..", 2);
      o += 2;
      leading_up = o;
      continue;
    }
    if (o || absolute) out[o++] = '/';
    memcpy(out + o, seg, n);
    o += n;
  }
  if (o == 0) out[o++] = absolute ? '/' : '.';
  out[o] = '\0';
  return out;
}

/* Node's path.resolve(cwd, p). */
static char *resolve_path(const char *cwd, const char *p) {
  if (p[0] == '/' || !cwd) return normalize(p);
  char *joined = concat3(cwd, "/", p);
  char *r = normalize(joined);
  free(joined);
  return r;
}

static int is_executable_file(const char *p) {
  struct stat st;
  return access(p, X_OK) == 0 && stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* ---- where this binary and the rest of Reprise are ---------------------- */

static char *self_path;  /* real path of this binary */
static char *core_dir;   /* the @reprise/core package (find_core_dir) */
static char *excluded[3]; /* real paths never taken for the compiler */

static char *find_on_path(const char *name, const char *cwd, const char *skip_dir_real, int skip_self);

static int has_node_client(const char *dir) {
  char *js = concat3(dir, "/dist/bin/reprise.js", "");
  int ok = access(js, R_OK) == 0;
  free(js);
  return ok;
}

/*
 * The @reprise/core package this binary belongs to: <core>/bin/reprise (placed
 * by npm's install script), <core>/dist/native/reprise-native (built from
 * source), or a prebuilt run from its platform package
 * (node_modules/@reprise/client-<platform>/bin/reprise), from which core is
 * found as Node resolves a package: <ancestor>/node_modules/@reprise/core.
 * That search stops at a directory every user can write or that belongs to
 * another user (security/path-trust.ts untrustedDirReason, as the config
 * search does), so /tmp/node_modules is never read.
 */
static char *find_core_dir(const char *self) {
  char *dir = dir_name(self);
  char *up = dir_name(dir);
  if (strcmp(base_name(dir), "native") == 0 && strcmp(base_name(up), "dist") == 0) {
    free(dir);
    char *core = dir_name(up);
    free(up);
    return core;
  }
  if (has_node_client(up)) {
    free(dir);
    return up;
  }
  free(up);
  for (;;) {
    struct stat st;
    if (stat(dir, &st) != 0 || (st.st_mode & S_IWOTH) || (st.st_uid != geteuid() && st.st_uid != 0)) break;
    char *core = concat3(dir, strcmp(dir, "/") == 0 ? "" : "/", "node_modules/@reprise/core");
    if (has_node_client(core)) {
      free(dir);
      return core;
    }
    free(core);
    if (strcmp(dir, "/") == 0 || strcmp(dir, ".") == 0) break;
    char *parent = dir_name(dir);
    free(dir);
    dir = parent;
  }
  free(dir);
  return NULL;
}

static void locate_self(const char *argv0) {
  if (self_path) return;
  char buf[PATH_MAX + 1];
  ssize_t n = readlink("/proc/self/exe", buf, PATH_MAX);
  if (n > 0) {
    buf[n] = '\0';
    self_path = concat3(buf, "", "");
  } else {
    char *cwd = current_dir();
    char *found = strchr(argv0, '/') ? concat3(argv0, "", "") : find_on_path(argv0, cwd, NULL, 0);
    if (found && realpath(found, buf)) self_path = concat3(buf, "", "");
    free(found);
    free(cwd);
  }
  if (!self_path) return;
  core_dir = find_core_dir(self_path);
  excluded[0] = self_path;
  if (!core_dir) return;
  char *launcher = concat3(core_dir, "/bin/reprise", "");
  char *js = concat3(core_dir, "/dist/bin/reprise.js", "");
  if (realpath(launcher, buf)) excluded[1] = concat3(buf, "", "");
  if (realpath(js, buf)) excluded[2] = concat3(buf, "", "");
  free(launcher);
  free(js);
}

static int is_excluded(const char *p) {
  char buf[PATH_MAX + 1];
  const char *real = realpath(p, buf) ? buf : p;
  for (size_t i = 0; i < sizeof excluded / sizeof excluded[0]; i++)
    if (excluded[i] && strcmp(excluded[i], real) == 0) return 1;
  return 0;
}

/*
 * The first executable `name` on PATH, as engine/find-executable.ts finds it:
 * relative entries resolved against cwd, empty ones ignored, the masquerade
 * link's directory and (with skip_self) Reprise's own executables skipped.
 */
static char *find_on_path(const char *name, const char *cwd, const char *skip_dir_real, int skip_self) {
  const char *path = getenv("PATH");
  if (!path) return NULL;
  char buf[PATH_MAX + 1];
  const char *p = path;
  while (1) {
    const char *end = strchr(p, ':');
    size_t n = end ? (size_t)(end - p) : strlen(p);
    if (n) {
      char *entry = xmalloc(n + 1);
      memcpy(entry, p, n);
      entry[n] = '\0';
      char *dir = resolve_path(cwd, entry);
      free(entry);
      int skip = skip_dir_real && realpath(dir, buf) && strcmp(buf, skip_dir_real) == 0;
      if (!skip) {
        char *candidate = concat3(dir, strcmp(dir, "/") == 0 ? "" : "/", name);
        if (is_executable_file(candidate) && !(skip_self && is_excluded(candidate))) {
          free(dir);
          return candidate;
        }
        free(candidate);
      }
      free(dir);
    }
    if (!end) return NULL;
    p = end + 1;
  }
}

/* ---- falling back ------------------------------------------------------- */

/*
 * Runs the compiler in this process's place (client/run-locally.ts): the
 * first `argv[0]` on PATH that is not Reprise, or argv[0] itself when it is a
 * path. Never a path the daemon names: whatever listens on the socket must
 * not choose what runs. argv[0] stays as the user named it.
 */
static void run_locally(const char *argv0_self, char **argv, const char *masquerade) {
  locate_self(argv0_self);
  const char *name = argv[0];
  char *exe = NULL;
  {
    char *cwd = current_dir();
    if (strchr(name, '/')) {
      char *p = resolve_path(cwd, name);
      if (is_executable_file(p) && !is_excluded(p)) exe = p;
      else free(p);
    } else {
      char skip[PATH_MAX + 1];
      char *mdir = masquerade ? dir_name(masquerade) : NULL;
      const char *skip_real = mdir && realpath(mdir, skip) ? skip : NULL;
      exe = find_on_path(name, cwd, skip_real, 1);
      free(mdir);
    }
    free(cwd);
  }
  if (!exe) {
    fprintf(stderr, "reprise: cannot find compiler \"%s\" on PATH\n", name);
    exit(127);
  }
  /*
   * gcc finds cc1, collect2 etc. from argv[0], looking a bare name up on PATH.
   * When that lookup would land elsewhere (on a masquerading gcc -> reprise
   * link), argv[0] has to be the real compiler's path.
   */
  if (!strchr(name, '/')) {
    char *cwd = current_dir();
    char *first = find_on_path(name, cwd, NULL, 0);
    char a[PATH_MAX + 1], b[PATH_MAX + 1];
    if (!(first && realpath(first, a) && realpath(exe, b) && strcmp(a, b) == 0)) argv[0] = exe;
    free(first);
    free(cwd);
  }
  execv(exe, argv);
  fprintf(stderr, "reprise: cannot run %s: %s\n", exe, strerror(errno));
  exit(127);
}

/*
 * Replaces this process with the Node client, which starts or replaces the
 * daemon and handles every administrative command. Returns only when neither
 * node nor the client can be run.
 */
static void exec_node_client(const char *argv0_self, char **args, int nargs, const char *masquerade) {
  locate_self(argv0_self);
  if (!core_dir) return;
  char *js = concat3(core_dir, "/dist/bin/reprise.js", "");
  if (access(js, R_OK) != 0) {
    free(js);
    return;
  }
  char **a = xmalloc(sizeof(char *) * ((size_t)nargs + 3));
  a[0] = "node";
  a[1] = js;
  for (int i = 0; i < nargs; i++) a[2 + i] = args[i];
  a[2 + nargs] = NULL;
  if (masquerade && setenv("REPRISE_MASQUERADE", masquerade, 1) != 0) masquerade = NULL;
  if (REPRISE_NODE[0]) execv(REPRISE_NODE, a);
  execvp("node", a);
  if (masquerade) unsetenv("REPRISE_MASQUERADE");
  free(a);
  free(js);
}

/*
 * After a VersionMismatch: when the package beside this binary is of another
 * version than it was built for, every call would restart the daemon, so say
 * how to fix it.
 */
static void warn_if_stale(const char *argv0_self) {
  locate_self(argv0_self);
  if (!core_dir) return;
  char *path = concat3(core_dir, "/dist/version.js", "");
  int fd = open(path, O_RDONLY);
  free(path);
  if (fd < 0) return;
  char text[4096];
  ssize_t n = read(fd, text, sizeof text - 1);
  close(fd);
  if (n <= 0) return;
  text[n] = '\0';
  const char *p = strstr(text, "REPRISE_VERSION =");
  p = p ? strchr(p, '"') : NULL;
  const char *end = p ? strchr(p + 1, '"') : NULL;
  if (!end) return;
  size_t len = (size_t)(end - p - 1);
  if (len == strlen(REPRISE_VERSION) && memcmp(p + 1, REPRISE_VERSION, len) == 0) return;
  fprintf(stderr, "reprise: this native client is version %s but the package is %.*s; run `reprise install-native` (or the build) again\n", REPRISE_VERSION, (int)len, p + 1);
}

/* ---- the request -------------------------------------------------------- */

/* As util/paths.ts runtimeDir(): $REPRISE_RUNTIME_DIR, else $XDG_RUNTIME_DIR or Node's os.tmpdir(), then reprise-<euid>. */
static char *runtime_dir(const char *cwd) {
  const char *dir = getenv("REPRISE_RUNTIME_DIR");
  if (dir && *dir) return resolve_path(cwd, dir);
  const char *base = getenv("XDG_RUNTIME_DIR");
  const char *tmp_vars[] = {"TMPDIR", "TMP", "TEMP"};
  for (size_t i = 0; i < 3 && !(base && *base); i++) base = getenv(tmp_vars[i]);
  if (!(base && *base)) base = "/tmp";
  char leaf[64];
  snprintf(leaf, sizeof leaf, "/reprise-%lu", (unsigned long)geteuid());
  char *joined = concat3(base, leaf, "");
  char *s = normalize(joined);
  free(joined);
  return s;
}

enum path_check { PATH_OK, PATH_ABSENT, PATH_UNSAFE, PATH_UNUSABLE };

/* As util/private-dir.ts refusalMessage(). */
static void print_refusal(const char *path, const char *problem) {
  fprintf(stderr,
          "reprise: not using %s: %s. Remove it, or set REPRISE_RUNTIME_DIR (or XDG_RUNTIME_DIR) to a directory only you can use. "
          "Compiling without cache.\n",
          path, problem);
}

/*
 * As util/private-dir.ts: the runtime directory must be a real directory of
 * this user's that nobody else can use (ssh-agent's and tmux's rule), and the
 * socket in it a socket of this user's. Otherwise another user may be
 * listening: the request (the whole environment) is never sent there.
 */
static enum path_check check_private_dir(const char *dir) {
  struct stat st;
  if (lstat(dir, &st) != 0) return errno == ENOENT ? PATH_ABSENT : PATH_UNUSABLE;
  char problem[160];
  if (S_ISLNK(st.st_mode)) snprintf(problem, sizeof problem, "it is a symbolic link");
  else if (!S_ISDIR(st.st_mode)) snprintf(problem, sizeof problem, "it is not a directory");
  else if (st.st_uid != geteuid())
    snprintf(problem, sizeof problem, "it belongs to uid %lu, not to you (uid %lu)", (unsigned long)st.st_uid, (unsigned long)geteuid());
  else if (st.st_mode & 077)
    snprintf(problem, sizeof problem, "other users can use it (mode %o; it must be 700)", (unsigned)(st.st_mode & 0777));
  else return PATH_OK;
  print_refusal(dir, problem);
  return PATH_UNSAFE;
}

static enum path_check check_own_socket(const char *sock) {
  struct stat st;
  if (lstat(sock, &st) != 0) return errno == ENOENT ? PATH_ABSENT : PATH_UNUSABLE;
  char problem[160];
  if (!S_ISSOCK(st.st_mode)) snprintf(problem, sizeof problem, S_ISLNK(st.st_mode) ? "it is a symbolic link" : "it is not a socket");
  else if (st.st_uid != geteuid())
    snprintf(problem, sizeof problem, "it belongs to uid %lu, not to you (uid %lu)", (unsigned long)st.st_uid, (unsigned long)geteuid());
  else return PATH_OK;
  print_refusal(sock, problem);
  return PATH_UNSAFE;
}

/*
 * As client/terminal-notice.ts printNoticeOnce(): prints a notice (a bad
 * setting) unless any client of this user printed the same one in the last
 * NOTICE_WINDOW_SEC; the marker notice-<FNV-1a 64 of the message> lives in
 * the checked runtime directory and is created exclusively, never through a link.
 */
#define FNV1A64_INIT 0xcbf29ce484222325ull

/* FNV-1a 64 (util/fnv1a.ts) over n bytes, continuing from h. */
static uint64_t fnv1a64(uint64_t h, const void *data, size_t n) {
  const unsigned char *p = data;
  for (size_t i = 0; i < n; i++) {
    h ^= p[i];
    h *= 0x100000001b3ull;
  }
  return h;
}

static void print_notice_once(const char *runtime, const char *message) {
  uint64_t h = fnv1a64(FNV1A64_INIT, message, strlen(message));
  char leaf[40];
  snprintf(leaf, sizeof leaf, "/notice-%016llx", (unsigned long long)h);
  char *marker = concat3(runtime, leaf, "");
  struct stat st;
  int print = 1;
  if (lstat(marker, &st) == 0) {
    if (S_ISREG(st.st_mode) && time(NULL) - st.st_mtime < NOTICE_WINDOW_SEC) print = 0;
    else unlink(marker);
  }
  if (print) {
    int fd = open(marker, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) print = 0;
    else close(fd);
  }
  if (print) fprintf(stderr, "reprise: %s (compiling without cache)\n", message);
  free(marker);
}

/* ---- a daemon that could not start (daemon/startup-failure.ts) ---------- */

#define STARTUP_FAILURE_VALID_SEC 10

static int settings_env_name(const char *e) {
  return strncmp(e, "REPRISE_", 8) == 0 || strncmp(e, "HOME=", 5) == 0 || strncmp(e, "XDG_CONFIG_HOME=", 16) == 0;
}

static int cmp_env_name(const void *a, const void *b) {
  const unsigned char *x = *(const unsigned char *const *)a, *y = *(const unsigned char *const *)b;
  for (;; x++, y++) {
    unsigned cx = *x == '=' ? 0 : *x, cy = *y == '=' ? 0 : *y;
    if (cx != cy || cx == 0) return (int)cx - (int)cy;
  }
}

/* failureKey(): cwd and the settings environment, sorted by name, joined by NUL, hashed. */
static void failure_key(const char *cwd, char out[17]) {
  size_t n = 0;
  for (char **e = environ; *e; e++)
    if (strchr(*e, '=') && settings_env_name(*e)) n++;
  char **list = xmalloc(sizeof(char *) * (n ? n : 1));
  n = 0;
  for (char **e = environ; *e; e++)
    if (strchr(*e, '=') && settings_env_name(*e)) list[n++] = *e;
  qsort(list, n, sizeof(char *), cmp_env_name);
  uint64_t h = fnv1a64(FNV1A64_INIT, cwd, strlen(cwd));
  for (size_t i = 0; i < n; i++) {
    h = fnv1a64(h, "", 1);
    h = fnv1a64(h, list[i], strlen(list[i]));
  }
  free(list);
  snprintf(out, 17, "%016llx", (unsigned long long)h);
}

static char *json_member(const char *p, size_t len, const char *want);

/*
 * The reason a daemon started from this cwd with these settings could not
 * start, when that was in the last STARTUP_FAILURE_VALID_SEC: starting the
 * Node client to start another one would only fail the same way.
 */
static char *recent_startup_failure(const char *runtime, const char *cwd) {
  char *path = concat3(runtime, "/daemon.failed", "");
  struct stat st;
  time_t now = time(NULL);
  int fd = -1;
  if (lstat(path, &st) == 0 && S_ISREG(st.st_mode) && now - st.st_mtime <= STARTUP_FAILURE_VALID_SEC && st.st_mtime <= now + 1)
    fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  free(path);
  if (fd < 0) return NULL;
  char text[65536];
  ssize_t n = read(fd, text, sizeof text);
  close(fd);
  if (n <= 0) return NULL;
  char *key = json_member(text, (size_t)n, "key");
  char mine[17];
  failure_key(cwd, mine);
  int same = key && strcmp(key, mine) == 0;
  free(key);
  return same ? json_member(text, (size_t)n, "message") : NULL;
}

struct buf {
  unsigned char *data;
  size_t len;
};

static void put_u32(unsigned char *p, uint32_t v) {
  p[0] = (unsigned char)(v >> 24);
  p[1] = (unsigned char)(v >> 16);
  p[2] = (unsigned char)(v >> 8);
  p[3] = (unsigned char)v;
}

static void put_str(struct buf *b, const char *s) {
  size_t n = strlen(s) + 1;
  memcpy(b->data + b->len, s, n);
  b->len += n;
}

/* Whether this call may be answered from the daemon's hit index (client-hits.inc.c); REPRISE_NO_CLIENT_HITS=1 says no. */
static int client_hits_enabled(void) {
  const char *off = getenv("REPRISE_NO_CLIENT_HITS");
  return !(off && *off && strcmp(off, "0") != 0);
}

/* The Compile frame, encoded exactly as protocol/frames.ts encodeCompileRequest does (flag 4: this client reads the hit index). */
static int build_request(struct buf *out, const char *cwd, const char *masquerade, char **argv, int argc) {
  /* length, type, protocol, flags, three strings, argc, envc */
  size_t size = 4 + 1 + 4 + 1 + strlen(REPRISE_VERSION) + 1 + strlen(cwd) + 1 + strlen(masquerade) + 1 + 4 + 4;
  for (int i = 0; i < argc; i++) size += strlen(argv[i]) + 1;
  uint32_t envc = 0;
  for (char **e = environ; *e; e++) {
    if (!strchr(*e, '=')) continue;
    size += strlen(*e) + 1;
    envc++;
  }
  if (size - 4 > MAX_REQUEST_FRAME_BYTES) return -1;
  out->data = xmalloc(size);
  out->len = 0;
  unsigned char *p = out->data;
  put_u32(p, (uint32_t)(size - 4));
  p[4] = FRAME_COMPILE;
  put_u32(p + 5, REPRISE_PROTOCOL);
  p[9] = (unsigned char)((isatty(1) ? 1 : 0) | (isatty(2) ? 2 : 0) | (client_hits_enabled() ? 4 : 0));
  out->len = 10;
  put_str(out, REPRISE_VERSION);
  put_str(out, cwd);
  put_str(out, masquerade);
  put_u32(out->data + out->len, (uint32_t)argc);
  out->len += 4;
  for (int i = 0; i < argc; i++) put_str(out, argv[i]);
  put_u32(out->data + out->len, envc);
  out->len += 4;
  for (char **e = environ; *e; e++)
    if (strchr(*e, '=')) put_str(out, *e);
  return out->len == size ? 0 : -1;
}

/* ---- talking to the daemon ---------------------------------------------- */

struct reader {
  int fd;
  size_t pos, len;
  unsigned char data[65536];
};

/* 1: more bytes buffered, 0: end of stream, -1: error. */
static int fill(struct reader *r) {
  if (r->pos < r->len) return 1;
  for (;;) {
    ssize_t n = read(r->fd, r->data, sizeof r->data);
    if (n > 0) {
      r->pos = 0;
      r->len = (size_t)n;
      return 1;
    }
    if (n == 0) return 0;
    if (errno != EINTR) return -1;
  }
}

/* Reads exactly n bytes into dst (or discards them when dst is NULL). */
static int read_exact(struct reader *r, unsigned char *dst, size_t n) {
  while (n) {
    if (fill(r) != 1) return -1;
    size_t k = r->len - r->pos;
    if (k > n) k = n;
    if (dst) {
      memcpy(dst, r->data + r->pos, k);
      dst += k;
    }
    r->pos += k;
    n -= k;
  }
  return 0;
}

/* Writes everything to fd; after a failed write the rest of that stream is dropped, as a closed stream would. */
static void write_all(int fd, const unsigned char *p, size_t n, int *failed) {
  while (n && !*failed) {
    ssize_t w = write(fd, p, n);
    if (w > 0) {
      p += w;
      n -= (size_t)w;
    } else if (w < 0 && errno == EINTR) {
      continue;
    } else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      /* a non-blocking stdout shared with another process */
      struct pollfd pfd = {.fd = fd, .events = POLLOUT};
      poll(&pfd, 1, -1);
    } else {
      *failed = 1;
    }
  }
}

static int send_all(int fd, const unsigned char *p, size_t n) {
  while (n) {
    ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
    if (w > 0) {
      p += w;
      n -= (size_t)w;
    } else if (w < 0 && errno == EINTR) {
      continue;
    } else {
      return -1;
    }
  }
  return 0;
}

/* ---- a minimal JSON reader for {"notice": "...", ...} ------------------- */

static const char *skip_ws(const char *p, const char *end) {
  while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) p++;
  return p;
}

static int hex4(const char *p, const char *end, unsigned *out) {
  if (end - p < 4) return -1;
  unsigned v = 0;
  for (int i = 0; i < 4; i++) {
    char c = p[i];
    v <<= 4;
    if (c >= '0' && c <= '9') v |= (unsigned)(c - '0');
    else if (c >= 'a' && c <= 'f') v |= (unsigned)(c - 'a' + 10);
    else if (c >= 'A' && c <= 'F') v |= (unsigned)(c - 'A' + 10);
    else return -1;
  }
  *out = v;
  return 0;
}

static size_t put_utf8(char *o, unsigned cp) {
  if (cp < 0x80) {
    o[0] = (char)cp;
    return 1;
  }
  if (cp < 0x800) {
    o[0] = (char)(0xC0 | (cp >> 6));
    o[1] = (char)(0x80 | (cp & 0x3F));
    return 2;
  }
  if (cp < 0x10000) {
    o[0] = (char)(0xE0 | (cp >> 12));
    o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[2] = (char)(0x80 | (cp & 0x3F));
    return 3;
  }
  o[0] = (char)(0xF0 | (cp >> 18));
  o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
  o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
  o[3] = (char)(0x80 | (cp & 0x3F));
  return 4;
}

/*
 * Decodes the JSON string starting at *pp (its opening quote); on success
 * advances *pp past the closing quote. With want == 0 it only checks and skips.
 */
static char *json_string(const char **pp, const char *end, int want) {
  const char *p = *pp + 1;
  /* decoded text is never longer than the escaped text */
  char *out = want ? xmalloc((size_t)(end - p) + 1) : NULL;
  size_t o = 0;
  while (p < end && *p != '"') {
    if (*p != '\\') {
      if (out) out[o] = *p;
      o++;
      p++;
      continue;
    }
    if (++p >= end) break;
    char c = *p++;
    char ch = 0;
    switch (c) {
      case '"': ch = '"'; break;
      case '\\': ch = '\\'; break;
      case '/': ch = '/'; break;
      case 'b': ch = '\b'; break;
      case 'f': ch = '\f'; break;
      case 'n': ch = '\n'; break;
      case 'r': ch = '\r'; break;
      case 't': ch = '\t'; break;
      case 'u': {
        unsigned cp, lo;
        if (hex4(p, end, &cp)) goto bad;
        p += 4;
        if (cp >= 0xD800 && cp <= 0xDBFF && end - p >= 6 && p[0] == '\\' && p[1] == 'u' && hex4(p + 2, end, &lo) == 0 && lo >= 0xDC00 && lo <= 0xDFFF) {
          cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          p += 6;
        } else if (cp >= 0xD800 && cp <= 0xDFFF) {
          cp = 0xFFFD; /* a lone surrogate has no UTF-8 form; Node writes U+FFFD too */
        }
        char tmp[4];
        size_t k = put_utf8(tmp, cp);
        if (out) memcpy(out + o, tmp, k);
        o += k;
        continue;
      }
      default:
        goto bad;
    }
    if (out) out[o] = ch;
    o++;
  }
  if (p >= end) goto bad;
  *pp = p + 1;
  if (out) out[o] = '\0';
  return out ? out : (char *)"";
bad:
  free(out);
  return NULL;
}

static const char *skip_value(const char *p, const char *end) {
  if (p < end && *p == '"') return json_string(&p, end, 0) ? p : NULL;
  if (p < end && (*p == '{' || *p == '[')) {
    int depth = 0;
    while (p < end) {
      if (*p == '"') {
        if (!json_string(&p, end, 0)) return NULL;
        continue;
      }
      if (*p == '{' || *p == '[') depth++;
      else if ((*p == '}' || *p == ']') && --depth == 0) return p + 1;
      p++;
    }
    return NULL;
  }
  while (p < end && *p != ',' && *p != '}' && *p != ']' && *p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') p++;
  return p;
}

/* The top-level string member `want` of a JSON object, or NULL. */
static char *json_member(const char *p, size_t len, const char *want) {
  const char *end = p + len;
  p = skip_ws(p, end);
  if (p >= end || *p != '{') return NULL;
  p++;
  for (;;) {
    p = skip_ws(p, end);
    if (p >= end || *p != '"') return NULL;
    char *key = json_string(&p, end, 1);
    if (!key) return NULL;
    p = skip_ws(p, end);
    if (p >= end || *p != ':') {
      free(key);
      return NULL;
    }
    p = skip_ws(p + 1, end);
    int wanted = strcmp(key, want) == 0;
    free(key);
    if (wanted && p < end && *p == '"') return json_string(&p, end, 1);
    p = skip_value(p, end);
    if (!p) return NULL;
    p = skip_ws(p, end);
    if (p >= end || *p != ',') return NULL;
    p++;
  }
}

/*
 * Sends the request and relays the answer (client/exchange.ts). Stream
 * frames are written out as they arrive; the final frame decides the outcome.
 */
static enum outcome exchange(const char *sock_path, const struct buf *req, int *exit_code, char **notice) {
  struct sockaddr_un addr;
  memset(&addr, 0, sizeof addr);
  addr.sun_family = AF_UNIX;
  if (strlen(sock_path) >= sizeof addr.sun_path) return OUT_UNREACHABLE;
  memcpy(addr.sun_path, sock_path, strlen(sock_path) + 1);

  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  if (fd < 0) return OUT_UNREACHABLE;
  if (fd <= 2) {
    /* stdout or stderr was closed: keep it so, rather than write output into the socket */
    int high = fcntl(fd, F_DUPFD, 3);
    close(fd);
    if (high < 0) return OUT_UNREACHABLE;
    fd = high;
  }
  /* Bounds a connect() that waits on a full backlog (Linux applies SO_SNDTIMEO to it). */
  struct timeval tv = {.tv_sec = CONNECT_TIMEOUT_SEC, .tv_usec = 0};
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  int rc;
  do rc = connect(fd, (struct sockaddr *)&addr, sizeof addr);
  while (rc < 0 && errno == EINTR);
  if (rc < 0) {
    close(fd);
    return OUT_UNREACHABLE;
  }
  struct timeval none = {0, 0};
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &none, sizeof none);
  if (send_all(fd, req->data, req->len) < 0) {
    close(fd);
    return OUT_BROKEN;
  }

  static struct reader r;
  r.fd = fd;
  r.pos = r.len = 0;
  int out_failed = 0, err_failed = 0;
  enum outcome result = OUT_BROKEN;
  for (;;) {
    unsigned char head[5];
    if (read_exact(&r, head, 5) < 0) break;
    uint32_t len = (uint32_t)head[0] << 24 | (uint32_t)head[1] << 16 | (uint32_t)head[2] << 8 | head[3];
    if (len < 1 || len > MAX_FRAME_BYTES) break;
    size_t n = len - 1;
    unsigned char type = head[4];
    if (type == FRAME_STDOUT || type == FRAME_STDERR) {
      int ofd = type == FRAME_STDOUT ? 1 : 2;
      int *failed = type == FRAME_STDOUT ? &out_failed : &err_failed;
      int ok = 1;
      while (n) {
        if (fill(&r) != 1) {
          ok = 0;
          break;
        }
        size_t k = r.len - r.pos;
        if (k > n) k = n;
        write_all(ofd, r.data + r.pos, k, failed);
        r.pos += k;
        n -= k;
      }
      if (!ok) break;
      continue;
    }
    if (type == FRAME_EXIT) {
      unsigned char code[4];
      if (n < 4 || read_exact(&r, code, 4) < 0) break;
      *exit_code = (int32_t)((uint32_t)code[0] << 24 | (uint32_t)code[1] << 16 | (uint32_t)code[2] << 8 | code[3]);
      result = OUT_EXIT;
      break;
    }
    if (type == FRAME_RUN_LOCALLY) {
      if (n > MAX_RUN_LOCALLY_BYTES) break;
      char *payload = xmalloc(n + 1);
      if (read_exact(&r, (unsigned char *)payload, n) < 0) {
        free(payload);
        break;
      }
      /* Only a notice for the terminal is taken from it: which compiler runs is this client's decision. */
      *notice = json_member(payload, n, "notice");
      free(payload);
      result = OUT_RUN_LOCALLY;
      break;
    }
    if (type == FRAME_VERSION_MISMATCH) {
      result = OUT_VERSION_MISMATCH;
      break;
    }
    break; /* an Error (request refused), a Reply or an unknown frame: compile here */
  }
  close(fd);
  return result;
}

/* ---- hits answered from the daemon's hit index (try_index_hit) ---------- */

#include "client-hits.inc.c"
#include "spawn-helper.inc.c"

/* ---- main --------------------------------------------------------------- */

static int is_own_name(const char *name) {
  return strcmp(name, "reprise") == 0 || strcmp(name, "reprise-native") == 0;
}

int main(int argc, char **argv) {
  if (argc == 2 && strcmp(argv[1], "--spawn-helper") == 0) return spawn_helper_main();
  double started_us = now_us();
  const char *argv0 = argc > 0 && argv[0] ? argv[0] : "reprise-native";
  const char *name = base_name(argv0);
  char *cwd = current_dir();
  char *masquerade = NULL;
  char **call;
  int call_argc;

  /* Started by bin/reprise for a compiler link: `--masquerade <link> args...`; REPRISE_MASQUERADE as the Node client reads it. */
  const char *masq_env = getenv("REPRISE_MASQUERADE");
  char *masq_arg = NULL;
  int skip = 0;
  if (is_own_name(name) && argc >= 3 && strcmp(argv[1], "--masquerade") == 0) {
    masq_arg = argv[2];
    skip = 2;
  } else if (is_own_name(name) && masq_env && *masq_env) {
    masq_arg = concat3(masq_env, "", "");
  }
  if (masq_env) unsetenv("REPRISE_MASQUERADE");

  if (masq_arg || !is_own_name(name)) {
    /* A compiler link: `gcc args...`, sent with the link's absolute path. */
    const char *link = masq_arg ? masq_arg : argv0;
    if (strchr(link, '/')) masquerade = resolve_path(cwd, link);
    else masquerade = find_on_path(link, cwd, NULL, 0);
    if (!masquerade) masquerade = resolve_path(cwd, link);
    call = argv + skip;
    call_argc = argc - skip;
    call[0] = (char *)base_name(link);
  } else {
    call = argv + 1;
    call_argc = argc - 1;
    /* Administrative commands are the Node client's. */
    if (call_argc == 0 || call[0][0] == '-' || strcmp(call[0], "install-native") == 0 || strcmp(call[0], "toolchain") == 0 ||
        strcmp(call[0], "link-compilers") == 0) {
      exec_node_client(argv0, call, call_argc, NULL);
      fprintf(stderr, "reprise: cannot run the Node client (node %s/dist/bin/reprise.js)\n", core_dir ? core_dir : "<unknown>");
      return 127;
    }
  }

  if (!cwd) run_locally(argv0, call, masquerade);

  char *runtime = runtime_dir(cwd);
  enum path_check dir = check_private_dir(runtime);
  char *sock = concat3(runtime, "/daemon.sock", "");
  enum path_check sock_state = dir == PATH_OK ? check_own_socket(sock) : PATH_ABSENT;
  if (dir == PATH_UNSAFE || dir == PATH_UNUSABLE || sock_state == PATH_UNSAFE) run_locally(argv0, call, masquerade);

  struct buf req;
  int code = 0;
  char *notice = NULL;
  enum outcome o = OUT_UNREACHABLE;
  if (build_request(&req, cwd, masquerade ? masquerade : "", call, call_argc) < 0) run_locally(argv0, call, masquerade);
  if (dir == PATH_OK) try_index_hit(runtime, &req, started_us);
  /* No daemon yet: the Node client creates the directory, checks it again and starts one. */
  if (sock_state == PATH_OK) o = exchange(sock, &req, &code, &notice);
  if (o == OUT_UNREACHABLE && dir == PATH_OK) {
    char *failed = recent_startup_failure(runtime, cwd);
    if (failed) {
      print_notice_once(runtime, failed);
      run_locally(argv0, call, masquerade);
    }
  }
  free(req.data);
  switch (o) {
    case OUT_EXIT:
      exit(code & 0xff);
    case OUT_RUN_LOCALLY:
      if (notice && *notice) print_notice_once(runtime, notice);
      run_locally(argv0, call, masquerade);
      break;
    case OUT_VERSION_MISMATCH:
    case OUT_UNREACHABLE:
      if (o == OUT_VERSION_MISMATCH) warn_if_stale(argv0);
      /* The Node client starts (or replaces) the daemon and retries. */
      if (masquerade) exec_node_client(argv0, call + 1, call_argc - 1, masquerade);
      else exec_node_client(argv0, call, call_argc, NULL);
      run_locally(argv0, call, masquerade);
      break;
    case OUT_BROKEN:
      /* protocol.md: a connection closed before a final frame means the compiler runs here. */
      run_locally(argv0, call, masquerade);
      break;
  }
  return 127;
}
