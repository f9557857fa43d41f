// Runs argv[1..] as a child; appends "user_us sys_us" of the child to $TIMEWRAP_LOG.
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/wait.h>
#include <sys/resource.h>
int main(int argc, char **argv) {
  pid_t p = fork();
  if (p == 0) { argv[0] = getenv("TIMEWRAP_EXE"); execv(getenv("TIMEWRAP_EXE"), argv); _exit(127); }
  int st; struct rusage ru; wait4(p, &st, 0, &ru);
  FILE *f = fopen(getenv("TIMEWRAP_LOG"), "a");
  if (f) { fprintf(f, "%ld %ld\n", ru.ru_utime.tv_sec*1000000L+ru.ru_utime.tv_usec, ru.ru_stime.tv_sec*1000000L+ru.ru_stime.tv_usec); fclose(f); }
  return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
}
