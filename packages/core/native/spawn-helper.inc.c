/*
 * `reprise-native --spawn-helper`: the daemon's compiler launcher.
 *
 * The daemon's heap is large, and fork() copies its page tables: a compile
 * spawned from it costs milliseconds of CPU more than one spawned from this
 * small process. The daemon keeps one helper running and sends it each
 * command over stdin; the helper forks, execs, waits, and answers with the
 * exit status. The command's stdout and stderr go to files the daemon named
 * (in its private folder) and reads afterwards.
 *
 * Request:  u32 length (little endian), then NUL-terminated strings:
 *           id, flags ("l": lowest priority), cwd, stdout path ("" = /dev/null),
 *           stderr path, argc, argv..., envc, env...
 * Answer:   "<id> <kind> <value>\n", kind x = exited with value, s = killed
 *           by signal value, e = could not start (errno value).
 * End of stdin (the daemon is gone): the helper exits, and the commands it
 * started are killed with it (the daemon runs a command again itself when
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

static void helper_start(unsigned char *req, size_t len, const sigset_t *blocked) {
  char *fields[8];
  char *p = (char *)req, *end = (char *)req + len;
  for (int i = 0; i < 6; i++) {
    char *nul = memchr(p, 0, (size_t)(end - p));
    if (!nul) return;
    fields[i] = p;
    p = nul + 1;
  }
  const char *id = fields[0], *flags = fields[1], *cwd = fields[2], *out = fields[3], *err = fields[4];
  long argc = strtol(fields[5], NULL, 10);
  if (argc < 1 || argc > 1000000) return helper_answer(id, 'e', EINVAL);
  char **argv = calloc((size_t)argc + 1, sizeof *argv);
  if (!argv) return helper_answer(id, 'e', ENOMEM);
  for (long i = 0; i < argc; i++) {
    char *nul = memchr(p, 0, (size_t)(end - p));
    if (!nul) return free(argv), helper_answer(id, 'e', EINVAL);
    argv[i] = p;
    p = nul + 1;
  }
  char *nul = memchr(p, 0, (size_t)(end - p));
  if (!nul) return free(argv), helper_answer(id, 'e', EINVAL);
  long envc = strtol(p, NULL, 10);
  p = nul + 1;
  char **envp = calloc((size_t)(envc < 0 ? 0 : envc) + 1, sizeof *envp);
  if (!envp || envc < 0) return free(argv), free(envp), helper_answer(id, 'e', EINVAL);
  for (long i = 0; i < envc; i++) {
    nul = memchr(p, 0, (size_t)(end - p));
    if (!nul) return free(argv), free(envp), helper_answer(id, 'e', EINVAL);
    envp[i] = p;
    p = nul + 1;
  }
  if (helper_count == helper_cap) {
    size_t cap = helper_cap ? helper_cap * 2 : 16;
    struct helper_child *grown = realloc(helper_children, cap * sizeof *grown);
    if (!grown) return free(argv), free(envp), helper_answer(id, 'e', ENOMEM);
    helper_children = grown;
    helper_cap = cap;
  }
  /* A pipe closed on exec tells whether the exec happened, and if not, why. */
  int status_pipe[2];
  if (pipe(status_pipe) != 0) return free(argv), free(envp), helper_answer(id, 'e', errno);
  fcntl(status_pipe[0], F_SETFD, FD_CLOEXEC);
  fcntl(status_pipe[1], F_SETFD, FD_CLOEXEC);
  pid_t pid = fork();
  if (pid == 0) {
    sigprocmask(SIG_UNBLOCK, blocked, NULL);
    /* Killed with the helper: the daemon then runs the command again itself. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    int e = 0;
    if (chdir(cwd) != 0 || helper_redirect(0, "", O_RDONLY) != 0 || helper_redirect(1, out, O_WRONLY | O_CREAT | O_TRUNC) != 0 ||
        helper_redirect(2, err, O_WRONLY | O_CREAT | O_TRUNC) != 0)
      e = errno;
    if (!e && strchr(flags, 'l')) setpriority(PRIO_PROCESS, 0, 19);
    if (!e) e = helper_exec(argv, envp);
    ssize_t ignored = write(status_pipe[1], &e, sizeof e);
    (void)ignored;
    _exit(127);
  }
  int fork_errno = errno;
  close(status_pipe[1]);
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
