/*
 * `reprise-native --spawn-helper`: a small launcher of commands.
 *
 * The daemon's heap is large, and fork() copies its page tables: a compile
 * spawned from it costs milliseconds of CPU more than one spawned from this
 * small process. The daemon keeps one helper running and sends it each
 * command over stdin; the helper forks, execs, waits, and answers with the
 * exit status. The command's stdout and stderr go to files the caller named
 * (in its private folder) and reads afterwards. Sandboxes start their jobs
 * (bwrap) through a helper of their own in the same way, with the flags below.
 *
 * Request:  u32 length (little endian), then NUL-terminated strings:
 *           id, flags, cwd, stdout path ("" = /dev/null), stderr path,
 *           [flag '3': the path fd 3 is opened to, for writing],
 *           [flag 'c': a count n, then n cgroup.procs files the command joins before its exec],
 *           [flag 'r': "FSIZE AS": its RLIMIT_FSIZE in bytes and RLIMIT_AS in bytes (0: unchanged);
 *            RLIMIT_CORE is 0],
 *           argc, argv..., envc, env...
 *           Other flags: 'l' lowest priority. A request whose flags are "k"
 *           has no other field: it kills (SIGKILL) the running command of
 *           that id, which is then answered as any ended command.
 * Answer:   "<id> <kind> <value>\n", kind x = exited with value, s = killed
 *           by signal value, e = could not start (errno value).
 * End of stdin (the caller is gone): the helper exits, and the commands it
 * started are killed with it (the caller runs a command again itself when
 * its helper died before answering).
 */
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/wait.h>

#define HELPER_MAX_REQUEST (64u * 1024u * 1024u)

struct helper_child {
  pid_t pid;
  char id[24];
};

static struct helper_child *helper_children;
static size_t helper_count, helper_cap;

