/*
 * Times whole commands with little overhead of its own (posix_spawn + wait,
 * CLOCK_MONOTONIC), for bench/hit-ratio.mjs:
 *
 *   alternate MODE N GAP_MS -- CMD_A ... -- CMD_B ...
 *
 * MODE "alternate" runs A B A B ... (the first of each pair alternates, so
 * neither always follows the other); "blocks" runs N of A, then N of B.
 * GAP_MS sleeps between calls (a build's gaps between compiles). Prints one
 * line per call: "A <µs>" or "B <µs>". Output of the commands goes to /dev/null.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static double now_us(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

static int run(char **argv) {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  pid_t pid;
  if (posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ) != 0) return -1;
  posix_spawn_file_actions_destroy(&fa);
  int status;
  while (waitpid(pid, &status, 0) < 0) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

static void timed(const char *label, char **argv, int gap_ms) {
  if (gap_ms > 0) {
    struct timespec g = {gap_ms / 1000, (long)(gap_ms % 1000) * 1000000L};
    nanosleep(&g, NULL);
  }
  double t0 = now_us();
  int rc = run(argv);
  double t1 = now_us();
  printf("%s %.0f %d\n", label, t1 - t0, rc);
}

int main(int argc, char **argv) {
  if (argc < 7 || strcmp(argv[4], "--") != 0) {
    fprintf(stderr, "usage: alternate alternate|blocks N GAP_MS -- A... -- B...\n");
    return 2;
  }
  int blocks = strcmp(argv[1], "blocks") == 0;
  int n = atoi(argv[2]), gap = atoi(argv[3]);
  char **a = argv + 5, **b = NULL;
  for (int i = 5; i < argc; i++)
    if (strcmp(argv[i], "--") == 0) {
      argv[i] = NULL;
      b = argv + i + 1;
      break;
    }
  if (!b || !*b) return 2;
  if (blocks) {
    for (int i = 0; i < n; i++) timed("A", a, gap);
    for (int i = 0; i < n; i++) timed("B", b, gap);
  } else {
    for (int i = 0; i < n; i++) {
      if (i % 2 == 0) {
        timed("A", a, gap);
        timed("B", b, gap);
      } else {
        timed("B", b, gap);
        timed("A", a, gap);
      }
    }
  }
  return 0;
}