static int helper_write_all(int fd, const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

static void helper_answer(const char *id, char kind, int value) {
  char line[64];
  int n = snprintf(line, sizeof line, "%s %c %d\n", id, kind, value);
  if (helper_write_all(1, line, (size_t)n) != 0) _exit(0);
}

/* Reads exactly n bytes from stdin; 0 at a clean end of input before any byte, -1 on error. */
static int helper_read(unsigned char *dst, size_t n) {
  size_t got = 0;
  while (got < n) {
    ssize_t r = read(0, dst + got, n - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return got == 0 && r == 0 ? 0 : -1;
    got += (size_t)r;
  }
  return 1;
}

/* execve, searching PATH from the command's own environment when argv[0] has no slash (as Node's spawn does). */
static int helper_exec(char **argv, char **envp) {
  if (strchr(argv[0], '/')) return execve(argv[0], argv, envp), errno;
  const char *path = "/usr/local/bin:/usr/bin:/bin";
  for (char **e = envp; *e; e++)
    if (strncmp(*e, "PATH=", 5) == 0) path = *e + 5;
  int err = ENOENT;
  while (*path) {
    const char *colon = strchr(path, ':');
    size_t len = colon ? (size_t)(colon - path) : strlen(path);
    char full[PATH_MAX];
    if (len + 1 + strlen(argv[0]) + 1 <= sizeof full) {
      snprintf(full, sizeof full, "%.*s%s%s", (int)len, len ? path : ".", len ? "/" : "", argv[0]);
      if (len == 0) snprintf(full, sizeof full, "./%s", argv[0]);
      execve(full, argv, envp);
      if (errno != ENOENT && errno != ENOTDIR) err = errno;
    }
    if (!colon) break;
    path = colon + 1;
  }
  return err;
}

static int helper_redirect(int target, const char *path, int flags) {
  int fd = open(*path ? path : "/dev/null", flags, 0600);
  if (fd < 0) return -1;
  if (fd != target) {
    if (dup2(fd, target) < 0) return -1;
    close(fd);
  }
  return 0;
}

/* The next NUL-terminated field at *p, or NULL when the request ends first. */
static char *helper_field(char **p, char *end) {
  char *nul = memchr(*p, 0, (size_t)(end - *p));
  if (!nul) return NULL;
  char *field = *p;
  *p = nul + 1;
  return field;
}

static void helper_kill(const char *id) {
  for (size_t i = 0; i < helper_count; i++)
    if (strcmp(helper_children[i].id, id) == 0) kill(helper_children[i].pid, SIGKILL);
}

/* Writes this process's pid into each cgroup.procs file; 0 or the errno of the first that failed. */
static int helper_join_cgroups(char **procs, long n) {
  char pid[24];
  int len = snprintf(pid, sizeof pid, "%d\n", (int)getpid());
  for (long i = 0; i < n; i++) {
    int fd = open(procs[i], O_WRONLY | O_CLOEXEC);
    if (fd < 0) return errno;
    int e = write(fd, pid, (size_t)len) == len ? 0 : errno;
    close(fd);
    if (e) return e;
  }
  return 0;
}

static int helper_set_limits(const char *spec) {
  unsigned long long fsize = 0, as = 0;
  if (sscanf(spec, "%llu %llu", &fsize, &as) != 2) return EINVAL;
  struct rlimit none = {0, 0};
  if (setrlimit(RLIMIT_CORE, &none) != 0) return errno;
  struct rlimit f = {(rlim_t)fsize, (rlim_t)fsize};
  if (fsize && setrlimit(RLIMIT_FSIZE, &f) != 0) return errno;
  struct rlimit a = {(rlim_t)as, (rlim_t)as};
  if (as && setrlimit(RLIMIT_AS, &a) != 0) return errno;
  return 0;
}

static void helper_start(unsigned char *req, size_t len, const sigset_t *blocked) {
  char *p = (char *)req, *end = (char *)req + len;
  char *id = helper_field(&p, end), *flags = id ? helper_field(&p, end) : NULL;
  if (!flags) return;
  if (strcmp(flags, "k") == 0) return helper_kill(id);
  char *cwd = helper_field(&p, end), *out = cwd ? helper_field(&p, end) : NULL, *err = out ? helper_field(&p, end) : NULL;
  if (!err) return helper_answer(id, 'e', EINVAL);
  char *fd3 = NULL, **procs = NULL, *limits = NULL;
  long nprocs = 0;
  if (strchr(flags, '3') && !(fd3 = helper_field(&p, end))) return helper_answer(id, 'e', EINVAL);
  if (strchr(flags, 'c')) {
    char *count = helper_field(&p, end);
    nprocs = count ? strtol(count, NULL, 10) : -1;
    if (nprocs < 0 || nprocs > 16) return helper_answer(id, 'e', EINVAL);
    procs = calloc((size_t)nprocs + 1, sizeof *procs);
    if (!procs) return helper_answer(id, 'e', ENOMEM);
    for (long i = 0; i < nprocs; i++)
      if (!(procs[i] = helper_field(&p, end))) return free(procs), helper_answer(id, 'e', EINVAL);
  }
  if (strchr(flags, 'r') && !(limits = helper_field(&p, end))) return free(procs), helper_answer(id, 'e', EINVAL);
  char *count = helper_field(&p, end);
  long argc = count ? strtol(count, NULL, 10) : 0;
  if (argc < 1 || argc > 1000000) return free(procs), helper_answer(id, 'e', EINVAL);
  char **argv = calloc((size_t)argc + 1, sizeof *argv);
  if (!argv) return free(procs), helper_answer(id, 'e', ENOMEM);
  for (long i = 0; i < argc; i++)
    if (!(argv[i] = helper_field(&p, end))) return free(procs), free(argv), helper_answer(id, 'e', EINVAL);
  count = helper_field(&p, end);
  long envc = count ? strtol(count, NULL, 10) : -1;
  if (envc < 0 || envc > 1000000) return free(procs), free(argv), helper_answer(id, 'e', EINVAL);
  char **envp = calloc((size_t)envc + 1, sizeof *envp);
  if (!envp) return free(procs), free(argv), helper_answer(id, 'e', ENOMEM);
  for (long i = 0; i < envc; i++)
    if (!(envp[i] = helper_field(&p, end))) return free(procs), free(argv), free(envp), helper_answer(id, 'e', EINVAL);
  if (helper_count == helper_cap) {
    size_t cap = helper_cap ? helper_cap * 2 : 16;
    struct helper_child *grown = realloc(helper_children, cap * sizeof *grown);
    if (!grown) return free(procs), free(argv), free(envp), helper_answer(id, 'e', ENOMEM);
    helper_children = grown;
    helper_cap = cap;
  }
  /* A pipe closed on exec tells whether the exec happened, and if not, why. */
  int status_pipe[2];
  if (pipe(status_pipe) != 0) return free(procs), free(argv), free(envp), helper_answer(id, 'e', errno);
  fcntl(status_pipe[0], F_SETFD, FD_CLOEXEC);
  fcntl(status_pipe[1], F_SETFD, FD_CLOEXEC);
  pid_t pid = fork();
  if (pid == 0) {
    sigprocmask(SIG_UNBLOCK, blocked, NULL);
    /* Killed with the helper: the daemon then runs the command again itself. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    int e = 0;
    /* fd 3 is the command's: the status pipe moves above it first. */
    int status_fd = status_pipe[1] > 3 ? status_pipe[1] : fcntl(status_pipe[1], F_DUPFD_CLOEXEC, 10);
    if (status_fd < 0) _exit(127);
    status_pipe[1] = status_fd;
    if (chdir(cwd) != 0 || helper_redirect(0, "", O_RDONLY) != 0 || helper_redirect(1, out, O_WRONLY | O_CREAT | O_TRUNC) != 0 ||
        helper_redirect(2, err, O_WRONLY | O_CREAT | O_TRUNC) != 0 || (fd3 && helper_redirect(3, fd3, O_WRONLY | O_CREAT | O_TRUNC) != 0))
      e = errno;
    if (!e && procs) e = helper_join_cgroups(procs, nprocs);
    if (!e && limits) e = helper_set_limits(limits);
    if (!e && strchr(flags, 'l')) setpriority(PRIO_PROCESS, 0, 19);
    if (!e) e = helper_exec(argv, envp);
    ssize_t ignored = write(status_pipe[1], &e, sizeof e);
    (void)ignored;
    _exit(127);
  }
  int fork_errno = errno;
  close(status_pipe[1]);
  free(procs);
  free(argv);
  free(envp);
  if (pid < 0) {
    close(status_pipe[0]);
    return helper_answer(id, 'e', fork_errno);
  }
  int exec_errno = 0;
  ssize_t r;
  do r = read(status_pipe[0], &exec_errno, sizeof exec_errno);
  while (r < 0 && errno == EINTR);
  close(status_pipe[0]);
  if (r == (ssize_t)sizeof exec_errno) {
    waitpid(pid, NULL, 0);
    return helper_answer(id, 'e', exec_errno);
  }
  helper_children[helper_count].pid = pid;
  snprintf(helper_children[helper_count].id, sizeof helper_children[helper_count].id, "%s", id);
  helper_count++;
}

static void helper_reap(void) {
  for (;;) {
    int status;
    pid_t pid = waitpid(-1, &status, WNOHANG);
    if (pid <= 0) return;
    for (size_t i = 0; i < helper_count; i++) {
      if (helper_children[i].pid != pid) continue;
      if (WIFSIGNALED(status)) helper_answer(helper_children[i].id, 's', WTERMSIG(status));
      else helper_answer(helper_children[i].id, 'x', WEXITSTATUS(status));
      helper_children[i] = helper_children[--helper_count];
      break;
    }
  }
}

static int spawn_helper_main(void) {
  sigset_t blocked;
  sigemptyset(&blocked);
  sigaddset(&blocked, SIGCHLD);
  sigprocmask(SIG_BLOCK, &blocked, NULL);
  signal(SIGPIPE, SIG_IGN);
  int sfd = signalfd(-1, &blocked, SFD_CLOEXEC);
  if (sfd < 0) return 1;
  fcntl(0, F_SETFD, FD_CLOEXEC);
  fcntl(1, F_SETFD, FD_CLOEXEC);
  unsigned char *req = NULL;
  size_t req_cap = 0;
  for (;;) {
    struct pollfd fds[2] = {{.fd = 0, .events = POLLIN}, {.fd = sfd, .events = POLLIN}};
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return 1;
    }
    if (fds[1].revents & POLLIN) {
      struct signalfd_siginfo info;
      ssize_t ignored = read(sfd, &info, sizeof info);
      (void)ignored;
      helper_reap();
    }
    if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      unsigned char lenbuf[4];
      int got = helper_read(lenbuf, 4);
      if (got <= 0) return 0;
      size_t len = (size_t)lenbuf[0] | (size_t)lenbuf[1] << 8 | (size_t)lenbuf[2] << 16 | (size_t)lenbuf[3] << 24;
      if (len == 0 || len > HELPER_MAX_REQUEST) return 1;
      if (len > req_cap) {
        unsigned char *grown = realloc(req, len);
        if (!grown) return 1;
        req = grown;
        req_cap = len;
      }
      if (helper_read(req, len) != 1) return 1;
      helper_start(req, len, &blocked);
    }
  }
}
